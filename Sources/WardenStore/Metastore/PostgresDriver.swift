import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's pooled client; several Warden instances may share one database.
final class PostgresDriver: MetastoreDriver {
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    private init(client: PostgresClient, runTask: Task<Void, Never>, logger: Logger) {
        self.client = client
        self.runTask = runTask
        self.logger = logger
    }

    /// Starts the client's pool and returns once it runs, so the first query does not race the pool's start.
    static func open(settings: PostgresSettings, logger: Logger) async -> PostgresDriver {
        let tls: PostgresClient.Configuration.TLS = switch settings.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username,
            password: settings.password, database: settings.database, tls: tls)
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.connectTimeout = .seconds(10)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // Detached: the pool must not inherit a caller's graceful-shutdown context; `close()` ends it.
        // The continuation resumes just before `run()` marks the pool as running, so the first lease does
        // not find it stopped.
        var runTask: Task<Void, Never>!
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            runTask = Task.detached {
                started.resume()
                await client.run()
            }
        }
        return PostgresDriver(client: client, runTask: runTask, logger: logger)
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(connection.sql(queryLogLevel: .trace))
        }
    }

    /// One transaction through PostgresNIO's `withTransaction`. It wraps whatever failed in a
    /// `PostgresTransactionError`; the body's own error (a `WardenError`, a conflict) is what callers act on, so
    /// that is what is thrown, then a failed COMMIT or BEGIN.
    func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(connection.sql(queryLogLevel: .trace))
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    func close() async {
        runTask.cancel()
        _ = await runTask.value
    }
}
