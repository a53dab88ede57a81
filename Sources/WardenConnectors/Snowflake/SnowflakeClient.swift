public import AsyncHTTPClient
import Foundation
public import Logging
public import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import WardenDomain

/// Snowflake's connector protocol over HTTP(S), as the official drivers speak it: a session from
/// `/session/v1/login-request`, statements through `/queries/v1/query-request` with positional bindings, results as a
/// JSON `rowset` or an Arrow `rowsetBase64` (and their chunks), queries still running polled, an expired session renewed
/// once, 429 and 503 retried with backoff honouring `Retry-After`. No secret reaches a log line or an error.
public actor SnowflakeClient {
    public struct Settings: Sendable, Hashable {
        /// `account.snowflakecomputing.com` (or any host speaking the protocol).
        public var hostname: String
        public var port: Int
        /// Plain HTTP only when asked (`ssl: false`), for endpoints that do not speak TLS.
        public var useTLS: Bool
        public var account: String
        public var username: String
        public var password: String
        public var database: String?
        public var schema: String?
        public var warehouse: String?
        public var role: String?
        /// Key-pair authentication: `password` is then the PEM private key, and the session starts with a signed JWT.
        public var keyPair: Bool

        public init(hostname: String, port: Int, useTLS: Bool, account: String? = nil, username: String, password: String,
                    database: String? = nil, schema: String? = nil, warehouse: String? = nil, role: String? = nil, keyPair: Bool = false) {
            self.keyPair = keyPair
            self.hostname = hostname
            self.port = port
            self.useTLS = useTLS
            // The account is the host name's first label, as the drivers derive it.
            self.account = account ?? String(hostname.split(separator: ".").first ?? Substring(hostname))
            self.username = username
            self.password = password
            self.database = database
            self.schema = schema
            self.warehouse = warehouse
            self.role = role
        }
    }

    /// A statement's result: column names as Snowflake reports them, and every cell as text (or nil).
    public struct Result: Sendable, Equatable {
        public var columns: [String]
        public var rows: [[String?]]
    }

    let settings: Settings
    let http: HTTPClient
    let operationTimeout: TimeAmount
    let logger: Logger
    private var token: String?
    private var sequence = 0
    /// One statement at a time per session, as a driver's connection runs them (the actor alone would interleave them
    /// at every suspension).
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(settings: Settings, http: HTTPClient, operationTimeout: TimeAmount = .seconds(60), logger: Logger) {
        self.settings = settings
        self.http = http
        self.operationTimeout = operationTimeout
        self.logger = logger
    }

    var base: String { "\(settings.useTLS ? "https" : "http")://\(settings.hostname):\(settings.port)" }

    // MARK: Session

    func login() async throws -> String {
        var query: [(String, String?)] = [("databaseName", settings.database), ("schemaName", settings.schema),
                                           ("warehouse", settings.warehouse), ("roleName", settings.role)]
        query.append(("request_id", UUID().uuidString.lowercased()))
        var data: [String: JSONValue] = [
            "CLIENT_APP_ID": .string("Warden"), "CLIENT_APP_VERSION": .string("1.0"), "ACCOUNT_NAME": .string(settings.account),
            "LOGIN_NAME": .string(settings.username), "SESSION_PARAMETERS": .object(["AUTOCOMMIT": .bool(true)]),
        ]
        if settings.keyPair {
            data["AUTHENTICATOR"] = .string("SNOWFLAKE_JWT")
            data["TOKEN"] = .string(try SnowflakeKeyPair.token(privateKeyPEM: settings.password, account: settings.account,
                                                               username: settings.username, now: Date()))
        } else {
            data["PASSWORD"] = .string(settings.password)
        }
        let body: JSONValue = .object(["data": .object(data)])
        let reply = try await post("/session/v1/login-request", query: query, body: body, authorized: false)
        guard reply["success"] == .bool(true), case .string(let token)? = reply["data"]?.objectValue?["token"] else {
            throw Self.failure(reply, during: "signing in")
        }
        self.token = token
        return token
    }

    /// Runs one statement with `?` placeholders bound, in order, to `bindings` (as text), and reads its whole result.
    public func query(_ sql: String, bindings: [String] = []) async throws -> Result {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        do {
            let result = try await run(sql, bindings: bindings)
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    /// Hands the session to the next statement waiting for it.
    private func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    private func run(_ sql: String, bindings: [String]) async throws -> Result {
        var renewed = false
        while true {
            let token: String
            if let current = self.token { token = current } else { token = try await login() }
            sequence += 1
            var bound: [String: JSONValue] = [:]
            for (index, value) in bindings.enumerated() { bound[String(index + 1)] = .object(["type": .string("TEXT"), "value": .string(value)]) }
            let body: JSONValue = .object(["sqlText": .string(sql), "bindings": bound.isEmpty ? .null : .object(bound),
                                           "sequenceId": .int(Int64(sequence)), "asyncExec": .bool(false), "describeOnly": .bool(false)])
            let requestId = UUID().uuidString.lowercased()
            let deadline = NIODeadline.now() + operationTimeout
            var reply = try await post("/queries/v1/query-request", query: [("requestId", requestId)], body: body,
                                       authorized: true, token: token)
            // 390112: the session expired; 390104: the server no longer knows it. Renew once.
            if reply["success"] != .bool(true), let code = reply["code"]?.stringValue, ["390112", "390104"].contains(code), !renewed {
                renewed = true
                self.token = nil
                continue
            }
            // 333333/333334: still running; the answer names where its result will be.
            var polls = 0
            while reply["success"] == .bool(true), let code = reply["code"]?.stringValue, ["333333", "333334"].contains(code),
                  let url = reply["data"]?.objectValue?["getResultUrl"]?.stringValue {
                polls += 1
                guard NIODeadline.now() < deadline else {
                    // Stop the query rather than leave it running for no one, as the drivers do on a timeout.
                    _ = try? await post("/queries/v1/abort-request", query: [], body: .object(["sqlText": .string(sql), "requestId": .string(requestId)]),
                                        authorized: true, token: token)
                    throw WardenError(.unavailable, code: .warehouseTimeout,
                                      message: "The Snowflake query did not finish within \(operationTimeout.nanoseconds / 1_000_000_000) s and was aborted")
                }
                try await Task.sleep(for: .milliseconds(min(1000, 50 * polls)))
                reply = try await get(url, token: token)
            }
            guard reply["success"] == .bool(true), case .object(let data)? = reply["data"] else { throw Self.failure(reply, during: "running a query") }
            return try await result(data, token: token)
        }
    }

    /// The rows of a result: the first part inline, then any chunks it lists.
    func result(_ data: [String: JSONValue], token: String) async throws -> Result {
        let columns = (data["rowtype"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
        var rows: [[String?]] = []
        if data["queryResultFormat"]?.stringValue == "arrow" {
            if let encoded = data["rowsetBase64"]?.stringValue, !encoded.isEmpty {
                guard let bytes = Data(base64Encoded: encoded) else { throw Self.malformed("an Arrow result that is not base64") }
                rows += try Self.arrowRows(bytes)
            }
        } else {
            rows += try Self.jsonRows(data["rowset"] ?? .array([]))
        }
        var headers = HTTPHeaders()
        for (name, value) in data["chunkHeaders"]?.objectValue ?? [:] { if let value = value.stringValue { headers.add(name: name, value: value) } }
        for chunk in data["chunks"]?.arrayValue ?? [] {
            guard let url = chunk.objectValue?["url"]?.stringValue else { continue }
            let bytes = try await fetch(url, headers: headers)
            if data["queryResultFormat"]?.stringValue == "arrow" {
                rows += try Self.arrowRows(bytes)
            } else {
                // A JSON chunk is the rows without their enclosing brackets.
                let value = try JSONDecoder().decode(JSONValue.self, from: Data("[".utf8) + bytes + Data("]".utf8))
                rows += try Self.jsonRows(value)
            }
        }
        return Result(columns: columns, rows: rows)
    }

    static func arrowRows(_ bytes: Data) throws -> [[String?]] {
        do {
            return try ArrowStream.read(bytes).rows
        } catch let error as ArrowStream.Malformed {
            throw malformed("an Arrow result Warden cannot read: \(error.description)")
        }
    }

    static func jsonRows(_ value: JSONValue) throws -> [[String?]] {
        guard case .array(let rows) = value else { throw malformed("a rowset that is not an array") }
        return try rows.map { row in
            guard case .array(let cells) = row else { throw malformed("a row that is not an array") }
            return cells.map(SQLOverHTTP.text)
        }
    }

    // MARK: HTTP

    private func post(_ path: String, query: [(String, String?)], body: JSONValue, authorized: Bool, token: String? = nil) async throws -> [String: JSONValue] {
        var components = URLComponents(string: base + path)!
        components.queryItems = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        var request = HTTPClientRequest(url: components.url!.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/snowflake")
        if authorized, let token { request.headers.add(name: "Authorization", value: "Snowflake Token=\"\(token)\"") }
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        return try Self.object(try await send(request))
    }

    private func get(_ path: String, token: String) async throws -> [String: JSONValue] {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : base + path)
        request.headers.add(name: "Accept", value: "application/snowflake")
        request.headers.add(name: "Authorization", value: "Snowflake Token=\"\(token)\"")
        return try Self.object(try await send(request))
    }

    private func fetch(_ url: String, headers: HTTPHeaders) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers = headers
        return try await send(request)
    }

    /// Sends with `SQLOverHTTP`'s retries; an error status (but 401, which the answer explains) throws.
    private func send(_ request: HTTPClientRequest) async throws -> Data {
        let (status, body) = try await SQLOverHTTP.send(request, on: http, timeout: operationTimeout, logger: logger,
                                   service: "Snowflake at \(settings.hostname):\(settings.port)")
        guard status < 400 || status == 401 else {
            // Snowflake's own message, when the answer has one: it names the statement's problem, never a credential.
            let detail = SQLOverHTTP.object(body)?["message"]?.stringValue.map { ": " + String($0.prefix(300)) } ?? ""
            throw WardenError(.unavailable, code: .warehouseQueryFailed, message: "Snowflake answered HTTP \(status)\(detail)")
        }
        return body
    }

    static func object(_ data: Data) throws -> [String: JSONValue] {
        guard let object = SQLOverHTTP.object(data) else { throw malformed("an answer that is not a JSON object") }
        return object
    }

    static func malformed(_ what: String) -> WardenError {
        WardenError(.unavailable, code: .warehouseQueryFailed, message: "Snowflake sent \(what)")
    }

    /// Snowflake's own message and code, which carry no secret; the login's message is kept to its code only when it
    /// could echo a credential.
    static func failure(_ reply: [String: JSONValue], during action: String) -> WardenError {
        let code = reply["code"]?.stringValue ?? reply["data"]?.objectValue?["errorCode"]?.stringValue ?? "unknown"
        let message = reply["message"]?.stringValue ?? "no message"
        if action == "signing in" {
            return WardenError(.badRequest, code: .warehouseAuthenticationFailed, message: "Snowflake refused the sign-in (code \(code)): \(message)")
        }
        return WardenError(.badRequest, code: .warehouseQueryFailed, message: "Snowflake refused the statement while \(action) (code \(code)): \(message)")
    }
}
