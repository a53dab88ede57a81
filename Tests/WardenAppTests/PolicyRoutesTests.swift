import Foundation
import HTTPTypes
import SQLKit
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct PolicyRoutesTests {
    struct Explanation: Decodable {
        struct Mask: Decodable {
            var actionType: String
            var requested: String
            var condition: String?
            var note: String?
        }
        struct Column: Decodable {
            var name: String
            var dataType: String
            var tags: [String]
            var mask: Mask?
        }
        struct Rows: Decodable {
            var filter: String
            var showsNoRows: Bool
        }
        struct Rule: Decodable {
            var status: String
            var appliedForUser: Bool
            var reason: String
        }
        struct Policy: Decodable {
            var id: Int64
            var global: Bool
        }
        var allowed: Bool
        var denialReason: String?
        var columns: [Column]
        var rows: Rows
        var rules: [Rule]
        var policies: [Policy]

        /// Masked columns and their `actionType`.
        var masks: [String: String] {
            Dictionary(uniqueKeysWithValues: columns.compactMap { column in column.mask.map { (column.name, $0.actionType) } })
        }
    }

    struct GlobalPolicy: Decodable {
        var id: Int64
        var type: String
        var name: String
        var policyKey: String
        var staged: Bool
        var deleted: Bool
        var actions: [JSONValue]
        var createdAt: String
        var updatedAt: String
    }

    static let maskClearance = #"""
        {"name": "Mask clearance", "actions": [{"type": "masking", "rules": [{"type": "masking", "exceptions": null,
         "config": {"fields": [{"name": "Security.Clearance"}], "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": null}}}}]}],
         "circumstances": [{"type": "columnTags", "operator": "or", "columnTag": {"name": "Security"}}]}
        """#

    @Test(arguments: TestMetastores.kinds)
    func globalPoliciesAreKeptByGovernorsAndCheckedField(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reader = try await server.userWithKey("reader")
            try await server.call(.post, "/policy/global", auth: nil, json: Self.maskClearance).expect(.unauthorized)
            try await server.call(.post, "/policy/global", auth: reader, json: "not json").expect(.forbidden)
            try await server.call(.get, "/policy/global", auth: reader).expect(.forbidden)

            let created = try await server.call(.post, "/policy/global", json: Self.maskClearance).expect(.ok).decode(GlobalPolicy.self)
            #expect(created.type == "data" && created.name == "Mask clearance" && created.policyKey == "Mask clearance")
            #expect(!created.staged && !created.deleted && created.actions.count == 1)
            let echoed = try await server.call(.get, "/policy/global/\(created.id)").expect(.ok).object
            #expect((echoed["circumstances"] as? [Any])?.count == 1)

            try await server.call(.post, "/policy/global", json: Self.maskClearance).expect(.conflict, code: "policy.conflict")
            try await server.call(.post, "/policy/global", json: #"{"type": "subscription", "name": "s", "actions": []}"#)
                .expect(.notImplemented, code: "policy.type_not_implemented")
            let refused = try await server.call(.post, "/policy/global", json: #"""
                {"name": "Bad", "actions": [{"type": "masking", "rules": [{"type": "masking", "config": {"fields": ["A..B"],
                 "maskingConfig": {"type": "Tokenize"}}}]}], "circumstances": [{"type": "owner"}]}
                """#).expect(.badRequest, code: "request.validation_failed").object
            let fields = ((refused["fields"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }.sorted()
            #expect(fields == ["actions[0].rules[0].config.fields[0]", "actions[0].rules[0].config.maskingConfig.type", "circumstances[0].type"])
            try await server.call(.post, "/policy/global", json: #"{"name": "x", "actions": "masking"}"#).expect(.badRequest)
            try await server.call(.post, "/policy/global", json: #"{"actions": []}"#).expect(.badRequest)

            // Absent circumstances stay absent; null stays null.
            let everywhere = try await server.call(.post, "/policy/global", json: #"""
                {"name": "Everywhere", "staged": true, "actions": [{"type": "rowOrObjectRestriction", "rules": [{"type": "where", "config": {"predicate": "active"}}]}]}
                """#).expect(.ok).object
            #expect(!everywhere.keys.contains("circumstances"))
            let onApply = try await server.call(.post, "/policy/global", json: #"""
                {"name": "On apply", "circumstances": null, "actions": [{"type": "rowOrObjectRestriction", "rules": [{"type": "where", "config": {"predicate": "active"}}]}]}
                """#).expect(.ok).object
            #expect(onApply.keys.contains("circumstances") && onApply["circumstances"] is NSNull)

            let all = try await server.call(.get, "/policy/global?sortField=name").expect(.ok).decode([GlobalPolicy].self)
            #expect(all.map(\.name) == ["Everywhere", "Mask clearance", "On apply"])
            #expect(try await server.call(.get, "/policy/global?searchText=CLEAR").expect(.ok).decode([GlobalPolicy].self).map(\.name) == ["Mask clearance"])
            #expect(try await server.call(.get, "/policy/global?ignoreStaged=true").expect(.ok).decode([GlobalPolicy].self).count == 2)
            #expect(try await server.call(.get, "/policy/global?type=subscription").expect(.ok).array.isEmpty)
            try await server.call(.get, "/policy/global?sortField=owner").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/policy/global?size=0").expect(.badRequest, code: "request.invalid_query")

            let renamed = try await server.call(.put, "/policy/global/\(created.id)",
                                          json: Self.maskClearance.replacingOccurrences(of: "Mask clearance", with: "Clearance")).expect(.ok)
                .decode(GlobalPolicy.self)
            #expect(renamed.id == created.id && renamed.name == "Clearance" && renamed.createdAt == created.createdAt)
            let deleted = try await server.call(.delete, "/policy/global/\(created.id)").expect(.ok).decode(GlobalPolicy.self)
            #expect(deleted.deleted)
            try await server.call(.get, "/policy/global/\(created.id)").expect(.notFound, code: "policy.not_found")
            try await server.call(.put, "/policy/global/\(created.id)", json: Self.maskClearance).expect(.notFound, code: "policy.not_found")
            try await server.call(.delete, "/policy/global/abc").expect(.notFound, code: "policy.not_found")
            try await server.call(.get, "/policy/global/appliedTo/999").expect(.notFound, code: "policy.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func decisionsFollowPoliciesTagsGroupsAndAttributesAtOnce(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let readerKey = try await server.userWithKey("reader")
            let readerId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: readerKey).expect(.ok).object["id"] as? Int)
            let explainPath = "/dataSource/\(id)/users/\(readerId)/explain"
            func explain() async throws -> Explanation { try await server.call(.get, explainPath).expect(.ok).decode(Explanation.self) }

            // No policies: nothing masked, every row, not subscribed yet.
            var decision = try await explain()
            #expect(decision.masks.isEmpty && decision.rows.filter == "TRUE" && !decision.allowed)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(readerId), "state": "subscribed"}"#).expect(.ok)
            #expect(try await explain().allowed)

            // A global mask on a tag reaches the column once the column carries a tag below it.
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Security.Clearance"}]}"#).expect(.ok)
            let policy = try await server.call(.post, "/policy/global", json: Self.maskClearance).expect(.ok).decode(GlobalPolicy.self)
            #expect(try await explain().masks.isEmpty)
            #expect(try await server.call(.get, "/policy/global/appliedTo/\(policy.id)").expect(.ok).object["count"] as? Int == 0)
            try await server.call(.post, "/tag/column/\(id)_clearance", json: #"[{"name": "Security.Clearance"}]"#).expect(.ok)
            decision = try await explain()
            #expect(decision.masks == ["clearance": "Nullify"])
            #expect(decision.policies.map(\.id) == [policy.id])
            #expect(try await server.call(.get, "/policy/global/appliedTo/\(policy.id)").expect(.ok).object["count"] as? Int == 1)

            // An exception for a group holds as soon as the user joins it.
            let excepted = Self.maskClearance.replacingOccurrences(of: #""exceptions": null"#,
                                                                   with: #""exceptions": {"operator": "or", "conditions": [{"type": "groups", "group": {"name": "Auditors"}}]}"#)
            try await server.call(.put, "/policy/global/\(policy.id)", json: excepted).expect(.ok)
            #expect(try await explain().masks == ["clearance": "Nullify"])
            let groupId = try #require(try await server.call(.post, "/bim/group", json: #"{"name": "Auditors"}"#).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "reader"}"#).expect(.ok)
            decision = try await explain()
            #expect(decision.masks.isEmpty)
            #expect(decision.rules.map(\.status) == ["excepted"])

            // A local row rule by attribute: the filter follows the user's attributes.
            let local = #"""
                {"jsonPolicies": [{"type": "rowOrObjectRestriction", "rules": [{"type": "visibility", "exceptions": null,
                 "config": {"qualifications": {"operator": "or", "conditions": [{"type": "authorizations", "authorization": {"auth": "State"}, "field": "state"}]}}}]}]}
                """#
            let handler = try await server.call(.post, "/policy/handler/\(id)", json: local).expect(.ok).object
            let entries = try #require(handler["jsonPolicies"] as? [[String: Any]])
            #expect(entries.count == 2 && entries[0]["global"] is NSNull && (entries[1]["global"] as? [String: Any])?["id"] as? Int64 == policy.id)
            #expect(try await explain().rows.filter == "FALSE")
            try await server.call(.put, "/bim/iam/bim/user/reader/authorizations/State/TX").expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/reader/authorizations/State/CA").expect(.ok)
            #expect(try await explain().rows.filter == #""state" IN ('CA', 'TX')"#)
            try await server.call(.delete, "/bim/iam/bim/user/reader/authorizations/State/TX").expect(.ok)
            #expect(try await explain().rows.filter == #""state" IN ('CA')"#)

            // policyInfo says the same in the documented fields; the admin is not in Auditors, so sees the mask.
            let info = try await server.call(.get, "/dataSource/\(id)/users/\(readerId)/policyInfo").expect(.ok).object
            #expect(info["visibilityRuleApplies"] as? Bool == true)
            let visibilities = info["visibilities"] as? [[String: Any]]
            #expect(visibilities?.count == 1 && visibilities?.first?["column"] as? String == "state"
                    && visibilities?.first?["values"] as? [String] == ["CA"])
            #expect((info["additionalFilters"] as? [String: [String: String]])?["customWhere"]?["predicate"] == #""state" IN ('CA')"#)
            #expect((info["masked"] as? [Any])?.isEmpty == true)
            let adminId = try #require(try await server.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
            let adminInfo = try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/policyInfo").expect(.ok).object
            let masked = try #require((adminInfo["masked"] as? [[String: Any]])?.first)
            #expect(masked["name"] as? String == "clearance" && masked["type"] as? String == "Consistent Value" && masked["actionType"] as? String == "Nullify")
            #expect((masked["metadata"] as? [String: Any])?["constant"] is NSNull)
            try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/policyInfo", auth: readerKey).expect(.forbidden)
            try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/policyInfo?projectId=999").expect(.notFound, code: "project.not_found")

            // Taking the tag off the column takes the global policy off the source.
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "admin"}"#).expect(.ok)
            try await server.call(.delete, "/tag/column/\(id)_clearance/Security.Clearance").expect(.ok)
            decision = try await explain()
            #expect(decision.policies.map(\.global) == [false])

            // Every change was recorded on the source and marked its view as changed, in the same transaction; the view
            // scheduler then queues a refresh.
            let (activities, changes) = try await server.metastore.read { db in
                (try await db.raw("SELECT COUNT(*) AS n FROM activities WHERE data_source_id = \(bind: id) AND type = 'policyUpdated'").first()!
                    .decode(column: "n", as: Int.self),
                 try await db.raw("SELECT view_changes AS n FROM data_sources WHERE id = \(bind: id)").first()!.decode(column: "n", as: Int.self))
            }
            #expect(activities == 2, "the global update and the local policy (the global creation applied nowhere yet)")
            #expect(changes >= 2)
            var queued = 0
            for _ in 0..<300 where queued == 0 {
                queued = try await server.metastore.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM jobs WHERE data_source_id = \(bind: id) AND type = 'nativeViewRefresh'").first()!
                        .decode(column: "n", as: Int.self)
                }
                if queued == 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(queued >= 1)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func localPoliciesAreOwnersAndCheckedAgainstTheDictionary(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["data"], isPrivate: true)["data"])
            let readerKey = try await server.userWithKey("reader")
            let readerId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: readerKey).expect(.ok).object["id"] as? Int)
            let adminId = try #require(try await server.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
            let mask = #"{"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking", "config": {"fields": ["pay_grade"], "maskingConfig": {"type": "Grouping", "metadata": {"bucketSize": 1000}}}}]}]}"#

            // Owners only; a private source is 404 for others, and the body is not read before.
            try await server.call(.post, "/policy/handler/\(id)", auth: readerKey, json: "{").expect(.forbidden, code: "dataSource.role_required")
            try await server.call(.post, "/policy/handler/\(hidden)", auth: readerKey, json: "{").expect(.notFound, code: "dataSource.not_found")
            try await server.call(.get, "/policy/handler/\(id)", auth: readerKey).expect(.forbidden)
            try await server.call(.get, "/policy/handler/999999").expect(.notFound, code: "dataSource.not_found")
            let empty = try await server.call(.get, "/policy/handler/\(id)").expect(.ok).object
            #expect(empty["id"] is NSNull && (empty["jsonPolicies"] as? [Any])?.isEmpty == true)

            // Checked against the dictionary: unknown columns, masks that cannot apply, predicates that are not ours.
            let refused = try await server.call(.put, "/policy/handler/\(id)", json: #"""
                {"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking", "config": {"fields": ["nope", "first_name"],
                 "maskingConfig": {"type": "Grouping", "metadata": {"bucketSize": 5}}}}]},
                 {"type": "rowOrObjectRestriction", "rules": [{"type": "where", "config": {"predicate": "rank > 1; DROP TABLE army.army_records"}}]}]}
                """#).expect(.badRequest, code: "request.validation_failed").object
            let fields = ((refused["fields"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }.sorted()
            #expect(fields == ["jsonPolicies[0].rules[0].config.fields[0]", "jsonPolicies[0].rules[0].config.fields[1]",
                               "jsonPolicies[1].rules[0].config.predicate"])
            try await server.call(.put, "/policy/handler/\(id)", json: #"{"policies": []}"#).expect(.badRequest)
            try await server.call(.put, "/policy/handler/\(id)", json: "[]").expect(.badRequest)

            let stored = try await server.call(.put, "/policy/handler/\(id)", json: mask).expect(.ok).object
            #expect(stored["id"] as? Int != nil && stored["dataSourceId"] as? Int == id)
            let owner = try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/explain").expect(.ok).decode(Explanation.self)
            #expect(owner.masks == ["pay_grade": "Rounding"])

            // Another user's decision: the user themself and owners, not a bystander; unknown users are 404.
            try await server.call(.get, "/dataSource/\(id)/users/\(readerId)/explain", auth: readerKey).expect(.ok)
            try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/explain", auth: readerKey).expect(.forbidden)
            try await server.call(.get, "/dataSource/\(hidden)/users/\(readerId)/explain", auth: readerKey).expect(.notFound)
            try await server.call(.get, "/dataSource/\(id)/users/987654/explain").expect(.notFound, code: "user.not_found")

            // testPolicy decides with other entries and stores nothing.
            let trial = try await server.call(.post, "/policy/testPolicy", json: #"""
                {"dataSourceId": \#(id), "profileId": \#(readerId), "jsonPolicies": [{"type": "masking", "rules": [{"type": "masking",
                 "config": {"fields": ["contact_email"], "maskingConfig": {"type": "Hash"}}}]}]}
                """#).expect(.ok).decode(Explanation.self)
            #expect(trial.masks == ["contact_email": "Hash"])
            try await server.call(.post, "/policy/testPolicy", auth: readerKey, json: #"{"dataSourceId": \#(id), "jsonPolicies": []}"#)
                .expect(.forbidden)
            try await server.call(.post, "/policy/testPolicy", json: #"{"dataSourceId": \#(id), "jsonPolicies": [{"type": "time"}]}"#)
                .expect(.badRequest)
            #expect(try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/explain").expect(.ok).decode(Explanation.self).masks == ["pay_grade": "Rounding"])

            // A policy that waits for owners applies where they apply it, once.
            let onApply = try #require(try await server.call(.post, "/policy/global", json: #"""
                {"name": "Active only", "circumstances": null, "actions": [{"type": "rowOrObjectRestriction", "rules": [{"type": "where", "config": {"predicate": "active"}}]}]}
                """#).expect(.ok).object["id"] as? Int)
            let everywhere = try #require(try await server.call(.post, "/policy/global", json: #"""
                {"name": "Recent", "actions": [{"type": "masking", "rules": [{"type": "masking", "config": {"fields": ["Nothing.Tagged"], "maskingConfig": {"type": "Null"}}}]}]}
                """#).expect(.ok).object["id"] as? Int)
            #expect(try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/explain").expect(.ok).decode(Explanation.self).rows.filter == "TRUE")
            try await server.call(.post, "/policy/global/applyPolicy", auth: readerKey, json: #"{"policyId": \#(onApply), "dataSourceId": \#(id)}"#)
                .expect(.forbidden)
            try await server.call(.post, "/policy/global/applyPolicy", json: #"{"policyId": \#(everywhere), "dataSourceId": \#(id)}"#)
                .expect(.badRequest, code: "policy.not_applicable")
            try await server.call(.post, "/policy/global/applyPolicy", json: #"{"policyId": \#(onApply), "dataSourceId": \#(id)}"#).expect(.ok)
            try await server.call(.post, "/policy/global/applyPolicy", json: #"{"policyId": \#(onApply), "dataSourceId": \#(id)}"#).expect(.ok)
            try await server.call(.post, "/policy/global/applyPolicy", json: #"{"policyId": 99999, "dataSourceId": \#(id)}"#)
                .expect(.notFound, code: "policy.not_found")
            #expect(try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/explain").expect(.ok).decode(Explanation.self).rows.filter == #""active""#)
            #expect(try await server.call(.get, "/policy/global/appliedTo/\(onApply)").expect(.ok).object["count"] as? Int == 1)
            #expect(try await server.call(.get, "/dataSource/\(hidden)/users/\(adminId)/explain").expect(.ok).decode(Explanation.self).rows.filter == "TRUE")
        }
    }
}

/// Decisions reuse the parsed global policies only while no global policy has changed, on any instance.
@Suite struct PolicyCacheTests {
    @Test(arguments: TestMetastores.kinds)
    func aGlobalPolicyChangedOnAnotherInstanceIsDecidedAtOnce(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.runPair(kind) { first, second in
            let id = try #require(try await first.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let adminId = try #require(try await first.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
            try await first.call(.post, "/tag", json: #"{"tags": [{"name": "Security.Clearance"}]}"#).expect(.ok)
            try await first.call(.post, "/tag/column/\(id)_clearance", json: #"[{"name": "Security.Clearance"}]"#).expect(.ok)
            func masked(_ server: TestServer) async throws -> [String] {
                try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/policyInfo").expect(.ok).decode(PolicyInfo.self).masked.map(\.actionType)
            }
            #expect(try await masked(first).isEmpty)
            let policy = try await second.call(.post, "/policy/global", json: PolicyRoutesTests.maskClearance).expect(.ok)
                .decode(PolicyRoutesTests.GlobalPolicy.self)
            #expect(try await masked(first) == ["Nullify"])
            let constant = PolicyRoutesTests.maskClearance.replacingOccurrences(of: #""metadata": {"constant": null}"#,
                                                                               with: #""metadata": {"constant": "X"}"#)
            try await second.call(.put, "/policy/global/\(policy.id)", json: constant).expect(.ok)
            #expect(try await masked(first) == ["Constant"])
            try await second.call(.put, "/policy/global/\(policy.id)", json: constant.replacingOccurrences(of: #""name": "Mask clearance""#,
                                                                                                             with: #""name": "Renamed""#)).expect(.ok)
            #expect(try await masked(first) == ["Constant"])
            try await second.call(.delete, "/policy/global/\(policy.id)").expect(.ok)
            #expect(try await masked(first).isEmpty)
        }
    }

    struct PolicyInfo: Decodable {
        struct Masked: Decodable { var actionType: String }
        var masked: [Masked]
    }
}

/// The search filters that depend on data policies and projects.
@Suite struct PolicySearchFilterTests {
    @Test(arguments: TestMetastores.kinds)
    func searchFiltersByGlobalPolicyConflictsAndProjects(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data"])
            let (tagged, other) = (try #require(ids["army_records"]), try #require(ids["data"]))
            func found(_ query: String) async throws -> [Int] {
                let hits = try await server.call(.get, "/dataSource?size=100&\(query)").expect(.ok).object["hits"] as? [[String: Any]]
                return (hits ?? []).compactMap { $0["id"] as? Int }.sorted()
            }
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Security.Clearance"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(tagged)_clearance", json: #"[{"name": "Security.Clearance"}]"#).expect(.ok)
            try await server.call(.post, "/policy/global", json: PolicyRoutesTests.maskClearance).expect(.ok)
            #expect(try await found("globalPolicy=Mask%20clearance") == [tagged])
            #expect(try await found("globalPolicy=Nothing").isEmpty)
            #expect(try await found("determinePolicyConflicts=true").isEmpty)

            // A second policy masking the same column is a conflict (the documentation's spelling works too).
            let second = PolicyRoutesTests.maskClearance.replacingOccurrences(of: #""name": "Mask clearance""#, with: #""name": "Hash clearance""#)
                .replacingOccurrences(of: #""metadata": {"constant": null}"#, with: #""metadata": {}"#)
            try await server.call(.post, "/policy/global", json: second).expect(.ok)
            #expect(try await found("determinePolicyContflicts=true") == [tagged])
            #expect(try await found("determinePolicyConflicts=true&globalPolicy=Hash%20clearance") == [tagged])
            #expect(try await found("determinePolicyConflicts=false").count == 2)

            let project = try #require(try await server.call(.post, "/project", json: #"{"name": "P"}"#).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/project/\(project)/dataSources", json: #"{"dataSourceIds": [\#(tagged)]}"#).expect(.ok)
            #expect(try await found("excludedProjects=\(project)") == [other])
            #expect(try await found("excludedProjects=\(project)&globalPolicy=Mask%20clearance").isEmpty)
        }
    }
}
