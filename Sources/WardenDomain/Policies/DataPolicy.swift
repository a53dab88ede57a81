public import Foundation

/// How a list of conditions combines.
public enum LogicalOperator: String, Sendable, Hashable, CaseIterable {
    case and
    case or
}

/// The policy types of `jsonPolicies[].type` and `actions[].type`.
public enum DataPolicyType: String, Sendable, Hashable, CaseIterable {
    case masking
    case rowOrObjectRestriction
    case time
    case minimization
    case prerequisite

    /// Whether the type limits rows (all but masking).
    public var limitsRows: Bool { self != .masking }
}

/// How a masked column shows its values.
public enum MaskingMethod: Sendable, Hashable {
    /// Keyed SHA-256 (HMAC with the source's salt), hex.
    case hash
    case null
    case constant(String)
    case regex(pattern: String, replacement: String, global: Bool, caseInsensitive: Bool)
    /// Numbers rounded down to a multiple of the bucket size.
    case bucket(Double)
    /// Dates and timestamps truncated to the precision.
    case truncate(TimePrecision)
    /// Deterministic authenticated encryption that Warden alone reverses (the unmask task).
    case reversible

    public enum TimePrecision: String, Sendable, Hashable, CaseIterable {
        case year, month, day, hour
    }

    /// The `actionType` decision answers name the mask by.
    public var actionType: String {
        switch self {
        case .hash: "Hash"
        case .null: "Nullify"
        case .constant: "Constant"
        case .regex: "Regex"
        case .bucket, .truncate: "Rounding"
        case .reversible: "Reversible"
        }
    }

    /// Whether the mask can apply to a column of the API type `dataType`. Hashing, nulling and reversible
    /// encryption apply to every type (their result is text or NULL); the others need their family.
    public func applies(to dataType: String) -> Bool {
        switch self {
        case .hash, .null, .reversible: true
        case .constant: TypeFamily(dataType) == .text
        case .regex: TypeFamily(dataType) == .text
        case .bucket: TypeFamily(dataType) == .number
        case .truncate: TypeFamily(dataType) == .time
        }
    }
}

/// The families of the API's `dataType` vocabulary that masks care about.
public enum TypeFamily: Sendable, Equatable {
    case text, number, time, other

    public init(_ dataType: String) {
        switch dataType {
        case "text": self = .text
        case "smallint", "integer", "bigint", "real", "double precision", "numeric": self = .number
        case "date", "timestamp", "timestamp with time zone": self = .time
        default: self = .other
        }
    }
}

/// A condition of a rule's `exceptions`: who the rule does not apply to.
public enum ExceptionCondition: Sendable, Hashable {
    case group(String)
    /// `value` nil: any value of the attribute.
    case attribute(key: String, value: String?)
    /// Acting under the purpose, or one below it in its dotted hierarchy.
    case purpose(String)
    /// A condition this version cannot read. It never holds, so the rule applies: an exception that is not
    /// understood excepts no one.
    case notUnderstood(String)
}

public struct PolicyExceptions: Sendable, Hashable {
    public var op: LogicalOperator
    public var conditions: [ExceptionCondition]

    public init(op: LogicalOperator, conditions: [ExceptionCondition]) {
        self.op = op
        self.conditions = conditions
    }
}

/// A visibility condition: rows whose `column` matches the user.
public enum VisibilityCondition: Sendable, Hashable {
    /// The row's column is one of the user's values of the attribute.
    case attribute(key: String, column: String)
    /// The row's column is the name of one of the user's groups.
    case groups(column: String)

    public var column: String {
        switch self {
        case .attribute(_, let column), .groups(let column): column
        }
    }
}

/// What one rule does. In a global policy, column names (`columns`, visibility columns) name tags instead:
/// the columns carrying the tag or one below it.
public enum RuleAction: Sendable, Hashable {
    case mask(columns: [String], method: MaskingMethod, when: RowPredicate?)
    case visibility(op: LogicalOperator, conditions: [VisibilityCondition])
    case predicate(RowPredicate)
    /// Rows newer (or older) than `seconds`, by `column` (the handler's event time column when nil).
    case time(seconds: Int, newer: Bool, column: String?)
    /// A stable sample of `percent` of the rows, hashing `column` (the high-cardinality column when nil).
    case minimization(percent: Int, column: String?)
    /// No rows unless acting under the purposes.
    case prerequisite(op: LogicalOperator, purposes: [String])
    /// A rule this version cannot read (stored by a later version, or damaged). It fails closed: the columns it
    /// names are masked to NULL, and a rule that names none shows no rows.
    case notUnderstood(reason: String, columns: [String])
}

