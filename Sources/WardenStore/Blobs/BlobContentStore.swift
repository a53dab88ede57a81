import Crypto
public import Foundation
public import Logging
public import NIOCore
public import NIOPosix
import SQLKit
public import WardenDomain
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes received and hashed into a temporary file, not yet part of the store.
public struct StagedBlobContent: Sendable {
    public let temporaryPath: String
    /// Lower-case hex SHA-256.
    public let sha256: String
    public let length: Int64
}

/// Blob bytes on local disk, content-addressed: `<directory>/ab/cdef…` for SHA-256 `abcdef…`, so identical
/// content is stored once.
///
/// Uploads stream into `<directory>/tmp/` (the same file system, so the final rename is atomic) while being hashed;
/// memory stays constant whatever the size. File system calls run on a NIO thread pool, never on the cooperative
/// pool. Placing a file and removing an unreferenced one each happen inside a metastore transaction holding the
/// hash's lock, so a file is never removed while a new reference to it is being committed.
public struct BlobContentStore: Sendable {
    public let directory: String
    let threadPool: NIOThreadPool
    let logger: Logger

    public init(directory: String, threadPool: NIOThreadPool = .singleton, logger: Logger) {
        self.directory = directory
        self.threadPool = threadPool
        self.logger = logger
    }

    var temporaryDirectory: String { directory + "/tmp" }

    /// Creates the directories and removes temporary files a crashed upload left behind (older than a day, so an
    /// upload still running in another process sharing the directory is left alone).
    public func prepare(now: Date) throws {
        try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            let path = temporaryDirectory + "/" + name
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            if let modified, now.timeIntervalSince(modified) > 86_400 { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// The file holding the content with this hash.
    public func path(forHash hash: String) throws -> String {
        guard Self.isHash(hash) else {
            throw WardenError(.internalError, code: .blobInvalidHash, message: "The metastore holds an invalid content hash")
        }
        return "\(directory)/\(hash.prefix(2))/\(hash.dropFirst(2))"
    }

    static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public static func tooLarge(_ limit: Int) -> WardenError {
        WardenError(.tooLarge, code: .blobTooLarge, message: "Blob content exceeds the limit of \(limit) bytes")
    }

    // MARK: Writing

    /// Streams `body` into a temporary file, hashing as it goes. More than `limit` bytes is a 413; on any failure
    /// (too large, client gone) the temporary file is removed.
    public func stage<Body: AsyncSequence>(_ body: Body, limit: Int) async throws -> StagedBlobContent where Body.Element == ByteBuffer {
        let path = temporaryDirectory + "/" + UUID().uuidString.lowercased()
        let fd = try await threadPool.runIfActive { [temporaryDirectory] in
            try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
            return try FileSystemCall.open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
        }
        var hasher = SHA256()
        var length = 0
        var closed = false
        do {
            for try await chunk in body {
                length += chunk.readableBytes
                guard length <= limit else { throw Self.tooLarge(limit) }
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try await threadPool.runIfActive { try FileSystemCall.writeAll(fd, chunk) }
            }
            // The metadata row is committed after this returns, so the bytes must be on disk first.
            try await threadPool.runIfActive { try FileSystemCall.fsync(fd) }
            closed = true
            try await threadPool.runIfActive { try FileSystemCall.close(fd) }
        } catch {
            let open = !closed
            await removeQuietly {
                if open { _ = systemClose(fd) }
                try FileSystemCall.unlink(path)
            }
            throw error
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return StagedBlobContent(temporaryPath: path, sha256: digest, length: Int64(length))
    }

    /// Moves staged content to its place, inside the caller's transaction (which holds the hash's lock). When the
    /// content is already stored, the staged copy replaces it atomically: the bytes are the same.
    func place(_ staged: StagedBlobContent) async throws {
        let destination = try path(forHash: staged.sha256)
        let folder = (destination as NSString).deletingLastPathComponent
        try await threadPool.runIfActive {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileSystemCall.rename(staged.temporaryPath, destination)
            try FileSystemCall.syncDirectory(folder)
        }
    }

    /// Removes a staged file that will not be used (nothing to do when it was already placed).
    public func discard(_ staged: StagedBlobContent) async {
        await removeQuietly { try FileSystemCall.unlink(staged.temporaryPath, missingIsFine: true) }
    }

    // MARK: Removing

    /// Removes the files of `hashes` that no blob row references any more. Call it after the transaction that
    /// deleted or replaced the rows has committed (a data source's hard delete, a blob's deletion). Failures are
    /// logged, not thrown: the change they follow has committed, and a leftover file is only wasted space.
    public func removeUnreferenced(_ hashes: [String], on metastore: Metastore) async {
        for hash in Set(hashes) where Self.isHash(hash) {
            do {
                let path = try path(forHash: hash)
                try await metastore.write { db in
                    try await Self.lock(hash: hash, on: db)
                    let referenced = try await db.raw("SELECT 1 AS one FROM blobs WHERE content_hash = \(bind: hash) LIMIT 1").first() != nil
                    if !referenced {
                        try await threadPool.runIfActive { try FileSystemCall.unlink(path, missingIsFine: true) }
                    }
                }
            } catch {
                logger.warning("could not remove unreferenced blob content", metadata: ["hash": .string(hash), "error": "\(error)"])
            }
        }
    }

    /// Serialises, per content hash, the transactions that add a reference and those that remove the file.
    /// SQLite writers are already serialised (`BEGIN IMMEDIATE`); PostgreSQL takes a transaction-scoped advisory
    /// lock keyed by the hash's first 64 bits.
    static func lock(hash: String, on db: any SQLDatabase) async throws {
        guard db.dialect.name == "postgresql" else { return }
        let key = Int64(bitPattern: UInt64(hash.prefix(16), radix: 16) ?? 0)
        try await db.raw("SELECT pg_advisory_xact_lock(\(bind: key))").run()
    }

    private func removeQuietly(_ body: @escaping @Sendable () throws -> Void) async {
        do {
            try await threadPool.runIfActive(body)
        } catch {
            logger.warning("could not remove a temporary blob file", metadata: ["error": "\(error)"])
        }
    }
}

/// Thin POSIX wrappers that turn `errno` into Swift errors.
enum FileSystemCall {
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let code: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
    }

    static func open(_ path: String, flags: Int32, mode: mode_t) throws -> Int32 {
        let fd = path.withCString { systemOpen($0, flags, mode) }
        guard fd >= 0 else { throw Failure(call: "open", code: errno) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw Failure(call: "write", code: errno)
                }
                offset += written
            }
        }
    }

    static func fsync(_ fd: Int32) throws {
        guard systemFsync(fd) == 0 else { throw Failure(call: "fsync", code: errno) }
    }

    static func close(_ fd: Int32) throws {
        guard systemClose(fd) == 0 else { throw Failure(call: "close", code: errno) }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard systemRename(from, to) == 0 else { throw Failure(call: "rename", code: errno) }
    }

    static func unlink(_ path: String, missingIsFine: Bool = false) throws {
        guard systemUnlink(path) == 0 else {
            if missingIsFine, errno == ENOENT { return }
            throw Failure(call: "unlink", code: errno)
        }
    }

    /// Makes a rename in `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let fd = try open(directory, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { _ = systemClose(fd) }
        try fsync(fd)
    }
}

// The module-level functions, under names that do not clash with `FileSystemCall`'s.
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
private func systemFsync(_ fd: Int32) -> Int32 { fsync(fd) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func systemUnlink(_ path: String) -> Int32 { unlink(path) }
