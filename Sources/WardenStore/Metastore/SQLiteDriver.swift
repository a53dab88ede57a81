import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import WardenDomain

/// SQLite in WAL mode: one writer connection behind an async lock, and a pool of readers.
///
/// Serialising writers in the process (rather than letting SQLite's busy handler do it) keeps
/// blocked writers from occupying the thread pool that the lock holder needs to commit.
final class SQLiteDriver: MetastoreDriver {
    private let writer: SQLiteConnection
    private let writeLock = AsyncLock()
    private let logger: Logger
    private let readers: SQLiteReaderPool
    private let threadPool: NIOThreadPool

    private init(writer: SQLiteConnection, readers: SQLiteReaderPool, threadPool: NIOThreadPool, logger: Logger) {
        self.writer = writer
        self.logger = logger
        self.readers = readers
        self.threadPool = threadPool
    }

    static func open(path: String, logger: Logger, readerCount: Int = 4) async throws -> SQLiteDriver {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try restrictToOwner(path)
        let threadPool = NIOThreadPool(numberOfThreads: readerCount + 1)
        threadPool.start()
        let open: @Sendable () async throws -> SQLiteConnection = {
            let connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any())
            // Applied per connection: these settings are not stored in the file (WAL is, harmlessly repeated).
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                           "PRAGMA busy_timeout=10000"] {
                try await connection.sql().raw(SQLQueryString(pragma)).run()
            }
            return connection
        }
        let writer = try await open()
        for companion in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: companion) {
            try restrictToOwner(companion)
        }
        return SQLiteDriver(writer: writer, readers: SQLiteReaderPool(limit: readerCount, open: open), threadPool: threadPool, logger: logger)
    }

    /// The metastore holds password hashes and sealed secrets: it is created readable by its owner only (mode 0600),
    /// and SQLite creates its WAL and shared-memory files with the database file's mode.
    private static func restrictToOwner(_ path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw WardenError(.internalError, code: .metastoreError, message: "Could not create the SQLite metastore at \(path)")
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await readers.acquire()
        do {
            let result = try await body(connection.sql())
            await readers.release(connection)
            return result
        } catch {
            await readers.release(connection)
            throw error
        }
    }

    func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.lock()
        let db = writer.sql()
        do {
            do {
                try await db.raw("BEGIN IMMEDIATE").run()
            } catch let error as SQLiteError where error.message.contains("within a transaction") {
                // A transaction an earlier failure left open (its ROLLBACK failed too) would refuse every later write:
                // it is rolled back, since nothing can still commit it, and this write goes on.
                logger.warning("the SQLite writer was left inside a transaction; rolling it back", metadata: ["error": "\(error)"])
                try await db.raw("ROLLBACK").run()
                try await db.raw("BEGIN IMMEDIATE").run()
            }
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                await writeLock.unlock()
                return result
            } catch {
                do {
                    try await db.raw("ROLLBACK").run()
                } catch {
                    // Left open, the next write rolls it back (above); said here, with the first cause.
                    logger.warning("could not roll back a failed SQLite write", metadata: ["error": "\(error)"])
                }
                throw error
            }
        } catch {
            await writeLock.unlock()
            throw error
        }
    }

    func close() async {
        // In a task of its own: a cancelled caller must not cancel the closes, because SQLiteNIO traps when a
        // connection is released unclosed.
        await Task { [self] in
            // The write under way ends first; writes waiting or coming later fail, as do reads waiting for a connection:
            // left waiting, they would never end, and neither would whatever awaits them (a server's shutdown).
            await writeLock.close()
            try? await writer.close()
            await readers.closeAll()
            try? await threadPool.shutdownGracefully()
        }.value
    }
}

/// What waits for, or comes to, a metastore that is closing.
private let metastoreClosed = WardenError(.unavailable, code: .metastoreClosed, message: "The metastore is shutting down")

/// A bounded pool of read-only-in-practice SQLite connections, opened on demand.
actor SQLiteReaderPool {
    private let limit: Int
    private let open: @Sendable () async throws -> SQLiteConnection
    private var idle: [SQLiteConnection] = []
    private var opened = 0
    private var closed = false
    private var waiters: [CheckedContinuation<SQLiteConnection, any Error>] = []
    /// `closeAll()` waiting for the connections in use.
    private var drained: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, open: @escaping @Sendable () async throws -> SQLiteConnection) {
        self.limit = limit
        self.open = open
    }

    func acquire() async throws -> SQLiteConnection {
        if closed { throw metastoreClosed }
        if let connection = idle.popLast() { return connection }
        if opened < limit {
            opened += 1
            do {
                return try await open()
            } catch {
                gone()
                throw error
            }
        }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    func release(_ connection: SQLiteConnection) async {
        if closed {
            // A reader that finishes after shutdown began is closed here, while the thread pool still runs: SQLiteNIO
            // traps on an unclosed deinit.
            try? await connection.close()
            gone()
        } else if waiters.isEmpty {
            idle.append(connection)
        } else {
            waiters.removeFirst().resume(returning: connection)
        }
    }

    /// Fails the reads waiting for a connection, closes the idle ones, and returns once those in use are back and
    /// closed (their thread pool is shut down next).
    func closeAll() async {
        closed = true
        for waiter in waiters { waiter.resume(throwing: metastoreClosed) }
        waiters.removeAll()
        // Pop one at a time: the actor may take other calls while a close is awaited.
        while let connection = idle.popLast() {
            try? await connection.close()
            gone()
        }
        if opened > 0 { await withCheckedContinuation { drained.append($0) } }
    }

    /// One connection fewer (closed, or never opened); the last one lets a waiting `closeAll()` return.
    private func gone() {
        opened -= 1
        if closed, opened == 0 {
            for waiter in drained { waiter.resume() }
            drained.removeAll()
        }
    }
}

/// A FIFO mutual-exclusion lock for async code, which can be closed: from then on nobody gets it.
actor AsyncLock {
    private var locked = false
    private var closed = false
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var closing: [CheckedContinuation<Void, Never>] = []

    /// Throws the metastore's closed error once `close()` was called.
    func lock() async throws {
        if closed { throw metastoreClosed }
        if !locked {
            locked = true
            return
        }
        try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            locked = false
            for waiter in closing { waiter.resume() }
            closing.removeAll()
        } else {
            waiters.removeFirst().resume()
        }
    }

    /// Fails every waiter and every later `lock()`, and returns once the holder, if any, has unlocked.
    func close() async {
        closed = true
        for waiter in waiters { waiter.resume(throwing: metastoreClosed) }
        waiters.removeAll()
        if locked { await withCheckedContinuation { closing.append($0) } }
    }
}
