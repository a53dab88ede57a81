import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// The access loop over HTTP: request → approval → access → expiry → revocation, with the record it leaves.
@Suite struct AccessRoutesTests {
    struct Person {
        let key: String
        let id: Int
        let userid: String
    }

    func person(_ server: TestServer, _ userid: String, permissions: [Permission] = []) async throws -> Person {
        let key = try await server.userWithKey(userid, permissions: permissions)
        let id = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.ok).object["id"] as? Int)
        return Person(key: key, id: id, userid: userid)
    }

    /// Registers `table` (owned by the admin) and gives it `policy`.
    func source(_ server: TestServer, _ warehouse: TestWarehouse, table: String = "army_records", policy: String,
                owner: String = TestServer.adminKey) async throws -> Int {
        let id = try #require(try await server.registerArmy(warehouse, tables: [table], auth: owner)[table])
        try await server.call(.put, "/dataSource/\(id)", auth: owner, json: #"{"subscriptionPolicy": \#(policy)}"#).expect(.ok)
        return id
    }

    func status(_ server: TestServer, _ id: Int, as person: Person) async throws -> String? {
        let reply = try await server.call(.get, "/dataSource/\(id)", auth: person.key)
        return reply.status == .ok ? reply.object["subscriptionStatus"] as? String : nil
    }

    func activityTypes(_ server: TestServer, _ id: Int, auth: String = TestServer.adminKey) async throws -> [String] {
        let reply = try await server.call(.get, "/dataSource/\(id)/activities?size=200", auth: auth).expect(.ok)
        return (reply.object["activities"] as? [[String: Any]] ?? []).compactMap { $0["notificationType"] as? String }
    }

    func subscribe(_ server: TestServer, _ id: Int, as person: Person, body: String = "{}") async throws -> [String: Any] {
        try await server.call(.post, "/dataSource/subscribe?dataSourceId=\(id)", auth: person.key, json: body).expect(.ok).object
    }

    // MARK: Policy types

    @Test(arguments: TestMetastores.kinds)
    func automaticAndManualPolicies(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let reader = try await person(server, "reader")
            let manual = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])

            let refused = try await subscribe(server, manual, as: reader)
            let refusal = try #require((refused["inError"] as? [[String: Any]])?.first)
            #expect((refused["success"] as? [Any])?.isEmpty == true)
            #expect(refusal["statusCode"] as? Int == 403)
            #expect((refusal["denialReasoning"] as? String)?.contains("manual") == true, "the default policy is manual: \(refusal)")
            #expect(try await status(server, manual, as: reader) == "not_subscribed")

            let automatic = try await source(server, warehouse, policy: #"{"type": "subscription", "automaticSubscription": true}"#)
            let detail = try await server.call(.get, "/dataSource/\(automatic)").expect(.ok).object
            #expect(detail["subscriptionType"] as? String == "automatic")
            let subscribed = try await subscribe(server, automatic, as: reader)
            let success = try #require((subscribed["success"] as? [[String: Any]])?.first)
            #expect(success["state"] as? String == "subscribed")
            #expect(success["approved"] as? Bool == true)
            #expect(success["profile"] as? Int == reader.id)
            #expect(success["modelId"] as? String == String(automatic))
            #expect(success["modelType"] as? String == "datasource")
            #expect(success.keys.contains("denialReasoning") && success["admin"] is NSNull)
            #expect(try await status(server, automatic, as: reader) == "subscribed")
            let mine = try await server.call(.get, "/dataSource/rpc/mine", auth: reader.key).expect(.ok).array
            #expect(mine.count == 1)
            let search = try await server.call(.get, "/dataSource?subscription=subscribed", auth: reader.key).expect(.ok).object
            #expect(search["count"] as? Int == 1)

            // Asking again changes nothing; the subscription id stays.
            let again = try await subscribe(server, automatic, as: reader)
            #expect((again["success"] as? [[String: Any]])?.first?["id"] as? Int == success["id"] as? Int)

            try await server.call(.delete, "/dataSource/\(automatic)/unsubscribe", auth: reader.key).expect(.ok)
            #expect(try await status(server, automatic, as: reader) == "not_subscribed")
            try await server.call(.delete, "/dataSource/\(automatic)/unsubscribe", auth: reader.key).expect(.notFound, code: "subscription.not_found")
            let types = try await activityTypes(server, automatic)
            #expect(types.contains("subscribed") && types.contains("unsubscribed") && types.contains("subscriptionPolicyChanged"))

            // Unknown ids and bad bodies are clear errors.
            let unknown = try await subscribe(server, 999_999, as: reader)
            #expect((unknown["inError"] as? [[String: Any]])?.first?["statusCode"] as? Int == 404)
            try await server.call(.post, "/dataSource/subscribe", auth: reader.key, json: "{}").expect(.badRequest)
            try await server.call(.post, "/dataSource/subscribe", auth: reader.key, json: #"{"dataSourceIds": ["x"]}"#).expect(.badRequest)
            try await server.call(.post, "/dataSource/subscribe", auth: nil, json: "{}").expect(.unauthorized)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func approvalWaitsForTheRightApprover(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let requester = try await person(server, "requester")
            let bystander = try await person(server, "bystander")
            let governor = try await person(server, "governor", permissions: [.governance])
            // The owner holds no GOVERNANCE permission, so the two approvals need two people.
            let owner = try await person(server, "owner", permissions: [.createDataSource])
            let id = try await source(server, warehouse, policy: #"""
                {"type": "subscription", "subscriptionType": "approval",
                 "approvals": [{"requiredPermission": "OWNER", "specificApproverRequired": false},
                               {"requiredPermission": "GOVERNANCE", "specificApproverRequired": false}]}
                """#, owner: owner.key)

            let requested = try await subscribe(server, id, as: requester, body: #"{"metadata": {"why": "quarterly report"}}"#)
            let request = try #require((requested["success"] as? [[String: Any]])?.first)
            let requestId = try #require(request["id"] as? Int)
            #expect(request["state"] as? String == "pending")
            #expect(request["approved"] as? Bool == false)
            #expect(try await status(server, id, as: requester) == "pending")

            // The request is a task: outgoing for the requester, incoming for those who can approve it.
            let outgoing = try await server.call(.get, "/dataSource/tasks/pending", auth: requester.key).expect(.ok).object
            #expect((outgoing["outgoing"] as? [[String: Any]])?.first?["type"] as? String == "subscription")
            #expect((outgoing["incoming"] as? [Any])?.isEmpty == true)
            let incoming = try await server.call(.get, "/dataSource/tasks/pending", auth: owner.key).expect(.ok).object
            #expect((incoming["incoming"] as? [[String: Any]])?.count == 1)
            let counts = try await server.call(.get, "/dataSource/tasks/pending?countOnly=true", auth: governor.key).expect(.ok).object
            #expect(counts["incoming"] as? Int == 1 && counts["outgoing"] as? Int == 0)
            let nothing = try await server.call(.get, "/dataSource/tasks/pending?countOnly=true", auth: bystander.key).expect(.ok).object
            #expect(nothing["incoming"] as? Int == 0)

            let members = try await server.call(.get, "/dataSource/\(id)/access?states=pending", auth: owner.key).expect(.ok).object
            let pending = try #require((members["users"] as? [[String: Any]])?.first)
            #expect(members["count"] as? Int == 1)
            #expect(pending["subscriptionId"] as? Int == requestId && pending["currentUserCanApprove"] as? Bool == true)
            try await server.call(.get, "/dataSource/\(id)/access", auth: requester.key).expect(.forbidden)

            // The wrong user, and the requester themself, may not decide.
            let approve = #"{"requests": [{"id": \#(requestId), "reason": "ok"}]}"#
            try await server.call(.post, "/subscription/approve", auth: bystander.key, json: approve).expect(.forbidden)
            try await server.call(.post, "/subscription/approve", auth: requester.key, json: approve).expect(.forbidden)
            try await server.call(.post, "/subscription/approve", auth: bystander.key, json: #"{"requests": []}"#).expect(.badRequest)

            // The owner's approval is one of two: still pending until the governor approves.
            let first = try await server.call(.post, "/subscription/approve", auth: owner.key, json: approve).expect(.ok).object
            #expect((first["failures"] as? [Any])?.isEmpty == true)
            #expect(try await status(server, id, as: requester) == "pending")
            let twice = try await server.call(.post, "/subscription/approve", auth: owner.key, json: approve).expect(.forbidden).object
            #expect((twice["message"] as? String)?.contains("GOVERNANCE") == true)
            try await server.call(.post, "/subscription/approve", auth: governor.key, json: approve).expect(.ok)
            #expect(try await status(server, id, as: requester) == "subscribed")
            let late = try await server.call(.post, "/subscription/deny", auth: governor.key, json: approve).expect(.ok).object
            // A batch item's error has the envelope's fields, like every other error.
            let lateFailure = try #require((late["failures"] as? [[String: Any]])?.first)
            #expect(lateFailure["statusCode"] as? Int == 409)
            #expect(lateFailure["error"] as? String == "Conflict")
            #expect(lateFailure["code"] as? String == "subscription.already_decided")
            #expect(lateFailure["id"] as? Int == Int(requestId))
            #expect(twice["code"] as? String == "subscription.approval_forbidden")

            let done = try await server.call(.get, "/dataSource/\(id)/tasks?states=completed", auth: requester.key).expect(.ok).object
            let task = try #require((done["hits"] as? [[String: Any]])?.first)
            #expect(task["outcome"] as? String == "approved" && task["state"] as? String == "completed")
            let types = try await activityTypes(server, id, auth: owner.key)
            #expect(types.filter { $0 == "accessApproved" }.count == 2 && types.contains("accessRequested"))

            // A denial ends the request with its reason.
            let other = try await person(server, "other")
            let second = try #require((try await subscribe(server, id, as: other)["success"] as? [[String: Any]])?.first?["id"] as? Int)
            try await server.call(.post, "/subscription/deny", auth: governor.key,
                                  json: #"{"requests": [{"id": \#(second), "reason": "not needed"}]}"#).expect(.ok)
            #expect(try await status(server, id, as: other) == "not_subscribed")
            let activities = try await server.call(.get, "/dataSource/\(id)/activities?size=200", auth: owner.key).expect(.ok).text
            #expect(activities.contains("accessDenied") && activities.contains("not needed"))

            // A policy may leave the approver to the requester, who must name someone able to approve.
            let named = try await source(server, warehouse, table: "data", policy: #"""
                {"approvals": [{"requiredPermission": "GOVERNANCE", "specificApproverRequired": true}]}
                """#, owner: owner.key)
            let unnamed = try await subscribe(server, named, as: other)
            #expect(((unnamed["inError"] as? [[String: Any]])?.first?["denialReasoning"] as? String)?.contains("specific approver") == true)
            let wrongPick = try await subscribe(server, named, as: other,
                                                body: #"{"approvals": [{"requiredPermission": "GOVERNANCE", "specificApprover": \#(bystander.id)}]}"#)
            #expect((wrongPick["inError"] as? [[String: Any]])?.count == 1, "the bystander holds no GOVERNANCE")
            let picked = try await subscribe(server, named, as: other,
                                             body: #"{"approvals": [{"requiredPermission": "GOVERNANCE", "specificApprover": \#(governor.id)}]}"#)
            let pickedId = try #require((picked["success"] as? [[String: Any]])?.first?["id"] as? Int)
            let approvePicked = #"{"requests": [{"id": \#(pickedId)}]}"#
            try await server.call(.post, "/subscription/approve", auth: owner.key, json: approvePicked).expect(.forbidden)
            try await server.call(.post, "/subscription/approve", auth: governor.key, json: approvePicked).expect(.ok)
            #expect(try await status(server, named, as: other) == "subscribed")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func policyAdmitsByGroupAndAttributeAndRevokesWhenTheyChange(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let alice = try await person(server, "alice")
            let bob = try await person(server, "bob")
            let group = try await server.call(.post, "/bim/group", json: #"{"iamid": "bim", "name": "alpha"}"#).expect(.ok).object
            let groupId = try #require(group["id"] as? Int)
            let membership = try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "alice", "iamid": "bim"}"#)
                .expect(.ok).object
            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/Department/HR", json: "{}").expect(.ok)

            // An invalid expression points at the problem and changes nothing.
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let bad = try await server.call(.put, "/dataSource/\(id)", json: #"""
                {"subscriptionPolicy": {"type": "subscription", "subscriptionType": "policy", "advanced": "@isInGroups('alpha') AND"}}
                """#).expect(.badRequest).object
            #expect((bad["message"] as? String)?.contains("subscriptionPolicy.advanced") == true)

            try await server.call(.put, "/dataSource/\(id)", json: #"""
                {"subscriptionPolicy": {"type": "subscription", "subscriptionType": "policy", "automaticSubscription": true,
                 "allowDiscovery": false, "advanced": "@isInGroups('alpha') AND @hasAttribute('Department', 'HR')"}}
                """#).expect(.ok)
            // Alice qualifies and is subscribed without asking; Bob does not, and cannot find the source at all.
            #expect(try await status(server, id, as: alice) == "subscribed")
            #expect(try await status(server, id, as: bob) == nil)
            let bobSearch = try await server.call(.get, "/dataSource", auth: bob.key).expect(.ok).object
            #expect(bobSearch["count"] as? Int == 0)
            let refused = try await subscribe(server, id, as: bob)
            #expect((refused["inError"] as? [[String: Any]])?.first?["statusCode"] as? Int == 404)

            // Bob joins the group and gets the attribute: now he qualifies.
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "bob", "iamid": "bim"}"#).expect(.ok)
            #expect(try await status(server, id, as: bob) == nil, "in the group but without the attribute")
            try await server.call(.put, "/bim/iam/bim/group/\(groupId)/authorizations/Department/HR", json: "{}").expect(.ok)
            #expect(try await status(server, id, as: bob) == "subscribed", "the group's attribute counts for its members")

            // Alice loses her own attribute but keeps the group's: still in. Leaving the group takes her out.
            try await server.call(.delete, "/bim/iam/bim/user/alice/authorizations/Department/HR").expect(.ok)
            #expect(try await status(server, id, as: alice) == "subscribed")
            try await server.call(.delete, "/bim/group/\(groupId)/user/\(membership["id"] as? Int ?? 0)").expect(.ok)
            #expect(try await status(server, id, as: alice) == nil)
            // Removing the group's attribute revokes Bob.
            try await server.call(.delete, "/bim/iam/bim/group/\(groupId)/authorizations/Department/HR").expect(.ok)
            #expect(try await status(server, id, as: bob) == nil)

            let activities = try await server.call(.get, "/dataSource/\(id)/activities?size=200").expect(.ok).text
            #expect(activities.components(separatedBy: "accessRevoked").count - 1 == 2)
            #expect(activities.contains("no longer meets the subscription policy"))

            // An owner's explicit grant is not the policy's to take away.
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(alice.id), "state": "subscribed"}"#).expect(.ok)
            try await server.call(.put, "/dataSource/\(id)", json: #"{"description": "policy unchanged"}"#).expect(.ok)
            #expect(try await status(server, id, as: alice) == "subscribed")
        }
    }

    // MARK: Owners, groups and expiry

    @Test(arguments: TestMetastores.kinds)
    func ownersGrantChangeAndExpireAccess(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let clock = TestClock()
        try await TestServer.run(kind, clock: clock, configure: { $0.subscriptionExpiryInterval = 1 }) { server in
            let reader = try await person(server, "reader")
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let expiration = ISODate.format(clock.now().addingTimeInterval(3600))
            let granted = try await server.call(.post, "/dataSource/\(id)/access",
                                                json: #"{"profileId": \#(reader.id), "state": "subscribed", "expiration": "\#(expiration)"}"#)
                .expect(.ok).object
            let subscriptionId = try #require(granted["id"] as? Int)
            #expect(granted["expiration"] as? String == expiration)
            #expect(granted["admin"] as? Int != nil)
            #expect(try await status(server, id, as: reader) == "subscribed")

            // Only owners manage access; bad input is a 400 naming the field.
            try await server.call(.post, "/dataSource/\(id)/access", auth: reader.key,
                                  json: #"{"profileId": \#(reader.id), "state": "owner"}"#).expect(.forbidden, code: "dataSource.role_required")
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(reader.id), "state": "pending"}"#).expect(.badRequest)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"state": "subscribed"}"#).expect(.badRequest)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": 987654, "state": "subscribed"}"#).expect(.notFound)
            try await server.call(.post, "/dataSource/\(id)/access",
                                  json: #"{"profileId": \#(reader.id), "state": "subscribed", "expiration": "2001-01-01"}"#).expect(.badRequest)

            let changed = try await server.call(.put, "/dataSource/\(id)/access/\(subscriptionId)", json: #"{"state": "expert"}"#).expect(.ok).object
            #expect(changed["state"] as? String == "expert" && changed["originalState"] as? String == "subscribed")
            #expect(try await status(server, id, as: reader) == "expert")

            // The last owner cannot leave or be demoted.
            let owners = try await server.call(.get, "/dataSource/\(id)/access?states=owner").expect(.ok).object
            let ownerRow = try #require((owners["users"] as? [[String: Any]])?.first?["subscriptionId"] as? Int)
            try await server.call(.put, "/dataSource/\(id)/access/\(ownerRow)", json: #"{"state": "expert"}"#).expect(.conflict, code: "subscription.last_owner")
            try await server.call(.delete, "/dataSource/\(id)/unsubscribe").expect(.conflict)

            // Past the expiration the standing counts for nothing at once, and the periodic job ends it for the record.
            clock.advance(seconds: 7200)
            #expect(try await status(server, id, as: reader) == "not_subscribed")
            var expired = false
            for _ in 0..<100 where !expired {
                expired = try await activityTypes(server, id).contains("accessExpired")
                if !expired { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(expired, "the expiry job recorded the end of the subscription")
            let left = try await server.call(.get, "/dataSource/\(id)/access").expect(.ok).object
            #expect(left["count"] as? Int == 1, "only the owner remains")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aGroupSubscriptionReachesItsMembersOnly(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let member = try await person(server, "member")
            let outsider = try await person(server, "outsider")
            let group = try await server.call(.post, "/bim/group", json: #"{"iamid": "bim", "name": "analysts"}"#).expect(.ok).object
            let groupId = try #require(group["id"] as? Int)
            let membership = try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "member", "iamid": "bim"}"#).expect(.ok).object
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            #expect(try await status(server, id, as: member) == nil, "a private source is invisible to non-members")

            let granted = try await server.call(.post, "/dataSource/\(id)/access", json: #"{"groupId": \#(groupId), "state": "subscribed"}"#)
                .expect(.ok).object
            #expect(granted["group"] as? Int == groupId && granted["profile"] is NSNull)
            #expect(try await status(server, id, as: member) == "subscribed")
            #expect(try await status(server, id, as: outsider) == nil)

            let listed = try await server.call(.get, "/dataSource/\(id)/access?sortField=name").expect(.ok).object
            let types = (listed["users"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }.sorted()
            #expect(types == ["group", "user"])
            let expanded = try await server.call(.get, "/dataSource/\(id)/access?expandGroups=true&searchText=member").expect(.ok).object
            #expect((expanded["users"] as? [[String: Any]])?.first?["userid"] as? String == "member")

            try await server.call(.delete, "/bim/group/\(groupId)/user/\(membership["id"] as? Int ?? 0)").expect(.ok)
            #expect(try await status(server, id, as: member) == nil, "leaving the group ends the access it gave")
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "member", "iamid": "bim"}"#).expect(.ok)
            try await server.call(.delete, "/bim/group/\(groupId)").expect(.ok)
            #expect(try await status(server, id, as: member) == nil, "deleting the group ends its subscription")
            let afterDelete = try await activityTypes(server, id)
            #expect(afterDelete.contains("memberRemoved"), "\(afterDelete)")

            // A member may subscribe their group to an automatic source; others may not.
            let open = try await source(server, warehouse, table: "data", policy: #"{"type": "subscription"}"#)
            let team = try await server.call(.post, "/bim/group", json: #"{"iamid": "bim", "name": "team"}"#).expect(.ok).object
            let teamId = try #require(team["id"] as? Int)
            try await server.call(.post, "/bim/group/\(teamId)/user", json: #"{"userid": "member", "iamid": "bim"}"#).expect(.ok)
            try await server.call(.post, "/dataSource/subscribe?dataSourceId=\(open)", auth: outsider.key, json: #"{"groupId": \#(teamId)}"#)
                .expect(.forbidden)
            let subscribed = try await subscribe(server, open, as: member, body: #"{"groupId": \#(teamId)}"#)
            #expect((subscribed["success"] as? [[String: Any]])?.first?["group"] as? Int == teamId)
        }
    }

    // MARK: Races and tasks

    @Test(arguments: TestMetastores.kinds)
    func concurrentApproveAndDenyHaveExactlyOneWinner(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try await source(server, warehouse, policy: #"{"type": "subscription", "subscriptionType": "approval"}"#)
            let secondOwner = try await person(server, "second-owner")
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(secondOwner.id), "state": "owner"}"#).expect(.ok)
            for round in 0..<8 {
                let requester = try await person(server, "requester\(round)")
                let requestId = try #require((try await subscribe(server, id, as: requester)["success"] as? [[String: Any]])?.first?["id"] as? Int)
                let body = #"{"requests": [{"id": \#(requestId)}]}"#
                async let approved = server.call(.post, "/subscription/approve", json: body)
                async let denied = server.call(.post, "/subscription/deny", auth: secondOwner.key, json: body)
                let (approval, denial) = try await (approved, denied)
                func won(_ reply: Reply) -> Bool { reply.status == .ok && (reply.object["failures"] as? [Any])?.isEmpty == true }
                #expect(won(approval) != won(denial), "exactly one decision wins: \(approval.text) / \(denial.text)")
                let final = try await status(server, id, as: requester)
                #expect(final == (won(approval) ? "subscribed" : "not_subscribed"))
                let tasks = try await server.call(.get, "/dataSource/\(id)/tasks?requestingUserProfileId=\(requester.id)").expect(.ok).object
                let task = try #require((tasks["hits"] as? [[String: Any]])?.first)
                #expect(task["outcome"] as? String == (won(approval) ? "approved" : "denied"))
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func queryHelpIsATaskForBothSides(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let analyst = try await person(server, "analyst")
            let stranger = try await person(server, "stranger")
            let id = try await source(server, warehouse, policy: #"{"type": "subscription", "subscriptionType": "automatic"}"#)
            let body = #"{"query": "SELECT * FROM army.army_records LIMIT 10", "reason": "Why no rows?"}"#
            try await server.call(.post, "/dataSource/\(id)/queryDebug", auth: analyst.key, json: body).expect(.forbidden)
            _ = try await subscribe(server, id, as: analyst)
            let created = try await server.call(.post, "/dataSource/\(id)/queryDebug", auth: analyst.key, json: body).expect(.ok).object
            let taskId = try #require(created["id"] as? Int)
            #expect(created["type"] as? String == "queryDebug" && created["state"] as? String == "pending")
            #expect((created["targetNames"] as? [Any])?.count == 1)
            try await server.call(.post, "/dataSource/\(id)/queryDebug", auth: analyst.key, json: #"{"query": 1}"#).expect(.badRequest)

            let mine = try await server.call(.get, "/dataSource/tasks/pending?types=queryDebug", auth: analyst.key).expect(.ok).object
            #expect((mine["outgoing"] as? [[String: Any]])?.first?["id"] as? Int == taskId)
            let owner = try await server.call(.get, "/dataSource/tasks/pending?groupByDataSource=true").expect(.ok).object
            let group = try #require((owner["incoming"] as? [[String: Any]])?.first)
            #expect(group["dataSourceId"] as? Int == id && (group["rows"] as? [Any])?.count == 1)
            let byCount = try await server.call(.get, "/dataSource/tasks/pending?countByDataSource=true").expect(.ok).object
            #expect((byCount["incoming"] as? [[String: Any]])?.first?["count"] as? Int == 1)
            try await server.call(.get, "/dataSource/tasks/pending?types=bogus").expect(.badRequest)

            // Strangers learn nothing; the requester cannot handle their own task; the owner can.
            try await server.call(.get, "/dataSource/tasks/\(taskId)", auth: stranger.key).expect(.notFound, code: "task.not_found")
            try await server.call(.get, "/dataSource/tasks/\(taskId)", auth: analyst.key).expect(.forbidden)
            let handled = try await server.call(.get, "/dataSource/tasks/\(taskId)").expect(.ok).object
            let result = try #require(handled["result"] as? [String: Any])
            #expect(result["query"] as? String == "SELECT * FROM army.army_records LIMIT 10" && result["state"] as? String == "completed")
            let count = try await server.call(.get, "/dataSource/\(id)/tasks?countOnly=true&states=completed", auth: analyst.key).expect(.ok).object
            #expect(count["count"] as? Int == 1)

            let deleted = try await server.call(.delete, "/dataSource/tasks/\(taskId)", auth: analyst.key).expect(.ok).object
            #expect(deleted["id"] as? Int == taskId && (deleted["metadata"] as? [String: Any])?["query"] != nil)
            try await server.call(.delete, "/dataSource/tasks/\(taskId)", auth: analyst.key).expect(.notFound)
            let types = try await activityTypes(server, id)
            #expect(types.contains("taskCreated") && types.contains("taskCompleted") && types.contains("taskDeleted"))
        }
    }
}
