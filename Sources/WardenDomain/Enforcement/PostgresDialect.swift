import Foundation

/// PostgreSQL. The querying user's facts are one row of `user`, a FROM item with the columns `username text`,
/// `groups text[]`, `attributes jsonb` (`{"Key": ["value", …]}`) and `purposes text[]` (those that count for the
/// source); every fact is a scalar subquery over it, which PostgreSQL runs once per query as an initPlan. Masks that
/// need keys read them from `keys`, bytea expressions (in a view: scalar subqueries over `warden_system`, never the
/// keys themselves).
///
/// String literals are standard-conforming (`'…'` with quotes doubled): the connection that creates a view must run
/// with `standard_conforming_strings = on`, PostgreSQL's default.
public struct PostgresDialect: ViewDialect {
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

    public var user: String
    public var keys: Keys

    public init(user: String, keys: Keys) {
        self.user = user
        self.keys = keys
    }

    public static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    public func literal(_ text: String) -> String { Self.literal(text) }

    public func text(_ expression: String) -> String { "CAST(\(expression) AS text)" }

    /// `expression` over the user's row `w`, computed once per query.
    func fact(_ expression: String) -> String { "(SELECT \(expression) FROM \(user) w)" }

    func values(_ key: String?) -> String {
        key.map { "ARRAY(SELECT jsonb_array_elements_text(w.attributes -> \(literal($0))))" } ?? "w.groups"
    }

    public var userKnown: String { "EXISTS (SELECT 1 FROM \(user) w)" }

    public var username: String { fact("w.username") }

    public func inGroups(_ groups: [String]) -> String {
        "COALESCE(\(fact("w.groups @> ARRAY[\(groups.map(literal).joined(separator: ", "))]::text[]")), FALSE)"
    }

    public func hasAttribute(_ key: String, value: String?) -> String {
        let values = "(w.attributes -> \(literal(key)))"
        return "COALESCE(\(fact(value.map { "\(values) ? \(literal($0))" } ?? "jsonb_array_length(\(values)) > 0")), FALSE)"
    }

    public func hasNoValues(ofAttribute key: String?) -> String {
        "(COALESCE(\(fact("cardinality(\(values(key)))")), 0) = 0)"
    }

    public func isValue(_ value: String, ofAttribute key: String?) -> String {
        // `= ANY` of one array, not `IN (subquery)`: the array is computed once, and an index on the column serves it.
        "(\(value) = ANY(COALESCE(\(fact(values(key))), '{}'::text[])))"
    }

    public func actsUnder(_ purpose: String) -> String {
        let below = "EXISTS (SELECT 1 FROM unnest(w.purposes) AS p (name) WHERE p.name = \(literal(purpose)) "
            + "OR starts_with(p.name, \(literal(purpose + "."))))"
        return "COALESCE(\(fact(below)), FALSE)"
    }

    public func mask(_ method: MaskingMethod, raw: String, column: String) -> String {
        let text = text(raw)
        switch method {
        case .hash: return MaskSQL.postgresHash(value: text, salt: keys.salt)
        case .null: return "NULL"
        case .constant(let value): return literal(value)
        case .regex(let pattern, let replacement, let global, let caseInsensitive):
            if global, replacement.unicodeScalars.count == 1, replacement != "\\", let set = MaskSQL.characterClass(pattern, caseInsensitive: caseInsensitive) {
                // Each match is one character of the set: the same result as the regular expression, several times faster.
                return "translate(\(text), \(literal(String(set))), \(literal(String(repeating: replacement, count: set.count))))"
            }
            let flags = (global ? "g" : "") + (caseInsensitive ? "i" : "")
            return "regexp_replace(\(text), \(literal(pattern)), \(literal(replacement)), \(literal(flags)))"
        case .bucket(let size): return "(floor(CAST(\(raw) AS numeric) / \(Self.number(size))) * \(Self.number(size)))"
        case .truncate(let precision): return "date_trunc(\(literal(precision.rawValue)), \(raw))"
        case .reversible: return MaskSQL.postgresReversible(value: text, column: column, encryptionKey: keys.encryptionKey, macKey: keys.macKey)
        }
    }

    public func timeWindow(_ column: String, seconds: Int, newer: Bool) -> String {
        "(\(column) \(newer ? ">" : "<=") now() - make_interval(secs => \(seconds)))"
    }

    /// The first 32 bits of the value's MD5, modulo 100.
    public func sample(_ column: String, percent: Int) -> String {
        "((('x' || substr(md5(\(text(column))), 1, 8))::bit(32)::bigint % 100) < \(percent))"
    }
}
