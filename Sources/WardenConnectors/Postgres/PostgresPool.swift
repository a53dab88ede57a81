import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import WardenDomain

/// One warehouse's bounded connection pool (a `PostgresClient`) and the rules for using it: every
/// operation runs under a deadline, and errors come out as `WarehouseError`s.
///
/// A `PostgresClient` whose connections cannot be opened does not say why: it queues the request and
/// retries in the background until a circuit breaker trips a minute later. So before a pool is trusted
/// (when new, and again after a failure that looked like a connection problem) one connection is opened
/// directly, outside the pool; its error, if any, is the precise one (wrong password, TLS, refused …),
/// reported at once. A pool whose check fails is retired by its owner, which stops the retries.
final class PostgresPool: Sendable {
    let settings: ConnectionSettings
    let client: PostgresClient
    private let connectTimeout: Duration
    private let operationTimeout: Duration
    private let checkConfiguration: PostgresConnection.Configuration
    private let logger: Logger
    private let verified = NIOLockedValueBox(false)
    private let retired = NIOLockedValueBox<RetireReason?>(nil)
    /// Called when the check fails, so the owner can drop the pool.
    private let onBroken: @Sendable (PostgresPool) -> Void

    /// - Throws: `warehouse.tls_failed` when the trusted certificates cannot be read.
    init(settings: ConnectionSettings, connectTimeout: Duration, operationTimeout: Duration, maxConnections: Int,
         logger: Logger, onBroken: @escaping @Sendable (PostgresPool) -> Void) throws(WardenError) {
        self.settings = settings
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.logger = logger
        self.onBroken = onBroken

        let clientTLS: PostgresClient.Configuration.TLS
        let connectionTLS: PostgresConnection.Configuration.TLS
        if settings.ssl {
            let tls = try Self.tlsConfiguration(settings)
            do {
                connectionTLS = .require(try NIOSSLContext(configuration: tls))
            } catch {
                throw WarehouseError.tlsFailed(settings, reason: "the TLS configuration is invalid (\(error))", cause: error)
            }
            clientTLS = .require(tls)
        } else {
            clientTLS = .disable
            connectionTLS = .disable
        }

        var configuration = PostgresClient.Configuration(
            host: settings.hostname, port: settings.port, username: settings.username,
            password: settings.password, database: settings.database, tls: clientTLS)
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maxConnections
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)

        var check = PostgresConnection.Configuration(
            host: settings.hostname, port: settings.port, username: settings.username,
            password: settings.password, database: settings.database, tls: connectionTLS)
        check.options.connectTimeout = TimeAmount(connectTimeout)
        checkConfiguration = check
    }

    /// TLS that verifies the certificate chain and the host name: against exactly the given
    /// certificates when there are some, else against the system's roots.
    private static func tlsConfiguration(_ settings: ConnectionSettings) throws(WardenError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if !settings.trustedCertificates.isEmpty {
            do {
                let certificates = try settings.trustedCertificates.flatMap { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) }
                guard !certificates.isEmpty else {
                    throw WarehouseError.tlsFailed(settings, reason: "the trusted certificates contain no PEM certificate")
                }
                tls.trustRoots = .certificates(certificates)
            } catch let error as WardenError {
                throw error
            } catch {
                throw WarehouseError.tlsFailed(settings, reason: "the trusted certificates are not valid PEM (\(error))", cause: error)
            }
        }
        return tls
    }

    /// Whether the owner dropped this pool to make room or to shut down (its client no longer runs), as
    /// opposed to because the warehouse failed; calls cut short by that may be tried again on a new pool.
    var wasEvicted: Bool { retired.withLockedValue { $0 == .evicted } }

    enum RetireReason { case evicted, broken }

    /// Records why the owner dropped the pool; the first reason sticks.
    func retire(_ reason: RetireReason) {
        retired.withLockedValue { $0 = $0 ?? reason }
    }

    /// Runs `body` on a pooled connection within the operation deadline.
    ///
    /// - Throws: a `WarehouseError` for every failure, or `CancellationError` when the caller was cancelled.
    func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let connected = NIOLockedValueBox(false)
        do {
            return try await withDeadline(operationTimeout) { [self] in
                if !verified.withLockedValue({ $0 }) {
                    try await check()
                    verified.withLockedValue { $0 = true }
                }
                do {
                    return try await onPooledConnection(connected: connected, body)
                } catch let error as PSQLError where Self.isLostConnection(error) && !Task.isCancelled {
                    // A pooled connection the server (or a network middlebox) closed while it sat idle
                    // fails on first use; every operation is a read, so one more try is safe.
                    return try await onPooledConnection(connected: connected, body)
                }
            }
        } catch let error as CancellationError where Task.isCancelled {
            throw error
        } catch {
            let isConnected = connected.withLockedValue { $0 }
            let mapped = PostgresFailure.wardenError(for: error, settings: settings, connecting: !isConnected)
            if !isConnected, PostgresFailure.isConnectionFailure(mapped) {
                // The pool could not hand out a connection in time: look again before using it next.
                verified.withLockedValue { $0 = false }
            }
            logger.debug("Warehouse operation failed", metadata: [
                "warehouse": "\(settings.connectionString)", "error.code": "\(mapped.code)",
            ])
            throw mapped
        }
    }

    private func onPooledConnection<Result: Sendable>(
        connected: NIOLockedValueBox<Bool>, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            connected.withLockedValue { $0 = true }
            // A task is not interrupted by cancellation while it waits on the server, so a query the
            // deadline gives up on is stopped by closing its connection.
            let closing = NIOLockedValueBox(false)
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await withTaskCancellationHandler {
                    try await body(connection, logger)
                } onCancel: {
                    closing.withLockedValue { $0 = true }
                    let _: EventLoopFuture<Void> = connection.close()
                })
            } catch {
                result = .failure(error)
            }
            if closing.withLockedValue({ $0 }) {
                // Hand the connection back only once the pool has seen it close (its close callback runs
                // before ours), so that the next lease cannot pick the dying connection.
                try? await connection.closeFuture.get()
            }
            return try result.get()
        }
    }

    private static func isLostConnection(_ error: PSQLError) -> Bool {
        [.serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(error.code)
    }

    /// Opens and closes one connection outside the pool, so that a failure comes with its reason.
    private func check() async throws {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: checkConfiguration, id: Self.checkIDs.next(), logger: logger)
            try? await connection.close()
        } catch let error as CancellationError {
            throw error
        } catch {
            let mapped = PostgresFailure.wardenError(for: error, settings: settings, connecting: true)
            if PostgresFailure.isConnectionFailure(mapped) { onBroken(self) }
            throw mapped
        }
    }

    private static let checkIDs = CheckIDs()

    private final class CheckIDs: Sendable {
        private let last = NIOLockedValueBox(0)
        func next() -> Int { last.withLockedValue { $0 += 1; return $0 } }
    }
}
