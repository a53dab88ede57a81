import Foundation
public import WardenDomain

/// The errors a warehouse connector reports: all `badRequest`, since they describe the connection
/// settings or the warehouse a client pointed Warden at, each with a stable code and a message that
/// names the host but never the password. An unreachable or slow warehouse, or a failed query, may pass
/// (`isTransient`); rejected credentials, a missing database, failed TLS and an unusable name will not.
public enum WarehouseError {

    public static func unreachable(_ settings: ConnectionSettings, reason: String, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseUnreachable,
                    message: "Could not connect to the warehouse at \(endpoint(settings)): \(reason)", cause: cause, isTransient: true)
    }

    public static func authenticationFailed(_ settings: ConnectionSettings, detail: String? = nil, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseAuthenticationFailed,
                    message: "The warehouse rejected the credentials of user \(settings.username)" + (detail.map { ": \($0)" } ?? ""),
                    cause: cause)
    }

    public static func databaseNotFound(_ settings: ConnectionSettings, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseDatabaseNotFound,
                    message: "The database \(settings.database) does not exist on the warehouse at \(endpoint(settings))", cause: cause)
    }

    public static func tlsFailed(_ settings: ConnectionSettings, reason: String, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseTlsFailed,
                    message: "TLS with the warehouse at \(endpoint(settings)) failed: \(reason)", cause: cause)
    }

    public static func timeout(_ settings: ConnectionSettings, after limit: Duration) -> WardenError {
        WardenError(.badRequest, code: .warehouseTimeout,
                    message: "The warehouse at \(endpoint(settings)) did not answer within \(describe(limit))", isTransient: true)
    }

    public static func queryFailed(_ settings: ConnectionSettings, reason: String, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseQueryFailed,
                    message: "The warehouse at \(endpoint(settings)) could not run a query: \(scrub(reason, of: settings))",
                    cause: cause, isTransient: true)
    }

    /// A statement the warehouse refuses for what it is, not for the moment it was sent: not retried.
    public static func queryRefused(_ settings: ConnectionSettings, reason: String, cause: (any Error)? = nil) -> WardenError {
        WardenError(.badRequest, code: .warehouseQueryFailed,
                    message: "The warehouse at \(endpoint(settings)) could not run a query: \(scrub(reason, of: settings))", cause: cause)
    }

    public static func invalidIdentifier(_ name: String) -> WardenError {
        WardenError(.badRequest, code: .warehouseInvalidIdentifier,
                    message: "\(String(reflecting: name)) cannot be used as a warehouse identifier: names must be 1 to "
                        + "\(SQLIdentifier.maxLength) bytes without control characters")
    }

    static func endpoint(_ settings: ConnectionSettings) -> String {
        // An IPv6 literal needs brackets to keep its colons apart from the port's.
        let host = settings.hostname.contains(":") ? "[\(settings.hostname)]" : settings.hostname
        return "\(host):\(settings.port)"
    }

    /// `1 second`, `10 seconds`, `1.5 seconds`.
    static func describe(_ limit: Duration) -> String {
        let (seconds, attoseconds) = limit.components
        if attoseconds == 0 { return seconds == 1 ? "1 second" : "\(seconds) seconds" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\((value * 1000).rounded() / 1000) seconds"
    }

    /// Server messages never contain the password, but nothing that reaches a client may, whatever a
    /// warehouse or driver decides to say: this is the last line of defence.
    static func scrub(_ text: String, of settings: ConnectionSettings) -> String {
        guard !settings.password.isEmpty else { return text }
        return text.replacingOccurrences(of: settings.password, with: "********")
    }
}
