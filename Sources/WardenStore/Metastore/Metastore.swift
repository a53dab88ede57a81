import Foundation
public import Logging
public import SQLKit
public import WardenDomain

public enum MetastoreKind: String, Sendable, CaseIterable {
    case sqlite, postgresql
}

/// Where the metastore lives, parsed from `WARDEN_DATABASE_URL` or derived from the data directory.
public enum MetastoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgresql(PostgresSettings)

    public var kind: MetastoreKind {
        switch self {
        case .sqlite: .sqlite
        case .postgresql: .postgresql
        }
    }

    /// Accepts `postgres://` / `postgresql://` URLs, `sqlite://path`, `sqlite:path`, or a bare file path.
    public static func parse(_ text: String) throws(WardenError) -> MetastoreLocation {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            return .postgresql(try PostgresSettings.parse(url: text))
        }
        var path = text
        for prefix in ["sqlite://", "sqlite:"] where lowered.hasPrefix(prefix) {
            path = String(text.dropFirst(prefix.count))
            break
        }
        if path.contains("://") {
            throw .badRequest("must be a file path or a postgres:// URL", code: .configInvalid)
        }
        guard !path.isEmpty else { throw .badRequest("must not be empty", code: .configInvalid) }
        return .sqlite(path: path)
    }
}

/// Connection settings for a PostgreSQL metastore.
public struct PostgresSettings: Sendable, Equatable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var maxConnections: Int

    public init(host: String, port: Int = 5432, username: String, password: String?, database: String,
                tls: TLSMode = .disable, maxConnections: Int = 20) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.maxConnections = maxConnections
    }

    public static func parse(url text: String) throws(WardenError) -> PostgresSettings {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw .badRequest("must be a URL like postgres://user:pass@host:5432/db", code: .configInvalid)
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard let user = components.user, !user.isEmpty, !database.isEmpty else {
            throw .badRequest("must name a user and a database (postgres://user:pass@host:5432/db)", code: .configInvalid)
        }
        var settings = PostgresSettings(
            host: host, port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw .badRequest("sslmode must be disable, prefer or require", code: .configInvalid)
                }
                settings.tls = mode
            case "max_connections":
                guard let value = item.value.flatMap(Int.init), value > 0 else {
                    throw .badRequest("max_connections must be a positive integer", code: .configInvalid)
                }
                settings.maxConnections = value
            default:
                throw .badRequest("unknown URL parameter \(item.name)", code: .configInvalid)
            }
        }
        return settings
    }
}

/// What each metastore backend provides: plain reads, and writes that are one transaction.
protocol MetastoreDriver: Sendable {
    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func close() async
}

/// The metastore: the one place Warden's state lives, on SQLite or PostgreSQL behind the same SQL.
public final class Metastore: Sendable {
    public let kind: MetastoreKind
    let driver: any MetastoreDriver
    let logger: Logger

    init(kind: MetastoreKind, driver: any MetastoreDriver, logger: Logger) {
        self.kind = kind
        self.driver = driver
        self.logger = logger
    }

    /// Opens the metastore; run `migrate()` before using it.
    public static func open(_ location: MetastoreLocation, logger: Logger) async throws -> Metastore {
        switch location {
        case .sqlite(let path):
            return Metastore(kind: .sqlite, driver: try await SQLiteDriver.open(path: path, logger: logger), logger: logger)
        case .postgresql(let settings):
            return Metastore(kind: .postgresql, driver: await PostgresDriver.open(settings: settings, logger: logger), logger: logger)
        }
    }

    /// Runs `body` outside a transaction; each statement sees committed data.
    public func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await translatingErrors { try await driver.read(body) }
    }

    /// Runs `body` as one transaction: all of it is committed, or none of it when it throws.
    public func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await translatingErrors { try await driver.write(body) }
    }

    public func close() async {
        await driver.close()
    }

    /// A cheap round trip, for the health check.
    public func ping() async throws {
        try await read { db in try await db.raw("SELECT 1 AS one").run() }
    }

    private func translatingErrors<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as WardenError {
            throw error
        } catch {
            if let conflict = DatabaseErrors.uniqueViolation(error) {
                throw WardenError(.conflict, code: .metastoreConflict, message: conflict, cause: error)
            }
            throw WardenError(.internalError, code: .metastoreError, message: "The metastore could not complete the request", cause: error)
        }
    }
}
