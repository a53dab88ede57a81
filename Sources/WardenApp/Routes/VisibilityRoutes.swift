import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `GET /dataSource/{id}/users/{profileId}/visibilityReport` (an array of one report, as documented) and
/// `GET /dataSource/{id}/visibilityReport` (the caller's report, with `denialReason`).
struct VisibilityRoutes {
    let service: VisibilityService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/dataSource/{dataSourceId}/users/{profileId}/visibilityReport", use: forUser)
        api.get("/dataSource/{dataSourceId}/visibilityReport", use: forCaller)
    }

    @Sendable func forUser(_ request: Request, context: AuthenticatedContext) async throws -> [VisibilityReportPayload] {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let profileId = try context.parameters.id("profileId", notFound: IdentityStore.userNotFound)
        let informationOnly = try QueryReader(request: request).bool("informationOnly") ?? false
        return [VisibilityReportPayload(try await service.report(id, profileId: profileId, informationOnly: informationOnly, caller: context.principal))]
    }

    @Sendable func forCaller(_ request: Request, context: AuthenticatedContext) async throws -> VisibilityReportPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let informationOnly = try QueryReader(request: request).bool("informationOnly") ?? false
        return VisibilityReportPayload(try await service.report(id, profileId: context.principal.userId, informationOnly: informationOnly,
                                                                caller: context.principal), withDenialReason: true)
    }
}

/// The documented report: the counts, the masks and filters of `policyInfo`, and `policySet`, the policies in force
/// as a JSON string whose rules carry `ruleAppliedForUser`.
struct VisibilityReportPayload: ResponseEncodable {
    let noVisibilities: Bool
    let dataSourceVisibilitiesCount: Int
    let userVisibilitiesCount: Int
    let masked: [PolicyInfoPayload.Masked]
    let dataSource: Int64
    let dataSourceName: String
    let additionalFilters: PolicyInfoPayload.Filters
    let allowMaskedJoins: Bool
    let policySet: String
    let denialReason: Nullable<String>?

    init(_ report: VisibilityService.Report, withDenialReason: Bool = false) {
        let decision = report.decided.decision
        let info = PolicyInfoPayload(decision)
        noVisibilities = report.counts.noVisibilities
        dataSourceVisibilitiesCount = report.counts.dataSourceVisibilitiesCount
        userVisibilitiesCount = report.counts.userVisibilitiesCount
        masked = info.masked
        dataSource = report.dataSource.id
        dataSourceName = report.dataSource.name
        additionalFilters = info.additionalFilters
        allowMaskedJoins = report.allowMaskedJoins
        policySet = Self.policySet(decision)
        denialReason = withDenialReason ? Nullable(decision.denialReason) : nil
    }

    static func policySet(_ decision: PolicyDecision) -> String {
        let applied = Dictionary(decision.rules.map { ($0.rule, $0.appliedForUser) }, uniquingKeysWith: { first, _ in first })
        let entries: [JSONValue] = decision.policies.flatMap { policy in
            let global: JSONValue = policy.isGlobal
                ? .object(["id": .int(policy.id), "name": .string(policy.name), "staged": .bool(policy.staged), "deleted": .bool(false),
                           "createdAt": .string(ISODate.format(policy.createdAt))])
                : .null
            return policy.entries.enumerated().map { entryIndex, entry -> JSONValue in
                let rules: [JSONValue] = entry.rules.enumerated().map { ruleIndex, rule in
                    var object = rule.json.objectValue ?? [:]
                    let ref = PolicyRuleRef(policyId: policy.id, global: policy.isGlobal, entry: entryIndex, rule: ruleIndex)
                    object["ruleAppliedForUser"] = .bool(applied[ref] ?? false)
                    return .object(object)
                }
                return .object(["type": .string(entry.typeName), "rules": .array(rules), "global": global,
                                "description": entry.description.map(JSONValue.string) ?? .null])
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(JSONValue.array(entries)), as: UTF8.self)) ?? "[]"
    }
}
