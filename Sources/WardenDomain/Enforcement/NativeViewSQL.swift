import Foundation

/// The SELECT list and row filter of a data source's native view, with every policy decided at query time for the
/// querying user, in one `ViewDialect`. It follows `PolicyEvaluator` rule for rule, so what a user reads through the
/// view is what the evaluator decides for them; `oracle` renders one user's decision for the differential test that
/// holds the two to it. What depends on the user alone (their exceptions, groups, attributes, purposes) is a fact
/// the warehouse computes once per query; only masks and row conditions on values are computed per row.
public struct NativeViewSQL: Sendable {
    public var target: PolicyTarget
    /// `PolicyEvaluator.inForce`: earliest first.
    public var policies: [DataPolicy]
    public var dialect: any ViewDialect
    public var table = "t"

    public init(target: PolicyTarget, policies: [DataPolicy], dialect: any ViewDialect) {
        self.target = target
        self.policies = policies
        self.dialect = dialect
    }

    // MARK: Query time

    /// One expression per dictionary column, in order, each `AS` its quoted name.
    public func columns() -> [String] {
        var candidates: [String: [(claims: String, applies: String, method: MaskingMethod)]] = [:]
        for (policy, rule) in rules() {
            if case .notUnderstood(_, let names) = rule.action {
                for column in PolicyEvaluator.columns(named: names, global: policy.isGlobal, in: target) {
                    candidates[column.name, default: []].append(("TRUE", "TRUE", .null))
                }
                continue
            }
            if policy.isGlobal, !PolicyIndex.isAbout(target, rule.action) { continue }
            guard case .mask(let names, let method, let when) = rule.action else { continue }
            var claims = "(NOT \(exceptions(rule.exceptions)))"
            var applies = "TRUE"
            if let when, let rendered = PredicateSQL.render(when, table: table, columns: target.columns, user: .queryTime, dialect: dialect) {
                claims = "(\(claims) AND NOT \(folding(when).never))"
                applies = "COALESCE(\(rendered), FALSE)"
            }
            for column in PolicyEvaluator.columns(named: names, global: policy.isGlobal, in: target) {
                candidates[column.name, default: []].append((claims, applies, method.applies(to: column.dataType) ? method : .null))
            }
        }
        return target.columns.map { column in
            let raw = "\(table).\(SQLIdentifier.quoted(column.name))"
            guard let options = candidates[column.name] else { return "\(raw) AS \(SQLIdentifier.quoted(column.name))" }
            let asText = options.contains { Self.yieldsText($0.method) }
            func typed(_ expression: String) -> String { asText ? dialect.text(expression) : expression }
            let branches = options.map { option in
                "WHEN \(option.claims) THEN CASE WHEN \(option.applies) THEN \(typed(dialect.mask(option.method, raw: raw, column: column.name))) ELSE \(typed(raw)) END"
            }
            return "CASE \(branches.joined(separator: " ")) ELSE \(typed(raw)) END AS \(SQLIdentifier.quoted(column.name))"
        }
    }

    /// The rows the querying user sees: every row rule that applies to them, ANDed.
    public func filter() -> String {
        var parts: [String] = []
        for (policy, rule) in rules() {
            if case .notUnderstood(_, let names) = rule.action {
                if PolicyEvaluator.columns(named: names, global: policy.isGlobal, in: target).isEmpty { parts.append("FALSE") }
                continue
            }
            if policy.isGlobal, !PolicyIndex.isAbout(target, rule.action) { continue }
            let excepted = exceptions(rule.exceptions)
            let rows: String?
            switch rule.action {
            case .mask, .notUnderstood:
                rows = nil
            case .visibility(let op, let conditions):
                var items: [String] = []
                for condition in conditions {
                    guard let column = PolicyEvaluator.columns(named: [condition.column], global: policy.isGlobal, in: target).first else {
                        items = ["FALSE"]
                        break
                    }
                    let value = dialect.text("\(table).\(SQLIdentifier.quoted(column.name))")
                    switch condition {
                    case .attribute(let key, _): items.append(dialect.isValue(value, ofAttribute: key))
                    case .groups: items.append(dialect.isValue(value, ofAttribute: nil))
                    }
                }
                rows = items == ["FALSE"] ? "FALSE" : "(" + items.joined(separator: op == .and ? " AND " : " OR ") + ")"
            case .predicate(let predicate):
                if let rendered = PredicateSQL.render(predicate, table: table, columns: target.columns, user: .queryTime, dialect: dialect) {
                    rows = rendered
                } else {
                    rows = policy.isGlobal && predicate.namesOnlyMissingTags(in: target) ? nil : "FALSE"
                }
            case .time(let seconds, let newer, let name):
                if let name = name ?? target.eventTimeColumn, let column = target.columns.named(name), TypeFamily(column.dataType) == .time {
                    rows = dialect.timeWindow("\(table).\(SQLIdentifier.quoted(column.name))", seconds: seconds, newer: newer)
                } else {
                    rows = "FALSE"
                }
            case .minimization(let percent, let name):
                if let name = name ?? target.highCardinalityColumn, let column = target.columns.named(name) {
                    rows = dialect.sample("\(table).\(SQLIdentifier.quoted(column.name))", percent: percent)
                } else {
                    rows = "FALSE"
                }
            case .prerequisite(let op, let purposes):
                rows = "(" + purposes.map(dialect.actsUnder).joined(separator: op == .and ? " AND " : " OR ") + ")"
            }
            if let rows { parts.append("(\(excepted) OR \(rows))") }
        }
        return parts.isEmpty ? "TRUE" : parts.joined(separator: " AND ")
    }

