public import Foundation
public import Logging
import SQLKit
public import WardenDomain
public import WardenStore

/// Fresh, private metastores for tests: a new SQLite file, or a new database on the test PostgreSQL server
/// that `scripts/test` starts (its URL is in `WARDEN_TEST_POSTGRES_URL`).
public enum TestMetastores {
    public static let kinds = MetastoreKind.allCases

    public static let logger: Logger = {
        var logger = Logger(label: "warden-test")
        logger.logLevel = ProcessInfo.processInfo.environment["WARDEN_TEST_LOG"] == nil ? .critical : .error
        return logger
    }()

    public struct MissingPostgres: Error, CustomStringConvertible {
        public var description: String {
            "WARDEN_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts a private PostgreSQL server"
        }
    }

    /// A location nobody else uses.
    public static func freshLocation(_ kind: MetastoreKind) async throws -> MetastoreLocation {
        switch kind {
        case .sqlite:
            return .sqlite(path: try temporaryDirectory() + "/warden.sqlite")
        case .postgresql:
            guard let url = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] else { throw MissingPostgres() }
            var settings = try PostgresSettings.parse(url: url)
            let admin = try await Metastore.open(.postgresql(settings), logger: logger)
            let name = "warden_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            do {
                // From template0, which nothing connects to (see TestWarehouse.army()).
                try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name) TEMPLATE template0").run() }
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
            settings.database = String(name)
            // Hundreds of test servers share one PostgreSQL server; a small pool each keeps them within its limit.
            settings.maxConnections = 6
            return .postgresql(settings)
        }
    }

    /// An open, migrated metastore, closed after `body`.
    public static func withMetastore<T: Sendable>(_ kind: MetastoreKind, _ body: (Metastore) async throws -> T) async throws -> T {
        let metastore = try await Metastore.open(try await freshLocation(kind), logger: logger)
        do {
            try await metastore.migrate()
            let result = try await body(metastore)
            await metastore.close()
            return result
        } catch {
            await metastore.close()
            throw error
        }
    }

    public static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-test-" + UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A clock tests move by hand, so expiry is tested without sleeping.
public final class TestClock: WardenClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = start
    }

    public func now() -> Date {
        lock.withLock { current }
    }

    public func advance(seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}
