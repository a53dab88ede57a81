import AsyncHTTPClient
import CryptoExtras
import Foundation
import HTTPTypes
import Logging
import Testing
import WardenApp
import WardenConnectors
import WardenDomain
import WardenStore
import WardenTestSupport

/// `/snowflake/handler` end to end against a fakesnow server: registration reads the catalog through Snowflake's
/// connector protocol, and the dictionary, row counts, high cardinality, health checks and bulk updates work as they
/// do for PostgreSQL.
@Suite struct SnowflakeHandlerTests {
    static func client(_ port: Int, _ database: String) -> SnowflakeClient {
        SnowflakeClient(settings: .init(hostname: "127.0.0.1", port: port, useTLS: false, account: "fakesnow", username: "warden",
                                        password: "pw", database: database, schema: "PUBLIC"),
                        http: HTTPClient.shared, logger: Logger(label: "test"))
    }

    /// A client of the test's database with `statements` run after its database and PUBLIC schema were made.
    static func prepared(_ port: Int, _ database: String, _ statements: [String]) async throws -> SnowflakeClient {
        let snowflake = client(port, database)
        for statement in ["CREATE DATABASE IF NOT EXISTS \(database)", "CREATE SCHEMA IF NOT EXISTS \(database).PUBLIC"] + statements {
            _ = try await snowflake.query(statement)
        }
        return snowflake
    }

    static func payload(port: Int, database: String, tables: [String], password: String = "pw") -> String {
        let handlers = tables.map { table in
            """
            {"metadata": {"ssl": false, "port": \(port), "hostname": "127.0.0.1", "database": "\(database)", "username": "warden",
              "password": "\(password)", "schema": "PUBLIC", "table": "\(table)", "warehouse": "COMPUTE_WH", "role": "WARDEN"}}
            """
        }.joined(separator: ",")
        return """
            {"handler": [\(handlers)], "dataSource": {"blobHandler": {"scheme": "https", "url": ""}, "blobHandlerType": "Snowflake",
             "recordFormat": "", "type": "queryable", "private": false}}
            """
    }

