import Foundation

/// Amazon Redshift. Redshift has no arrays or jsonb in views, so the querying user's facts are rows of
/// `warden_system` (`subjects`, `subject_groups`, `subject_attributes`, `purposes`) read by uncorrelated subqueries
/// for `CURRENT_USER`. Masks Redshift cannot compute fail closed to NULL: Reversible (no AES), and a regular
/// expression that replaces only the first match (`REGEXP_REPLACE` replaces every match). Hashing is
/// `SHA2(salt ‖ value, 256)` with the source's salt: Redshift has no HMAC, so its hashes differ from PostgreSQL's.
///
/// Redshift reads a backslash in a string literal as an escape: literals double both quotes and backslashes.
public struct RedshiftDialect: ViewDialect {
    public static let systemSchema = "warden_system"
    public var dataSourceId: Int64

    public init(dataSourceId: Int64) {
        self.dataSourceId = dataSourceId
    }

    public static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    public func literal(_ text: String) -> String { Self.literal(text) }

    /// `VARCHAR` alone is `VARCHAR(256)` on Redshift, which would cut values.
    public func text(_ expression: String) -> String { "CAST(\(expression) AS VARCHAR(65535))" }

    func rows(_ table: String, alias: String, _ conditions: [String] = []) -> String {
        "FROM \(Self.systemSchema).\(table) \(alias) WHERE " + (["\(alias).role_name = CURRENT_USER"] + conditions).joined(separator: " AND ")
    }

    func attributeRows(_ key: String?) -> String {
        key.map { rows("subject_attributes", alias: "a", ["a.attribute_key = \(literal($0))"]) } ?? rows("subject_groups", alias: "a")
    }

    public var userKnown: String { "EXISTS (SELECT 1 \(rows("subjects", alias: "s")))" }

    public var username: String { "(SELECT s.username \(rows("subjects", alias: "s")))" }

    public func inGroups(_ groups: [String]) -> String {
        "(" + (["TRUE"] + groups.map { "EXISTS (SELECT 1 \(rows("subject_groups", alias: "g", ["g.group_name = \(literal($0))"])))" })
            .joined(separator: " AND ") + ")"
    }

    public func hasAttribute(_ key: String, value: String?) -> String {
        var conditions = ["a.attribute_key = \(literal(key))"]
        if let value { conditions.append("a.attribute_value = \(literal(value))") }
        return "EXISTS (SELECT 1 \(rows("subject_attributes", alias: "a", conditions)))"
    }

    public func hasNoValues(ofAttribute key: String?) -> String {
        "(NOT EXISTS (SELECT 1 \(attributeRows(key))))"
    }

    public func isValue(_ value: String, ofAttribute key: String?) -> String {
        "(\(value) IN (SELECT a.\(key == nil ? "group_name" : "attribute_value") \(attributeRows(key))))"
    }

    public func actsUnder(_ purpose: String) -> String {
        let prefix = purpose + "."
        return "EXISTS (SELECT 1 " + rows("purposes", alias: "p", ["p.data_source_id = \(dataSourceId)",
            "(p.purpose = \(literal(purpose)) OR LEFT(p.purpose, \(prefix.unicodeScalars.count)) = \(literal(prefix)))"]) + ")"
    }

    public func mask(_ method: MaskingMethod, raw: String, column: String) -> String {
        switch method {
        case .hash:
            let salt = "(SELECT k.salt FROM \(Self.systemSchema).source_keys k WHERE k.data_source_id = \(dataSourceId))"
            return "SHA2(\(salt) || \(text(raw)), 256)"
        case .null, .reversible: return "NULL"
        case .constant(let value): return literal(value)
        case .regex(let pattern, let replacement, let global, let caseInsensitive):
            guard global else { return "NULL" }
            return "REGEXP_REPLACE(\(text(raw)), \(literal(pattern)), \(literal(replacement)), 1, \(literal(caseInsensitive ? "i" : "c")))"
        case .bucket(let size): return "(FLOOR(CAST(\(raw) AS DOUBLE PRECISION) / \(Self.number(size))) * \(Self.number(size)))"
        case .truncate(let precision): return "DATE_TRUNC(\(literal(precision.rawValue)), \(raw))"
        }
    }

    public func timeWindow(_ column: String, seconds: Int, newer: Bool) -> String {
        "(\(column) \(newer ? ">" : "<=") DATEADD(second, \(-seconds), GETDATE()))"
    }

    /// The first 32 bits of the value's MD5, modulo 100, as on PostgreSQL.
    public func sample(_ column: String, percent: Int) -> String {
        "((STRTOL(SUBSTRING(MD5(\(text(column))), 1, 8), 16) % 100) < \(percent))"
    }
}
