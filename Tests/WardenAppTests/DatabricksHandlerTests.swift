import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import NIOHTTP1
import Testing
import WardenApp
import WardenConnectors
import WardenDomain
import WardenStore
import WardenTestSupport

/// `/databricks/handler` end to end against minilake: registration reads Unity Catalog's `information_schema` through
/// the Statement Execution API, and the dictionary, row counts, high cardinality, health checks and bulk updates work as
/// they do for PostgreSQL. The token never comes back.
@Suite struct DatabricksHandlerTests {
    static func payload(_ peer: TestMinilake.Peer, tables: [String], secret: String = #""token": "dapi-registering-token""#) -> String {
        let handlers = tables.map { table in
            """
            {"metadata": {"ssl": false, "port": \(peer.port), "hostname": "127.0.0.1", "database": "\(peer.catalog)", \(secret),
              "httpPath": "\(peer.httpPath)", "schema": "sales", "table": "\(table)"}}
            """
        }.joined(separator: ",")
        return """
            {"handler": [\(handlers)], "dataSource": {"blobHandler": {"scheme": "https", "url": ""}, "blobHandlerType": "Databricks",
             "recordFormat": "", "type": "queryable", "private": false}}
            """
    }

    @Test(arguments: TestMetastores.kinds)
    func registeringReadsTheCatalogAndTheJobsWork(kind: MetastoreKind) async throws {
        try await TestMinilake.run { peer in
            for statement in [
                "CREATE SCHEMA lake.sales",
                "CREATE TABLE lake.sales.customers (id BIGINT NOT NULL, email STRING, spend DECIMAL(12,2), seen TIMESTAMP)",
                "INSERT INTO lake.sales.customers VALUES (1, 'a@x.org', 1.5, NULL), (2, 'b@x.org', 2, NULL), (3, 'b@x.org', 3, NULL)",
                "CREATE TABLE lake.sales.orders (id INT, customer BIGINT)",
            ] {
                try await peer.execute(statement)
            }
            try await TestServer.run(kind) { server in
                let types = try await server.call(.get, "/dataSource/blobHandlerTypes").expect(.ok).array
                #expect(types.compactMap { $0 as? [String: Any] }.first { $0["name"] as? String == "Databricks" }?["connectorAvailable"] as? Bool == true)

                // The handler's own validation: an HTTP path that names no warehouse is refused before anything runs.
                let wrongPath = Self.payload(peer, tables: ["customers"]).replacingOccurrences(of: peer.httpPath, with: "/sql/protocolv1/o/0/x")
                let refused = try await server.call(.post, "/databricks/handler", json: wrongPath).expect(.badRequest).text
                #expect(refused.contains("httpPath"))

                let reply = try await server.call(.post, "/databricks/handler", json: Self.payload(peer, tables: ["customers", "orders"])).expect(.ok)
                #expect(!reply.text.contains("dapi-registering-token"))
                let created = try #require(reply.object["dataSources"] as? [[String: Any]])
                let customers = try #require(created.first?["dataSourceId"] as? Int)

                // The dictionary is the catalog's, as minilake's own Unity Catalog API reports it.
                let table = try JSONSerialization.jsonObject(with: try await peer.call(.GET, "/api/2.1/unity-catalog/tables/lake.sales.customers").body)
                let catalog = try #require((table as? [String: Any])?["columns"] as? [[String: Any]])
                let dictionary = try await server.call(.get, "/dictionary/\(customers)").expect(.ok).object["metadata"] as? [[String: Any]] ?? []
                #expect(dictionary.compactMap { $0["name"] as? String } == catalog.compactMap { $0["name"] as? String })
                #expect(dictionary.compactMap { $0["dataType"] as? String } == ["bigint", "text", "numeric", "timestamp"])
                #expect(dictionary.compactMap { $0["nullable"] as? Bool } == [false, true, true, true])
                let source = try await DataSourceStore(metastore: server.metastore, secrets: SecretBox(masterKey: SecretBox.generateMasterKey()))
                    .dataSource(id: Int64(customers))
                #expect(source?.rowCount == 3)

                let job = try await server.call(.put, "/databricks/handler/\(customers)/triggerHighCardinalityJob").expect(.ok).text
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                let states = try await server.waitForJobs([job])
                #expect((states[job]?["output"] as? [String: Any])?["highCardinalityColumn"] as? String == "id", "\(states)")

                // A dropped column shows in the health check.
                #expect(try await server.call(.get, "/dataSource/\(customers)/test").expect(.ok).object["status"] as? String == "passed")
                try await peer.execute("ALTER TABLE lake.sales.customers DROP COLUMN seen")
                let drifted = try await server.call(.get, "/dataSource/\(customers)/test").expect(.ok).object
                #expect(drifted["status"] as? String == "failed", "\(drifted)")

                // A bulk update reaches every handler of the connection, and the new token is kept out of sight too.
                let connection = try #require(reply.object["connectionString"] as? String)
                let bulk = try await server.call(.put, "/databricks/bulk", json: #"""
                    {"handler": {"metadata": {"token": "dapi-rotated-token"}}, "connectionString": "\#(connection)"}
                    """#).expect(.ok).object
                #expect(bulk["jobsCreated"] as? Int == 2)
                let listed = try await server.call(.get, "/jobs?bulkId=\(try #require(bulk["bulkId"] as? String))").expect(.ok).array
                let done = try await server.waitForJobs(listed.compactMap { ($0 as? [String: Any])?["id"] as? String })
                #expect(done.values.allSatisfy { $0["state"] as? String == "completed" }, "\(done)")
                let handler = try await server.call(.get, "/databricks/handler/\(customers)").expect(.ok)
                #expect((handler.object["metadata"] as? [String: Any])?["httpPath"] as? String == peer.httpPath)
                #expect(!handler.text.contains("dapi-"), "a token came back: \(handler.text)")

                // Policies cannot be enforced in Databricks yet: a refresh says so instead of pretending.
                let refresh = try await server.refreshView(customers)
                #expect(refresh["state"] as? String == "failed")
                let why = (refresh["output"] as? [String: Any])?["error"] as? String ?? ""
                #expect(why.contains("Databricks"), "\(refresh)")
            }
        }
    }

    /// A Databricks connection is crawled like any other: catalog → schema → table, active tables as data sources.
    @Test(arguments: TestMetastores.kinds)
    func aConnectionCrawlsTheCatalog(kind: MetastoreKind) async throws {
        try await TestMinilake.run { peer in
            for statement in ["CREATE SCHEMA lake.sales", "CREATE SCHEMA lake.hr", "CREATE TABLE lake.sales.orders (id INT, total DECIMAL(10,2))",
                              "CREATE TABLE lake.hr.people (id INT, name STRING)"] {
                try await peer.execute(statement)
            }
            try await TestServer.run(kind) { server in
                let reply = try await server.call(.post, "/data/connection", json: """
                    {"connectionKey": "lakehouse", "connection": {"technology": "Databricks", "hostname": "127.0.0.1", "port": \(peer.port),
                     "ssl": false, "database": "lake", "authenticationType": "token", "username": "token", "password": "dapi-crawl",
                     "httpPath": "\(peer.httpPath)"}}
                    """).expect(.ok)
                _ = try await DataRoutesTests.crawled(server, reply)
                let schemas = try await server.call(.post, "/data/object/search/lakehouse/lake", json: "{}").expect(.ok).object
                let names = (schemas["hits"] as? [[String: Any]] ?? []).compactMap { ($0["objectPath"] as? [String])?.last }
                #expect(Set(names).isSuperset(of: ["sales", "hr"]), "\(schemas)")
                let table = try await server.call(.get, "/data/object/lakehouse/lake/sales/orders").expect(.ok).object
                let sourceId = try #require(table["dataSourceId"] as? Int, "\(table)")
                let dictionary = try await server.call(.get, "/dictionary/\(sourceId)").expect(.ok).object["metadata"] as? [[String: Any]] ?? []
                #expect(dictionary.compactMap { $0["name"] as? String } == ["id", "total"])
                let connection = try await server.call(.get, "/data/connection/lakehouse").expect(.ok)
                #expect(!connection.text.contains("dapi-crawl"))
            }
        }
    }
}
