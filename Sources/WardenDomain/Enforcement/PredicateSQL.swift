import Foundation

/// Renders row predicates as SQL of a `ViewDialect` for the native views. Every name is quoted and every value
/// written as a literal: a predicate is a parsed tree, never text pasted into SQL.
///
/// User functions are rendered one of two ways. `.resolved` writes what they mean for one user, as the evaluator
/// decides. `.queryTime` writes them as the dialect reads the querying user's facts from `warden_system`, so that one
/// view serves every user and a change of groups or attributes needs no new view. Both must select the same rows; a
/// differential test against PostgreSQL holds them to it.
public enum PredicateSQL {
    public enum User: Sendable {
        case resolved(PredicateUser)
        case queryTime
    }

    /// `predicate` over the table aliased `table`, or nil when a name cannot be resolved on `columns` (the caller
    /// fails closed).
    public static func render(_ predicate: RowPredicate, table: String, columns: [PolicyColumn], user: User, dialect: any ViewDialect) -> String? {
        switch user {
        case .resolved(let subject):
            guard let resolved = predicate.resolved(for: subject, columns: columns) else { return nil }
            return Renderer(table: table, columns: columns, dialect: dialect, queryTime: false).predicate(resolved)
        case .queryTime:
            return Renderer(table: table, columns: columns, dialect: dialect, queryTime: true).predicate(predicate)
        }
    }

    private struct Renderer {
        let table: String
        let columns: [PolicyColumn]
        let dialect: any ViewDialect
        /// False when user functions were resolved already.
        let queryTime: Bool

        func predicate(_ predicate: RowPredicate) -> String? {
            switch predicate {
            case .constant(let value):
                return value ? "TRUE" : "FALSE"
            case .and(let items):
                return joined(items, "AND", empty: "TRUE")
            case .or(let items):
                return joined(items, "OR", empty: "FALSE")
            case .not(let item):
                return self.predicate(item).map { "(NOT \($0))" }
            case .compare(let left, let op, let right):
                guard let left = operand(left), let right = operand(right) else { return nil }
                return "(\(left) \(op.rawValue) \(right))"
            case .isNull(let value, let negated):
                return operand(value).map { "(\($0) IS \(negated ? "NOT " : "")NULL)" }
            case .truthy(let value):
                return operand(value).map { "(\($0))" }
            case .inList(let value, let items, let negated):
                guard let value = operand(value) else { return nil }
                guard !items.isEmpty else { return negated ? "TRUE" : "FALSE" }
                var rendered: [String] = []
                for item in items {
                    guard let item = operand(item) else { return nil }
                    rendered.append(item)
                }
                return "(\(value) \(negated ? "NOT " : "")IN (\(rendered.joined(separator: ", "))))"
            case .like(let value, let pattern, let negated):
                guard let value = operand(value), let pattern = operand(pattern) else { return nil }
                return "(\(value) \(negated ? "NOT " : "")LIKE \(pattern))"
            case .between(let value, let low, let high, let negated):
                guard let value = operand(value), let low = operand(low), let high = operand(high) else { return nil }
                return "(\(value) \(negated ? "NOT " : "")BETWEEN \(low) AND \(high))"
            case .userHasAttribute(let key, let value):
                // An absent attribute is false, not NULL: under NOT it must show the row, as the evaluator decides.
                return queryTime ? dialect.hasAttribute(key, value: value) : nil
            case .userInGroups(let names):
                return queryTime ? dialect.inGroups(names) : nil
            case .attributeValuesContain(let key, let value):
                guard queryTime, let value = operand(value) else { return nil }
                return dialect.isValue(dialect.text(value), ofAttribute: key)
            case .groupsContain(let value):
                guard queryTime, let value = operand(value) else { return nil }
                return dialect.isValue(dialect.text(value), ofAttribute: nil)
            }
        }

        func joined(_ items: [RowPredicate], _ op: String, empty: String) -> String? {
            guard !items.isEmpty else { return empty }
            var rendered: [String] = []
            for item in items {
                guard let item = predicate(item) else { return nil }
                rendered.append(item)
            }
            return "(" + rendered.joined(separator: " \(op) ") + ")"
        }

        func operand(_ operand: PredicateOperand) -> String? {
            switch operand {
            case .column(let name):
                return columns.named(name).map { "\(table).\(SQLIdentifier.quoted($0.name))" }
            case .columnTagged(let tag):
                return columns.first { $0.isTagged(tag) }.map { "\(table).\(SQLIdentifier.quoted($0.name))" }
            case .string(let text):
                return dialect.literal(text)
            case .number(let text):
                // The parser admits digits, one point and a leading minus only; anything else is not a number here.
                guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-") }) else { return nil }
                return text
            case .bool(let value):
                return value ? "TRUE" : "FALSE"
            case .null:
                return "NULL"
            case .username:
                return queryTime ? dialect.username : nil
            }
        }
    }
}
