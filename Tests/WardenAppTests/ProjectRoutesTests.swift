import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct ProjectRoutesTests {
    struct Purpose: Decodable {
        var id: Int64
        var name: String
        var description: String?
        var acknowledgement: String?
        var subpurposes: [Purpose]
        var deleted: Bool
    }

    struct Project: Decodable {
        var id: Int64
        var name: String
        var projectKey: String
        var status: String
        var purposes: [String]
        var allowMaskedJoins: Bool
        var deleted: Bool
    }

    struct Member: Decodable {
        var subscriptionId: Int64
        var profileId: Int64
        var state: String
        var acknowledged: Bool
    }

    struct Explanation: Decodable {
        struct Rows: Decodable { var filter: String }
        struct Column: Decodable {
            struct Mask: Decodable { var actionType: String }
            var name: String
            var mask: Mask?
        }
        var rows: Rows
        var columns: [Column]
    }

    @Test(arguments: TestMetastores.kinds)
    func purposesAreAHierarchyKeptByGovernors(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reader = try await server.userWithKey("reader")
            let body = #"{"name": "Research", "acknowledgement": "I use this data for research only.", "subpurposes": [{"name": "Clinical"}, {"name": "Research.Genomics", "description": "DNA"}]}"#
            try await server.call(.post, "/governance/purpose", auth: nil, json: body).expect(.unauthorized)
            try await server.call(.post, "/governance/purpose", auth: reader, json: "not json").expect(.forbidden)
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Bad..Name"}"#).expect(.badRequest)
            try await server.call(.post, "/governance/purpose", json: #"{"name": "A", "subpurposes": ["B"]}"#).expect(.badRequest)

            let research = try await server.call(.post, "/governance/purpose", json: body).expect(.ok).decode(Purpose.self)
            #expect(research.name == "Research" && research.acknowledgement == "I use this data for research only.")
            #expect(research.subpurposes.map(\.name) == ["Research.Clinical", "Research.Genomics"])
            #expect(research.subpurposes[1].description == "DNA")
            // A deeper name brings its missing ancestors; posting again updates and duplicates nothing.
            let deep = try await server.call(.post, "/governance/purpose", json: #"{"name": "Audit.Internal.Yearly"}"#).expect(.ok).decode(Purpose.self)
            #expect(deep.name == "Audit.Internal.Yearly")
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Research", "description": "Studies"}"#).expect(.ok)

            let all = try await server.call(.get, "/governance/purpose", auth: reader).expect(.ok).object
            #expect(all["count"] as? Int == 6)
            let roots = try await server.call(.get, "/governance/purpose?root=true", auth: reader).expect(.ok).object
            #expect((roots["purposes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Audit", "Research"])
            let read = try await server.call(.get, "/governance/purpose/\(research.id)", auth: reader).expect(.ok).decode(Purpose.self)
            #expect(read.description == "Studies" && read.acknowledgement == "I use this data for research only." && read.subpurposes.count == 2)
            try await server.call(.get, "/governance/purpose/999999").expect(.notFound, code: "purpose.not_found")
            try await server.call(.get, "/governance/purpose/abc").expect(.notFound)

            try await server.call(.put, "/governance/purpose/\(research.id)", auth: reader, json: "{}").expect(.forbidden)
            try await server.call(.put, "/governance/purpose/\(research.id)", json: #"{"name": "Other"}"#).expect(.badRequest)
            let changed = try await server.call(.put, "/governance/purpose/\(research.id)", json: #"{"description": null, "acknowledgement": "Ack v2"}"#)
                .expect(.ok).decode(Purpose.self)
            #expect(changed.description == nil && changed.acknowledgement == "Ack v2")

            // A purpose a project states cannot go; once the project lets go of it, it goes with those below it.
            let project = try await server.call(.post, "/project", json: #"{"name": "Trial", "purposes": ["Research.Clinical"]}"#).expect(.ok).decode(Project.self)
            try await server.call(.delete, "/governance/purpose/\(research.id)").expect(.conflict, code: "purpose.in_use")
            try await server.call(.put, "/project/\(project.id)", json: #"{"purposes": []}"#).expect(.ok)
            try await server.call(.delete, "/governance/purpose/\(research.id)", auth: reader).expect(.forbidden)
            #expect(try await server.call(.delete, "/governance/purpose/\(research.id)").expect(.ok).decode(Purpose.self).deleted)
            #expect(try await server.call(.get, "/governance/purpose").expect(.ok).object["count"] as? Int == 3)
        }
    }

    /// A project "Fraud" (purpose Fraud Detection) created by `lead`, who may create projects; `member` and `stranger`
    /// are users with no part in it yet.
    struct Cast {
        var project: Project
        var lead: String
        var leadId: Int
        var member: String
        var memberId: Int
        var stranger: String
    }

    static func withProject(_ kind: MetastoreKind, _ body: @Sendable (TestServer, Cast) async throws -> Void) async throws {
        try await TestServer.run(kind) { server in
            let lead = try await server.userWithKey("lead", permissions: [.createProject])
            let member = try await server.userWithKey("member")
            let stranger = try await server.userWithKey("stranger")
            let memberId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: member).expect(.ok).object["id"] as? Int)
            let leadId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: lead).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Fraud Detection"}"#).expect(.ok)
            let project = try await server.call(.post, "/project", auth: lead,
                                                json: #"{"name": "Fraud", "description": "Q3", "purposes": ["Fraud Detection"]}"#).expect(.ok).decode(Project.self)
            try await body(server, Cast(project: project, lead: lead, leadId: leadId, member: member, memberId: memberId, stranger: stranger))
        }
    }

    func addMember(_ server: TestServer, _ cast: Cast) async throws -> Int {
        let added = try await server.call(.post, "/project/\(cast.project.id)/members", auth: cast.lead,
                                          json: #"{"profileId": \#(cast.memberId), "state": "subscribed"}"#).expect(.ok).object
        #expect(added["state"] as? String == "subscribed" && added["approved"] as? Bool == true)
        return try #require(added["subscriptionId"] as? Int)
    }

    @Test(arguments: TestMetastores.kinds)
    func projectsAreCreatedByThoseWhoMayAndKeptByTheirOwners(kind: MetastoreKind) async throws {
        try await Self.withProject(kind) { server, cast in
            let project = cast.project
            #expect(project.projectKey == "Fraud" && project.status == "open" && project.purposes == ["Fraud Detection"] && !project.allowMaskedJoins)
            try await server.call(.post, "/project", auth: cast.member, json: #"{"name": "P"}"#).expect(.forbidden)
            try await server.call(.post, "/project", auth: cast.lead, json: #"{"purposes": []}"#).expect(.badRequest)
            try await server.call(.post, "/project", auth: cast.lead, json: #"{"name": "P", "purposes": ["Nope"]}"#).expect(.badRequest, code: "purpose.unknown")
            try await server.call(.post, "/project", auth: cast.lead, json: #"{"name": "P", "status": "archived"}"#).expect(.badRequest)
            try await server.call(.post, "/project", auth: cast.lead, json: #"{"name": "Fraud"}"#).expect(.conflict)

            // Anyone may find and read a project; only its owners change or delete it.
            #expect(try await server.call(.get, "/project", auth: cast.stranger).expect(.ok).object["count"] as? Int == 1)
            #expect(try await server.call(.get, "/project/\(project.id)", auth: cast.stranger).expect(.ok).decode(Project.self).name == "Fraud")
            try await server.call(.get, "/project/999999").expect(.notFound, code: "project.not_found")
            try await server.call(.put, "/project/\(project.id)", auth: cast.stranger, json: "not json").expect(.forbidden)
            let renamed = try await server.call(.put, "/project/\(project.id)", auth: cast.lead, json: #"{"name": "Fraud 2", "allowMaskedJoins": true}"#)
                .expect(.ok).decode(Project.self)
            #expect(renamed.name == "Fraud 2" && renamed.projectKey == "Fraud" && renamed.allowMaskedJoins && renamed.purposes == ["Fraud Detection"])
            try await server.call(.delete, "/project/\(project.id)", auth: cast.stranger).expect(.forbidden)
            #expect(try await server.call(.delete, "/project/\(project.id)", auth: cast.lead).expect(.ok).decode(Project.self).deleted)
            try await server.call(.get, "/project/\(project.id)").expect(.notFound)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func ownersManageMembersWhoAcknowledgeForThemselves(kind: MetastoreKind) async throws {
        try await Self.withProject(kind) { server, cast in
            let id = cast.project.id
            try await server.call(.post, "/project/\(id)/members", auth: cast.stranger, json: "not json").expect(.forbidden)
            try await server.call(.get, "/project/\(id)/members", auth: cast.stranger).expect(.forbidden)
            try await server.call(.post, "/project/\(id)/members", auth: cast.lead, json: #"{"profileId": \#(cast.memberId), "state": "pending"}"#)
                .expect(.badRequest)
            try await server.call(.post, "/project/\(id)/members", auth: cast.lead, json: #"{"profileId": 999999, "state": "subscribed"}"#).expect(.notFound)
            let subscriptionId = try await addMember(server, cast)
            try await server.call(.post, "/project/\(id)/members", auth: cast.lead, json: #"{"profileId": \#(cast.memberId), "state": "expert"}"#)
                .expect(.conflict, code: "project.member_conflict")

            let members = try await server.call(.get, "/project/\(id)/members", auth: cast.member).expect(.ok).object
            let listed = try JSONDecoder().decode([Member].self, from: JSONSerialization.data(withJSONObject: members["members"] ?? []))
            #expect(listed.map(\.profileId) == [Int64(cast.leadId), Int64(cast.memberId)] && listed.map(\.state) == ["owner", "subscribed"])
            #expect(listed.allSatisfy { !$0.acknowledged })
            try await server.call(.put, "/project/\(id)/members/\(subscriptionId)", auth: cast.member, json: #"{"state": "owner"}"#).expect(.forbidden)
            let leadMembership = try #require(listed.first?.subscriptionId)
            try await server.call(.put, "/project/\(id)/members/\(leadMembership)", auth: cast.lead, json: #"{"state": "subscribed"}"#)
                .expect(.conflict, code: "project.last_owner")
            try await server.call(.put, "/project/\(id)/members/999999", auth: cast.lead, json: #"{"state": "expert"}"#)
                .expect(.notFound, code: "project.member_not_found")
            try await server.call(.post, "/project/\(id)/members/\(subscriptionId)/acknowledge", auth: cast.lead).expect(.forbidden)
            #expect(try await server.call(.post, "/project/\(id)/members/\(subscriptionId)/acknowledge", auth: cast.member).expect(.ok)
                .decode(Member.self).acknowledged)

            // Acting under a project needs membership, and shows as the caller's project.
            try await server.call(.post, "/project/current/\(id)", auth: cast.stranger).expect(.forbidden)
            let current = try await server.call(.post, "/project/current/\(id)", auth: cast.member).expect(.ok).object
            #expect(current["projectId"] as? Int == Int(id) && current["purposes"] as? [String] == ["Fraud Detection"] && current["acknowledged"] as? Bool == true)
            #expect(try await server.call(.get, "/bim/rpc/user/current", auth: cast.member).expect(.ok).object["projectId"] as? Int == Int(id))
            #expect(try await server.call(.delete, "/project/current", auth: cast.member).expect(.ok).object["projectId"] is NSNull)
            #expect(!(try await server.call(.get, "/bim/rpc/user/current", auth: cast.member).expect(.ok).object["projectId"] is Int))
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func ownersAddTheirDataSourcesAndMembersSeeOnlyWhatTheyMay(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await Self.withProject(kind) { server, cast in
            let id = cast.project.id
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data"])
            let (records, data) = (try #require(ids["army_records"]), try #require(ids["data"]))
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["records_view"], isPrivate: true)["records_view"])
            _ = try await addMember(server, cast)
            try await server.call(.get, "/project/\(id)/dataSources", auth: cast.stranger).expect(.forbidden)
            try await server.call(.post, "/project/\(id)/dataSources", auth: cast.lead, json: #"{"dataSourceIds": []}"#).expect(.badRequest)
            try await server.call(.post, "/dataSource/\(records)/access", json: #"{"profileId": \#(cast.leadId), "state": "subscribed"}"#).expect(.ok)
            try await server.call(.post, "/dataSource/\(hidden)/access", json: #"{"profileId": \#(cast.leadId), "state": "subscribed"}"#).expect(.ok)
            let result = try await server.call(.post, "/project/\(id)/dataSources", auth: cast.lead,
                                               json: #"{"dataSourceIds": [\#(records), \#(data), \#(hidden), 999999]}"#).expect(.ok).object
            #expect(result["success"] as? [Int] == [records, hidden])
            let failed = (result["inError"] as? [[String: Any]] ?? []).map { ($0["dataSourceId"] as? Int ?? 0, $0["statusCode"] as? Int ?? 0) }
            #expect(failed.map(\.0) == [data, 999999] && failed.map(\.1) == [403, 404])
            let seen = try await server.call(.get, "/project/\(id)/dataSources", auth: cast.member).expect(.ok).object
            #expect((seen["dataSources"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [records])
            #expect((try await server.call(.get, "/project/\(id)/dataSources", auth: cast.lead).expect(.ok).object["count"] as? Int) == 2)
            try await server.call(.delete, "/project/\(id)/dataSources?dataSourceIds=\(hidden)", auth: cast.member).expect(.forbidden)
            try await server.call(.delete, "/project/\(id)/dataSources", auth: cast.lead).expect(.badRequest)
            #expect(try await server.call(.delete, "/project/\(id)/dataSources?dataSourceIds=\(hidden)", auth: cast.lead).expect(.ok)
                .object["removed"] as? [Int] == [hidden])
            #expect((try await server.call(.get, "/project/\(id)/dataSources", auth: cast.lead).expect(.ok).object["count"] as? Int) == 1)
        }
    }

    /// A purpose counts in a decision only for a member who acknowledged it, acts under the project, on a data
    /// source of the project; every change takes effect on the next decision.
    @Test(arguments: TestMetastores.kinds)
    func purposesCountOnlyWhenAcknowledgedAndActedUnderForTheProjectsSources(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let analyst = try await server.userWithKey("analyst")
            let analystId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: analyst).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(analystId), "state": "subscribed"}"#).expect(.ok)
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Research", "subpurposes": [{"name": "Clinical"}]}"#).expect(.ok)
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Marketing"}"#).expect(.ok)
            try await server.call(.post, "/policy/handler/\(id)", json: #"""
                {"jsonPolicies": [
                  {"type": "prerequisite", "rules": [{"type": "prerequisite", "exceptions": null,
                    "config": {"qualifications": {"operator": "or", "conditions": [{"type": "purposes", "value": "Research"}]}}}]},
                  {"type": "masking", "rules": [{"type": "masking",
                    "exceptions": {"operator": "or", "conditions": [{"type": "purposes", "value": "Research.Clinical"}]},
                    "config": {"fields": ["first_name"], "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": null}}}}]}]}
                """#).expect(.ok)
            let explainPath = "/dataSource/\(id)/users/\(analystId)/explain"
            func decision(_ query: String = "") async throws -> (rows: String, firstName: String?) {
                let explanation = try await server.call(.get, explainPath + query).expect(.ok).decode(Explanation.self)
                return (explanation.rows.filter, explanation.columns.first { $0.name == "first_name" }?.mask?.actionType)
            }
            #expect(try await decision() == ("FALSE", "Nullify"))

            let project = try await server.call(.post, "/project", json: #"{"name": "Study", "purposes": ["Research.Clinical"]}"#).expect(.ok).decode(Project.self)
            let added = try await server.call(.post, "/project/\(project.id)/members", json: #"{"profileId": \#(analystId), "state": "subscribed"}"#)
                .expect(.ok).object
            let membership = try #require(added["subscriptionId"] as? Int)
            try await server.call(.post, "/project/current/\(project.id)", auth: analyst).expect(.ok)
            #expect(try await decision() == ("FALSE", "Nullify"), "not acknowledged, and the source is not in the project")
            try await server.call(.post, "/project/\(project.id)/members/\(membership)/acknowledge", auth: analyst).expect(.ok)
            #expect(try await decision() == ("FALSE", "Nullify"), "the source is not in the project")
            try await server.call(.post, "/project/\(project.id)/dataSources", json: #"{"dataSourceIds": [\#(id)]}"#).expect(.ok)
            // Acting under Research.Clinical satisfies a rule asking for Research, and its own exception.
            #expect(try await decision() == ("TRUE", nil))
            let info = try await server.call(.get, "/dataSource/\(id)/users/\(analystId)/policyInfo").expect(.ok).object
            #expect((info["masked"] as? [Any])?.isEmpty == true)

            // New purposes clear the acknowledgement; acknowledging again restores it.
            try await server.call(.put, "/project/\(project.id)", json: #"{"purposes": ["Research"]}"#).expect(.ok)
            #expect(try await decision() == ("FALSE", "Nullify"))
            try await server.call(.post, "/project/\(project.id)/members/\(membership)/acknowledge", auth: analyst).expect(.ok)
            #expect(try await decision() == ("TRUE", "Nullify"), "Research does not satisfy an exception for Research.Clinical")

            // Closing the project, leaving it, or deciding under another project: the purposes count for nothing.
            try await server.call(.put, "/project/\(project.id)", json: #"{"status": "closed"}"#).expect(.ok)
            #expect(try await decision() == ("FALSE", "Nullify"))
            try await server.call(.put, "/project/\(project.id)", json: #"{"status": "open"}"#).expect(.ok)
            #expect(try await decision().rows == "TRUE")
            let other = try await server.call(.post, "/project", json: #"{"name": "Ads", "purposes": ["Marketing"]}"#).expect(.ok).decode(Project.self)
            let policyInfo = try await server.call(.get, "/dataSource/\(id)/users/\(analystId)/policyInfo?projectId=\(other.id)").expect(.ok).text
            #expect(policyInfo.contains("FALSE") || policyInfo.contains("1 = 0"), "\(policyInfo)")
            try await server.call(.delete, "/project/current", auth: analyst).expect(.ok)
            #expect(try await decision() == ("FALSE", "Nullify"))
        }
    }
}
