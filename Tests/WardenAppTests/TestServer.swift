import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import NIOCore
import NIOFoundationEssentialsCompat
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// A Warden server on a fresh metastore, driven over real HTTP.
struct TestServer {
    static let adminKey = "test-admin-key-0123456789abcdef"

    /// Where the server listens (`client.port`), for raw requests.
    let client: Listening
    /// The connection `call` uses. Its read timeout is generous, unlike the framework client's fixed 20 seconds: on
    /// a machine loaded by the rest of the suite, an answer may be late without being wrong, and a test that hangs
    /// is still cut off.
    let http: TestClient
    let clock: TestClock
    let config: AppConfig
    let routes: [String]
    /// The server's own metastore, for facts the API does not show yet.
    let metastore: Metastore

    /// Starts a server, runs `body` against it, and shuts it down.
    static func run(_ kind: MetastoreKind, clock: TestClock = TestClock(), ids: any IdGenerator = RandomIdGenerator(),
                    configure: (inout AppConfig) -> Void = { _ in }, _ body: @Sendable (TestServer) async throws -> Void) async throws {
        var config = AppConfig(host: "127.0.0.1", port: 0, dataDirectory: try TestMetastores.temporaryDirectory(),
                               metastore: try await TestMetastores.freshLocation(kind), adminAPIKey: adminKey,
                               passwordRounds: 1000)
        configure(&config)
        try await run(config: config, clock: clock, ids: ids, body)
    }

    /// Starts a server with exactly this configuration: for example another one on a metastore a test has used.
    static func run(config: AppConfig, clock: TestClock = TestClock(), ids: any IdGenerator = RandomIdGenerator(),
                    _ body: @Sendable (TestServer) async throws -> Void) async throws {
        let listening = FirstOutcome<Int>()
        let trace = ServerTrace()
        trace.mark("building")
        let server = try await buildServer(config: config, logger: trace.logger, clock: clock, ids: ids,
                                           onServerRunning: { port in listening.finish(.success(port)) })
        try await serve(server, listening, trace: trace) { port in
            try await withHTTP(port: port) { http in
                try await body(TestServer(client: Listening(port: port), http: http, clock: clock, config: config, routes: server.routes,
                                          metastore: server.metastore))
            }
        }
    }

    /// Two servers on one metastore and data directory (so one master key), as instances share one in production.
    /// `second` adjusts the second one's configuration, for example to give only it a job worker.
    static func runPair(_ kind: MetastoreKind, configure: (inout AppConfig) -> Void = { _ in }, second: (inout AppConfig) -> Void = { _ in },
                        _ body: @Sendable (TestServer, TestServer) async throws -> Void) async throws {
        var config = AppConfig(host: "127.0.0.1", port: 0, dataDirectory: try TestMetastores.temporaryDirectory(),
                               metastore: try await TestMetastores.freshLocation(kind), adminAPIKey: adminKey, passwordRounds: 1000)
        configure(&config)
        var secondConfig = config
        second(&secondConfig)
        let clock = TestClock()
        let (firstListening, otherListening) = (FirstOutcome<Int>(), FirstOutcome<Int>())
        let first = try await buildServer(config: config, logger: TestMetastores.logger, clock: clock,
                                          onServerRunning: { firstListening.finish(.success($0)) })
        let other = try await buildServer(config: secondConfig, logger: TestMetastores.logger, clock: clock,
                                          onServerRunning: { otherListening.finish(.success($0)) })
        let (firstConfig, otherConfig) = (config, secondConfig)
        try await serve(first, firstListening) { firstPort in
            try await serve(other, otherListening) { otherPort in
                try await withHTTP(port: firstPort) { firstHTTP in
                    try await withHTTP(port: otherPort) { otherHTTP in
                        try await body(TestServer(client: Listening(port: firstPort), http: firstHTTP, clock: clock, config: firstConfig,
                                                  routes: first.routes, metastore: first.metastore),
                                       TestServer(client: Listening(port: otherPort), http: otherHTTP, clock: clock, config: otherConfig,
                                                  routes: other.routes, metastore: other.metastore))
                    }
                }
            }
        }
    }

    struct Listening: Sendable {
        let port: Int?
    }

    /// The server stopped before it listened; `cause` is why, when it said.
    struct StoppedBeforeListening: Error, CustomStringConvertible {
        let cause: (any Error)?
        var description: String { "the server stopped before it listened: \(cause.map { "\($0)" } ?? "it ended without an error")" }
    }

