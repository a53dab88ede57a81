import Foundation

/// What a native view needs from one warehouse's SQL: how it writes a string, reads the querying user's facts from
/// `warden_system` at query time, and computes masks, time windows and samples. The rules that combine these
/// (`NativeViewSQL`, `PredicateSQL`) are the same for every dialect, so every dialect enforces the same decisions.
///
/// A user fact never refers to the table's rows: the warehouse computes it once per query (on PostgreSQL an initPlan),
/// not once per row.
public protocol ViewDialect: Sendable {
    func literal(_ text: String) -> String
    /// `expression` as text.
    func text(_ expression: String) -> String
    /// Whether the querying role belongs to a Warden user of this source (no: the view shows no rows).
    var userKnown: String { get }
    /// The querying user's Warden username, as text.
    var username: String { get }
    /// Whether the querying user is in every one of `groups`: never NULL.
    func inGroups(_ groups: [String]) -> String
    /// Whether the querying user holds attribute `key`, with `value` or (nil) with any value: never NULL.
    func hasAttribute(_ key: String, value: String?) -> String
    /// Whether the querying user holds no value of attribute `key`, or (nil) is in no group: never NULL.
    func hasNoValues(ofAttribute key: String?) -> String
    /// Whether the text expression `value` is one of the querying user's values of attribute `key`, or (nil) one of
    /// their groups, with the NULL semantics of `value IN (…)`.
    func isValue(_ value: String, ofAttribute key: String?) -> String
    /// Whether the querying user acts under `purpose` or one below it, for this source: never NULL.
    func actsUnder(_ purpose: String) -> String
    /// `method` applied to the column expression `raw` of `column`. A mask the warehouse cannot compute is NULL.
    func mask(_ method: MaskingMethod, raw: String, column: String) -> String
    /// Whether `column` (a time) lies within the last `seconds` (`newer`) or before them.
    func timeWindow(_ column: String, seconds: Int, newer: Bool) -> String
    /// A stable `percent` share of the rows, by the value of `column`.
    func sample(_ column: String, percent: Int) -> String
}

extension ViewDialect {
    /// A number as SQL: integral values without a fraction.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
