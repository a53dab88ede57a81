import Foundation
import HTTPTypes
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct DictionaryRoutesTests {
    let columns = #"{"metadata": [{"name": "notificationType", "dataType": "text", "remoteType": "text"}, {"name": "targetUser", "dataType": "integer", "remoteType": "integer"}, {"name": "eventTime", "dataType": "timestamp with time zone", "remoteType": "timestamp with time zone"}]}"#

    @Test(arguments: TestMetastores.kinds)
    func ownersReplaceDeleteAndRecreateDictionaries(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])

            try await server.call(.post, "/dictionary/\(id)", json: columns).expect(.conflict, code: "dictionary.conflict")
            let replaced = try await server.call(.put, "/dictionary/\(id)", json: columns).expect(.ok).object
            let deleted = try await server.call(.delete, "/dictionary/\(id)").expect(.ok)
            try await server.call(.get, "/dictionary/\(id)").expect(.notFound, code: "dictionary.not_found")
            let recreated = try await server.call(.post, "/dictionary/\(id)", json: columns).expect(.ok).object

            #expect(replaced["types"] as? [String] == ["text", "integer", "timestamp with time zone"])
            #expect((replaced["metadata"] as? [[String: Any]])?.count == 3)
            #expect(deleted.text == "{}")
            #expect(recreated["dataSource"] as? Int == id)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func errorsAreWordedAsDocumented(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let privateId = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            let reader = try await server.userWithKey("reader")

            let badBody = try await server.call(.put, "/dictionary/\(id)", json: #"{"metadata": [{"dataType": "text"}]}"#).expect(.badRequest)
            let missing = try await server.call(.put, "/dictionary/\(id)", json: "{}").expect(.badRequest)
            let unauthenticated = try await server.call(.get, "/dictionary/\(id)", auth: nil).expect(.unauthorized)
            let forbidden = try await server.call(.delete, "/dictionary/\(id)", auth: reader).expect(.forbidden)
            let notSubscribed = try await server.call(.get, "/dictionary/\(id)", auth: reader).expect(.forbidden)
            let invisible = try await server.call(.get, "/dictionary/\(privateId)", auth: reader).expect(.notFound)
            let unknown = try await server.call(.get, "/dictionary/987654").expect(.notFound)

            #expect((badBody.object["message"] as? String)?.hasPrefix("Bad request: ") == true)
            #expect((missing.object["message"] as? String)?.hasPrefix("Bad request: ") == true)
            #expect(unauthenticated.object["message"] as? String == "A valid Authorization token must be provided")
            #expect(forbidden.object["message"] as? String == "User must have one of the following roles to delete dictionary: owner,expert")
            #expect(notSubscribed.object["code"] as? String == "dictionary.subscription_required")
            #expect(invisible.object["message"] as? String == "Data source not found")
            #expect(unknown.object["message"] as? String == "Data source not found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func columnsAndTypesAreSearchable(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            try await server.registerArmy(warehouse, tables: ["army_records"])
            try await server.registerArmy(warehouse, tables: ["data"], isPrivate: true)
            let reader = try await server.userWithKey("reader")

            let hits = try await server.call(.get, "/dictionary/columns?searchText=NAME&limit=5").expect(.ok).array
            let limited = try await server.call(.get, "/dictionary/columns?limit=2").expect(.ok).array
            let types = try await server.call(.get, "/dictionary/types?query=time").expect(.ok).array
            let adminAll = try await server.call(.get, "/dictionary/columns?limit=1000").expect(.ok).array
            let readerAll = try await server.call(.get, "/dictionary/columns?limit=1000", auth: reader).expect(.ok).array

            let names = hits.compactMap { ($0 as? [String: Any])?["columnName"] as? String }
            #expect(names.contains("first_name") && names.contains("last_name"))
            #expect(names.allSatisfy { $0.contains("name") })
            #expect(limited.count == 2)
            #expect(types.compactMap { $0 as? String }.allSatisfy { $0.contains("time") })
            #expect(!types.isEmpty)
            #expect(readerAll.count < adminAll.count, "columns of the private source are hidden from non-members")
            try await server.call(.get, "/dictionary/columns?limit=0").expect(.badRequest)
        }
    }
}

@Suite struct JobRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func jobsAreVisibleToTheirCreatorOnly(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let job = try await server.call(.put, "/postgresql/handler/\(id)/refreshNativeViewJob").expect(.ok).text
            let other = try await server.userWithKey("other")

            let mine = try await server.waitForJobs([job, job])
            let theirs = try await server.call(.post, "/jobs/statuses", auth: other, json: #"{"jobIds":["\#(job)"]}"#).expect(.ok).object

            #expect(mine[job]?["state"] as? String == "completed")
            #expect(theirs.isEmpty)
            try await server.call(.get, "/jobs").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.post, "/jobs/statuses", json: #"{"jobIds":"x"}"#).expect(.badRequest)
            try await server.call(.post, "/jobs/statuses", json: #"{"jobIds":[],"pollInterval":0}"#).expect(.badRequest)
        }
    }
}
