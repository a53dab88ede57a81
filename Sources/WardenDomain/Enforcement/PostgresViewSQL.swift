import Foundation

/// The SELECT list and row filter of a data source's native view on PostgreSQL, with every policy decided at query
/// time for the querying user (`warden_system`'s row joined as `u`: `username text, groups text[], attributes jsonb,
/// purposes text[]`, the purposes that count for this source). It follows `PolicyEvaluator` rule for rule, so what a
/// user reads through the view is what the evaluator decides for them; `oracle` renders one user's decision for the
/// differential test that holds the two to it.
public struct PostgresViewSQL: Sendable {
    /// The source's mask keys as bytea SQL expressions (read from `warden_system`, never written into a view).
    public struct Keys: Sendable {
        public var salt: String
        public var encryptionKey: String
        public var macKey: String

        public init(salt: String, encryptionKey: String, macKey: String) {
            self.salt = salt
            self.encryptionKey = encryptionKey
            self.macKey = macKey
        }
    }

    public var target: PolicyTarget
    /// `PolicyEvaluator.inForce`: earliest first.
    public var policies: [DataPolicy]
    public var keys: Keys
    public var table = "t"
    public var user = "u"

    public init(target: PolicyTarget, policies: [DataPolicy], keys: Keys) {
        self.target = target
        self.policies = policies
        self.keys = keys
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
            if let when, let rendered = PostgresPredicateSQL.render(when, table: table, columns: target.columns, user: .queryTime(alias: user)) {
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
            func typed(_ expression: String) -> String { asText ? "CAST(\(expression) AS text)" : expression }
            let branches = options.map { option in
                "WHEN \(option.claims) THEN CASE WHEN \(option.applies) THEN \(typed(mask(option.method, raw: raw, column: column.name))) ELSE \(typed(raw)) END"
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
                    let value = "CAST(\(table).\(SQLIdentifier.quoted(column.name)) AS text)"
                    switch condition {
                    case .attribute(let key, _):
                        items.append("(\(value) IN (SELECT jsonb_array_elements_text(COALESCE(\(user).attributes -> \(PostgresPredicateSQL.literal(key)), '[]'::jsonb))))")
                    case .groups:
                        items.append("(\(value) IN (SELECT unnest(\(user).groups)))")
                    }
                }
                rows = items == ["FALSE"] ? "FALSE" : "(" + items.joined(separator: op == .and ? " AND " : " OR ") + ")"
            case .predicate(let predicate):
                if let rendered = PostgresPredicateSQL.render(predicate, table: table, columns: target.columns, user: .queryTime(alias: user)) {
                    rows = rendered
                } else {
                    rows = policy.isGlobal && predicate.namesOnlyMissingTags(in: target) ? nil : "FALSE"
                }
            case .time(let seconds, let newer, let name):
                if let name = name ?? target.eventTimeColumn, let column = target.columns.named(name), TypeFamily(column.dataType) == .time {
                    rows = Self.timeWindow("\(table).\(SQLIdentifier.quoted(column.name))", seconds: seconds, newer: newer)
                } else {
                    rows = "FALSE"
                }
            case .minimization(let percent, let name):
                if let name = name ?? target.highCardinalityColumn, let column = target.columns.named(name) {
                    rows = Self.sample("\(table).\(SQLIdentifier.quoted(column.name))", percent: percent)
                } else {
                    rows = "FALSE"
                }
            case .prerequisite(let op, let purposes):
                rows = "(" + purposes.map(actsUnder).joined(separator: op == .and ? " AND " : " OR ") + ")"
            }
            if let rows { parts.append("(\(excepted) OR \(rows))") }
        }
        return parts.isEmpty ? "TRUE" : parts.joined(separator: " AND ")
    }

    // MARK: One user's decision, for the differential test

    /// The columns and filter of `decision` for one user, with nothing left to decide at query time.
    public static func oracle(_ decision: PolicyDecision, target: PolicyTarget, keys: Keys, table: String = "t") -> (columns: [String], filter: String) {
        let view = PostgresViewSQL(target: target, policies: [], keys: keys)
        let columns = target.columns.map { column -> String in
            let raw = "\(table).\(SQLIdentifier.quoted(column.name))"
            guard let mask = decision.mask(of: column.name) else { return "\(raw) AS \(SQLIdentifier.quoted(column.name))" }
            let nobody = PredicateUser(username: "", groups: [], attributes: [:])
            let condition = mask.condition.flatMap { PostgresPredicateSQL.render($0, table: table, columns: target.columns, user: .resolved(nobody)) }
            func typed(_ expression: String) -> String { yieldsText(mask.method) ? "CAST(\(expression) AS text)" : expression }
            let masked = typed(view.mask(mask.method, raw: raw, column: column.name))
            let expression = condition.map { "CASE WHEN COALESCE(\($0), FALSE) THEN \(masked) ELSE \(typed(raw)) END" } ?? masked
            return "\(expression) AS \(SQLIdentifier.quoted(column.name))"
        }
        let nobody = PredicateUser(username: "", groups: [], attributes: [:])
        var parts = [PostgresPredicateSQL.render(decision.rowFilter, table: table, columns: target.columns, user: .resolved(nobody)) ?? "FALSE"]
        parts += decision.samples.map { sample("\(table).\(SQLIdentifier.quoted($0.column))", percent: $0.percent) }
        parts += decision.timeWindows.map { timeWindow("\(table).\(SQLIdentifier.quoted($0.column))", seconds: $0.seconds, newer: $0.newer) }
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
            case .group(let name): "(\(PostgresPredicateSQL.literal(name)) = ANY(\(user).groups))"
            case .attribute(let key, let value?):
                "COALESCE((\(user).attributes -> \(PostgresPredicateSQL.literal(key))) ? \(PostgresPredicateSQL.literal(value)), FALSE)"
            case .attribute(let key, nil):
                "COALESCE(jsonb_array_length(\(user).attributes -> \(PostgresPredicateSQL.literal(key))) > 0, FALSE)"
            case .purpose(let purpose): actsUnder(purpose)
            case .notUnderstood: "FALSE"
            }
        }
        return "(" + items.joined(separator: exceptions.op == .and ? " AND " : " OR ") + ")"
    }

    /// Acting under `purpose` or one below it.
    func actsUnder(_ purpose: String) -> String {
        "EXISTS (SELECT 1 FROM unnest(\(user).purposes) AS p (name) WHERE p.name = \(PostgresPredicateSQL.literal(purpose)) "
            + "OR starts_with(p.name, \(PostgresPredicateSQL.literal(purpose + "."))))"
    }

    /// Whether `predicate`, resolved for the querying user, folds to the constant FALSE (`never`) or TRUE (`always`),
    /// as `RowPredicate.resolved(for:columns:)` folds it: never NULL.
    func folding(_ predicate: RowPredicate) -> (never: String, always: String) {
        func both(_ value: String) -> (never: String, always: String) { ("(NOT \(value))", value) }
        switch predicate {
        case .constant(let value):
            return value ? ("FALSE", "TRUE") : ("TRUE", "FALSE")
        case .userHasAttribute, .userInGroups:
            return both(PostgresPredicateSQL.render(predicate, table: table, columns: target.columns, user: .queryTime(alias: user)) ?? "FALSE")
        case .attributeValuesContain(let key, _):
            return ("(COALESCE(jsonb_array_length(\(user).attributes -> \(PostgresPredicateSQL.literal(key))), 0) = 0)", "FALSE")
        case .groupsContain:
            return ("(cardinality(\(user).groups) = 0)", "FALSE")
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

    func mask(_ method: MaskingMethod, raw: String, column: String) -> String {
        let text = "CAST(\(raw) AS text)"
        switch method {
        case .hash: return MaskSQL.postgresHash(value: text, salt: keys.salt)
        case .null: return "NULL"
        case .constant(let value): return PostgresPredicateSQL.literal(value)
        case .regex(let pattern, let replacement, let global, let caseInsensitive):
            let flags = (global ? "g" : "") + (caseInsensitive ? "i" : "")
            return "regexp_replace(\(text), \(PostgresPredicateSQL.literal(pattern)), \(PostgresPredicateSQL.literal(replacement)), "
                + "\(PostgresPredicateSQL.literal(flags)))"
        case .bucket(let size): return "(floor(CAST(\(raw) AS numeric) / \(Self.number(size))) * \(Self.number(size)))"
        case .truncate(let precision): return "date_trunc(\(PostgresPredicateSQL.literal(precision.rawValue)), \(raw))"
        case .reversible:
            return MaskSQL.postgresReversible(value: text, column: column, encryptionKey: keys.encryptionKey, macKey: keys.macKey)
        }
    }

    static func yieldsText(_ method: MaskingMethod) -> Bool {
        switch method {
        case .hash, .constant, .regex, .reversible: true
        case .null, .bucket, .truncate: false
        }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func timeWindow(_ column: String, seconds: Int, newer: Bool) -> String {
        "(\(column) \(newer ? ">" : "<=") now() - make_interval(secs => \(seconds)))"
    }

    /// A stable share of the rows: the first 32 bits of the value's MD5, modulo 100.
    static func sample(_ column: String, percent: Int) -> String {
        "((('x' || substr(md5(CAST(\(column) AS text)), 1, 8))::bit(32)::bigint % 100) < \(percent))"
    }
}
