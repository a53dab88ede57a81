public import Logging
import AsyncHTTPClient
import NIOConcurrencyHelpers
import PostgresNIO
public import WardenDomain

/// The connector registry: hands out a connector per technology and keeps one bounded connection pool
/// per distinct warehouse connection.
///
/// Pools are keyed by the full `ConnectionSettings`, so changed credentials or TLS settings get a new
/// pool (the old one ages out). At most `maxWarehouses` pools are kept; beyond that the least recently
/// used is closed. A pool whose warehouse turns out unreachable or rejects the settings is closed at
/// once, so that it does not keep retrying in the background. Call `shutdown()` before exiting.
public final class WarehouseConnectors: ConnectorFactory, Sendable {
    private let logger: Logger
    private let connectTimeout: Duration
    private let operationTimeout: Duration
    private let maxConnectionsPerWarehouse: Int
    private let maxWarehouses: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        struct Entry {
            var pool: PostgresPool
            var lastUse: UInt64
        }

        var pools: [ConnectionSettings: Entry] = [:]
        /// Snowflake sessions, one per distinct connection: they live in the client, renewed when they expire.
        var snowflake: [ConnectionSettings: SnowflakeClient] = [:]
        /// Databricks clients, one per distinct connection: they hold an OAuth token between statements.
        var databricks: [ConnectionSettings: DatabricksClient] = [:]
        /// Every pool's `run()` task, including retired pools whose clients are still shutting down.
        var runs: [ObjectIdentifier: Task<Void, Never>] = [:]
        var useCounter: UInt64 = 0
        var isShutDown = false
    }

    /// - Parameters:
    ///   - connectTimeout: how long opening a connection (TCP, TLS and authentication) may take.
    ///   - operationTimeout: how long one operation may take, waiting for a connection included.
    ///   - maxConnectionsPerWarehouse: the size limit of each warehouse's pool.
    ///   - maxWarehouses: how many warehouses' pools are kept open at once.
    public init(logger: Logger, connectTimeout: Duration = .seconds(10), operationTimeout: Duration = .seconds(30),
                maxConnectionsPerWarehouse: Int = 4, maxWarehouses: Int = 64) {
        precondition(maxConnectionsPerWarehouse > 0 && maxWarehouses > 0, "pool limits must be positive")
        self.logger = logger
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.maxConnectionsPerWarehouse = maxConnectionsPerWarehouse
        self.maxWarehouses = maxWarehouses
    }

    public func connector(for settings: ConnectionSettings) throws -> any Connector {
        guard settings.technology.hasConnector else { throw settings.technology.missingConnector }
        switch settings.technology {
        case .redshift, .postgresql:
            _ = try pool(for: settings)
            return PostgresConnector(settings: settings, pools: self)
        case .snowflake:
            let client = state.withLockedValue { state in
                if let client = state.snowflake[settings] { return client }
                let client = SnowflakeClient(
                    settings: .init(hostname: settings.hostname, port: settings.port, useTLS: settings.ssl, username: settings.username,
                                    password: settings.password, database: settings.database, warehouse: settings.warehouse, role: settings.role,
                                    keyPair: settings.authenticationType == "keyPair"),
                    http: HTTPClient.shared, operationTimeout: .nanoseconds(Int64(operationTimeout.components.seconds) * 1_000_000_000),
                    logger: logger)
                state.snowflake[settings] = client
                return client
            }
            return SnowflakeConnector(client: client, database: settings.database)
        case .databricks:
            guard let warehouseId = settings.httpPath.flatMap(DatabricksPath.warehouseId) else {
                throw WardenError.badRequest("A Databricks connection needs `httpPath`, the SQL warehouse's HTTP path", code: .requestValidationFailed)
            }
            let client = state.withLockedValue { state in
                if let client = state.databricks[settings] { return client }
                let authentication: DatabricksClient.Authentication = settings.authenticationType == "oAuthM2M"
                    ? .oauth(clientId: settings.username, secret: settings.password) : .token(settings.password)
                let client = DatabricksClient(
                    settings: .init(hostname: settings.hostname, port: settings.port, useTLS: settings.ssl, warehouseId: warehouseId,
                                    authentication: authentication),
                    http: HTTPClient.shared, operationTimeout: operationTimeout, logger: logger)
                state.databricks[settings] = client
                return client
            }
            return DatabricksConnector(client: client, catalog: settings.database)
        case .trino, .asa:
            throw settings.technology.missingConnector
        }
    }

    /// How many warehouses currently have an open pool.
    public var openPoolCount: Int {
        state.withLockedValue { $0.pools.count }
    }

    /// Closes every pool and waits until their connections are closed, for at most `limit`. Connectors fail afterwards.
    public func shutdown(waitingAtMost limit: Duration = .seconds(10)) async {
        let runs = state.withLockedValue { state in
            state.isShutDown = true
            for entry in state.pools.values { entry.pool.retire(.evicted) }
            state.pools.removeAll()
            return Array(state.runs.values)
        }
        for run in runs { run.cancel() }
        // A cancelled `PostgresClient.run()` was seen not to return (a test server's shutdown waited on it for good,
        // every thread idle, no connection open): the wait is bounded, so that a shutdown always ends.
        if await !Self.wait(for: runs, atMost: limit) {
            logger.warning("warehouse connection pools did not stop within the shutdown's limit", metadata: ["pools": "\(runs.count)"])
        }
    }

    /// Whether every task ended within `limit`; a task still running is left to itself.
    static func wait(for tasks: [Task<Void, Never>], atMost limit: Duration) async -> Bool {
        let pending = NIOLockedValueBox<CheckedContinuation<Bool, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            pending.withLockedValue { $0 = continuation }
            let finish: @Sendable (Bool) -> Void = { ended in pending.withLockedValue { $0.take() }?.resume(returning: ended) }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { finish(false) }
            }
            Task {
                for task in tasks { await task.value }
                finish(true)
                timer.cancel()
            }
        }
    }

    /// The pool for these settings, created (and started) on first use.
    func pool(for settings: ConnectionSettings) throws(WardenError) -> PostgresPool {
        if let pool = try cachedPool(for: settings) { return pool }
        // Built outside the lock: reading the system's trust roots for TLS takes a moment, and other
        // warehouses need not wait for it. If another caller won the race, its pool is used and this
        // one, never started, is dropped.
        let candidate = try PostgresPool(
            settings: settings, connectTimeout: connectTimeout, operationTimeout: operationTimeout,
            maxConnections: maxConnectionsPerWarehouse, logger: logger,
            onBroken: { [weak self] pool in self?.drop(pool) })
        // NIOLockedValueBox's body rethrows untyped, so the typed error travels out in a Result.
        return try state.withLockedValue { state -> Result<PostgresPool, WardenError> in
            switch Result(catching: { () throws(WardenError) in try Self.touch(settings, in: &state) }) {
            case .success(let pool?): return .success(pool)
            case .failure(let error): return .failure(error)
            case .success(nil): break
            }
            state.pools[settings] = State.Entry(pool: candidate, lastUse: state.useCounter)
            let id = ObjectIdentifier(candidate)
            // Detached: PostgresClient.run() ends itself on an inherited graceful shutdown, which would cut
            // running jobs off from their warehouse; `shutdown()` ends these tasks once the worker is done.
            state.runs[id] = Task.detached { [weak self] in
                await candidate.client.run()
                self?.state.withLockedValue { _ = $0.runs.removeValue(forKey: id) }
            }

            while state.pools.count > maxWarehouses,
                  let oldest = state.pools.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.pools.removeValue(forKey: oldest.key)
                oldest.value.pool.retire(.evicted)
                state.runs[ObjectIdentifier(oldest.value.pool)]?.cancel()
                logger.debug("Closed the least recently used warehouse pool", metadata: [
                    "warehouse": "\(oldest.key.connectionString)",
                ])
            }
            return .success(candidate)
        }.get()
    }

    private func cachedPool(for settings: ConnectionSettings) throws(WardenError) -> PostgresPool? {
        try state.withLockedValue { state in Result { () throws(WardenError) in try Self.touch(settings, in: &state) } }.get()
    }

    /// Counts a use and returns the cached pool, if any; throws once shut down.
    private static func touch(_ settings: ConnectionSettings, in state: inout State) throws(WardenError) -> PostgresPool? {
        guard !state.isShutDown else {
            throw WardenError(.unavailable, code: .warehouseShuttingDown, message: "Warden is shutting down")
        }
        state.useCounter += 1
        guard var entry = state.pools[settings] else { return nil }
        entry.lastUse = state.useCounter
        state.pools[settings] = entry
        return entry.pool
    }

    /// Closes a pool whose warehouse failed its connection check, so that it stops retrying.
    private func drop(_ pool: PostgresPool) {
        pool.retire(.broken)
        state.withLockedValue { state in
            if state.pools[pool.settings]?.pool === pool {
                state.pools.removeValue(forKey: pool.settings)
            }
            state.runs[ObjectIdentifier(pool)]?.cancel()
        }
    }
}
