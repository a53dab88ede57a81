import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOFoundationEssentialsCompat
import SQLKit
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

    /// A crawl writes everything it found in one transaction with its job's completion: killed while it runs, the
    /// restarted server runs it again from the start, and each table ends up once, with one data source.
    @Test(arguments: TestMetastores.kinds)
    func aKilledCrawlRunsAgainAndLeavesNoDuplicates(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let (schemas, perSchema) = (["north", "south", "east"], 300)
        for schema in schemas {
            try await warehouse.execute("CREATE SCHEMA \(schema)")
            try await warehouse.execute("""
                DO $$ BEGIN FOR i IN 1..\(perSchema) LOOP
                    EXECUTE format('CREATE TABLE \(schema).t%s (id integer, name text, seen date)', i);
                END LOOP; END $$
                """)
        }
        let tables = schemas.count * perSchema + 3  // army's own tables and view come too
        // The crawl takes about half a second: a kill that comes after its commit proves nothing, so such a run is
        // started again on a fresh metastore, killing sooner each time.
        var interrupted: (dataDirectory: String, location: MetastoreLocation, bulkId: String)?
        for delay in [200, 50, 0] where interrupted == nil {
            let dataDirectory = try TestMetastores.temporaryDirectory()
            let location = try await TestMetastores.freshLocation(kind)
            let server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
            defer { server.kill() }
            try await server.waitUntilReady()
            let registered = try await server.request(.post, "/data/connection", json: """
                {"connectionKey": "crash", "connection": {"technology": "PostgreSQL", "hostname": "\(warehouse.host)", "port": \(warehouse.port),
                 "database": "\(warehouse.database)", "authenticationType": "userPassword", "username": "\(warehouse.username)",
                 "password": "\(warehouse.password)"}}
                """)
            let bulkId = try #require(registered.object["bulkId"] as? String, "\(registered.text)")
            var state = "pending"
            let deadline = ContinuousClock.now + .seconds(60)
            while state == "pending", ContinuousClock.now < deadline {
                let jobs = try await server.request(.get, "/jobs?bulkId=\(bulkId)")
                guard jobs.status == .ok else {  // a loaded server's 503 says to ask again
                    try await Task.sleep(for: .milliseconds(20))
                    continue
                }
                state = jobs.array.compactMap { ($0 as? [String: Any])?["state"] as? String }.first ?? "pending"
            }
            try await Task.sleep(for: .milliseconds(delay))
            server.kill()
            // Read from the metastore itself: the job must still be unfinished, with nothing of its crawl written.
            let metastore = try await Metastore.open(location, logger: TestMetastores.logger)
            let (unfinished, objects) = try await metastore.read { db in
                (try await db.raw("SELECT state FROM jobs WHERE bulk_id = \(bind: bulkId)").first()?.decode(column: "state", as: String.self),
                 try await db.raw("SELECT COUNT(*) AS n FROM data_objects WHERE depth = 3").first()?.decode(column: "n", as: Int.self))
            }
            await metastore.close()
            print("crawl crash test (\(kind.rawValue)): killed \(delay) ms after the crawl started, job \(unfinished ?? "?")")
            guard unfinished == "active" else { continue }
            #expect(objects == 0, "a killed crawl left \(objects ?? -1) tables written")
            interrupted = (dataDirectory, location, bulkId)
        }
        let (dataDirectory, location, bulkId) = try #require(interrupted, "every kill came after the crawl had finished")

        let server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
        defer { server.kill() }
        try await server.waitUntilReady()
        let jobIds = try await server.request(.get, "/jobs?bulkId=\(bulkId)").array.compactMap { ($0 as? [String: Any])?["id"] as? String }
        #expect(jobIds.count == 1)
        let final = try await server.request(.post, "/jobs/statuses", json: #"{"jobIds": ["\#(jobIds[0])"], "wait": 120}"#).object
        let job = try #require(final[jobIds[0]] as? [String: Any])
        #expect(job["state"] as? String == "completed", "\(job)")
        #expect((job["output"] as? [String: Any])?["dataSourcesCreated"] as? Int == tables)
        #expect(try await server.request(.get, "/dataSource?size=1").object["count"] as? Int == tables)
        for schema in schemas {
            let children = try await server.request(.post, "/data/object/search/crash/\(warehouse.database)/\(schema)", json: #"{"limit": 1}"#).object
            #expect(children["count"] as? Int == perSchema, "\(schema): \(children)")
        }
        // Nothing is left to add.
        // A 503 (the metastore busy with the restarted server's own work) says to try again, as a client would.
        var again = try await server.request(.post, "/data/crawl/crash", json: "{}")
        for _ in 0..<5 where again.status == .serviceUnavailable {
            try await Task.sleep(for: .seconds(1))
            again = try await server.request(.post, "/data/crawl/crash", json: "{}")
        }
        let crawlJobs = try await server.request(.get, "/jobs?bulkId=\(try #require(again.object["bulkId"] as? String, "\(again.status) \(again.text)"))").array
            .compactMap { ($0 as? [String: Any])?["id"] as? String }
        let second = try await server.request(.post, "/jobs/statuses", json: #"{"jobIds": ["\#(crawlJobs[0])"], "wait": 120}"#).object
        let output = (second[crawlJobs[0]] as? [String: Any])?["output"] as? [String: Any]
        #expect(output?["objectsAdded"] as? Int == 0 && output?["dataSourcesCreated"] as? Int == 0, "\(second)")
    }
}

/// Every kind of bulk action, killed at several points: once restarted, every job of the bulk is listed and
/// completed, each source shows the effect exactly once (one activity for it), and nothing is purged that the caller
/// did not see disabled.
@Suite(.serialized) struct BulkCrashTests {
    enum Action: String, CaseIterable, CustomTestStringConvertible {
        case disable, restore, deleteEnabled, deleteDisabled, tags, addUsers, handlerUpdate

        var testDescription: String { rawValue }
    }

    /// How far the bulk is (jobs completed, out of `sources`) when the server is killed.
    static let killPoints = [1, sources / 2]
    static let sources = 16

    /// What the last run saw, for the closing figures: runs, and runs whose kill came while jobs were still to do.
    static let tally = Tally()

    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var counts = (runs: 0, interrupted: 0)
        func record(interrupted: Bool) { lock.withLock { counts.runs += 1; if interrupted { counts.interrupted += 1 } } }
        var summary: String { lock.withLock { "\(counts.runs) runs, \(counts.interrupted) killed mid-bulk" } }
    }

    @Test(arguments: TestMetastores.kinds, Action.allCases)
    func aKilledServerAppliesEveryBulkActionOnce(kind: MetastoreKind, action: Action) async throws {
        for killPoint in Self.killPoints {
            try await run(kind, action, killAfter: killPoint)
        }
        print("bulk crash test (\(kind.rawValue), \(action.rawValue)): \(Self.tally.summary) so far")
    }

    private func run(_ kind: MetastoreKind, _ action: Action, killAfter killPoint: Int) async throws {
        let warehouse = try await TestWarehouse.army()
        let tables = (0..<Self.sources).map { "unit_\($0)" }
        for table in tables { try await warehouse.execute("CREATE TABLE army.\(table) (id integer PRIMARY KEY, name text)") }
        let dataDirectory = try TestMetastores.temporaryDirectory()
        let location = try await TestMetastores.freshLocation(kind)
        var server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
        defer { server.kill() }
        try await server.waitUntilReady()

        let created = try await server.request(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: tables)).object
        let ids = try #require((created["dataSources"] as? [[String: Any]])?.compactMap { $0["dataSourceId"] as? Int })
        let idList = ids.map(String.init).joined(separator: ",")
        var memberId = 0
        switch action {
        case .restore, .deleteDisabled:
            let disable = try await server.request(.put, "/dataSource/bulk/disable", json: #"{"ids": [\#(idList)]}"#).object
            try await finish(try #require(disable["bulkId"] as? String), on: server)
        case .tags:
            #expect(try await server.request(.post, "/tag", json: #"{"tags": [{"name": "Crash"}]}"#).status == 200)
        case .addUsers:
            memberId = try #require((try await server.request(.post, "/bim/iam/bim/user", json: #"{"userid": "member"}"#).object["newUser"] as? [String: Any])?["id"] as? Int)
        case .disable, .deleteEnabled, .handlerUpdate:
            break
        }

        let bulk: Reply = switch action {
        case .disable: try await server.request(.put, "/dataSource/bulk/disable", json: #"{"ids": [\#(idList)]}"#)
        case .restore: try await server.request(.put, "/dataSource/bulk/restore", json: #"{"ids": [\#(idList)]}"#)
        case .deleteEnabled, .deleteDisabled: try await server.request(.put, "/dataSource/bulk/delete", json: #"{"ids": [\#(idList)]}"#)
        case .tags: try await server.request(.put, "/dataSource/bulk/tags", json: #"{"ids": [\#(idList)], "update": {"tags": [{"name": "Crash"}]}}"#)
        case .addUsers:
            try await server.request(.put, "/dataSource/bulk/add-users",
                                     json: #"{"ids": [\#(idList)], "update": [{"id": \#(memberId), "state": "subscribed"}]}"#)
        case .handlerUpdate:
            try await server.request(.put, "/postgresql/bulk", json: """
                {"handler": {"metadata": {"hostname": "localhost", "staleDataTolerance": 42, "password": "\(warehouse.password)"}},
                 "connectionString": "\(warehouse.username)@\(warehouse.host):\(warehouse.port)/\(warehouse.database)"}
                """)
        }
        let bulkId = try #require(bulk.object["bulkId"] as? String, "\(bulk.text)")

        var completed = 0
        while completed < killPoint {
            completed = try await states(bulkId, on: server).filter { $0 == "completed" }.count
        }
        server.kill()
        Self.tally.record(interrupted: completed < Self.sources)

        server = try WardenProcess(dataDirectory: dataDirectory, metastore: location)
        try await server.waitUntilReady()
        let final = try await finish(bulkId, on: server)
        #expect(final.count == Self.sources, "every job of the bulk is still listed")
        #expect(final.allSatisfy { $0 == "completed" }, "\(final)")

        for id in ids {
            let source = try await server.request(.get, "/dataSource/\(id)")
            if action == .deleteDisabled {
                #expect(source.status == 404, "a source the caller saw disabled is purged")
                continue
            }
            #expect(source.status == 200, "source \(id) is still there: \(source.text)")
            let activities = try await server.request(.get, "/dataSource/\(id)/activities?size=200").object["activities"] as? [[String: Any]] ?? []
            let types = activities.compactMap { $0["notificationType"] as? String }
            func once(_ type: String) { #expect(types.filter { $0 == type }.count == 1, "\(type) once on \(id): \(types)") }
            switch action {
            case .disable, .deleteEnabled:
                #expect(source.object["deleted"] as? Bool == true)
                once("disabled")
            case .restore:
                #expect(source.object["deleted"] as? Bool == false)
                once("restored")
            case .tags:
                once("tagAdded")
            case .addUsers:
                once("memberAdded")
            case .handlerUpdate:
                let handler = try await server.request(.get, "/postgresql/handler/\(id)").object
                #expect((handler["metadata"] as? [String: Any])?["staleDataTolerance"] as? Int == 42)
                once("handlerUpdated")
            case .deleteDisabled:
                break
            }
        }
    }

    private func states(_ bulkId: String, on server: WardenProcess) async throws -> [String] {
        try await server.request(.get, "/jobs?bulkId=\(bulkId)").array.compactMap { ($0 as? [String: Any])?["state"] as? String }
    }

    /// Waits for every job of the bulk to end and returns their states.
    @discardableResult
    private func finish(_ bulkId: String, on server: WardenProcess) async throws -> [String] {
        let ids = try await server.request(.get, "/jobs?bulkId=\(bulkId)").array.compactMap { ($0 as? [String: Any])?["id"] as? String }
        let list = ids.map { "\"\($0)\"" }.joined(separator: ",")
        let final = try await server.request(.post, "/jobs/statuses", json: #"{"jobIds":[\#(list)],"wait":60}"#).object
        return final.values.compactMap { ($0 as? [String: Any])?["state"] as? String }
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
    init(dataDirectory: String, metastore: MetastoreLocation, environment extra: [String: String] = [:]) throws {
        let binary = ProcessInfo.processInfo.environment["WARDEN_TEST_BINARY"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("warden").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw WardenError(.internalError, code: .internal,
                              message: "\(binary) is missing: build everything first (scripts/test does `swift build --build-tests`)")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WARDEN_") }
        environment["WARDEN_ADMIN_API_KEY"] = Self.adminKey
        environment["WARDEN_JOB_CONCURRENCY"] = "1"
        environment["WARDEN_JOB_LEASE_SECONDS"] = "2"
        environment["WARDEN_LOG_LEVEL"] = "error"
        environment.merge(extra) { _, new in new }
        switch metastore {
        case .postgresql(let settings):
            environment["WARDEN_DATABASE_URL"] = "postgres://\(settings.username):\(settings.password ?? "")@\(settings.host):\(settings.port)/\(settings.database)"
        case .sqlite(let path):
            environment["WARDEN_DATABASE_URL"] = path
        }
        process.environment = environment
        // Its output goes to a file, never to the test runner's pipes, which a surviving child would hold open.
        log = dataDirectory + "/warden-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
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
                throw WardenError(.internalError, code: .internal, message: "warden exited during start-up: \(output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WardenError(.internalError, code: .internal, message: "warden was not ready within 60 seconds")
    }

    func request(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> Reply {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(3600))) { client in
            var headers: HTTPFields = [.authorization: Self.adminKey]
            if json != nil { headers[.contentType] = "application/json" }
            let response = try await TestServer.execute(.init(path, method: method, authority: "localhost", headers: headers,
                                                              body: json.map { ByteBuffer(string: $0) }), on: client)
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
