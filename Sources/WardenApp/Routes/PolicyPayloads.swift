import Foundation
import Hummingbird
import WardenDomain

/// A global data policy as `/policy/global` answers it. `circumstances` is left out when the policy has none (every
/// data source) and written as `null` when owners apply it, as the client sent it.
struct GlobalPolicyPayload: ResponseEncodable {
    let record: DataPolicyRecord
    var deleted = false

    init(_ record: DataPolicyRecord, deleted: Bool = false) {
        self.record = record
        self.deleted = deleted
    }

    enum Keys: String, CodingKey {
        case id, type, name, policyKey, template, staged, deleted, systemGenerated, actions, circumstances, createdBy, createdAt, updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(record.id, forKey: .id)
        try container.encode("data", forKey: .type)
        try container.encode(record.name, forKey: .name)
        try container.encode(record.policyKey ?? record.name, forKey: .policyKey)
        try container.encode(false, forKey: .template)
        try container.encode(record.staged, forKey: .staged)
        try container.encode(deleted, forKey: .deleted)
        try container.encode(false, forKey: .systemGenerated)
        try container.encode(record.entries, forKey: .actions)
        if let circumstances = record.circumstances { try container.encode(circumstances, forKey: .circumstances) }
        try container.encode(Nullable(record.createdBy), forKey: .createdBy)
        try container.encode(ISODate.format(record.createdAt), forKey: .createdAt)
        try container.encode(ISODate.format(record.updatedAt), forKey: .updatedAt)
    }
}

struct AppliedCountPayload: ResponseEncodable {
    let count: Int
}

/// `GET /policy/handler/{dataSourceId}`: the local entries (`global: null`) followed by those of every global policy
/// in force on the source, each marked with its policy.
struct PolicyHandlerPayload: ResponseEncodable {
    let id: Nullable<Int64>
    let dataSourceId: Int64
    let createdBy: Nullable<Int64>
    let createdAt: Nullable<String>
    let updatedAt: Nullable<String>
    let jsonPolicies: [JSONValue]

    init(dataSourceId: Int64, local: DataPolicyRecord?, globals: [DataPolicyRecord]) {
        id = Nullable(local?.id)
        self.dataSourceId = dataSourceId
        createdBy = Nullable(local?.createdBy)
        createdAt = Nullable(local.map { ISODate.format($0.createdAt) })
        updatedAt = Nullable(local.map { ISODate.format($0.updatedAt) })
        func marked(_ entry: JSONValue, _ global: JSONValue) -> JSONValue {
            guard case .object(var object) = entry else { return entry }
            object["global"] = global
            return .object(object)
        }
        let localEntries = (local?.entries ?? []).map { marked($0, .null) }
        let globalEntries = globals.flatMap { policy in
            let mark: JSONValue = .object(["id": .int(policy.id), "name": .string(policy.name), "policyKey": .string(policy.policyKey ?? policy.name),
                                           "staged": .bool(policy.staged), "createdAt": .string(ISODate.format(policy.createdAt))])
            return policy.entries.map { marked($0, mark) }
        }
        jsonPolicies = localEntries + globalEntries
    }
}

/// `GET /dataSource/{id}/users/{profileId}/explain` and `POST /policy/testPolicy`: what the user sees, column by
/// column and for the rows, and every rule of every policy in force with whether it applied and why.
struct ExplainPayload: ResponseEncodable {
    struct RuleRef: Encodable {
        let policyId: Int64
        let global: Bool
        let entry: Int
        let rule: Int

        init(_ ref: PolicyRuleRef) {
            policyId = ref.policyId
            global = ref.global
            entry = ref.entry
            rule = ref.rule
        }
    }

    struct Mask: Encodable {
        /// The `actionType` applied.
        let actionType: String
        let requested: String
        /// Only in rows where this holds; null: every row.
        let condition: Nullable<String>
        let rule: RuleRef
        let note: Nullable<String>
        /// Where the source's warehouse cannot compute the mask: its native view returns NULL instead.
        let warehouseNote: Nullable<String>
    }

    struct Column: Encodable {
        let name: String
        let dataType: String
        let tags: [String]
        let mask: Nullable<Mask>
    }

    struct Sample: Encodable {
        let column: String
        let percent: Int
        let rule: RuleRef
    }

    struct Window: Encodable {
        let column: String
        let seconds: Int
        let isOlderOrNewer: String
        let rule: RuleRef
    }

    struct Rows: Encodable {
        /// The row filter, user functions resolved, in canonical SQL-like text.
        let filter: String
        let showsNoRows: Bool
        let samples: [Sample]
        let timeWindows: [Window]
    }

    struct Conflict: Encodable {
        let column: String
        let winner: RuleRef
        let overridden: RuleRef
    }

    struct Rule: Encodable {
        let rule: RuleRef
        let status: String
        let appliedForUser: Bool
        let reason: String
    }

    struct Policy: Encodable {
        let id: Int64
        let global: Bool
        let name: String
        let createdAt: String
    }

    let dataSourceId: Int64
    let profileId: Int64
    let allowed: Bool
    let denialReason: Nullable<String>
    let columns: [Column]
    let rows: Rows
    let conflicts: [Conflict]
    let rules: [Rule]
    let policies: [Policy]
    let purposes: Purposes

