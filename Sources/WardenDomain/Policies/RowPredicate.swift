import Foundation

/// A value inside a row predicate.
public enum PredicateOperand: Sendable, Hashable {
    /// A column of the data source, by its dictionary name.
    case column(String)
    /// `@columnTagged('Tag')`: the source's first column (in dictionary order) carrying the tag or one below it.
    case columnTagged(TagName)
    case string(String)
    /// A numeric literal, kept as written (digits, one optional point, optional leading minus).
    case number(String)
    case bool(Bool)
    case null
    /// `@username`: the user the decision is for.
    case username
}

public enum ComparisonOperator: String, Sendable, Hashable, CaseIterable {
    case equal = "="
    case notEqual = "<>"
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

/// A boolean expression over a row, as `where` rules and conditional masks write it. It is parsed from the policy
/// text, never pasted into SQL: only the forms below exist, so a renderer can quote every name and value.
///
/// The user functions (`@hasAttribute`, `@isInGroups`, `@groupsContains`, `@attributeValuesContains`,
/// `@username`, `@columnTagged`) are kept as written until `resolved(for:columns:)` replaces them with what they mean
/// for one user on one source.
public indirect enum RowPredicate: Sendable, Hashable {
    case constant(Bool)
    case and([RowPredicate])
    case or([RowPredicate])
    case not(RowPredicate)
    case compare(PredicateOperand, ComparisonOperator, PredicateOperand)
    case isNull(PredicateOperand, negated: Bool)
    case inList(PredicateOperand, [PredicateOperand], negated: Bool)
    case like(PredicateOperand, pattern: PredicateOperand, negated: Bool)
    case between(PredicateOperand, PredicateOperand, PredicateOperand, negated: Bool)
    /// A boolean operand standing alone (`active`, `TRUE`).
    case truthy(PredicateOperand)
    /// `@hasAttribute('Key', 'Value')`; `value` nil: any value of the attribute.
    case userHasAttribute(key: String, value: String?)
    /// `@isInGroups('A', 'B')`: member of every group named.
    case userInGroups([String])
    /// `@attributeValuesContains('Key', operand)`: the operand is one of the user's values of the attribute.
    case attributeValuesContain(key: String, PredicateOperand)
    /// `@groupsContains(operand)`: the operand is the name of one of the user's groups.
    case groupsContain(PredicateOperand)

    public static let always = RowPredicate.constant(true)
    public static let never = RowPredicate.constant(false)

    /// The columns the predicate names directly (not through `@columnTagged`), in order of appearance.
    public var columns: [String] {
        var names: [String] = []
        func add(_ operand: PredicateOperand) {
            if case .column(let name) = operand, !names.contains(name) { names.append(name) }
        }
        func walk(_ predicate: RowPredicate) {
            switch predicate {
            case .constant, .userHasAttribute, .userInGroups: break
            case .and(let items), .or(let items): items.forEach(walk)
            case .not(let item): walk(item)
            case .compare(let left, _, let right): add(left); add(right)
            case .isNull(let operand, _), .truthy(let operand), .attributeValuesContain(_, let operand), .groupsContain(let operand): add(operand)
            case .inList(let operand, let items, _): add(operand); items.forEach(add)
            case .like(let operand, let pattern, _): add(operand); add(pattern)
            case .between(let operand, let low, let high, _): add(operand); add(low); add(high)
            }
        }
        walk(self)
        return names
    }

    /// `AND` of `items`, folding constants: an empty list is true.
    public static func all(_ items: [RowPredicate]) -> RowPredicate {
        var kept: [RowPredicate] = []
        for item in items {
            switch item {
            case .constant(true): continue
            case .constant(false): return .never
            case .and(let inner): kept += inner
            default: if !kept.contains(item) { kept.append(item) }
            }
        }
        return kept.isEmpty ? .always : kept.count == 1 ? kept[0] : .and(kept)
    }

    /// `OR` of `items`, folding constants: an empty list is false.
    public static func any(_ items: [RowPredicate]) -> RowPredicate {
        var kept: [RowPredicate] = []
        for item in items {
            switch item {
            case .constant(false): continue
            case .constant(true): return .always
            case .or(let inner): kept += inner
            default: if !kept.contains(item) { kept.append(item) }
            }
        }
        return kept.isEmpty ? .never : kept.count == 1 ? kept[0] : .or(kept)
    }

    public static func negation(_ item: RowPredicate) -> RowPredicate {
        switch item {
        case .constant(let value): .constant(!value)
        case .not(let inner): inner
        default: .not(item)
        }
    }
}

// MARK: - Resolution for one user

/// What a predicate's user functions need to know about the user.
public struct PredicateUser: Sendable, Equatable {
    public var username: String
    public var groups: Set<String>
    public var attributes: AttributeMap

