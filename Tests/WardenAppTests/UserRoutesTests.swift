import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct UserRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func createdUsersCanBeReadBack(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let created = try await server.call(.post, "/bim/iam/bim/user", json: """
                {"userid":"alice","profile":{"name":"Alice","email":"alice@example.com","externalUserIds":{"redshiftUser":"alice_rs"}},
                 "permissions":["CREATE_DATA_SOURCE","AUDIT"]}
                """).expect(.ok).object
            let newUser = try #require(created["newUser"] as? [String: Any])

            let read = try await server.call(.get, "/bim/iam/bim/user/alice").expect(.ok).object

            #expect(newUser["userid"] as? String == "alice")
            #expect(read["id"] as? Int == newUser["id"] as? Int)
            #expect(read["permissions"] as? [String] == ["AUDIT", "CREATE_DATA_SOURCE"])
            let profile = try #require(read["profile"] as? [String: Any])
            #expect(profile["email"] as? String == "alice@example.com")
            #expect(profile["externalUserIds"] as? [String: String] == ["redshiftUser": "alice_rs"])
            #expect(read["password"] == nil && read["passwordHash"] == nil)
            try await server.call(.get, "/bim/iam/bim/user/nobody").expect(.notFound, code: "user.not_found")
            try await server.call(.get, "/bim/iam/ldap/user/alice").expect(.notFound, code: "iam.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func duplicateUseridsAre409(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"alice"}"#).expect(.ok)

            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"alice"}"#).expect(.conflict, code: "user.conflict")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func userManagementNeedsUserAdmin(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let bobKey = try await server.userWithKey("bob", permissions: [.audit])

            let refused = try await server.call(.post, "/bim/iam/bim/user", auth: bobKey, json: #"{"userid":"eve"}"#)
                .expect(.forbidden, code: "auth.permission_required")
            try await server.call(.get, "/bim/user", auth: bobKey).expect(.forbidden)
            try await server.call(.put, "/bim/iam/bim/user/bob/permissions", auth: bobKey, json: #"["USER_ADMIN"]"#).expect(.forbidden)
            try await server.call(.get, "/bim/iam/bim/user/admin", auth: bobKey).expect(.forbidden)
            try await server.call(.get, "/bim/iam/bim/user/nobody", auth: bobKey).expect(.forbidden)
            try await server.call(.post, "/bim/group", auth: bobKey, json: #"{"name":"g"}"#).expect(.forbidden)
            try await server.call(.put, "/bim/iam/bim/user/admin/authorizations/k/v", auth: bobKey).expect(.forbidden)

            #expect((refused.object["message"] as? String)?.contains("USER_ADMIN") == true)
            try await server.call(.get, "/bim/iam/bim/user/bob", auth: bobKey).expect(.ok)
            try await server.call(.get, "/bim/iam/bim/user/bob/profile", auth: bobKey).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func searchFiltersSortsAndPages(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            for (userid, name, permission) in [("u1", "Zed", "AUDIT"), ("u2", "amy", "GOVERNANCE"), ("u3", "Bea", "AUDIT")] {
                try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"\#(userid)","profile":{"name":"\#(name)","email":"\#(userid)@corp.io"},"permissions":["\#(permission)"]}"#)
                    .expect(.ok)
            }

            let byName = try await server.call(.get, "/bim/user?sortField=name&sortOrder=desc&excludeSystemGenerated=true").expect(.ok).object
            let auditors = try await server.call(.get, "/bim/user?permission=AUDIT&size=1&offset=1").expect(.ok).object
            let byEmail = try await server.call(.get, "/bim/user?email=U2%40CORP").expect(.ok).object

            #expect((byName["hits"] as? [[String: Any]])?.compactMap { $0["userid"] as? String } == ["u1", "admin", "u3", "u2"])
            #expect(auditors["count"] as? Int == 3)
            #expect((auditors["hits"] as? [Any])?.count == 1)
            #expect((byEmail["hits"] as? [[String: Any]])?.first?["userid"] as? String == "u2")
            try await server.call(.get, "/bim/user?permission=ROOT").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/bim/user?size=abc").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/bim/user?size=100000").expect(.badRequest)
            try await server.call(.get, "/bim/user?sortOrder=up").expect(.badRequest)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func permissionsAreReplacedWhole(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"alice","permissions":["AUDIT","GOVERNANCE"]}"#).expect(.ok)

            let updated = try await server.call(.put, "/bim/iam/bim/user/alice/permissions", json: #"["CREATE_PROJECT"]"#).expect(.ok).object

            #expect(updated["permissions"] as? [String] == ["CREATE_PROJECT"])
            try await server.call(.put, "/bim/iam/bim/user/alice/permissions", json: #"["CREATE_PROJECT","SUPERUSER"]"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.call(.put, "/bim/iam/bim/user/admin/permissions", json: #"["AUDIT"]"#).expect(.badRequest, code: "user.self_lockout")
            try await server.call(.put, "/bim/iam/bim/user/admin/disable/true").expect(.badRequest, code: "user.self_lockout")
            try await server.call(.put, "/bim/iam/bim/user/alice/disable/maybe").expect(.badRequest)
            try await server.call(.put, "/bim/iam/bim/user/nobody/permissions", json: "[]").expect(.notFound)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func usersEditTheirOwnProfileOnly(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let bobKey = try await server.userWithKey("bob")
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"carol","profile":{"name":"Carol","phone":"1"}}"#).expect(.ok)

            let own = try await server.call(.put, "/bim/iam/bim/user/bob/profile", auth: bobKey,
                                            json: #"{"name":"Bob B","externalUserIds":{"postgresUser":"bob_pg","redshiftUser":"bob_rs"}}"#)
                .expect(.ok).object
            let cleared = try await server.call(.put, "/bim/iam/bim/user/bob/profile", auth: bobKey,
                                                json: #"{"externalUserIds":{"redshiftUser":null}}"#).expect(.ok).object
            let byAdmin = try await server.call(.put, "/bim/iam/bim/user/carol/profile", json: #"{"phone":null}"#).expect(.ok).object

            #expect(own["name"] as? String == "Bob B")
            #expect(cleared["externalUserIds"] as? [String: String] == ["postgresUser": "bob_pg"])
            #expect(cleared["name"] as? String == "Bob B")
            #expect(byAdmin["phone"] is NSNull, "a cleared field is written as null")
            #expect(byAdmin["name"] as? String == "Carol")
            try await server.call(.put, "/bim/iam/bim/user/carol/profile", auth: bobKey, json: #"{"name":"x"}"#).expect(.forbidden)
            try await server.call(.put, "/bim/iam/bim/user/bob/profile", auth: bobKey, json: #"{"externalUserIds":{"oracleUser":"x"}}"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.call(.put, "/bim/iam/bim/user/bob/profile", auth: bobKey, json: #"{"email":"not-an-email"}"#)
                .expect(.badRequest)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func attributesAreAddedAndRemovedByPath(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let created = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"alice"}"#).expect(.ok).object
            let id = try #require((created["newUser"] as? [String: Any])?["id"] as? Int)

            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/Security%20Classification/Proprietary", json: "{}").expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/\(id)/authorizations/Department/HR").expect(.ok)
            let after = try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/Department/Finance").expect(.ok).object

            #expect(after["bimAuthorizations"] as? [String: [String]] == ["Department": ["Finance", "HR"], "Security Classification": ["Proprietary"]])

            let removedOne = try await server.call(.delete, "/bim/iam/bim/user/alice/authorizations/Department/HR").expect(.ok).object
            let removedKey = try await server.call(.delete, "/bim/iam/bim/user/alice/authorizations/Department").expect(.ok).object

            #expect(removedOne["authorizations"] as? [String: [String]] == ["Department": ["Finance"], "Security Classification": ["Proprietary"]])
            #expect(removedKey["authorizations"] as? [String: [String]] == ["Security Classification": ["Proprietary"]])
            try await server.call(.delete, "/bim/iam/bim/user/alice/authorizations/Department").expect(.notFound, code: "attribute.not_found")
            try await server.call(.put, "/bim/iam/bim/user/nobody/authorizations/k/v").expect(.notFound)
            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/%zz/v").expect(.badRequest, code: "request.invalid_path")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func hundredParallelCreationsLoseAndDuplicateNothing(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let port = try #require(server.client.port)

            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for index in 0..<100 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(3600))) { client in
                            var statuses: [Int] = []
                            for userid in ["parallel\(index)", "contested"] {
                                let request = TestClient.Request(
                                    "/bim/iam/bim/user", method: .post, authority: "localhost",
                                    headers: [.authorization: TestServer.adminKey, .contentType: "application/json"],
                                    body: ByteBuffer(string: #"{"userid":"\#(userid)"}"#))
                                statuses.append(try await TestServer.execute(request, on: client).status.code)
                            }
                            return statuses
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
            }

            let page = try await server.call(.get, "/bim/user?size=1000").expect(.ok).object
            let userids = (page["hits"] as? [[String: Any]] ?? []).compactMap { $0["userid"] as? String }
            #expect(statuses.filter { $0 == 200 }.count == 101)
            #expect(statuses.filter { $0 == 409 }.count == 99)
            #expect(page["count"] as? Int == 102)
            #expect(Set(userids).count == 102)
        }
    }
}
