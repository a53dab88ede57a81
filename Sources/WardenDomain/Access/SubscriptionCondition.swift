import Foundation

/// Who a policy is evaluated for: a user (their groups and effective attributes) or a group (itself and its attributes).
public struct SubscriptionSubject: Sendable, Equatable {
    public struct GroupRef: Sendable, Hashable {
        public var name: String
        public var iamid: String

        public init(name: String, iamid: String) {
            self.name = name
            self.iamid = iamid
        }
    }

    public var groups: Set<GroupRef>
    public var attributes: AttributeMap

    public init(groups: Set<GroupRef>, attributes: AttributeMap) {
        self.groups = groups
        self.attributes = attributes
    }
}

/// Who may subscribe under a `policy` subscription policy: group memberships and attributes, combined with AND, OR and NOT.
///
/// Conditions come from two places in the API: `exceptions` (a flat list joined by one operator) and `advanced`
/// (an expression such as `@isInGroups('Engineers') AND @hasAttribute('Dept','HR')`).
public indirect enum SubscriptionCondition: Sendable, Equatable {
    /// Membership of the group `name`; `iam` nil matches a group of that name in any IAM. Names compare exactly (case-sensitive).
    case inGroup(name: String, iam: String?)
    /// An attribute `key` with `value`; `value` nil matches any value for that key. Keys and values compare exactly.
    case hasAttribute(key: String, value: String?)
    /// Every condition holds (true when empty).
    case all([SubscriptionCondition])
    /// At least one condition holds (false when empty).
    case any([SubscriptionCondition])
    case not(SubscriptionCondition)

    public func isSatisfied(by subject: SubscriptionSubject) -> Bool {
        switch self {
        case .inGroup(let name, let iam):
            subject.groups.contains { $0.name == name && (iam == nil || $0.iamid == iam) }
        case .hasAttribute(let key, let value):
            if let values = subject.attributes[key] {
                if let value { values.contains(value) } else { !values.isEmpty }
            } else {
                false
            }
        case .all(let conditions):
            conditions.allSatisfy { $0.isSatisfied(by: subject) }
        case .any(let conditions):
            conditions.contains { $0.isSatisfied(by: subject) }
        case .not(let condition):
            !condition.isSatisfied(by: subject)
        }
    }

    // MARK: - The advanced syntax

    /// Rendered back in the advanced syntax, parenthesised where the structure needs it, so that
    /// `parse(advanced: c.advancedText) == c` for every condition the parsers produce.
    ///
    /// The syntax cannot say everything a condition can, so three shapes render by meaning rather than structure:
    /// a group's IAM is left out (`@isInGroups` names groups only), `all`/`any` of one condition render as that
    /// condition, and empty `all`/`any` (which no parser produces) render as `()`, which does not parse.
    public var advancedText: String { render(in: .top) }

    /// Where a condition is written, which decides whether it needs parentheses to keep its structure.
    private enum Slot {
        /// The whole expression.
        case top
        /// One operand of OR: an AND binds tighter and needs none, a nested OR does.
        case orOperand
        /// One operand of AND, or what NOT applies to: any AND or OR needs them.
        case tight
    }

    private func render(in slot: Slot) -> String {
        switch self {
        case .inGroup(let name, _):
            return "@isInGroups(\(Self.quoted(name)))"
        case .hasAttribute(let key, nil):
            return "@hasAttribute(\(Self.quoted(key)))"
        case .hasAttribute(let key, let value?):
            return "@hasAttribute(\(Self.quoted(key)),\(Self.quoted(value)))"
        case .not(let condition):
            return "NOT " + condition.render(in: .tight)
        case .all(let conditions), .any(let conditions):
            if conditions.isEmpty { return "()" }
            if conditions.count == 1 { return conditions[0].render(in: slot) }
            let isAll = if case .all = self { true } else { false }
            if isAll, let names = Self.groupNamesOnly(conditions) {
                return "@isInGroups(" + names.map(Self.quoted).joined(separator: ",") + ")"
            }
            let text = conditions.map { $0.render(in: isAll ? .tight : .orOperand) }.joined(separator: isAll ? " AND " : " OR ")
            let needsParentheses = isAll ? slot == .tight : slot != .top
            return needsParentheses ? "(" + text + ")" : text
        }
    }

    /// The names, when every condition is membership of a group in any IAM (what one `@isInGroups` says).
    private static func groupNamesOnly(_ conditions: [SubscriptionCondition]) -> [String]? {
        var names: [String] = []
        for condition in conditions {
            guard case .inGroup(let name, nil) = condition else { return nil }
            names.append(name)
        }
        return names
    }

    /// A single-quoted string literal: quotes doubled, backslashes escaped.
    static func quoted(_ text: String) -> String {
        var result = "'"
        for character in text {
            switch character {
            case "'": result += "''"
            case "\\": result += "\\\\"
            default: result.append(character)
            }
        }
        return result + "'"
    }

    // MARK: - The exceptions form

    /// The `exceptions` object form, `{"operator", "conditions"}`, or nil when the condition is not a flat list of
    /// group and attribute conditions (a NOT, a nested AND/OR, or an empty list).
    public var exceptionsJSON: JSONValue? {
        let (op, conditions): (String, [SubscriptionCondition]) = switch self {
        case .inGroup, .hasAttribute: ("or", [self])
        case .all(let conditions): ("and", conditions)
        case .any(let conditions): ("or", conditions)
        case .not: ("or", [])
        }
        var items: [JSONValue] = []
        for condition in conditions {
            switch condition {
            case .inGroup(let name, let iam):
                var group: [String: JSONValue] = ["name": .string(name)]
                if let iam { group["iam"] = .string(iam) }
                items.append(.object(["type": .string("groups"), "group": .object(group)]))
            case .hasAttribute(let key, let value):
                var authorization: [String: JSONValue] = ["auth": .string(key)]
                if let value { authorization["value"] = .string(value) }
                items.append(.object(["type": .string("authorizations"), "authorization": .object(authorization)]))
            case .all, .any, .not:
                return nil
            }
        }
        guard !items.isEmpty else { return nil }
        return .object(["operator": .string(op), "conditions": .array(items)])
    }
}
