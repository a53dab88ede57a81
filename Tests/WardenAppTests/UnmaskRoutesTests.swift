import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct UnmaskRoutesTests {
    struct UnmaskTask: Decodable {
        var id: Int64
        var requestingUserProfile: Int64
        var dataSourceId: Int64
        var reason: String
        var type: String
        var state: String
        var metadata: Metadata
        struct Metadata: Decodable {
            var column: String
            var values: [String]
            var salt: String
        }
    }

    struct Revealed: Decodable {
        struct Pair: Decodable {
            var masked: String
            var unmasked: String?
            var error: String?
        }
        struct Result: Decodable {
            var unmaskPairs: [Pair]
            var column: String
        }
        var result: Result
    }

    struct UnmaskUser: Decodable, Equatable {
        var name: String?
        var profileId: Int64
        var iamid: String
    }

    static let reversibleEmail = #"""
        {"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking",
         "exceptions": {"operator": "or", "conditions": [{"type": "groups", "group": {"name": "Unmaskers"}}]},
         "config": {"fields": ["contact_email"], "maskingConfig": {"type": "Reversible", "metadata": {}}}}]}]}
        """#

    @Test(arguments: TestMetastores.kinds)
    func maskedReadersAskNamedUnmaskersWhoSeeThePlaintextOnlyWhileTheyMay(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            var users: [String: (key: String, id: Int64)] = [:]
            for name in ["masked", "clear", "stranger", "outsider"] {
                let key = try await server.userWithKey(name)
                let userId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.ok).object["id"] as? Int)
                users[name] = (key, Int64(userId))
            }
            let adminId = try #require(try await server.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
            for name in ["masked", "clear", "stranger"] {
                try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(users[name]!.id), "state": "subscribed"}"#).expect(.ok)
            }
            let groupId = try #require(try await server.call(.post, "/bim/group", json: #"{"name": "Unmaskers"}"#).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "clear"}"#).expect(.ok)
            try await server.call(.post, "/policy/handler/\(id)", json: Self.reversibleEmail).expect(.ok)

            // Who can unmask: the owner, and the member the mask excepts.
            let unmaskers = try await server.call(.get, "/dataSource/\(id)/contact_email/unmaskUsers", auth: users["masked"]!.key)
                .expect(.ok).decode([UnmaskUser].self)
            #expect(unmaskers.map(\.profileId) == [Int64(adminId), users["clear"]!.id].sorted())
            #expect(unmaskers.allSatisfy { $0.iamid == "bim" })
            try await server.call(.get, "/dataSource/\(id)/no_such_column/unmaskUsers").expect(.notFound, code: "column.not_found")
            try await server.call(.get, "/dataSource/\(id)/contact_email/unmaskUsers", auth: nil).expect(.unauthorized)

            // The value as the masked reader reads it: the source's Reversible mask of the plaintext.
            let keys = DataSourceKeyStore(metastore: server.metastore, secrets: try SecretBox(masterKey: try server.config.resolveMasterKey()))
            let cipher = try await keys.keys(dataSourceId: Int64(id), now: Date()).reversible
            let token = cipher.encrypt("alice@example.com", column: "contact_email")
            let otherColumn = cipher.encrypt("alice@example.com", column: "first_name")
            func ask(_ user: String, unmaskers: [Int64], column: String = "contact_email", values: [String]? = nil) async throws -> Reply {
                let list = (values ?? [token, otherColumn]).map { "\"\($0)\"" }.joined(separator: ",")
                return try await server.call(.post, "/dataSource/\(id)/reverseMask", auth: users[user]!.key, json: """
                    {"column": "\(column)", "values": [\(list)], "unmaskReasoning": "Marketing project",
                     "unmaskingUsers": [\(unmaskers.map(String.init).joined(separator: ","))]}
                    """)
            }

            // Refusals, each naming what is wrong.
            try await ask("masked", unmaskers: [users["stranger"]!.id]).expect(.badRequest)
            #expect(try await ask("masked", unmaskers: [users["stranger"]!.id]).text.contains("unmaskingUsers[0]"))
            #expect(try await ask("masked", unmaskers: [users["masked"]!.id]).expect(.badRequest).text.contains("cannot be the requester"))
            try await ask("clear", unmaskers: [Int64(adminId)]).expect(.badRequest, code: "unmask.not_reversible")
            try await ask("masked", unmaskers: [Int64(adminId)], column: "nope").expect(.notFound, code: "column.not_found")
            try await ask("outsider", unmaskers: [Int64(adminId)]).expect(.forbidden)
            try await ask("masked", unmaskers: [Int64(adminId)], values: []).expect(.badRequest)
            try await ask("masked", unmaskers: [Int64(adminId)], values: Array(repeating: token, count: 101)).expect(.badRequest)
            try await server.call(.post, "/dataSource/\(id)/reverseMask", auth: users["masked"]!.key,
                                  json: #"{"column": "contact_email", "values": ["x"], "unmaskingUsers": [1]}"#).expect(.badRequest)
            try await server.call(.post, "/dataSource/\(id)/reverseMask", auth: nil, json: "{}").expect(.unauthorized)

            let task = try await ask("masked", unmaskers: [users["clear"]!.id]).expect(.ok).decode(UnmaskTask.self)
            #expect(task.type == "unmask" && task.state == "pending" && task.requestingUserProfile == users["masked"]!.id)
            #expect(task.dataSourceId == Int64(id) && task.reason == "Marketing project")
            #expect(task.metadata.column == "contact_email" && task.metadata.values == [token, otherColumn])
            #expect(task.metadata.salt == "**********")

            // Only the named unmasker sees the values; the requester may not reveal them, a stranger learns nothing.
            try await server.call(.get, "/dataSource/tasks/\(task.id)", auth: users["masked"]!.key).expect(.forbidden, code: "task.not_addressed")
            try await server.call(.get, "/dataSource/tasks/\(task.id)", auth: users["stranger"]!.key).expect(.notFound)
            let revealed = try await server.call(.get, "/dataSource/tasks/\(task.id)", auth: users["clear"]!.key).expect(.ok).decode(Revealed.self)
            #expect(revealed.result.column == "contact_email")
            #expect(revealed.result.unmaskPairs.map(\.masked) == [token, otherColumn])
            #expect(revealed.result.unmaskPairs[0].unmasked == "alice@example.com" && revealed.result.unmaskPairs[0].error == nil)
            #expect(revealed.result.unmaskPairs[1].unmasked == nil && revealed.result.unmaskPairs[1].error != nil)
            let pending = try await server.call(.get, "/dataSource/\(id)/tasks?states=completed&types=unmask", auth: users["clear"]!.key).expect(.ok).object
            #expect(pending["count"] as? Int == 1)
            let activities = try await server.call(.get, "/dataSource/\(id)/activities?size=200").expect(.ok).text
            #expect(activities.contains("unmasked") && !activities.contains("alice@example.com"))

            // Leaving the group puts the mask on the unmasker too: they can no longer reveal anything.
            let members = try await server.call(.get, "/bim/group/\(groupId)/user").expect(.ok).object
            let membership = try #require((members["hits"] as? [[String: Any]])?.first?["id"] as? Int)
            try await server.call(.delete, "/bim/group/\(groupId)/user/\(membership)").expect(.ok)
            try await server.call(.get, "/dataSource/tasks/\(task.id)", auth: users["clear"]!.key).expect(.forbidden, code: "unmask.not_allowed")
            #expect(try await server.call(.get, "/dataSource/\(id)/contact_email/unmaskUsers").expect(.ok).decode([UnmaskUser].self)
                .map(\.profileId) == [Int64(adminId)])
        }
    }
}
