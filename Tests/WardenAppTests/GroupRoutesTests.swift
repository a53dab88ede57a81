import Foundation
import HTTPTypes
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct GroupRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func groupsAreCreatedReadUpdatedAndDeleted(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let created = try await server.call(.post, "/bim/group", json: #"{"iamid":"bim","name":"Analysts","description":"d"}"#).expect(.ok).object
            let id = try #require(created["id"] as? Int)

            let updated = try await server.call(.put, "/bim/group/\(id)", json: #"{"email":"analysts@corp.io","description":null}"#).expect(.ok).object
            let list = try await server.call(.get, "/bim/group?searchText=analy").expect(.ok).object

            #expect(updated["name"] as? String == "Analysts")
            #expect(updated["email"] as? String == "analysts@corp.io")
            #expect(updated["description"] == nil)
            #expect(list["count"] as? Int == 1)
            try await server.call(.post, "/bim/group", json: #"{"name":"Analysts"}"#).expect(.conflict, code: "group.conflict")
            try await server.call(.post, "/bim/group", json: #"{"iamid":"bim"}"#).expect(.badRequest, code: "request.validation_failed")
            try await server.call(.delete, "/bim/group/\(id)").expect(.ok)
            try await server.call(.get, "/bim/group/\(id)").expect(.notFound, code: "group.not_found")
            try await server.call(.get, "/bim/group/abc").expect(.notFound)
            try await server.call(.put, "/bim/group/999", json: #"{"name":"x"}"#).expect(.notFound)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func membersInheritGroupAttributesUntilRemoved(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"alice"}"#).expect(.ok)
            let group = try await server.call(.post, "/bim/group", json: #"{"name":"hr"}"#).expect(.ok).object
            let groupId = try #require(group["id"] as? Int)
            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/Department/Finance").expect(.ok)
            try await server.call(.put, "/bim/iam/bim/group/\(groupId)/authorizations/Department/HR").expect(.ok)

            let member = try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid":"alice","iamid":"bim"}"#).expect(.ok).object
            let memberId = try #require(member["id"] as? Int)
            let user = try await server.call(.get, "/bim/iam/bim/user/alice").expect(.ok).object
            let members = try await server.call(.get, "/bim/group/\(groupId)/user").expect(.ok).object
            let groups = try await server.call(.get, "/bim/iam/bim/user/alice/groups").expect(.ok).object

            #expect(user["authorizations"] as? [String: [String]] == ["Department": ["Finance", "HR"]])
            #expect(user["bimAuthorizations"] as? [String: [String]] == ["Department": ["Finance"]])
            #expect(user["groups"] as? [Int] == [groupId])
            #expect(members["count"] as? Int == 1)
            #expect((members["hits"] as? [[String: Any]])?.first?["userid"] as? String == "alice")
            #expect(groups["count"] as? Int == 1)
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid":"alice"}"#).expect(.conflict, code: "group.member_conflict")
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid":"nobody"}"#).expect(.notFound, code: "user.not_found")
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid":"alice","iamid":"ldap"}"#).expect(.badRequest)

            try await server.call(.delete, "/bim/group/\(groupId)/user/\(memberId)").expect(.ok)

            let after = try await server.call(.get, "/bim/iam/bim/user/alice").expect(.ok).object
            #expect(after["authorizations"] as? [String: [String]] == ["Department": ["Finance"]])
            try await server.call(.delete, "/bim/group/\(groupId)/user/\(memberId)").expect(.notFound, code: "group.member_not_found")
            let removedAttribute = try await server.call(.delete, "/bim/iam/bim/group/\(groupId)/authorizations/Department").expect(.ok).object
            #expect(removedAttribute["authorizations"] as? [String: [String]] == [:])
        }
    }
}