    /// The project the user acted under, the purposes that counted, and why none did when none did.
    struct Purposes: Encodable {
        let projectId: Nullable<Int64>
        let counted: [String]
        let note: Nullable<String>
    }

    init(dataSourceId: Int64, profileId: Int64, _ decided: PolicyService.Decided) {
        let (decision, target) = (decided.decision, decided.target)
        purposes = Purposes(projectId: Nullable(decided.project?.project.id), counted: decided.purposes,
                            note: Nullable(decided.project.map { $0.whyNoPurposes(at: decided.now) } ?? "acting under no project"))
        self.dataSourceId = dataSourceId
        self.profileId = profileId
        allowed = decision.allowed
        denialReason = Nullable(decision.denialReason)
        columns = target.columns.map { column in
            Column(name: column.name, dataType: column.dataType, tags: column.tags.map(\.value), mask: Nullable(decision.mask(of: column.name).map { mask in
                Mask(actionType: mask.method.actionType, requested: mask.requested.actionType, condition: Nullable(mask.condition?.description),
                     rule: RuleRef(mask.rule), note: Nullable(mask.note),
                     warehouseNote: Nullable(NativeView.Warehouse(decided.technology)?.failsClosed(mask.method)))
            }))
        }
        rows = Rows(filter: decision.rowFilter.description, showsNoRows: decision.showsNoRows,
                    samples: decision.samples.map { Sample(column: $0.column, percent: $0.percent, rule: RuleRef($0.rule)) },
                    timeWindows: decision.timeWindows.map { Window(column: $0.column, seconds: $0.seconds, isOlderOrNewer: $0.newer ? "newer" : "older",
                                                                   rule: RuleRef($0.rule)) })
        conflicts = decision.conflicts.map { Conflict(column: $0.column, winner: RuleRef($0.winner), overridden: RuleRef($0.overridden)) }
        rules = decision.rules.map { Rule(rule: RuleRef($0.rule), status: $0.status.rawValue, appliedForUser: $0.appliedForUser, reason: $0.reason) }
        policies = decision.policies.map { Policy(id: $0.id, global: $0.isGlobal, name: $0.name, createdAt: ISODate.format($0.createdAt)) }
    }
}

/// `GET /dataSource/{id}/users/{profileId}/policyInfo`, as documented in 002: `masked` names each masked column with
/// the masking type and metadata of the policy that masks it (the NULL form when Warden fails closed),
/// `visibilities` the values the user's visibility rules let through, and `additionalFilters` the row filter
/// (`customWhere`, its canonical text), sample and time window.
struct PolicyInfoPayload: ResponseEncodable {
    struct Masked: Encodable {
        let type: String
        let metadata: JSONValue
        let name: String
        let actionType: String
    }

    struct Visibility: Encodable {
        let column: String
        let values: [String]
    }

    struct Filters: Encodable {
        struct CustomWhere: Encodable { let predicate: String }
        struct Minimization: Encodable {
            let percent: Int
            let hashPhrase: String
        }
        var customWhere: CustomWhere?
        var minimization: Minimization?
        var eventTimeColumn: String?
        var filterSeconds: Int?
        var isOlderOrNewer: String?
    }

    let visibilities: [Visibility]
    let visibilityRuleApplies: Bool
    let masked: [Masked]
    let additionalFilters: Filters

    init(_ decision: PolicyDecision) {
        let rule = decision.rule
        masked = decision.masks.map { mask in
            let config = rule(mask.rule)?.json.objectValue?["config"]?.objectValue?["maskingConfig"]?.objectValue
            if mask.method == mask.requested, let type = config?["type"]?.stringValue {
                return Masked(type: type, metadata: config?["metadata"] ?? .object([:]), name: mask.column, actionType: mask.method.actionType)
            }
            return Masked(type: "Consistent Value", metadata: .object(["constant": .null]), name: mask.column, actionType: mask.method.actionType)
        }
        visibilities = decision.visibilities.map { Visibility(column: $0.column, values: $0.values) }
        visibilityRuleApplies = decision.rules.contains { outcome in
            guard outcome.appliedForUser, case .visibility = rule(outcome.rule)?.action else { return false }
            return true
        }
        var filters = Filters()
        // The whole row filter, visibilities included, with the user's values resolved.
        if decision.rowFilter != .always { filters.customWhere = .init(predicate: decision.rowFilter.description) }
        if let sample = decision.samples.first { filters.minimization = .init(percent: sample.percent, hashPhrase: sample.column) }
        if let window = decision.timeWindows.first {
            filters.eventTimeColumn = window.column
            filters.filterSeconds = window.seconds
            filters.isOlderOrNewer = window.newer ? "newer" : "older"
        }
        additionalFilters = filters
    }
}

/// A data source found by purpose: its purpose restrictions, and the policy of the first.
struct PurposeSourcePayload: ResponseEncodable {
    struct Restriction: Encodable {
        let `operator`: String
        let purposes: [String]
    }
    let id: Int64
    let name: String
    let policyId: Int64
    let restrictions: [Restriction]
}