public struct PolicyRule: Sendable, Hashable {
    public var action: RuleAction
    /// Nil: the rule applies to everyone.
    public var exceptions: PolicyExceptions?
    /// The rule as the client sent it, for `policySet`.
    public var json: JSONValue

    public init(action: RuleAction, exceptions: PolicyExceptions?, json: JSONValue) {
        self.action = action
        self.exceptions = exceptions
        self.json = json
    }
}

/// One entry of `jsonPolicies` or `actions`.
public struct PolicyEntry: Sendable, Hashable {
    /// Nil for a type this version does not know; its rules are then `notUnderstood`.
    public var type: DataPolicyType?
    public var typeName: String
    public var rules: [PolicyRule]
    public var description: String?

    public init(type: DataPolicyType?, typeName: String, rules: [PolicyRule], description: String?) {
        self.type = type
        self.typeName = typeName
        self.rules = rules
        self.description = description
    }
}

/// A condition on where a global policy applies.
public enum Circumstance: Sendable, Hashable {
    /// The data source carries the tag or one below it.
    case sourceTag(TagName)
    /// One of its columns carries the tag or one below it.
    case columnTag(TagName)
    /// One of its column names matches.
    case columnRegex(pattern: String, caseInsensitive: Bool)
    /// Only between the dates (either may be open).
    case time(start: Date?, end: Date?)
}

/// Where a global policy applies.
public enum PolicyScope: Sendable, Hashable {
    /// `circumstances` absent: every data source.
    case everywhere
    /// `circumstances: null`: only where an owner applied it.
    case whereApplied
    /// Every `and` circumstance holds and, when there are `or` ones, at least one of them.
    case when([(op: LogicalOperator, circumstance: Circumstance)])

    public static func == (lhs: PolicyScope, rhs: PolicyScope) -> Bool {
        switch (lhs, rhs) {
        case (.everywhere, .everywhere), (.whereApplied, .whereApplied): true
        case (.when(let a), .when(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.op == $1.op && $0.circumstance == $1.circumstance }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .everywhere: hasher.combine(0)
        case .whereApplied: hasher.combine(1)
        case .when(let items):
            hasher.combine(2)
            for item in items {
                hasher.combine(item.op)
                hasher.combine(item.circumstance)
            }
        }
    }
}

/// A stored data policy: a global one (`/policy/global`) or a data source's local entries (`/policy/handler`).
public struct DataPolicy: Sendable, Hashable, Identifiable {
    public enum Kind: Sendable, Hashable {
        case global(scope: PolicyScope)
        case local(dataSourceId: Int64)
    }

    public var id: Int64
    public var kind: Kind
    public var name: String
    public var entries: [PolicyEntry]
    /// Staged policies are kept but not in force.
    public var staged: Bool
    public var createdAt: Date

    public init(id: Int64, kind: Kind, name: String, entries: [PolicyEntry], staged: Bool = false, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.name = name
        self.entries = entries
        self.staged = staged
        self.createdAt = createdAt
    }

    public var isGlobal: Bool {
        if case .global = kind { true } else { false }
    }

    /// Earliest-created first; a tie goes to the lower id. One mask per column: the earliest policy's wins.
    public static func precedes(_ lhs: DataPolicy, _ rhs: DataPolicy) -> Bool {
        (lhs.createdAt, lhs.id, lhs.isGlobal ? 1 : 0) < (rhs.createdAt, rhs.id, rhs.isGlobal ? 1 : 0)
    }
}

/// A column as decisions see it: its name, its API type and its tags.
public struct PolicyColumn: Sendable, Hashable {
    public var name: String
    public var dataType: String
    public var tags: [TagName]
    /// Added to the warehouse table and not yet reviewed by an owner: masked to NULL for everyone meanwhile.
    public var pendingReview: Bool

    public init(name: String, dataType: String, tags: [TagName] = [], pendingReview: Bool = false) {
        self.name = name
        self.dataType = dataType
        self.tags = tags
        self.pendingReview = pendingReview
    }

    /// Whether the column carries `tag` or a tag below it.
    public func isTagged(_ tag: TagName) -> Bool {
        isTagged(named: tag.value)
    }

    /// `isTagged` for a name already checked as a tag name (a global policy's `fields`), without parsing it again
    /// on every decision.
    public func isTagged(named name: String) -> Bool {
        tags.contains { $0.value == name || ($0.value.hasPrefix(name) && $0.value.dropFirst(name.count).first == ".") }
    }
}

extension Array where Element == PolicyColumn {
    /// The column `name` names: exactly, else the one column whose name matches ignoring case (as SQL folds an
    /// unquoted name).
    public func named(_ name: String) -> PolicyColumn? {
        if let exact = first(where: { $0.name == name }) { return exact }
        let matches = filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        return matches.count == 1 ? matches[0] : nil
    }
}
