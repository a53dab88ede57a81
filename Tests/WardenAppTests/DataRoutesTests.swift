import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// The /data API against a real PostgreSQL: registering a connection, crawling, settings, deletion.
@Suite struct DataRoutesTests {
    static let key = "wh é"
    static let encodedKey = "wh%20%C3%A9"

    /// Schemas with dotted and unicode names, an empty schema and a partitioned table, beside the army schema.
    static func warehouse() async throws -> TestWarehouse {
        let warehouse = try await TestWarehouse.army()
        for statement in [
            #"CREATE SCHEMA "Sales.EU""#,
            #"CREATE TABLE "Sales.EU"."Orders 2024" (id integer NOT NULL, "Ümlaut" text)"#,
            #"CREATE SCHEMA "empty""#,
            "CREATE TABLE army.events (id integer, at date) PARTITION BY RANGE (at)",
            "CREATE TABLE army.events_2024 PARTITION OF army.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        ] {
            try await warehouse.execute(statement)
        }
        return warehouse
    }

    static func connectionBody(_ warehouse: TestWarehouse, key: String = key, settings: String = "{}") -> String {
        """
        {"connectionKey": "\(key)", "settings": \(settings), "connection": {"technology": "PostgreSQL", "hostname": "\(warehouse.host)",
         "port": \(warehouse.port), "database": "\(warehouse.database)", "authenticationType": "userPassword",
         "username": "\(warehouse.username)", "password": "\(warehouse.password)"}}
        """
    }

    /// Starts `call`'s crawl and returns its job once final.
    static func crawled(_ server: TestServer, _ reply: Reply) async throws -> [String: Any] {
        let bulkId = try reply.string("bulkId")
        let jobs = try await server.call(.get, "/jobs?bulkId=\(bulkId)").expect(.ok).array.compactMap { ($0 as? [String: Any])?["id"] as? String }
        #expect(jobs.count == 1)
        let job = try #require(try await server.waitForJobs(jobs).values.first)
        #expect(job["state"] as? String == "completed", "\(job)")
        return try #require(job["output"] as? [String: Any])
    }

    func object(_ server: TestServer, _ path: String) async throws -> [String: Any] {
        try await server.call(.get, "/data/object/\(Self.encodedKey)/\(path)").expect(.ok).object
    }

    func children(_ server: TestServer, _ path: String) async throws -> [String] {
        let reply = try await server.call(.post, "/data/object/search/\(Self.encodedKey)/\(path)?limit=1000").expect(.ok).object
        let hits = try #require(reply["hits"] as? [[String: Any]])
        #expect(reply["count"] as? Int == hits.count)
        return hits.compactMap { ($0["objectPath"] as? [String])?.last }
    }

