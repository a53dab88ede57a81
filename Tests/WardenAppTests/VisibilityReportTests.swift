import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct VisibilityReportTests {
    struct Report: Decodable {
        var noVisibilities: Bool
        var dataSourceVisibilitiesCount: Int
        var userVisibilitiesCount: Int
        var dataSource: Int64
        var dataSourceName: String
        var allowMaskedJoins: Bool
        var policySet: String
        var denialReason: String?
    }

    static let byState = #"""
        {"jsonPolicies": [{"type": "rowOrObjectRestriction", "rules": [{"type": "visibility",
         "exceptions": {"operator": "or", "conditions": [{"type": "groups", "group": {"name": "HQ"}}]},
         "config": {"qualifications": {"operator": "and", "conditions": [{"type": "authorizations", "authorization": {"auth": "State"}, "field": "state"}]}}}]}]}
        """#

    /// The counts come from the warehouse: every distinct `state`, and those the user's attribute lets through.
    @Test(arguments: TestMetastores.kinds)
    func reportsCountTheVisibilityValuesEachUserSees(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let states = try await warehouse.rows("SELECT DISTINCT state::text FROM army.army_records WHERE state IS NOT NULL ORDER BY 1")
            .compactMap { $0[0] }
        try #require(states.count >= 3)
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let reader = try await server.userWithKey("reader")
            let other = try await server.userWithKey("other")
            let readerId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: reader).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(readerId), "state": "subscribed"}"#).expect(.ok)

            // No policies: nothing to count.
            var report = try await server.call(.get, "/dataSource/\(id)/visibilityReport", auth: reader).expect(.ok).decode(Report.self)
            #expect(report.noVisibilities && report.dataSourceVisibilitiesCount == 0 && report.userVisibilitiesCount == 0)
            #expect(report.dataSource == Int64(id) && report.policySet == "[]" && !report.allowMaskedJoins && report.denialReason == nil)

            try await server.call(.post, "/policy/handler/\(id)", json: Self.byState).expect(.ok)
            report = try await server.call(.get, "/dataSource/\(id)/visibilityReport", auth: reader).expect(.ok).decode(Report.self)
            #expect(!report.noVisibilities && report.dataSourceVisibilitiesCount == states.count && report.userVisibilitiesCount == 0)
            let policySet = try #require(try JSONSerialization.jsonObject(with: Data(report.policySet.utf8)) as? [[String: Any]])
            let rule = try #require((policySet.first?["rules"] as? [[String: Any]])?.first)
            #expect(policySet.first?["type"] as? String == "rowOrObjectRestriction" && rule["ruleAppliedForUser"] as? Bool == true)

            try await server.call(.put, "/bim/iam/bim/user/reader/authorizations/State/\(states[0])").expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/reader/authorizations/State/\(states[1])").expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/reader/authorizations/State/ZZ").expect(.ok)
            let forUser = try await server.call(.get, "/dataSource/\(id)/users/\(readerId)/visibilityReport").expect(.ok).decode([Report].self)
            #expect(forUser.count == 1 && forUser[0].userVisibilitiesCount == 2 && forUser[0].dataSourceVisibilitiesCount == states.count)
            #expect(forUser[0].denialReason == nil)

            // Excepted from the rule: every value counts.
            let groupId = try #require(try await server.call(.post, "/bim/group", json: #"{"name": "HQ"}"#).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/bim/group/\(groupId)/user", json: #"{"userid": "reader"}"#).expect(.ok)
            report = try await server.call(.get, "/dataSource/\(id)/visibilityReport", auth: reader).expect(.ok).decode(Report.self)
            #expect(report.userVisibilitiesCount == states.count)
            let excepted = try #require(try JSONSerialization.jsonObject(with: Data(report.policySet.utf8)) as? [[String: Any]])
            #expect(((excepted.first?["rules"] as? [[String: Any]])?.first?["ruleAppliedForUser"]) as? Bool == false)

            // informationOnly skips the warehouse; others may not ask about the reader; unknown ids are 404.
            let quick = try await server.call(.get, "/dataSource/\(id)/users/\(readerId)/visibilityReport?informationOnly=true").expect(.ok)
                .decode([Report].self)
            #expect(quick[0].dataSourceVisibilitiesCount == 0 && !quick[0].noVisibilities)
            try await server.call(.get, "/dataSource/\(id)/users/\(readerId)/visibilityReport", auth: other).expect(.forbidden)
            try await server.call(.get, "/dataSource/\(id)/users/999999/visibilityReport").expect(.notFound)
            try await server.call(.get, "/dataSource/999999/visibilityReport").expect(.notFound)
            try await server.call(.get, "/dataSource/\(id)/visibilityReport", auth: nil).expect(.unauthorized)
            // An unsubscribed caller is told why they are denied.
            let denied = try await server.call(.get, "/dataSource/\(id)/visibilityReport", auth: other).expect(.ok).decode(Report.self)
            #expect(denied.denialReason != nil)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func dataSourcesAreFoundByThePurposesThatSatisfyTheirRestrictions(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data"])
            let (restricted, open) = (try #require(ids["army_records"]), try #require(ids["data"]))
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["records_view"], isPrivate: true)["records_view"])
            let reader = try await server.userWithKey("reader")
            try await server.call(.post, "/governance/purpose", json: #"{"name": "Research", "subpurposes": [{"name": "Clinical"}]}"#).expect(.ok)
            let prerequisite = #"""
                {"jsonPolicies": [{"type": "prerequisite", "rules": [{"type": "prerequisite", "exceptions": null,
                 "config": {"qualifications": {"operator": "or", "conditions": [{"type": "purposes", "value": "Research"}]}}}]}]}
                """#
            for source in [restricted, hidden] { try await server.call(.post, "/policy/handler/\(source)", json: prerequisite).expect(.ok) }
            func found(_ query: String, auth: String = TestServer.adminKey) async throws -> [Int] {
                try await server.call(.get, "/dataSource/byPurposes?\(query)", auth: auth).expect(.ok).array.compactMap { ($0 as? [String: Any])?["id"] as? Int }
            }
            #expect(try await found("purposes=Research") == [restricted, hidden])
            #expect(try await found("purposes=Research", auth: reader) == [restricted])
            #expect(try await found("purposes=Research.Clinical", auth: reader) == [restricted])
            #expect(try await found("purposes=Marketing", auth: reader).isEmpty)
            let hit = try #require(try await server.call(.get, "/dataSource/byPurposes?purposes=Research", auth: reader).expect(.ok).array.first as? [String: Any])
            #expect(hit["name"] as? String != nil && hit["policyId"] as? Int != nil)
            #expect((hit["restrictions"] as? [[String: Any]])?.first?["operator"] as? String == "or")
            #expect((hit["restrictions"] as? [[String: Any]])?.first?["purposes"] as? [String] == ["Research"])
            _ = open

            let project = try await server.call(.post, "/project", json: #"{"name": "Study", "purposes": ["Research"]}"#).expect(.ok).object
            let projectId = try #require(project["id"] as? Int)
            try await server.call(.post, "/project/\(projectId)/dataSources", json: #"{"dataSourceIds": [\#(restricted)]}"#).expect(.ok)
            #expect(try await found("purposes=Research&excludedProjects=\(projectId)") == [hidden])
            try await server.call(.get, "/dataSource/byPurposes", auth: reader).expect(.badRequest)
            try await server.call(.get, "/dataSource/byPurposes?purposes=Research&excludedProjects=x", auth: reader).expect(.badRequest)
        }
    }
}
