import Foundation
import SQLKit
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// Closing the SQLite metastore while work waits for it: the write under way ends, and whatever waits for the writer or
/// for a reader fails with `metastore.closed` instead of waiting forever (and with it a server's shutdown).
@Suite struct MetastoreShutdownTests {
    @Test func closingFailsWhatWaitsAndLetsWhatRunsFinish() async throws {
        let metastore = try await Metastore.open(try await TestMetastores.freshLocation(.sqlite), logger: TestMetastores.logger)
        let (writeGate, openWrite) = AsyncStream<Void>.makeStream()
        func closedCode(_ task: Task<Void, any Error>) async -> String? {
            do { try await task.value; return nil } catch { return (error as? WardenError)?.code.rawValue ?? "\(error)" }
        }

        let running = Task {
            try await metastore.write { db in
                for await _ in writeGate {}
                try await db.raw("SELECT 1 AS one").run()
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let waitingWrite = Task { try await metastore.write { db in try await db.raw("SELECT 1 AS one").run() } }
        // Four readers, the pool's size, held; a fifth read waits for one.
        let readGates = (0..<4).map { _ in AsyncStream<Void>.makeStream() }
        let heldReads = readGates.map { gate in
            Task { try await metastore.read { db in
                for await _ in gate.stream {}
                try await db.raw("SELECT 1 AS one").run()
            } }
        }
        try await Task.sleep(for: .milliseconds(200))
        let waitingRead = Task { try await metastore.read { db in try await db.raw("SELECT 1 AS one").run() } }
        try await Task.sleep(for: .milliseconds(200))

        let closing = Task { await metastore.close() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(await closedCode(waitingWrite) == "metastore.closed")
        openWrite.finish()
        #expect(await closedCode(running) == nil, "the write under way ends normally")
        // Once it has, the readers close: the read waiting for one fails, those under way end, and then the close.
        #expect(await closedCode(waitingRead) == "metastore.closed")
        for gate in readGates { gate.continuation.finish() }
        for read in heldReads { #expect(await closedCode(read) == nil) }
        await closing.value
        let late = Task { try await metastore.write { db in try await db.raw("SELECT 1 AS one").run() } }
        #expect(await closedCode(late) == "metastore.closed")
    }
}
