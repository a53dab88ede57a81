public import Foundation

/// What `GET /dataSource/{id}/test` found: each documented check, passed, failed (with what went wrong) or not run
/// (with why), and the overall status, which only the checks Warden runs decide.
public struct HealthReport: Sendable, Equatable {
    public struct Check: Sendable, Equatable {
        public enum Status: String, Sendable, Codable { case passed, failed, notRun }

        public var status: Status
        public var message: String
        public var lastAttempted: Date?

        public init(_ status: Status, _ message: String, lastAttempted: Date?) {
            self.status = status
            self.message = message
            self.lastAttempted = lastAttempted
        }

        public static func result(_ passed: Bool, _ message: String, at date: Date) -> Check {
            Check(passed ? .passed : .failed, message, lastAttempted: date)
        }

        public static func notRun(_ message: String) -> Check { Check(.notRun, message, lastAttempted: nil) }
    }

    public var sql: Check
    public var stats: Check
    public var columnEvolution: Check
    public var highCardinality: Check
    /// Documented checks Warden does not run yet: they say so rather than being absent.
    public var fingerprint = Check.notRun("Warden does not compute fingerprints")
    public var schemaEvolution = Check.notRun("Schema monitoring is not built yet")
    public var globalPolicy = Check.notRun("Not checked")
    /// Whether the warehouse holds the native view Warden maintains, unaltered, granted to exactly the subscribed roles.
    public var nativeView = Check.notRun("Not checked")
    public var attemptedAt: Date

    public init(sql: Check, stats: Check, columnEvolution: Check, highCardinality: Check, attemptedAt: Date) {
        self.sql = sql
        self.stats = stats
        self.columnEvolution = columnEvolution
        self.highCardinality = highCardinality
        self.attemptedAt = attemptedAt
    }

    /// Passed when every check Warden runs against the warehouse passed (the native view's, when it ran).
    public var passed: Bool {
        [sql, stats, columnEvolution].allSatisfy { $0.status == .passed } && nativeView.status != .failed
    }
}