    @Test(arguments: TestMetastores.kinds)
    func registeringReadsTheCatalogAndTheJobsWork(kind: MetastoreKind) async throws {
        try await TestFakesnow.run { port, database in
            let snowflake = try await Self.prepared(port, database, [
                "CREATE TABLE \(database).PUBLIC.CUSTOMERS (ID NUMBER(10, 0) NOT NULL, EMAIL VARCHAR(80), SPEND NUMBER(12, 2), SEEN TIMESTAMP_NTZ)",
                "INSERT INTO \(database).PUBLIC.CUSTOMERS VALUES (1, 'a@x.org', 1.5, NULL), (2, 'b@x.org', 2, NULL), (3, 'b@x.org', 3, NULL)",
                "CREATE TABLE \(database).PUBLIC.ORDERS (ID NUMBER(10, 0), CUSTOMER NUMBER(10, 0))",
            ])
            try await TestServer.run(kind) { server in
                let types = try await server.call(.get, "/dataSource/blobHandlerTypes").expect(.ok).array
                #expect(types.compactMap { $0 as? [String: Any] }.first { $0["name"] as? String == "Snowflake" }?["connectorAvailable"] as? Bool == true)

                let reply = try await server.call(.post, "/snowflake/handler",
                                                  json: Self.payload(port: port, database: database, tables: ["CUSTOMERS", "ORDERS"])).expect(.ok).object
                let created = try #require(reply["dataSources"] as? [[String: Any]])
                let customers = try #require(created.first?["dataSourceId"] as? Int)

                // The dictionary is the catalog's, read independently here.
                let catalog = try await snowflake.query("""
                    SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'PUBLIC' AND table_name = 'CUSTOMERS'
                    ORDER BY ordinal_position
                    """).rows
                let dictionary = try await server.call(.get, "/dictionary/\(customers)").expect(.ok).object["metadata"] as? [[String: Any]] ?? []
                #expect(dictionary.compactMap { $0["name"] as? String } == catalog.compactMap { $0[0] })
                #expect(dictionary.compactMap { $0["nullable"] as? Bool } == catalog.map { $0[1] != "NO" })
                #expect(dictionary.compactMap { $0["dataType"] as? String } == ["numeric", "text", "numeric", "timestamp"])
                #expect(dictionary.compactMap { $0["remoteType"] as? String }.first == "NUMBER(10,0)")
                let source = try await DataSourceStore(metastore: server.metastore, secrets: SecretBox(masterKey: SecretBox.generateMasterKey()))
                    .dataSource(id: Int64(customers))
                #expect(source?.rowCount == 3)

                // The high-cardinality job runs through the connector.
                let job = try await server.call(.put, "/snowflake/handler/\(customers)/triggerHighCardinalityJob").expect(.ok).text
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                let states = try await server.waitForJobs([job])
                #expect((states[job]?["output"] as? [String: Any])?["highCardinalityColumn"] as? String == "ID", "\(states)")

                // A dropped column shows in the health check.
                #expect(try await server.call(.get, "/dataSource/\(customers)/test").expect(.ok).object["status"] as? String == "passed")
                _ = try await snowflake.query("ALTER TABLE \(database).PUBLIC.CUSTOMERS DROP COLUMN SEEN")
                let drifted = try await server.call(.get, "/dataSource/\(customers)/test").expect(.ok).object
                #expect(drifted["status"] as? String == "failed", "\(drifted)")

                // A bulk update reaches every handler of the connection.
                let connection = try #require(reply["connectionString"] as? String)
                let bulk = try await server.call(.put, "/snowflake/bulk", json: #"""
                    {"handler": {"metadata": {"password": "pw2", "warehouse": "OTHER_WH"}}, "connectionString": "\#(connection)"}
                    """#).expect(.ok).object
                #expect(bulk["jobsCreated"] as? Int == 2)
                let listed = try await server.call(.get, "/jobs?bulkId=\(try #require(bulk["bulkId"] as? String))").expect(.ok).array
                let done = try await server.waitForJobs(listed.compactMap { ($0 as? [String: Any])?["id"] as? String })
                #expect(done.values.allSatisfy { $0["state"] as? String == "completed" }, "\(done)")
                let handler = try await server.call(.get, "/snowflake/handler/\(customers)").expect(.ok)
                #expect((handler.object["metadata"] as? [String: Any])?["warehouse"] as? String == "OTHER_WH")
                #expect(!handler.text.contains("pw2"))
            }
        }
    }

    @Test func aSecureViewWithSHA2RunsThroughTheConnector() async throws {
        try await TestFakesnow.run { port, database in
            let snowflake = try await Self.prepared(port, database, [
                "CREATE TABLE \(database).PUBLIC.PEOPLE (ID NUMBER(10, 0), EMAIL VARCHAR)",
                "INSERT INTO \(database).PUBLIC.PEOPLE VALUES (1, 'a'), (2, 'b')",
                "CREATE OR REPLACE SECURE VIEW \(database).PUBLIC.PEOPLE_MASKED AS SELECT ID, SHA2(EMAIL, 256) AS EMAIL FROM \(database).PUBLIC.PEOPLE",
            ])
            let rows = try await snowflake.query("SELECT ID, EMAIL FROM \(database).PUBLIC.PEOPLE_MASKED ORDER BY ID").rows
            // SHA-256 of "a", as any implementation computes it.
            #expect(rows.first == ["1", "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"])
            #expect(rows.count == 2)
        }
    }

    /// Key-pair sign-in end to end: the private key is sealed like a password, the session starts with a JWT, and the
    /// key never comes back.
    @Test func aHandlerSignsInWithAPrivateKey() async throws {
        try await TestFakesnow.run { port, database in
            _ = try await Self.prepared(port, database, ["CREATE TABLE \(database).PUBLIC.KEYED (ID NUMBER(10, 0))"])
            let pem = try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
            let escaped = pem.replacingOccurrences(of: "\n", with: "\\n")
            try await TestServer.run(.sqlite) { server in
                let payload = Self.payload(port: port, database: database, tables: ["KEYED"])
                    .replacingOccurrences(of: #""password": "pw""#, with: #""privateKey": "\#(escaped)""#)
                let reply = try await server.call(.post, "/snowflake/handler", json: payload).expect(.ok)
                let id = try #require((reply.object["dataSources"] as? [[String: Any]])?.first?["dataSourceId"] as? Int)
                let handler = try await server.call(.get, "/snowflake/handler/\(id)").expect(.ok)
                #expect((handler.object["metadata"] as? [String: Any])?["authenticationType"] as? String == "keyPair")
                #expect(!handler.text.contains("PRIVATE KEY") && !reply.text.contains("PRIVATE KEY"))
                #expect(try await server.call(.get, "/dataSource/\(id)/test").expect(.ok).object["status"] as? String == "passed")
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aConnectionCrawlsTheCatalog(kind: MetastoreKind) async throws {
        try await TestFakesnow.run { port, database in
            _ = try await Self.prepared(port, database, [
                "CREATE SCHEMA \(database).SALES", "CREATE TABLE \(database).SALES.ORDERS (ID NUMBER(10, 0), TOTAL NUMBER(10, 2))",
                "CREATE TABLE \(database).PUBLIC.PEOPLE (ID NUMBER(10, 0), NAME VARCHAR(40))",
            ])
            try await TestServer.run(kind) { server in
                let reply = try await server.call(.post, "/data/connection", json: """
                    {"connectionKey": "snow", "connection": {"technology": "Snowflake", "hostname": "127.0.0.1", "port": \(port),
                     "ssl": false, "database": "\(database)", "authenticationType": "userPassword", "username": "warden", "password": "pw-crawl",
                     "warehouse": "COMPUTE_WH", "role": "WARDEN"}}
                    """).expect(.ok)
                _ = try await DataRoutesTests.crawled(server, reply)
                let schemas = try await server.call(.post, "/data/object/search/snow/\(database)", json: "{}").expect(.ok).object
                let names = (schemas["hits"] as? [[String: Any]] ?? []).compactMap { ($0["objectPath"] as? [String])?.last }
                #expect(Set(names).isSuperset(of: ["SALES", "PUBLIC"]), "\(schemas)")
                let table = try await server.call(.get, "/data/object/snow/\(database)/SALES/ORDERS").expect(.ok).object
                let sourceId = try #require(table["dataSourceId"] as? Int, "\(table)")
                let dictionary = try await server.call(.get, "/dictionary/\(sourceId)").expect(.ok).object["metadata"] as? [[String: Any]] ?? []
                #expect(dictionary.compactMap { $0["name"] as? String } == ["ID", "TOTAL"])
                #expect(!(try await server.call(.get, "/data/connection/snow").expect(.ok).text.contains("pw-crawl")))
            }
        }
    }
}
