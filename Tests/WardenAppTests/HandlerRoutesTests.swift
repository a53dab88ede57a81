import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct HandlerRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func registeringTheExampleReadsTheCatalog(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let reply = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload()).expect(.ok).object
            let created = try #require(reply["dataSources"] as? [[String: Any]])
            let recordsId = try #require(created.first?["dataSourceId"] as? Int)

            let dictionary = try await server.call(.get, "/dictionary/\(recordsId)").expect(.ok).object
            let handler = try await server.call(.get, "/postgresql/handler/\(recordsId)").expect(.ok).object

            let expected = try await warehouse.informationSchemaColumns("army_records")
            let columns = try #require(dictionary["metadata"] as? [[String: Any]])
            #expect(reply["connectionString"] as? String == "\(warehouse.username)@\(warehouse.host):\(warehouse.port)/\(warehouse.database)")
            #expect(created.compactMap { $0["name"] as? String } == ["Army Army Records", "Army Data"])
            #expect(created.compactMap { $0["sqlTableName"] as? String } == ["army_records", "data"])
            #expect(columns.compactMap { $0["name"] as? String } == expected.map(\.name))
            #expect(columns.compactMap { $0["nullable"] as? Bool } == expected.map(\.nullable))
            #expect(columns.allSatisfy { ($0["dataType"] as? String)?.isEmpty == false && ($0["remoteType"] as? String)?.isEmpty == false })
            #expect(dictionary["dataSource"] as? Int == recordsId)
            let stored = try await DataSourceStore(metastore: server.metastore, secrets: SecretBox(masterKey: SecretBox.generateMasterKey()))
                .dataSource(id: Int64(recordsId))
            #expect(stored?.rowCount == 25)
            #expect(stored?.createdBy == 1)
            #expect((dictionary["types"] as? [String])?.contains("text") == true)
            #expect(handler["id"] as? Int == recordsId)
            #expect(handler["type"] as? String == "odbcHandler")
            #expect((handler["dbms"] as? [String: String])?["name"] == "postgresql")
            let metadata = try #require(handler["metadata"] as? [String: Any])
            #expect(metadata["password"] == nil)
            #expect(metadata["table"] as? String == "army_records")
            #expect(metadata["staleDataTolerance"] as? Int == 86400)
            let raw = try await server.call(.get, "/postgresql/handler/\(recordsId)").text
            #expect(!raw.contains("\"password\""))
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func duplicatesAndRegisteredTablesAreRefusedWhole(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let duplicate = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["data", "data"]))
                .expect(.badRequest, code: "handler.duplicate_tables")
            try await server.registerArmy(warehouse, tables: ["data"])

            let again = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["army_records", "data"]))
                .expect(.conflict, code: "dataSource.conflict")

            #expect((duplicate.object["message"] as? String)?.hasPrefix("duplicate tables are specified in the payload") == true)
            #expect((again.object["message"] as? String)?.contains("\"Army Data\"") == true)
            // All or nothing: army_records was not created alongside the refused duplicate.
            try await server.registerArmy(warehouse, tables: ["army_records"])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func warehouseProblemsAre400sSayingWhich(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind, configure: { $0.warehouseConnectTimeout = .seconds(3) }) { server in
            let wrongPassword = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(password: "not-the-password"))
                .expect(.badRequest, code: "warehouse.authentication_failed")
            let closedPort = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(port: 1))
                .expect(.badRequest, code: "warehouse.unreachable")
            let missingTable = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["data", "nope"]))
                .expect(.badRequest, code: "warehouse.table_not_found")

            #expect(!(wrongPassword.object["message"] as? String ?? "").contains("not-the-password"))
            #expect((closedPort.object["message"] as? String)?.contains(":1") == true)
            #expect((missingTable.object["message"] as? String)?.contains("army.nope") == true)
            // Nothing was created by the refused requests.
            try await server.registerArmy(warehouse)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func tlsIsUsedWhenAskedAndTheCertificateMustBeTrusted(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["data"], ssl: true))
                .expect(.badRequest, code: "warehouse.tls_failed")

            try await server.call(.post, "/postgresql/handler",
                                  json: warehouse.registrationPayload(tables: ["data"], ssl: true, ca: [warehouse.caCertificatePEM])).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func technologiesWithoutAConnectorAnswer501(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            for technology in ["trino", "asa"] {
                let reply = try await server.call(.post, "/\(technology)/handler", json: warehouse.registrationPayload(tables: ["data"]))
                    .expect(.notImplemented, code: "connector.not_implemented")
                #expect((reply.object["message"] as? String)?.contains(technology) == true)
            }
            try await server.call(.post, "/oracle/handler", json: warehouse.registrationPayload()).expect(.notFound, code: "technology.not_found")
            try await server.call(.post, "/postgresql/handler", json: #"{"handler": "x"}"#).expect(.badRequest)
            try await server.call(.post, "/postgresql/handler", json: #"{"handler": [{"metadata": {"port": "abc"}}]}"#)
                .expect(.badRequest, code: "request.validation_failed")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func onlyOwnersManageHandlers(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["data"])
            let privateIds = try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)
            let reader = try await server.userWithKey("reader")

            try await server.call(.post, "/postgresql/handler", auth: reader, json: warehouse.registrationPayload(tables: ["data"]))
                .expect(.forbidden, code: "auth.permission_required")
            try await server.call(.get, "/postgresql/handler/\(ids["data"]!)", auth: reader).expect(.forbidden)
            try await server.call(.get, "/postgresql/handler/\(privateIds["army_records"]!)", auth: reader).expect(.notFound)
            try await server.call(.put, "/postgresql/handler/\(ids["data"]!)", auth: reader, json: #"{"handler":{"metadata":{}}}"#)
                .expect(.forbidden)
            try await server.call(.put, "/postgresql/handler/\(ids["data"]!)/triggerHighCardinalityJob", auth: reader).expect(.forbidden)
            try await server.call(.get, "/redshift/handler/\(ids["data"]!)").expect(.notFound, code: "handler.not_found")
            try await server.call(.get, "/postgresql/handler/999999").expect(.notFound)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func updatesReplaceTheDictionaryOnlyWhenColumnsAreGiven(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let handler = try await server.call(.get, "/postgresql/handler/\(id)").expect(.ok).object
            var metadata = try #require(handler["metadata"] as? [String: Any])
            let before = try #require(try await server.call(.get, "/dictionary/\(id)").object["metadata"] as? [[String: Any]])

            metadata["dataSourceName"] = "Army Data Renamed"
            let renamed = try await server.call(.put, "/postgresql/handler/\(id)",
                                                json: try Self.json(["handler": ["metadata": metadata]])).expect(.ok).object
            let keptColumns = try #require(try await server.call(.get, "/dictionary/\(id)").object["metadata"] as? [[String: Any]])
            metadata["columns"] = Array(before.dropLast())
            _ = try await server.call(.put, "/postgresql/handler/\(id)", json: try Self.json(["handler": ["metadata": metadata]])).expect(.ok)
            let after = try #require(try await server.call(.get, "/dictionary/\(id)").object["metadata"] as? [[String: Any]])

            #expect((renamed["metadata"] as? [String: Any])?["dataSourceName"] as? String == "Army Data Renamed")
            #expect(keptColumns.count == before.count)
            #expect(after.count == before.count - 1)
            #expect(after.compactMap { $0["name"] as? String } == before.dropLast().compactMap { $0["name"] as? String })
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func highCardinalityAndViewJobsRunInTheBackground(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])

            let cardinalityJob = try await server.call(.put, "/postgresql/handler/\(id)/triggerHighCardinalityJob").expect(.ok).text
            let viewJob = try await server.call(.put, "/postgresql/handler/\(id)/refreshNativeViewJob").expect(.ok).text
            let states = try await server.waitForJobs([cardinalityJob, viewJob])

            #expect(UUID(uuidString: cardinalityJob) != nil)
            #expect(states[cardinalityJob]?["state"] as? String == "completed")
            #expect((states[cardinalityJob]?["output"] as? [String: Any])?["highCardinalityColumn"] as? String == "soldier_id")
            #expect(states[viewJob]?["state"] as? String == "completed")
            let view = try #require(states[viewJob]?["output"] as? [String: Any])
            #expect(view["refreshed"] as? Bool == true && view["viewReplaced"] as? Bool == true && view["view"] as? String == "army_immuta.army_records_immuta", "\(view)")
            #expect(view["grantees"] as? [String] == [])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func bulkUpdatesChangeEveryHandlerOfAConnectionThroughJobs(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            let connection = "\(warehouse.username)@\(warehouse.host):\(warehouse.port)/\(warehouse.database)"
            let body = """
                {"handler": {"metadata": {"ssl": true, "ca": [\(String(decoding: try JSONEncoder().encode(warehouse.caCertificatePEM), as: UTF8.self))],
                  "userFiles": [{"keyName": "testcert", "filename": "bf34.json", "userFilename": "certificate.json"}],
                  "password": "\(warehouse.password)"}},
                 "connectionString": "\(connection)"}
                """

            let reply = try await server.call(.put, "/postgresql/bulk", json: body).expect(.ok).object
            let bulkId = try #require(reply["bulkId"] as? String)
            let listed = try await server.call(.get, "/jobs?bulkId=\(bulkId)").expect(.ok).array
            let states = try await server.waitForJobs(listed.compactMap { ($0 as? [String: Any])?["id"] as? String })
            let handler = try await server.call(.get, "/postgresql/handler/\(ids["data"]!)").expect(.ok).object

            #expect(reply["jobsCreated"] as? Int == 2)
            #expect(reply["connectionString"] as? String == connection)
            #expect(bulkId.hasPrefix("bulk_ds_update_"))
            #expect(states.values.allSatisfy { $0["state"] as? String == "completed" }, "\(states)")
            #expect((handler["metadata"] as? [String: Any])?["ssl"] as? Bool == true)
            #expect(try await server.call(.put, "/postgresql/bulk", json: #"{"handler":{"metadata":{"port":"x"}},"connectionString":"a@b:1/c"}"#)
                .expect(.badRequest).object["code"] as? String == "request.validation_failed")
            #expect(try await server.call(.put, "/postgresql/bulk", json: #"{"handler":{"metadata":{}},"connectionString":"nobody@h:1/d"}"#)
                .expect(.ok).object["jobsCreated"] as? Int == 0)
        }
    }

    static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}
