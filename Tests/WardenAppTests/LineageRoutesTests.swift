import Foundation
import HTTPTypes
import SQLKit
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct LineageRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func parentsAndChildrenAreRecordedAndServed(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE TABLE army.derived (id integer PRIMARY KEY, total numeric)")
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data", "derived"])
            let (records, data, derived) = (try #require(ids["army_records"]), try #require(ids["data"]), try #require(ids["derived"]))

            let added = try await server.call(.post, "/dataSource/\(derived)/lineage/parents",
                                              json: #"{"parentIds": [\#(records), \#(data), \#(records)]}"#).expect(.ok).object
            try await server.call(.post, "/dataSource/\(derived)/lineage/parents", json: #"{"parentIds": [\#(data)]}"#).expect(.ok)
            let parents = try await server.call(.get, "/dataSource/\(derived)/lineage/parents").expect(.ok).object
            let children = try await server.call(.get, "/dataSource/\(records)/lineage/children").expect(.ok).object
            let all = try await server.call(.get, "/dataSource/\(data)/lineage/all").expect(.ok).object
            let removed = try await server.call(.delete, "/dataSource/\(derived)/lineage/parents/\(data)").expect(.ok).object
            let afterRemoval = try await server.call(.get, "/dataSource/\(data)/lineage/all").expect(.ok).object
            let activities = try await server.metastore.read { db in
                try await db.raw("SELECT data_source_id, type FROM activities WHERE type LIKE 'lineage%' ORDER BY id").all()
                    .map { "\(try $0.decode(column: "data_source_id", as: Int.self)) \(try $0.decode(column: "type", as: String.self))" }
            }

            #expect(Self.ids(added["parents"]) == [records, data])
            #expect(added["children"] == nil)
            let first = try #require((parents["parents"] as? [[String: Any]])?.first)
            #expect(first["dataSourceId"] as? Int == records)
            #expect(first["dataSourceName"] as? String == "Army Army Records")
            #expect(first["deleted"] as? Bool == false)
            #expect(first["createdBy"] as? String == "admin")
            #expect(first["createdAt"] as? String == "2027-01-15T08:00:00.000Z")
            #expect((first["policyHandlerDiff"] as? [String: Any])?["dsType"] as? String == "queryable")
            #expect(first.keys.contains("projectId") && first["projectId"] is NSNull, "no projects yet: documented null")
            #expect(Self.ids(children["children"]) == [derived])
            #expect(children["parents"] == nil)
            #expect(Self.ids(all["parents"]) == [])
            #expect(Self.ids(all["children"]) == [derived])
            #expect(Self.ids(removed["parents"]) == [records])
            #expect(Self.ids(afterRemoval["children"]) == [])
            #expect(activities == ["\(derived) lineageAdded", "\(records) lineageAdded", "\(derived) lineageAdded", "\(data) lineageAdded",
                                   "\(derived) lineageRemoved", "\(data) lineageRemoved"])
            try await server.call(.delete, "/dataSource/\(derived)/lineage/parents/\(data)").expect(.notFound, code: "lineage.not_found")
            try await server.call(.get, "/dataSource/\(derived)/lineage/cousins").expect(.badRequest, code: "lineage.invalid_type")
            try await server.call(.post, "/dataSource/\(records)/lineage/children", json: #"{"parentIds": [\#(derived)]}"#)
                .expect(.badRequest, code: "lineage.invalid_type")
            try await server.call(.delete, "/dataSource/\(records)/lineage/children/\(derived)").expect(.badRequest, code: "lineage.invalid_type")
            try await server.call(.get, "/dataSource/999999/lineage/all").expect(.notFound, code: "dataSource.not_found")
            try await server.call(.post, "/dataSource/\(derived)/lineage/parents", json: #"{"parentIds": []}"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.call(.post, "/dataSource/\(derived)/lineage/parents", json: #"{"parents": [1]}"#)
                .expect(.badRequest, code: "request.validation_failed")

            // Links go with either end when a data source is deleted for good.
            try await server.metastore.write { db in try await db.raw("DELETE FROM data_sources WHERE id = \(bind: records)").run() }
            #expect(Self.ids(try await server.call(.get, "/dataSource/\(derived)/lineage/parents").expect(.ok).object["parents"]) == [])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func cyclesAndSelfParentingAreRejected(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE TABLE army.derived (id integer PRIMARY KEY)")
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data", "derived"])
            let (records, data, derived) = (try #require(ids["army_records"]), try #require(ids["data"]), try #require(ids["derived"]))
            try await server.call(.post, "/dataSource/\(data)/lineage/parents", json: #"{"parentIds": [\#(records)]}"#).expect(.ok)
            try await server.call(.post, "/dataSource/\(derived)/lineage/parents", json: #"{"parentIds": [\#(data)]}"#).expect(.ok)

            let direct = try await server.call(.post, "/dataSource/\(data)/lineage/parents", json: #"{"parentIds": [\#(derived)]}"#)
                .expect(.badRequest, code: "lineage.cycle")
            let transitive = try await server.call(.post, "/dataSource/\(records)/lineage/parents", json: #"{"parentIds": [\#(derived)]}"#)
                .expect(.badRequest, code: "lineage.cycle")
            try await server.call(.post, "/dataSource/\(records)/lineage/parents", json: #"{"parentIds": [\#(records)]}"#)
                .expect(.badRequest, code: "lineage.self_parent")

            #expect((direct.object["message"] as? String)?.contains("cycle") == true)
            #expect((transitive.object["message"] as? String)?.contains("\(derived)") == true)
            #expect(Self.ids(try await server.call(.get, "/dataSource/\(records)/lineage/parents").expect(.ok).object["parents"]) == [])
            // A diamond is not a cycle.
            try await server.call(.post, "/dataSource/\(derived)/lineage/parents", json: #"{"parentIds": [\#(records)]}"#).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func onlyOwnersRecordLineageAndInvisibleSourcesStayHidden(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE TABLE army.reader_table (id integer PRIMARY KEY)")
        try await TestServer.run(kind) { server in
            let open = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            let reader = try await server.userWithKey("reader", permissions: [.createDataSource])
            let own = try #require(try await server.registerArmy(warehouse, tables: ["reader_table"], auth: reader)["reader_table"])
            try await server.call(.post, "/dataSource/\(open)/lineage/parents", json: #"{"parentIds": [\#(hidden)]}"#).expect(.ok)

            let invisibleParent = try await server.call(.post, "/dataSource/\(own)/lineage/parents", auth: reader,
                                                        json: #"{"parentIds": [\#(open), \#(hidden)]}"#)
                .expect(.notFound, code: "dataSource.not_found")
            try await server.call(.post, "/dataSource/\(own)/lineage/parents", auth: reader, json: #"{"parentIds": [999999]}"#)
                .expect(.notFound, code: "dataSource.not_found")
            try await server.call(.post, "/dataSource/\(open)/lineage/parents", auth: reader, json: #"{"parentIds": [\#(own)]}"#)
                .expect(.forbidden, code: "dataSource.role_required")
            try await server.call(.post, "/dataSource/\(hidden)/lineage/parents", auth: reader, json: #"{"parentIds": [\#(own)]}"#)
                .expect(.notFound, code: "dataSource.not_found")
            try await server.call(.delete, "/dataSource/\(open)/lineage/parents/\(hidden)", auth: reader).expect(.forbidden)
            try await server.call(.get, "/dataSource/\(hidden)/lineage/all", auth: reader).expect(.notFound)
            let recorded = try await server.call(.post, "/dataSource/\(own)/lineage/parents", auth: reader,
                                                 json: #"{"parentIds": [\#(open)]}"#).expect(.ok).object
            let seenByReader = try await server.call(.get, "/dataSource/\(open)/lineage/all", auth: reader).expect(.ok).object
            let seenByAdmin = try await server.call(.get, "/dataSource/\(open)/lineage/all").expect(.ok).object

            #expect((invisibleParent.object["message"] as? String)?.contains("\(hidden)") == true)
            #expect(Self.ids(recorded["parents"]) == [open])
            #expect(Self.ids(seenByReader["parents"]) == [])
            #expect(Self.ids(seenByReader["children"]) == [own])
            #expect(Self.ids(seenByAdmin["parents"]) == [hidden])
            #expect(Self.ids(seenByAdmin["children"]) == [own])
        }
    }

    static func ids(_ records: Any?) -> [Int] {
        (records as? [[String: Any]] ?? []).compactMap { $0["dataSourceId"] as? Int }
    }
}
