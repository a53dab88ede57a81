import PostgresNIO
import SQLiteNIO

/// Recognises database errors that are the caller's doing rather than the server's.
enum DatabaseErrors {
    /// A generic message when `error` is a unique-constraint violation, else nil.
    /// Stores that know which constraint can throw a more specific conflict themselves.
    static func uniqueViolation(_ error: any Error) -> String? {
        if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505" {
            return "A record with the same unique value already exists"
        }
        if let error = error as? SQLiteError {
            switch error.reason {
            case .constraintUniqueFailed, .constraintPrimaryKeyFailed:
                return "A record with the same unique value already exists"
            case .constraint where error.message.contains("UNIQUE"):
                return "A record with the same unique value already exists"
            default:
                return nil
            }
        }
        return nil
    }

    static func isUniqueViolation(_ error: any Error) -> Bool { uniqueViolation(error) != nil }
}
