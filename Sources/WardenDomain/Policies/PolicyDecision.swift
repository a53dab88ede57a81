import Foundation

/// The user a decision is for, as policies see them.
public struct PolicySubject: Sendable, Equatable {
    public var user: PredicateUser
    /// The purposes the user acts under: of the current project, acknowledged, while a member.
    public var purposes: [String]
    /// Whether the user is subscribed to the data source.
    public var subscribed: Bool

    public init(user: PredicateUser, purposes: [String] = [], subscribed: Bool = true) {
        self.user = user
        self.purposes = purposes
        self.subscribed = subscribed
    }

    /// Someone with no groups, attributes or purposes, not subscribed: no exception holds for them, so every rule
    /// applies (for reports of what a source's policies restrict at most).
    public static let nobody = PolicySubject(user: PredicateUser(username: "", groups: [], attributes: [:]), subscribed: false)

    /// Acting under `purpose` or one below it in its dotted hierarchy.
    public func actsUnder(_ purpose: String) -> Bool {
        purposes.contains { $0 == purpose || $0.hasPrefix(purpose + ".") }
    }
}

/// The data source a decision is about.
public struct PolicyTarget: Sendable, Equatable {
    public var dataSourceId: Int64
    public var tags: [TagName]
    /// In dictionary order.
    public var columns: [PolicyColumn]
    /// The handler's event time column, for time rules that name none.
    public var eventTimeColumn: String?
    /// The high-cardinality column, for minimization rules that name none.
    public var highCardinalityColumn: String?
    /// Global policies with `circumstances: null` that an owner applied to this source.
    public var appliedPolicyIds: Set<Int64>

    public init(dataSourceId: Int64, tags: [TagName] = [], columns: [PolicyColumn], eventTimeColumn: String? = nil,
                highCardinalityColumn: String? = nil, appliedPolicyIds: Set<Int64> = []) {
        self.dataSourceId = dataSourceId
        self.tags = tags
        self.columns = columns
        self.eventTimeColumn = eventTimeColumn
        self.highCardinalityColumn = highCardinalityColumn
        self.appliedPolicyIds = appliedPolicyIds
    }

    /// Whether the source carries `tag` or one below it.
    public func isTagged(_ tag: TagName) -> Bool {
        tags.contains { $0 == tag || $0.isDescendant(of: tag) }
    }
}

/// One rule of one policy: `entry` and `rule` index `entries` and `rules`.
public struct PolicyRuleRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var policyId: Int64
    public var global: Bool
    public var entry: Int
    public var rule: Int

    public init(policyId: Int64, global: Bool, entry: Int, rule: Int) {
        self.policyId = policyId
        self.global = global
        self.entry = entry
        self.rule = rule
    }

    public static func < (lhs: PolicyRuleRef, rhs: PolicyRuleRef) -> Bool {
        (lhs.global ? 1 : 0, lhs.policyId, lhs.entry, lhs.rule) < (rhs.global ? 1 : 0, rhs.policyId, rhs.entry, rhs.rule)
    }

    /// `global 7 #0.1` or `local 3 #0.0`: the policy, then its entry and rule.
    public var description: String { "\(global ? "global" : "local") \(policyId) #\(entry).\(rule)" }
}

/// How one column is shown.
public struct ColumnMask: Sendable, Hashable {
    public var column: String
    /// What the rule asked for.
    public var requested: MaskingMethod
    /// What is applied: `requested`, or NULL when it cannot apply to the column's type or was not understood.
    public var method: MaskingMethod
    /// Only in rows where this holds; nil: every row.
    public var condition: RowPredicate?
    public var rule: PolicyRuleRef
    /// Why `method` differs from `requested`, when it does.
    public var note: String?

    public init(column: String, requested: MaskingMethod, method: MaskingMethod, condition: RowPredicate?, rule: PolicyRuleRef, note: String?) {
        self.column = column
        self.requested = requested
        self.method = method
        self.condition = condition
        self.rule = rule
        self.note = note
    }
}

/// A masking rule that lost its column to an earlier policy's.
public struct MaskConflict: Sendable, Hashable {
    public var column: String
    public var winner: PolicyRuleRef
    public var overridden: PolicyRuleRef

    public init(column: String, winner: PolicyRuleRef, overridden: PolicyRuleRef) {
        self.column = column
        self.winner = winner
        self.overridden = overridden
    }
}

/// A stable sample of `percent` of the rows, by hashing `column`.
public struct RowSample: Sendable, Hashable {
    public var column: String
    public var percent: Int
    public var rule: PolicyRuleRef
}

/// Rows newer (or older) than `seconds` by `column`.
public struct TimeWindow: Sendable, Hashable {
    public var column: String
    public var seconds: Int
    public var newer: Bool
    public var rule: PolicyRuleRef
}

/// A visibility rule's condition for one user: rows whose `column` holds one of `values` (none: no rows).
public struct RowVisibility: Sendable, Hashable {
    public var column: String
    public var values: [String]
    public var rule: PolicyRuleRef
}

/// Whether one rule applied to the user, and why.
public struct RuleOutcome: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        /// The rule limits what the user sees.
        case applied
        /// The user meets the rule's exceptions.
        case excepted
        /// The rule is not about this source (no column carries its tags), or the policy is staged.
        case notApplicable
        /// The rule could not be applied as written and fails closed (NULL masks, no rows).
        case failedClosed
    }

    public var rule: PolicyRuleRef
    public var status: Status
    public var reason: String

    public var appliedForUser: Bool { status == .applied || status == .failedClosed }
}

/// What one user sees of one data source.
public struct PolicyDecision: Sendable, Equatable {
    /// Subscribed: may query the source at all.
    public var allowed: Bool
    public var denialReason: String?
    /// In dictionary order; one per masked column.
    public var masks: [ColumnMask]
    /// The rows shown: the AND of every row rule that applied, user functions resolved.
    public var rowFilter: RowPredicate
    public var samples: [RowSample]
    public var timeWindows: [TimeWindow]
    /// The conditions of the visibility rules that applied (already part of `rowFilter`).
    public var visibilities: [RowVisibility]
    public var conflicts: [MaskConflict]
    /// Every rule of every policy in force on the source, in policy order.
    public var rules: [RuleOutcome]
    /// The policies in force on the source (its local one first when it is older), earliest first.
    public var policies: [DataPolicy]

    /// True when the user sees no rows at all.
    public var showsNoRows: Bool { rowFilter == .never }

    public func mask(of column: String) -> ColumnMask? {
        masks.first { $0.column == column }
    }

    /// The rule `ref` points to, among the policies in force.
    public func rule(_ ref: PolicyRuleRef) -> PolicyRule? {
        guard let policy = policies.first(where: { $0.id == ref.policyId && $0.isGlobal == ref.global }),
              ref.entry < policy.entries.count, ref.rule < policy.entries[ref.entry].rules.count else { return nil }
        return policy.entries[ref.entry].rules[ref.rule]
    }
}
