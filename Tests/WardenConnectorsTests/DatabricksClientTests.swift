import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import WardenConnectors
import WardenDomain
import WardenTestSupport

/// The Databricks client and connector: against minilake for statements, parameters and the catalog, and against a
/// scripted peer (`ScriptedPeer`) replaying Databricks' documented responses (`DatabricksFixtures`) for what minilake does not do:
/// statements still running, several chunks, `FAILED` states, cancelling on timeout, rate limits and OAuth.
@Suite struct DatabricksClientTests {
    static func client(_ peer: TestMinilake.Peer, timeout: Duration = .seconds(60)) -> DatabricksClient {
        DatabricksClient(settings: .init(hostname: "127.0.0.1", port: peer.port, useTLS: false, warehouseId: peer.warehouseId,
                                         authentication: .token("dapi-test-token")),
                         http: HTTPClient.shared, operationTimeout: timeout, logger: Logger(label: "test"))
    }

    @Test func statementsBindParametersAndReadEveryTypeAsText() async throws {
        try await TestMinilake.run { peer in
            let client = Self.client(peer)
            let result = try await client.query("""
                SELECT :name AS name, CAST(:n AS INT) + 1 AS next, CAST(NULL AS STRING) AS nothing, TRUE AS flag, CAST(2.50 AS DECIMAL(10,2)) AS price
                """, parameters: ["name": "O'Brien; DROP TABLE x -- :n", "n": "41"])
            #expect(result.columns == ["name", "next", "nothing", "flag", "price"])
            #expect(result.rows == [["O'Brien; DROP TABLE x -- :n", "42", nil, "true", "2.50"]])

            // A statement the warehouse refuses: its message, under the warehouse's code.
            await #expect {
                _ = try await client.query("SELECT nosuch FROM lake.nowhere.nothing")
            } throws: { error in
                guard let error = error as? WardenError else { return false }
                return error.code == .warehouseQueryFailed && error.message.contains("nowhere")
            }
        }
    }

    @Test func theConnectorReadsTheCatalogCountsAndValues() async throws {
        try await TestMinilake.run { peer in
            for statement in [
                "CREATE SCHEMA lake.sales", "CREATE SCHEMA lake.`odd schema`",
                "CREATE TABLE lake.sales.orders (id INT NOT NULL, email STRING, amount DECIMAL(12,2), placed TIMESTAMP, ratio FLOAT, big BIGINT)",
                "INSERT INTO lake.sales.orders VALUES (1, 'a@x.org', 1.50, NULL, 0.5, 1), (2, 'b@x.org', 2, NULL, 0.5, 1), (3, 'b@x.org', 3, NULL, 0.5, 1)",
                "CREATE TABLE lake.`odd schema`.`line items` (sku STRING)",
            ] {
                try await peer.execute(statement)
            }
            let connector = DatabricksConnector(client: Self.client(peer), catalog: "lake")
            try await connector.testConnection()
            let orders = TableReference(schema: "sales", table: "orders")
            let odd = TableReference(schema: "odd schema", table: "line items")
            let missing = TableReference(schema: "sales", table: "missing")
            let described = try await connector.describe([orders, odd, missing])
            #expect(described[missing] == nil)
            #expect(described[odd]?.map(\.name) == ["sku"])
            let columns = try #require(described[orders])
            #expect(columns.map(\.name) == ["id", "email", "amount", "placed", "ratio", "big"])
            #expect(columns.first?.nullable == false && columns.dropFirst().allSatisfy(\.nullable))
            #expect(columns.map { TypeMapping.dataType(forBaseType: $0.baseType) }
                    == ["integer", "text", "numeric", "timestamp", "real", "bigint"])
            #expect(columns[2].remoteType == "DECIMAL(12,2)")
            // Names are compared without case, as Unity Catalog compares them, and answered as asked.
            let upper = TableReference(schema: "SALES", table: "Orders")
            let described2 = try await connector.describe([upper])
            #expect(described2[upper]?.count == 6)

            let counts = try await connector.rowCounts([orders, odd, missing])
            #expect(counts == [orders: 3, odd: 0])
            let high = try await connector.highCardinalityColumn(of: orders, columns: ["email", "id", "ratio"], rowCount: 3)
            #expect(high == "id")
            let values = try await connector.distinctValues(of: orders, columns: ["email"], limit: 10)
            #expect(values == ["email": ["a@x.org", "b@x.org"]])
            let databases = try await connector.listDatabases()
            #expect(databases.contains("lake"))
            let schemas = try await connector.listSchemas()
            #expect(Set(schemas).isSuperset(of: ["sales", "odd schema"]))
            let tables = try await connector.listTables(schema: "sales")
            #expect(tables == ["orders"])
            let catalog = try await connector.catalog()
            let fingerprints = try await connector.catalogFingerprints().fingerprints
            #expect(catalog.tables[orders]?.count == 6 && catalog.tables[odd]?.count == 1)
            #expect(catalog.fingerprints == fingerprints)
        }
    }

    // MARK: Databricks' documented responses

    static let statementId = ScriptedPeer.id

    /// The scripted replies with each fixture's name replaced by its text.
    static func fixtures(_ script: [String: [(status: Int, fixture: String, headers: [String: String])]])
        -> [String: [(status: Int, body: String, headers: [String: String])]] {
        script.mapValues { replies in replies.map { ($0.status, fixture($0.fixture), $0.headers) } }
    }

    static func fixture(_ name: String) -> String {
        guard !name.isEmpty else { return "{}" }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("DatabricksFixtures/\(name).json")
        return ((try? String(contentsOf: url, encoding: .utf8)) ?? "").replacingOccurrences(of: "STATEMENT_ID", with: statementId)
    }

    static func scriptedClient(_ port: Int, _ authentication: DatabricksClient.Authentication = .token("dapi-secret"),
                               timeout: Duration = .seconds(30)) -> DatabricksClient {
        DatabricksClient(settings: .init(hostname: "127.0.0.1", port: port, useTLS: false, warehouseId: "abcdef1234567890",
                                         authentication: authentication),
                         http: HTTPClient.shared, operationTimeout: timeout, logger: Logger(label: "test"))
    }

    @Test func runningStatementsArePolledAndEveryChunkIsRead() async throws {
        let scripted = ScriptedPeer(Self.fixtures([
            "POST /api/2.0/sql/statements": [(200, "statement_pending", [:])],
            "GET /api/2.0/sql/statements/ID": [(200, "statement_running", [:]), (200, "statement_succeeded_chunked", [:])],
            "GET /api/2.0/sql/statements/ID/result/chunks/1": [(200, "result_chunk_1", [:])],
        ]))
        try await scripted.serve { port in
            let result = try await Self.scriptedClient(port).query("SELECT * FROM lineitem WHERE l_comment = :c", parameters: ["c": "x"])
            #expect(result.columns == ["l_orderkey", "l_comment", "l_extendedprice"])
            #expect(result.rows == [["2", "fluffily regular pinto beans", "37916.32"], ["5", nil, "16106.01"],
                                    ["7", "carefully ironic deposits", "9038.62"]])
        }
        let sent = await scripted.sent
        #expect(sent.map { "\($0.method) \($0.path)" } == [
            "POST /api/2.0/sql/statements", "GET /api/2.0/sql/statements/\(Self.statementId)", "GET /api/2.0/sql/statements/\(Self.statementId)",
            "GET /api/2.0/sql/statements/\(Self.statementId)/result/chunks/1",
        ])
        #expect(sent.allSatisfy { $0.authorization == "Bearer dapi-secret" })
        let request = try #require(sent.first?.body)
        #expect(request["warehouse_id"] as? String == "abcdef1234567890")
        #expect(request["disposition"] as? String == "INLINE" && request["format"] as? String == "JSON_ARRAY")
        #expect(request["on_wait_timeout"] as? String == "CONTINUE" && request["wait_timeout"] as? String == "30s")
        #expect((request["parameters"] as? [[String: String]]) == [["name": "c", "value": "x", "type": "STRING"]])
    }

    @Test func failedCanceledAndRefusedStatementsSayWhy() async throws {
        let scripted = ScriptedPeer(Self.fixtures([
            "POST /api/2.0/sql/statements": [(200, "statement_failed", [:]), (200, "statement_canceled", [:]), (400, "error_invalid_parameter", [:])],
        ]))
        try await scripted.serve { port in
            let client = Self.scriptedClient(port)
            for (code, words) in [(WardenError.Code.warehouseQueryFailed, "(BAD_REQUEST, SQLSTATE 42P01): [TABLE_OR_VIEW_NOT_FOUND]"),
                                  (.warehouseQueryFailed, "cancelled the statement"),
                                  (.warehouseQueryFailed, "HTTP 400 INVALID_PARAMETER_VALUE): warehouse_id is not a valid")] {
                await #expect {
                    _ = try await client.query("SELECT 1")
                } throws: { error in
                    guard let error = error as? WardenError else { return false }
                    return error.code == code && error.message.contains(words) && !error.message.contains("dapi-secret")
                }
            }
        }
    }

    @Test func aStatementPastItsTimeIsCancelled() async throws {
        let scripted = ScriptedPeer(Self.fixtures([
            "POST /api/2.0/sql/statements": [(200, "statement_running", [:])],
            "GET /api/2.0/sql/statements/ID": [(200, "statement_running", [:])],
            "POST /api/2.0/sql/statements/ID/cancel": [(200, "", [:])],
        ]))
        try await scripted.serve { port in
            await #expect {
                _ = try await Self.scriptedClient(port, timeout: .seconds(1)).query("SELECT slow()")
            } throws: { error in (error as? WardenError)?.code == .warehouseTimeout }
        }
        let last = await scripted.sent.last
        #expect(last.map { "\($0.method) \($0.path)" } == "POST /api/2.0/sql/statements/\(Self.statementId)/cancel")
    }

    @Test func rateLimitsAreWaitedOutAsRetryAfterAsks() async throws {
        let scripted = ScriptedPeer(Self.fixtures([
            "POST /api/2.0/sql/statements": [(429, "error_rate_limited", ["Retry-After": "1"]), (503, "error_rate_limited", [:]),
                                             (200, "statement_succeeded_chunked", [:])],
            "GET /api/2.0/sql/statements/ID/result/chunks/1": [(200, "result_chunk_1", [:])],
        ]))
        try await scripted.serve { port in
            let started = ContinuousClock.now
            let rows = try await Self.scriptedClient(port).query("SELECT 1").rows
            #expect(rows.count == 3)
            #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After: 1 was not honoured")
        }
        let posts = await scripted.sent.filter { $0.path == "/api/2.0/sql/statements" }
        #expect(posts.count == 3)
    }

    @Test func oauthMachineToMachineGetsATokenAndRenewsItOnceRefused() async throws {
        let scripted = ScriptedPeer(Self.fixtures([
            "POST /oidc/v1/token": [(200, "oauth_token", [:])],
            "POST /api/2.0/sql/statements": [(401, "", [:]), (200, "statement_succeeded_chunked", [:])],
            "GET /api/2.0/sql/statements/ID/result/chunks/1": [(200, "result_chunk_1", [:])],
        ]))
        try await scripted.serve { port in
            let client = Self.scriptedClient(port, .oauth(clientId: "sp-client", secret: "sp-secret"))
            for _ in 0..<2 {
                let rows = try await client.query("SELECT 1").rows
                #expect(rows.count == 3)
            }
        }
        let sent = await scripted.sent
        let tokenRequests = sent.filter { $0.path == "/oidc/v1/token" }
        // One token, refused once, renewed once, then reused.
        #expect(tokenRequests.count == 2)
        #expect(tokenRequests.allSatisfy { $0.authorization == "Basic " + Data("sp-client:sp-secret".utf8).base64EncodedString() })
        #expect(String(decoding: tokenRequests[0].raw, as: UTF8.self) == "grant_type=client_credentials&scope=all-apis")
        #expect(sent.filter { $0.path != "/oidc/v1/token" }.allSatisfy { $0.authorization == "Bearer eyJraWQiOiJkYTA4ZTVjZ.OAUTH-ACCESS-TOKEN" })
    }
}
