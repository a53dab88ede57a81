import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// Runs the real `warden` executable, kills it with SIGKILL while a bulk update runs, starts it again, and
/// checks that every job ends completed and applied exactly once in effect.
@Suite(.serialized) struct CrashRecoveryTests {
    static let tables = (0..<60).map { "unit_\($0)" }

    @Test(arguments: TestMetastores.kinds)
    func aKilledServerFinishesItsBulkUpdateAfterRestart(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        for table in Self.tables { try await warehouse.execute("CREATE TABLE army.\(table) (id integer PRIMARY KEY, name text)") }
        let dataDirectory = try TestMetastores.temporaryDirectory()
        let location = try await TestMetastores.freshLocation(kind)
        var server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
        // A child left running would keep the test run from ending; stop whichever server is current on every path.
        defer { server.kill() }
        try await server.waitUntilReady()

        let created = try await server.request(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: Self.tables))
        #expect(created.status == 200, "\(created.text)")
        let connection = "\(warehouse.username)@\(warehouse.host):\(warehouse.port)/\(warehouse.database)"
        let bulk = try await server.request(.put, "/postgresql/bulk", json: """
            {"handler": {"metadata": {"hostname": "localhost", "staleDataTolerance": 42, "password": "\(warehouse.password)"}},
             "connectionString": "\(connection)"}
            """)
        let bulkId = try #require(bulk.object["bulkId"] as? String)
        #expect(bulk.object["jobsCreated"] as? Int == Self.tables.count)

        // A new host name makes every job check the warehouse again, so the update takes long enough to interrupt.
        // Kill as soon as some, but not all, of the jobs are done.
        var completedBeforeKill = 0
        while completedBeforeKill == 0 {
            let states = try await server.request(.get, "/jobs?bulkId=\(bulkId)").array.compactMap { ($0 as? [String: Any])?["state"] as? String }
            completedBeforeKill = states.filter { $0 == "completed" }.count
        }
        server.kill()
        #expect(completedBeforeKill < Self.tables.count, "the kill came too late to interrupt the bulk update")

        server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
        try await server.waitUntilReady()
        let jobIds = try await server.request(.get, "/jobs?bulkId=\(bulkId)").array.compactMap { ($0 as? [String: Any])?["id"] as? String }
        let ids = jobIds.map { "\"\($0)\"" }.joined(separator: ",")
        let final = try await server.request(.post, "/jobs/statuses", json: #"{"jobIds":[\#(ids)],"wait":60}"#).object
        var applied = 0
        for source in 1...Self.tables.count {
            let handler = try await server.request(.get, "/postgresql/handler/\(source)").object
            let metadata = handler["metadata"] as? [String: Any]
            if metadata?["staleDataTolerance"] as? Int == 42, metadata?["hostname"] as? String == "localhost",
               (handler["connectionString"] as? String)?.contains("@localhost:") == true { applied += 1 }
            let dictionary = try await server.request(.get, "/dictionary/\(source)").object
            #expect((dictionary["metadata"] as? [Any])?.count == 2)
        }

        #expect(jobIds.count == Self.tables.count)
        #expect(final.count == Self.tables.count)
        #expect(final.values.allSatisfy { ($0 as? [String: Any])?["state"] as? String == "completed" }, "\(final)")
        #expect(applied == Self.tables.count)
    }
}

/// The `warden serve` executable built next to the test bundle, as a child process.
struct WardenProcess {
    static let adminKey = "crash-test-admin-key-0123456789"
    let process = Process()
    let log: String
    /// Known once `waitUntilReady()` has read the server's "listening on" line.
    private let portBox = PortBox()
    var port: Int { portBox.port }

    /// Starts `warden serve` on a port the operating system picks, so parallel tests never collide.
    init(dataDirectory: String, metastore: MetastoreLocation) throws {
        let binary = ProcessInfo.processInfo.environment["WARDEN_TEST_BINARY"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("warden").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw WardenError(.internalError, code: "test.binary_missing",
                              message: "\(binary) is missing: build everything first (scripts/test does `swift build --build-tests`)")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WARDEN_") }
        environment["WARDEN_ADMIN_API_KEY"] = Self.adminKey
        environment["WARDEN_JOB_CONCURRENCY"] = "1"
        environment["WARDEN_JOB_LEASE_SECONDS"] = "2"
        environment["WARDEN_LOG_LEVEL"] = "error"
        if case .postgresql(let settings) = metastore {
            environment["WARDEN_DATABASE_URL"] = "postgres://\(settings.username):\(settings.password ?? "")@\(settings.host):\(settings.port)/\(settings.database)"
        }
        process.environment = environment
        // Its output goes to a file, never to the test runner's pipes, which a surviving child would hold open.
        log = dataDirectory + "/warden-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits for the server's "listening on http://host:PORT" line, then for `/health`.
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if portBox.port == 0, let range = output.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression) {
                portBox.port = Int(output[range].split(separator: ":").last ?? "") ?? 0
            }
            if portBox.port != 0, let reply = try? await request(.get, "/health"), reply.status == 200 { return }
            guard process.isRunning else {
                throw WardenError(.internalError, code: "test.exited", message: "warden exited during start-up: \(output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WardenError(.internalError, code: "test.not_ready", message: "warden was not ready within 60 seconds")
    }

    func request(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> Reply {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(90))) { client in
            var headers: HTTPFields = [.authorization: Self.adminKey]
            if json != nil { headers[.contentType] = "application/json" }
            let response = try await client.execute(.init(path, method: method, authority: "localhost", headers: headers,
                                                          body: json.map { ByteBuffer(string: $0) }))
            return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body ?? ByteBuffer()))
        }
    }

    final class PortBox: @unchecked Sendable {
        var port = 0
    }

    /// SIGKILL: no graceful shutdown, nothing flushed. Does nothing once the process has ended.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