    public init(username: String, groups: Set<String>, attributes: AttributeMap) {
        self.username = username
        self.groups = groups
        self.attributes = attributes
    }
}

extension RowPredicate {
    /// The predicate with every user function replaced by what it means for `user`, and `@columnTagged` by the
    /// column it names in `columns`. Nil when a name cannot be resolved (no column carries the tag, or a column
    /// is not in `columns`): the caller fails closed.
    public func resolved(for user: PredicateUser, columns: [PolicyColumn]) -> RowPredicate? {
        func operand(_ value: PredicateOperand) -> PredicateOperand? {
            switch value {
            case .username:
                return .string(user.username)
            case .columnTagged(let tag):
                return columns.first { $0.isTagged(tag) }.map { .column($0.name) }
            case .column(let name):
                return columns.named(name).map { .column($0.name) }
            default:
                return value
            }
        }
        func membership(_ value: PredicateOperand, _ names: [String]) -> RowPredicate? {
            guard let resolved = operand(value) else { return nil }
            return names.isEmpty ? .never : .inList(resolved, names.sorted().map(PredicateOperand.string), negated: false)
        }
        switch self {
        case .constant:
            return self
        case .and(let items):
            var resolvedItems: [RowPredicate] = []
            for item in items {
                guard let value = item.resolved(for: user, columns: columns) else { return nil }
                resolvedItems.append(value)
            }
            return .all(resolvedItems)
        case .or(let items):
            var resolvedItems: [RowPredicate] = []
            for item in items {
                guard let value = item.resolved(for: user, columns: columns) else { return nil }
                resolvedItems.append(value)
            }
            return .any(resolvedItems)
        case .not(let item):
            return item.resolved(for: user, columns: columns).map(RowPredicate.negation)
        case .compare(let left, let op, let right):
            guard let left = operand(left), let right = operand(right) else { return nil }
            return .compare(left, op, right)
        case .isNull(let value, let negated):
            return operand(value).map { .isNull($0, negated: negated) }
        case .truthy(let value):
            return operand(value).map { .truthy($0) }
        case .inList(let value, let items, let negated):
            guard let value = operand(value) else { return nil }
            var resolvedItems: [PredicateOperand] = []
            for item in items {
                guard let resolvedItem = operand(item) else { return nil }
                resolvedItems.append(resolvedItem)
            }
            return .inList(value, resolvedItems, negated: negated)
        case .like(let value, let pattern, let negated):
            guard let value = operand(value), let pattern = operand(pattern) else { return nil }
            return .like(value, pattern: pattern, negated: negated)
        case .between(let value, let low, let high, let negated):
            guard let value = operand(value), let low = operand(low), let high = operand(high) else { return nil }
            return .between(value, low, high, negated: negated)
        case .userHasAttribute(let key, let value):
            let values = user.attributes[key] ?? []
            return .constant(value.map(values.contains) ?? !values.isEmpty)
        case .userInGroups(let names):
            return .constant(names.allSatisfy(user.groups.contains))
        case .attributeValuesContain(let key, let value):
            return membership(value, user.attributes[key] ?? [])
        case .groupsContain(let value):
            return membership(value, Array(user.groups))
        }
    }
}

// MARK: - Canonical text

extension PredicateOperand: CustomStringConvertible {
    /// SQL-like text: names double-quoted, strings single-quoted with quotes doubled.
    public var description: String {
        switch self {
        case .column(let name): "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        case .columnTagged(let tag): "@columnTagged(" + RowPredicate.quoted(tag.value) + ")"
        case .string(let text): RowPredicate.quoted(text)
        case .number(let text): text
        case .bool(let value): value ? "TRUE" : "FALSE"
        case .null: "NULL"
        case .username: "@username"
        }
    }
}

extension RowPredicate: CustomStringConvertible {
    /// Canonical text, fully parenthesised where it nests, so that equal trees print equally (golden tests read it).
    public var description: String {
        switch self {
        case .constant(let value): value ? "TRUE" : "FALSE"
        case .and(let items): "(" + items.map(\.description).joined(separator: " AND ") + ")"
        case .or(let items): "(" + items.map(\.description).joined(separator: " OR ") + ")"
        case .not(let item): "NOT " + item.description
        case .compare(let left, let op, let right): "\(left) \(op.rawValue) \(right)"
        case .isNull(let value, let negated): "\(value) IS \(negated ? "NOT " : "")NULL"
        case .inList(let value, let items, let negated):
            "\(value) \(negated ? "NOT " : "")IN (" + items.map(\.description).joined(separator: ", ") + ")"
        case .like(let value, let pattern, let negated): "\(value) \(negated ? "NOT " : "")LIKE \(pattern)"
        case .between(let value, let low, let high, let negated): "\(value) \(negated ? "NOT " : "")BETWEEN \(low) AND \(high)"
        case .truthy(let value): value.description
        case .userHasAttribute(let key, let value):
            "@hasAttribute(" + ([key] + (value.map { [$0] } ?? [])).map(Self.quoted).joined(separator: ", ") + ")"
        case .userInGroups(let names): "@isInGroups(" + names.map(Self.quoted).joined(separator: ", ") + ")"
        case .attributeValuesContain(let key, let value): "@attributeValuesContains(\(Self.quoted(key)), \(value))"
        case .groupsContain(let value): "@groupsContains(\(value))"
        }
    }

    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