    @Test(arguments: TestMetastores.kinds)
    func aCrawlBuildsTheHierarchyAndFollowsTheWarehouse(kind: MetastoreKind) async throws {
        let warehouse = try await Self.warehouse()
        let db = warehouse.database
        try await TestServer.run(kind) { server in
            let registered = try await server.call(.post, "/data/connection", json: Self.connectionBody(warehouse)).expect(.ok)
            #expect(registered.object["objectPath"] as? [String] == [Self.key])
            let first = try await Self.crawled(server, registered)
            #expect(first["tablesSeen"] as? Int == 5)
            #expect(first["dataSourcesCreated"] as? Int == 5)

            // The hierarchy: the database, its schemas (the empty one too), tables with the partition folded into its parent.
            #expect(try await children(server, "") == [db])
            #expect(try await children(server, db) == ["Sales.EU", "army", "empty", "public"])
            #expect(try await children(server, "\(db)/army") == ["army_records", "data", "events", "records_view"])
            let orders = try await object(server, "\(db)/Sales.EU/Orders%202024")
            #expect(orders["objectPath"] as? [String] == [Self.key, db, "Sales.EU", "Orders 2024"])
            #expect(orders["state"] as? String == "active")
            #expect(orders["technology"] as? String == "PostgreSQL")
            #expect(orders["overrides"] as? [String] == [])
            #expect(orders["remoteId"] is NSNull)
            let settings = try #require(orders["settings"] as? [String: [String: Any]])
            #expect(settings["isActive"]?["value"] as? Bool == true)
            #expect((settings["dataOwners"]?["value"] as? [[String: Any]])?.first?["id"] as? Int == 1)
            let ordersId = try #require(orders["dataSourceId"] as? Int)
            let source = try await server.call(.get, "/dataSource/\(ordersId)").expect(.ok).object
            #expect(source["name"] as? String == "\(Self.key).\(db).Sales.EU.Orders 2024")
            let dictionary = try await server.call(.get, "/dictionary/\(ordersId)").expect(.ok).object
            #expect((dictionary["metadata"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["id", "Ümlaut"])

            // The connection shows what was registered, never the password.
            let connection = try await server.call(.get, "/data/connection/\(Self.encodedKey)").expect(.ok)
            #expect((connection.object["connection"] as? [String: Any])?["database"] as? String == db)
            #expect((connection.object["creator"] as? [String: Any])?["id"] as? Int == 1)
            #expect((connection.object["connection"] as? [String: Any])?["password"] == nil && !connection.text.contains("\"password\""))

            // Nothing changed: the re-crawl adds, removes and creates nothing.
            let again = try await Self.crawled(server, try await server.call(.post, "/data/crawl/\(Self.encodedKey)", json: "{}").expect(.ok))
            for field in ["objectsAdded", "objectsGone", "objectsBack", "tablesWithNewColumns", "dataSourcesCreated", "dataSourcesDisabled"] {
                #expect(again[field] as? Int == 0, "\(field): \(again)")
            }

            // The warehouse changes: a table dropped, one added, a column added.
            try await warehouse.execute(#"DROP TABLE "Sales.EU"."Orders 2024""#)
            try await warehouse.execute("CREATE TABLE army.recruits (id integer)")
            try await warehouse.execute("ALTER TABLE army.data ADD COLUMN extra text")
            let changed = try await Self.crawled(server, try await server.call(.post, "/data/crawl/\(Self.encodedKey)/\(db)", json: "{}").expect(.ok))
            #expect(changed["objectsAdded"] as? Int == 1)
            #expect(changed["objectsGone"] as? Int == 1)
            #expect(changed["tablesWithNewColumns"] as? Int == 1)
            #expect(changed["dataSourcesDisabled"] as? Int == 1)
            let gone = try await object(server, "\(db)/Sales.EU/Orders%202024")
            #expect(gone["state"] as? String == "inactive")
            #expect(gone["dataSourceId"] is NSNull)
            #expect(try await server.call(.get, "/dataSource/\(ordersId)").expect(.ok).object["disabled"] as? Bool == true)
            #expect(try await object(server, "\(db)/army/recruits")["dataSourceId"] is Int)

            // Settings trickle down: deactivating the schema disables its sources; its tables keep no override of their own.
            let armyRecords = try #require(try await object(server, "\(db)/army/army_records")["dataSourceId"] as? Int)
            let off = try await server.call(.put, "/data/settings/\(Self.encodedKey)/\(db)/army", json: #"{"overrides": {"isActive": false}}"#)
                .expect(.ok).object
            #expect(off["state"] as? String == "inactive")
            #expect(off["overrides"] as? [String] == ["isActive"])
            #expect(off["bulkId"] is String)
            #expect(try await object(server, "\(db)/army/army_records")["state"] as? String == "inactive")
            #expect(try await server.call(.get, "/dataSource/\(armyRecords)").expect(.ok).object["disabled"] as? Bool == true)
            let database = try #require(try await object(server, db)["settings"] as? [String: [String: Any]])
            #expect(database["isActive"]?["hasDescendantsWithOverrides"] as? Bool == true)
            #expect(database["activateNewChildren"]?["hasDescendantsWithOverrides"] as? Bool == false)
            try await server.call(.put, "/data/settings/\(Self.encodedKey)/\(db)/army", json: #"{"overrides": {"isActive": true}}"#).expect(.ok)
            #expect(try await server.call(.get, "/dataSource/\(armyRecords)").expect(.ok).object["disabled"] as? Bool == false)

            // A crawl cannot start at a table; deleting a schema takes its tables and their data sources with it.
            try await server.call(.post, "/data/crawl/\(Self.encodedKey)/\(db)/army/data", json: "{}").expect(.badRequest, code: "connection.crawl_at_table")
            let deleted = try await server.call(.delete, "/data/object/\(Self.encodedKey)/\(db)/army").expect(.ok).object
            #expect(deleted["objectPath"] as? [String] == [Self.key, db, "army"])
            #expect(deleted["childCount"] as? Int == 5)
            try await server.call(.get, "/dataSource/\(armyRecords)").expect(.notFound)
            try await server.call(.get, "/data/object/\(Self.encodedKey)/\(db)/army").expect(.notFound, code: "dataObject.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func newChildrenOfAnObjectThatDoesNotActivateThemArriveInactive(kind: MetastoreKind) async throws {
        let warehouse = try await Self.warehouse()
        try await TestServer.run(kind) { server in
            let registered = try await server.call(.post, "/data/connection",
                                                   json: Self.connectionBody(warehouse, settings: #"{"activateNewChildren": false}"#)).expect(.ok)
            let output = try await Self.crawled(server, registered)
            #expect(output["dataSourcesCreated"] as? Int == 0)
            let database = try await object(server, warehouse.database)
            #expect(database["state"] as? String == "inactive")
            #expect(database["overrides"] as? [String] == ["isActive"])
            // Activating the database activates what the crawl found below it.
            try await server.call(.put, "/data/settings/\(Self.encodedKey)/\(warehouse.database)",
                                  json: #"{"overrides": {"isActive": true, "activateNewChildren": true}}"#).expect(.ok)
            #expect(try await object(server, "\(warehouse.database)/army")["state"] as? String == "inactive")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func callersSeeAndChangeOnlyWhatTheHierarchyGivesThem(kind: MetastoreKind) async throws {
        let warehouse = try await Self.warehouse()
        try await TestServer.run(kind) { server in
            let stranger = try await server.userWithKey("stranger")
            let owner = try await server.userWithKey("owner")
            let ownerId = try #require(try await server.call(.get, "/bim/user?userid=owner").expect(.ok).object["hits"] as? [[String: Any]])
                .first { $0["userid"] as? String == "owner" }?["id"] as? Int
            _ = try await Self.crawled(server, try await server.call(.post, "/data/connection", json: Self.connectionBody(warehouse)).expect(.ok))
            let schema = "\(Self.encodedKey)/\(warehouse.database)/army"
            try await server.call(.put, "/data/settings/\(schema)", json: #"{"overrides": {"dataOwners": [{"id": \#(try #require(ownerId)), "type": "user"}]}}"#)
                .expect(.ok)

            // A data owner owns the data sources below: those there, and those a later crawl adds; not the others.
            func owns(_ path: String) async throws -> Bool {
                let id = try #require(try await object(server, path)["dataSourceId"] as? Int, "\(path) has a data source")
                let users = try await server.call(.get, "/dataSource/\(id)/access?states=owner").expect(.ok).object["users"] as? [[String: Any]] ?? []
                return users.contains { $0["userid"] as? String == "owner" }
            }
            #expect(try await owns("\(warehouse.database)/army/army_records"))
            #expect(try await owns("\(warehouse.database)/Sales.EU/Orders%202024") == false)
            try await warehouse.execute("CREATE TABLE army.recruits (id integer)")
            _ = try await Self.crawled(server, try await server.call(.post, "/data/crawl/\(Self.encodedKey)", json: "{}").expect(.ok))
            #expect(try await owns("\(warehouse.database)/army/recruits"))

            // A stranger learns nothing; registering needs CREATE_DATA_SOURCE.
            try await server.call(.get, "/data/connection/\(Self.encodedKey)", auth: stranger).expect(.notFound, code: "connection.not_found")
            try await server.call(.get, "/data/object/\(schema)", auth: stranger).expect(.notFound)
            #expect(try await server.call(.post, "/data/object/search", auth: stranger).expect(.ok).object["count"] as? Int == 0)
            try await server.call(.post, "/data/connection", auth: stranger, json: Self.connectionBody(warehouse, key: "other")).expect(.forbidden)

            // The schema's data owner sees the connection and may crawl and delete below it, but not change settings.
            try await server.call(.get, "/data/object/\(schema)", auth: owner).expect(.ok)
            #expect(try await server.call(.post, "/data/object/search", auth: owner).expect(.ok).object["count"] as? Int == 1)
            try await server.call(.post, "/data/crawl/\(schema)", auth: owner, json: "{}").expect(.ok)
            try await server.call(.post, "/data/crawl/\(Self.encodedKey)", auth: owner, json: "{}").expect(.forbidden)
            try await server.call(.put, "/data/settings/\(schema)", auth: owner, json: #"{"overrides": {"isActive": false}}"#).expect(.forbidden)
            try await server.call(.put, "/data/connection/\(Self.encodedKey)", auth: owner, json: Self.connectionBody(warehouse)).expect(.forbidden)
        }
    }

    /// A table registered through a handler is linked by a crawl, not registered twice, and stays its owners' alone:
    /// neither the connection's registrant nor the data owners its settings name gain any right on it.
    @Test(arguments: TestMetastores.kinds)
    func aConnectionDoesNotTakeOverSourcesOthersRegistered(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let records = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let registrar = try await server.userWithKey("registrar", permissions: [.createDataSource])
            let registrarId = try #require((try await server.call(.get, "/bim/user?userid=registrar").expect(.ok).object["hits"] as? [[String: Any]])?
                .first { $0["userid"] as? String == "registrar" }?["id"] as? Int)
            _ = try await Self.crawled(server, try await server.call(.post, "/data/connection", auth: registrar, json: Self.connectionBody(warehouse)).expect(.ok))
            let army = "\(Self.encodedKey)/\(warehouse.database)/army"
            #expect(try await server.call(.get, "/data/object/\(army)/army_records", auth: registrar).expect(.ok).object["dataSourceId"] as? Int == records)
            let made = try #require(try await server.call(.get, "/data/object/\(army)/data", auth: registrar).expect(.ok).object["dataSourceId"] as? Int)
            try await server.call(.put, "/data/settings/\(army)", auth: registrar,
                                  json: #"{"overrides": {"dataOwners": [{"id": \#(registrarId), "type": "user"}]}}"#).expect(.ok)
            func owners(_ id: Int) async throws -> [String] {
                let users = try await server.call(.get, "/dataSource/\(id)/access?states=owner").expect(.ok).object["users"] as? [[String: Any]] ?? []
                return users.compactMap { $0["userid"] as? String }
            }
            #expect(try await owners(made).contains("registrar"))
            #expect(try await owners(records).contains("registrar") == false)
            try await server.call(.put, "/dataSource/\(records)", auth: registrar, json: #"{"description": "mine now"}"#).expect(.forbidden)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func badRequestsGetClearErrors(kind: MetastoreKind) async throws {
        let warehouse = try await Self.warehouse()
        try await TestServer.run(kind) { server in
            let missing = try await server.call(.post, "/data/connection", json: #"{"connectionKey": "k"}"#).expect(.badRequest)
            #expect((missing.object["message"] as? String)?.contains("connection") == true)
            let wrong = try await server.call(.post, "/data/connection", json: """
                {"connectionKey": "k", "connection": {"technology": "Oracle", "hostname": "h", "username": "u", "password": "p", "port": "x"}}
                """).expect(.badRequest)
            let fields = (wrong.object["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            #expect(fields.contains("connection.technology"))
            try await server.call(.post, "/data/connection", json: #"""
                {"connectionKey": "k", "connection": {"technology": "Trino", "hostname": "h", "username": "u", "password": "p"}}
                """#).expect(.notImplemented, code: "connector.not_implemented")
            try await server.call(.post, "/data/connection", json: Self.connectionBody(warehouse, settings: #"{"dataOwners": [{"id": 999, "type": "user"}]}"#))
                .expect(.badRequest)
            try await server.call(.post, "/data/connection", json: Self.connectionBody(warehouse)).expect(.ok)
            try await server.call(.post, "/data/connection", json: Self.connectionBody(warehouse)).expect(.conflict, code: "connection.conflict")
            try await server.call(.get, "/data/object/a/b/c/d/e").expect(.badRequest)
            try await server.call(.get, "/data/object/nope").expect(.notFound)
            try await server.call(.get, "/data/object/%ZZ").expect(.badRequest)
            try await server.call(.put, "/data/settings/\(Self.encodedKey)", json: #"{"overrides": {"isActive": "yes"}}"#).expect(.badRequest)
            try await server.call(.post, "/data/object/search/\(Self.encodedKey)?sortField=size").expect(.badRequest)
        }
    }
}