    // MARK: One user's decision, for the differential test

    /// The columns and filter of `decision` for one user, with nothing left to decide at query time.
    public static func oracle(_ decision: PolicyDecision, target: PolicyTarget, dialect: any ViewDialect, table: String = "t") -> (columns: [String], filter: String) {
        let nobody = PredicateUser(username: "", groups: [], attributes: [:])
        func render(_ predicate: RowPredicate) -> String? {
            PredicateSQL.render(predicate, table: table, columns: target.columns, user: .resolved(nobody), dialect: dialect)
        }
        let columns = target.columns.map { column -> String in
            let raw = "\(table).\(SQLIdentifier.quoted(column.name))"
            guard let mask = decision.mask(of: column.name) else { return "\(raw) AS \(SQLIdentifier.quoted(column.name))" }
            func typed(_ expression: String) -> String { yieldsText(mask.method) ? dialect.text(expression) : expression }
            let masked = typed(dialect.mask(mask.method, raw: raw, column: column.name))
            let expression = mask.condition.flatMap(render).map { "CASE WHEN COALESCE(\($0), FALSE) THEN \(masked) ELSE \(typed(raw)) END" } ?? masked
            return "\(expression) AS \(SQLIdentifier.quoted(column.name))"
        }
        var parts = [render(decision.rowFilter) ?? "FALSE"]
        parts += decision.samples.map { dialect.sample("\(table).\(SQLIdentifier.quoted($0.column))", percent: $0.percent) }
        parts += decision.timeWindows.map { dialect.timeWindow("\(table).\(SQLIdentifier.quoted($0.column))", seconds: $0.seconds, newer: $0.newer) }
        return (columns, parts.joined(separator: " AND "))
    }

    // MARK: Pieces

    func rules() -> [(DataPolicy, PolicyRule)] {
        policies.flatMap { policy in policy.entries.flatMap(\.rules).map { (policy, $0) } }
    }

    /// Whether the querying user meets `exceptions`: never NULL.
    func exceptions(_ exceptions: PolicyExceptions?) -> String {
        guard let exceptions, !exceptions.conditions.isEmpty else { return "FALSE" }
        let items = exceptions.conditions.map { condition -> String in
            switch condition {
            case .group(let name): dialect.inGroups([name])
            case .attribute(let key, let value): dialect.hasAttribute(key, value: value)
            case .purpose(let purpose): dialect.actsUnder(purpose)
            case .notUnderstood: "FALSE"
            }
        }
        return "(" + items.joined(separator: exceptions.op == .and ? " AND " : " OR ") + ")"
    }

    /// Whether `predicate`, resolved for the querying user, folds to the constant FALSE (`never`) or TRUE (`always`),
    /// as `RowPredicate.resolved(for:columns:)` folds it: never NULL.
    func folding(_ predicate: RowPredicate) -> (never: String, always: String) {
        func both(_ value: String) -> (never: String, always: String) { ("(NOT \(value))", value) }
        switch predicate {
        case .constant(let value):
            return value ? ("FALSE", "TRUE") : ("TRUE", "FALSE")
        case .userHasAttribute, .userInGroups:
            return both(PredicateSQL.render(predicate, table: table, columns: target.columns, user: .queryTime, dialect: dialect) ?? "FALSE")
        case .attributeValuesContain(let key, _):
            return (dialect.hasNoValues(ofAttribute: key), "FALSE")
        case .groupsContain:
            return (dialect.hasNoValues(ofAttribute: nil), "FALSE")
        case .and(let items):
            let folded = items.map(folding)
            return ("(" + (["FALSE"] + folded.map(\.never)).joined(separator: " OR ") + ")",
                    "(" + (["TRUE"] + folded.map(\.always)).joined(separator: " AND ") + ")")
        case .or(let items):
            let folded = items.map(folding)
            return ("(" + (["TRUE"] + folded.map(\.never)).joined(separator: " AND ") + ")",
                    "(" + (["FALSE"] + folded.map(\.always)).joined(separator: " OR ") + ")")
        case .not(let item):
            let folded = folding(item)
            return (folded.always, folded.never)
        case .compare, .isNull, .inList, .like, .between, .truthy:
            return ("FALSE", "FALSE")
        }
    }

    static func yieldsText(_ method: MaskingMethod) -> Bool {
        switch method {
        case .hash, .constant, .regex, .reversible: true
        case .null, .bucket, .truncate: false
        }
    }
}
