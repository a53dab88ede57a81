public import Foundation

/// A data policy as stored: the JSON as the client sent it (so it reads back as written, and a later version's
/// fields survive), with the columns the metastore searches by.
public struct DataPolicyRecord: Sendable, Equatable {
    public var id: Int64
    /// Set for a data source's local policy; nil for a global one.
    public var dataSourceId: Int64?
    public var name: String
    /// A global policy's unique key (its name unless given).
    public var policyKey: String?
    /// `actions` of a global policy, `jsonPolicies` of a local one: always an array.
    public var entries: [JSONValue]
    /// Nil when absent (every data source); `.null` where owners apply it; otherwise the array.
    public var circumstances: JSONValue?
    public var staged: Bool
    public var createdBy: Int64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, dataSourceId: Int64?, name: String, policyKey: String?, entries: [JSONValue], circumstances: JSONValue?,
                staged: Bool, createdBy: Int64?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.dataSourceId = dataSourceId
        self.name = name
        self.policyKey = policyKey
        self.entries = entries
        self.circumstances = circumstances
        self.staged = staged
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var isGlobal: Bool { dataSourceId == nil }

    /// The policy as decisions read it. Nothing stored is refused here: what this version cannot read fails closed.
    public var policy: DataPolicy {
        var ignored = Validator()
        let reader = PolicyReader(global: isGlobal, columns: nil, strict: false)
        let entries = reader.entries(entries, path: "", into: &ignored)
        let kind: DataPolicy.Kind = dataSourceId.map { .local(dataSourceId: $0) }
            ?? .global(scope: reader.scope(circumstances, path: "", into: &ignored))
        return DataPolicy(id: id, kind: kind, name: name, entries: entries, staged: staged, createdAt: createdAt)
    }
}

/// What a client asks to store as a global data policy, checked.
public struct GlobalPolicyDraft: Sendable, Equatable {
    public var name: String
    public var policyKey: String
    public var entries: [JSONValue]
    public var circumstances: JSONValue?
    public var staged: Bool

    public static let maxNameLength = 255

    public init(name: String, policyKey: String, entries: [JSONValue], circumstances: JSONValue?, staged: Bool) {
        self.name = name
        self.policyKey = policyKey
        self.entries = entries
        self.circumstances = circumstances
        self.staged = staged
    }

    /// Checks a global data policy's fields the way a decision will read them, reporting every problem at once.
    public static func parse(name: String?, policyKey: String?, actions: [JSONValue]?, circumstances: JSONValue?, staged: Bool?) throws(WardenError) -> GlobalPolicyDraft {
        var validator = Validator()
        let trimmed = name?.trimmingCharacters(in: .whitespaces) ?? ""
        validator.check(Text.isPrintable(trimmed, maxLength: maxNameLength), "name", "must be 1 to \(maxNameLength) printable characters")
        let key = policyKey ?? trimmed
        validator.check(Text.isPrintable(key, maxLength: maxNameLength), "policyKey", "must be 1 to \(maxNameLength) printable characters")
        let reader = PolicyReader(global: true, columns: nil, strict: true)
        if let actions {
            validator.check(!actions.isEmpty, "actions", "must list at least one policy")
            _ = reader.entries(actions, path: "actions", into: &validator)
        } else {
            validator.add("actions", "is required")
        }
        _ = reader.scope(circumstances, path: "circumstances", into: &validator)
        try validator.finish()
        return GlobalPolicyDraft(name: trimmed, policyKey: key, entries: actions ?? [], circumstances: circumstances, staged: staged ?? false)
    }
}
