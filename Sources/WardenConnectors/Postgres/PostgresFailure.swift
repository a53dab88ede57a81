import Foundation
import PostgresNIO
import WardenDomain

/// Translates what PostgresNIO, SwiftNIO and the deadline throw into `WarehouseError`s.
enum PostgresFailure {
    /// Whether a failure means the warehouse cannot be reached with these settings at all (as opposed to
    /// one query failing), so the pool should be checked again before it is trusted.
    static func isConnectionFailure(_ error: WardenError) -> Bool {
        [WardenError.Code.warehouseUnreachable, .warehouseAuthenticationFailed, .warehouseDatabaseNotFound, .warehouseTlsFailed,
         .warehouseTimeout].contains(error.code)
    }

    /// - Parameters:
    ///   - connecting: whether the failure happened before a connection was in hand; errors nobody
    ///     recognises then mean the warehouse could not be reached rather than that a query failed.
    static func wardenError(for error: any Error, settings: ConnectionSettings, connecting: Bool) -> WardenError {
        switch error {
        case let error as WardenError:
            return error
        case let error as DeadlineExceeded:
            return WarehouseError.timeout(settings, after: error.limit)
        case let error as PSQLError:
            return wardenError(for: error, settings: settings, connecting: connecting)
        default:
            if let transport = transportError(error, settings: settings) { return transport }
            return connecting
                ? WarehouseError.unreachable(settings, reason: "no connection could be opened (\(describe(error)))", cause: error)
                : WarehouseError.queryFailed(settings, reason: describe(error), cause: error)
        }
    }

    /// SQLSTATE classes of statements that fail the same way however often they run: feature not supported (0A),
    /// data exceptions (22), integrity constraints (23), dependent objects (2B), syntax and access rules (42).
    static let permanentClasses: Set<String> = ["0A", "22", "23", "2B", "42"]

    private static func wardenError(for error: PSQLError, settings: ConnectionSettings, connecting: Bool) -> WardenError {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "the server reported an error without a message"
            switch state {
            case "28P01", "28000":  // invalid_password, invalid_authorization_specification (pg_hba refusal)
                return WarehouseError.authenticationFailed(settings, cause: error)
            case "3D000":  // invalid_catalog_name
                return WarehouseError.databaseNotFound(settings, cause: error)
            case "53300", "57P03":  // too_many_connections, cannot_connect_now (starting up, shutting down)
                return WarehouseError.unreachable(settings, reason: WarehouseError.scrub(message, of: settings), cause: error)
            case let state where permanentClasses.contains(String(state.prefix(2))):
                // The statement itself is refused (and would be again): no retry, and the server's detail, which names
                // for example the objects that depend on a view.
                let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
                return WarehouseError.queryRefused(settings, reason: message + detail, cause: error)
            default:
                return WarehouseError.queryFailed(settings, reason: message, cause: error)
            }
        case .sslUnsupported:
            return WarehouseError.tlsFailed(settings, reason: "the warehouse does not accept TLS connections", cause: error)
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return WarehouseError.tlsFailed(settings, reason: "the TLS handshake could not start (\(error.code))", cause: error)
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return WarehouseError.authenticationFailed(
                settings, detail: "the warehouse asked for an authentication method Warden could not complete (\(error.code))",
                cause: error)
        case .connectionError, .serverClosedConnection, .uncleanShutdown:
            if let underlying = error.underlying, let transport = transportError(underlying, settings: settings) {
                return transport
            }
            let reason = error.code == .connectionError
                ? (error.underlying.map(describe) ?? "the connection failed")
                : "the warehouse closed the connection"
            return connecting
                ? WarehouseError.unreachable(settings, reason: reason, cause: error)
                : WarehouseError.queryFailed(settings, reason: "the connection was lost: \(reason)", cause: error)
        case .poolClosed:
            return WarehouseError.unreachable(settings, reason: "the connection pool was closed", cause: error)
        case .queryCancelled:
            return WarehouseError.queryFailed(settings, reason: "the query was cancelled", cause: error)
        default:
            let underlying = error.underlying.map { ": \(describe($0))" } ?? ""
            return WarehouseError.queryFailed(settings, reason: "PostgreSQL protocol error \(error.code)\(underlying)", cause: error)
        }
    }

    /// Network and TLS errors, however deeply PostgresNIO wrapped them.
    private static func transportError(_ error: any Error, settings: ConnectionSettings) -> WardenError? {
        switch error {
        case ChannelError.connectTimeout(let limit):
            return WarehouseError.timeout(settings, after: .nanoseconds(limit.nanoseconds))
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                return WarehouseError.unreachable(settings, reason: "the host name could not be resolved", cause: error)
            }
            let reasons = error.connectionErrors.map { describe($0.error) }
            let reason = Array(Set(reasons)).sorted().joined(separator: "; ")
            return WarehouseError.unreachable(settings, reason: reason.isEmpty ? "the connection failed" : reason, cause: error)
        case let error as IOError:
            return WarehouseError.unreachable(settings, reason: describe(error), cause: error)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return WarehouseError.tlsFailed(settings, reason: "the warehouse's certificate is not valid for \(settings.hostname)",
                                            cause: error)
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            let text = String(describing: error)
            let reason = text.contains("CERTIFICATE_VERIFY_FAILED")
                ? "the warehouse's certificate could not be verified: it is not signed by a trusted authority, has expired, "
                    + "or does not name \(settings.hostname)"
                : "the TLS handshake failed (\(text))"
            return WarehouseError.tlsFailed(settings, reason: reason, cause: error)
        case let error as PSQLError:
            return wardenError(for: error, settings: settings, connecting: true)
        default:
            return nil
        }
    }

    /// A short reason: the system's words for an errno ("Connection refused"), else the error's description.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        return String(describing: error)
    }
}