    /// Runs the server's application until `body` (given its port) ends, then shuts it down gracefully. Unlike the
    /// framework's live test mode, which waits for the port with nothing to wake it if the server stops first (a test
    /// that then hangs with every thread idle), a server that stops before it listens fails the test with its error.
    private static func serve(_ server: WardenServer, _ listening: FirstOutcome<Int>, trace: ServerTrace = ServerTrace(),
                              _ body: (Int) async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: [server.application], logger: TestMetastores.logger))
        trace.mark("starting")
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                do {
                    try await group.run()
                    trace.mark("services ended")
                    listening.finish(.failure(StoppedBeforeListening(cause: nil)))
                } catch {
                    trace.mark("services failed")
                    listening.finish(.failure(StoppedBeforeListening(cause: error)))
                    throw error
                }
            }
            do {
                let port = try await withCheckedThrowingContinuation { listening.start($0) }
                trace.mark("listening")
                try await body(port)
            } catch {
                trace.mark("shutting down after an error")
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                trace.mark("stopped")
                throw error
            }
            trace.mark("shutting down")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            trace.mark("stopped")
        }
    }

    /// How long a request may wait for its answer before the test fails. The framework client's own timeout is set
    /// beyond it and never fires: when it does, its task group waits for a response promise that nothing fails, and
    /// the test hangs instead of failing.
    static let answerDeadline = Duration.seconds(90)
    private static let clientTimeout = Duration.seconds(3600)

    private static func withHTTP(port: Int, _ body: (TestClient) async throws -> Void) async throws {
        let http = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: clientTimeout))
        http.connect()
        do {
            try await body(http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// Sends a request; `json` is sent as the body verbatim, as `application/json` unless `headers` name another type.
    /// Every request of a test goes over this connection, never the framework's own client: that one is opened when
    /// the server starts and, left idle, is closed by the server's idle timeout in a long test on a loaded machine.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, auth: String? = TestServer.adminKey, json: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        if let auth { headers[.authorization] = auth }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await Self.execute(.init(path, method: method, authority: "localhost", headers: headers,
                                                    body: json.map { ByteBuffer(string: $0) }), on: http)
        return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body ?? ByteBuffer()))
    }

    struct NoAnswer: Error, CustomStringConvertible {
        let request: String
        var description: String { "no answer to \(request) within \(TestServer.answerDeadline)" }
    }

    /// Sends `request`; when no answer comes in time, fails with `NoAnswer` and closes the connection. The request runs
    /// in a task of its own that nothing waits for once the deadline passed: the framework client's pending response
    /// may never be completed, and a task group waiting for it would hang the whole run instead of failing one test.
    static func execute(_ request: TestClient.Request, on http: TestClient) async throws -> TestClient.Response {
        let outcome = FirstOutcome<TestClient.Response>()
        return try await withCheckedThrowingContinuation { continuation in
            outcome.start(continuation)
            let work = Task {
                do { outcome.finish(.success(try await http.execute(request))) } catch { outcome.finish(.failure(error)) }
            }
            let deadline = Task {
                try await Task.sleep(for: answerDeadline)
                if outcome.finish(.failure(NoAnswer(request: "\(request.head.method) \(request.head.path ?? "")"))) {
                    work.cancel()
                    try? await http.close(mode: .all)
                }
            }
            outcome.onFinish { deadline.cancel() }
        }
    }

    /// Sends a request over a connection of its own, so that it really runs alongside requests sent with `call`
    /// (the test client sends its requests one at a time).
    func callOnNewConnection(_ method: HTTPRequest.Method, _ path: String, auth: String? = TestServer.adminKey,
                             json: String? = nil) async throws -> Reply {
        let port = try #require(client.port)
        return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: Self.clientTimeout)) { client in
            var headers: HTTPFields = [:]
            if let auth { headers[.authorization] = auth }
            if json != nil { headers[.contentType] = "application/json" }
            let response = try await Self.execute(.init(path, method: method, authority: "localhost", headers: headers,
                                                         body: json.map { ByteBuffer(string: $0) }), on: client)
            return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body ?? ByteBuffer()))
        }
    }

    /// A token for the admin, from the API key.
    func adminToken() async throws -> String {
        try await call(.post, "/bim/apikey/authenticate", auth: nil, json: #"{"apikey":"\#(Self.adminKey)"}"#).string("token")
    }

    /// Creates a user with the given permissions and returns an API key of theirs, all over HTTP:
    /// the user signs in with their password and creates the key themself.
    func userWithKey(_ userid: String, permissions: [Permission] = []) async throws -> String {
        let list = permissions.map { "\"\($0.rawValue)\"" }.joined(separator: ",")
        let password = "password-of-\(userid)"
        try await call(.post, "/bim/iam/bim/user", json: #"{"userid":"\#(userid)","password":"\#(password)","permissions":[\#(list)]}"#)
            .expect(.ok)
        let token = try await call(.post, "/bim/iam/bim/user/authenticate", auth: nil,
                                   json: #"{"username":"\#(userid)","password":"\#(password)"}"#).expect(.ok).string("token")
        return try await call(.post, "/bim/apikey", auth: "Bearer " + token, json: "{}").expect(.ok).string("apikey")
    }
}

/// The first of several outcomes resumes the continuation; later ones are dropped.
final class FirstOutcome<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Value, any Error>?
    private var pending: Result<Value, any Error>?
    private var done = false
    private var cleanup: (@Sendable () -> Void)?

    func start(_ continuation: CheckedContinuation<Value, any Error>) {
        lock.lock()
        if let pending {
            lock.unlock()
            continuation.resume(with: pending)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func onFinish(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        let finished = done
        if !finished { cleanup = body }
        lock.unlock()
        if finished { body() }
    }

    /// Whether this outcome was the first.
    @discardableResult
    func finish(_ result: Result<Value, any Error>) -> Bool {
        lock.lock()
        guard !done else {
            lock.unlock()
            return false
        }
        done = true
        let continuation = self.continuation
        self.continuation = nil
        if continuation == nil { pending = result }
        let cleanup = self.cleanup
        self.cleanup = nil
        lock.unlock()
        continuation?.resume(with: result)
        cleanup?()
        return true
    }
}

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    /// The body as a JSON object. Any other shape is a failed test, not an empty object: a leak check such as
    /// `#expect(theirs.isEmpty)` must not pass because a route answered with the wrong type.
    var object: [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            Issue.record("expected a JSON object, got \(status.code): \(text.prefix(500))")
            return [:]
        }
        return object
    }

    /// The body as a JSON array; any other shape is a failed test.
    var array: [Any] {
        guard let array = (try? JSONSerialization.jsonObject(with: body)) as? [Any] else {
            Issue.record("expected a JSON array, got \(status.code): \(text.prefix(500))")
            return []
        }
        return array
    }

    /// The body decoded into `type`; a body of another shape is a failed test.
    func decode<T: Decodable>(_ type: T.Type, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
        do {
            return try WardenTestJSON.decoder.decode(T.self, from: body)
        } catch {
            Issue.record("expected \(T.self), got \(status.code): \(text.prefix(500)) (\(error))", sourceLocation: sourceLocation)
            throw error
        }
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    func string(_ key: String) throws -> String {
        try #require(object[key] as? String, "no string \(key) in \(text)")
    }

    /// Checks the status and, for errors, the envelope every error must have.
    @discardableResult
    func expect(_ status: HTTPResponse.Status, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Reply {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        if status.code >= 400 {
            let envelope = object
            #expect(envelope["statusCode"] as? Int == status.code, sourceLocation: sourceLocation)
            #expect(envelope["error"] as? String == status.reasonPhrase, sourceLocation: sourceLocation)
            #expect((envelope["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
            #expect(envelope["requestId"] as? String == headers[.init("X-Request-Id")!], sourceLocation: sourceLocation)
            if let code { #expect(envelope["code"] as? String == code, sourceLocation: sourceLocation) }
        }
        #expect(headers[.init("X-Request-Id")!] != nil, sourceLocation: sourceLocation)
        return self
    }
}

enum WardenTestJSON {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// Ids 1, 2, 3 … in UUID form, so that a test knows which ids the server will hand out.
final class SequentialIds: IdGenerator, @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt8 = 0

    func uuid() -> UUID {
        lock.lock()
        defer { lock.unlock() }
        last += 1
        return UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last))
    }
}

/// Where one test server is in its life, appended to the file `WARDEN_TEST_TRACE` names when set:
/// scripts/watched-swift-test sets it and, when a run stalls, shows the servers that never stopped and their last step.
struct ServerTrace: Sendable {
    private let id = UUID().uuidString.prefix(8)
    private let test = Test.current?.name ?? "?"
    private static let file: FileHandle? = ProcessInfo.processInfo.environment["WARDEN_TEST_TRACE"]
        .flatMap { FileHandle(forWritingAtPath: $0) }
    private static let lock = NSLock()

    /// `TestMetastores.logger`, and when tracing, one that also traces each service's start and shutdown (ServiceLifecycle
    /// says so at debug level, naming the service).
    var logger: Logger {
        guard Self.file != nil else { return TestMetastores.logger }
        let (trace, base) = (self, TestMetastores.logger)
        var logger = Logger(label: base.label) { _ in ServiceSteps(trace: trace, base: base) }
        logger.logLevel = .debug
        return logger
    }

    private struct ServiceSteps: LogHandler {
        let trace: ServerTrace
        let base: Logger
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            if let service = event.metadata?["sl-service"] {
                // A service describes itself with all its fields: its type, or a periodic one's name, is enough.
                trace.mark("\(event.message): \("\(service)".prefix(64))")
            } else if event.level >= base.logLevel {
                base.log(level: event.level, event.message, metadata: event.metadata, source: event.source, file: event.file,
                         function: event.function, line: event.line)
            }
        }
    }

    func mark(_ step: String) {
        guard let file = Self.file else { return }
        let line = "\(id)\t\(test)\t\(step)\n"
        Self.lock.withLock {
            file.seekToEndOfFile()
            file.write(Data(line.utf8))
        }
    }
}
