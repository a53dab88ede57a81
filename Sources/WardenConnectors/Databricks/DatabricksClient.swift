public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import WardenDomain

/// Databricks' SQL Statement Execution API 2.0: `POST /api/2.0/sql/statements` with named parameters, `INLINE`
/// `JSON_ARRAY` results, statements still `PENDING` or `RUNNING` polled and cancelled when the operation's time is up,
/// further chunks followed through `next_chunk_internal_link`, `FAILED` and `CANCELED` reported with Databricks' error.
/// Signs in with a personal access token or OAuth machine to machine (a token from `/oidc/v1/token`, renewed before it
/// expires and once on a 401). 429 and 503 are retried with backoff honouring `Retry-After`. No secret reaches a log
/// line or an error.
public actor DatabricksClient {
    public enum Authentication: Sendable, Hashable {
        case token(String)
        case oauth(clientId: String, secret: String)
    }

    public struct Settings: Sendable, Hashable {
        public var hostname: String
        public var port: Int
        public var useTLS: Bool
        public var warehouseId: String
        public var authentication: Authentication

        public init(hostname: String, port: Int, useTLS: Bool, warehouseId: String, authentication: Authentication) {
            self.hostname = hostname
            self.port = port
            self.useTLS = useTLS
            self.warehouseId = warehouseId
            self.authentication = authentication
        }
    }

    /// A statement's result: column names and every cell as text (or nil), as `JSON_ARRAY` carries them.
    public struct Result: Sendable, Equatable {
        public var columns: [String]
        public var rows: [[String?]]
    }

    let settings: Settings
    let http: HTTPClient
    let operationTimeout: Duration
    let logger: Logger
    private var oauth: (token: String, expires: ContinuousClock.Instant)?

    public init(settings: Settings, http: HTTPClient, operationTimeout: Duration = .seconds(60), logger: Logger) {
        self.settings = settings
        self.http = http
        self.operationTimeout = operationTimeout
        self.logger = logger
    }

    var base: String { "\(settings.useTLS ? "https" : "http")://\(settings.hostname):\(settings.port)" }

    /// Runs one statement with `:name` markers bound to `parameters` (as `STRING`s) and reads its whole result.
    public func query(_ sql: String, parameters: [String: String] = [:]) async throws -> Result {
        let deadline = ContinuousClock.now + operationTimeout
        // The server waits up to `wait_timeout` (5 to 50 s) before answering with a statement still running.
        let wait = max(5, min(50, Int(operationTimeout.components.seconds)))
        var body: [String: JSONValue] = [
            "warehouse_id": .string(settings.warehouseId), "statement": .string(sql), "wait_timeout": .string("\(wait)s"),
            "on_wait_timeout": .string("CONTINUE"), "disposition": .string("INLINE"), "format": .string("JSON_ARRAY"),
        ]
        if !parameters.isEmpty {
            body["parameters"] = .array(parameters.sorted { $0.key < $1.key }.map { name, value in
                .object(["name": .string(name), "value": .string(value), "type": .string("STRING")])
            })
        }
        var response = try await call(.POST, "/api/2.0/sql/statements", body: .object(body))
        var polls = 0
        while let state = Self.state(response), state == "PENDING" || state == "RUNNING" {
            guard let id = response["statement_id"]?.stringValue, Self.isPlainId(id) else { throw Self.malformed("a running statement without an id") }
            guard ContinuousClock.now < deadline else {
                // Give the warehouse its time back; the statement's fate no longer matters to anyone.
                _ = try? await call(.POST, "/api/2.0/sql/statements/\(id)/cancel", body: .object([:]))
                throw WardenError(.unavailable, code: .warehouseTimeout,
                                  message: "The Databricks statement did not finish within \(operationTimeout.components.seconds) s and was cancelled")
            }
            polls += 1
            try await Task.sleep(for: .milliseconds(min(1000, 50 * polls)))
            response = try await call(.GET, "/api/2.0/sql/statements/\(id)")
        }
        switch Self.state(response) {
        case "SUCCEEDED": return try await result(response)
        case "FAILED": throw Self.failure(response["status"]?.objectValue?["error"]?.objectValue,
                                          sqlState: response["status"]?.objectValue?["sql_state"]?.stringValue)
        case "CANCELED": throw WardenError(.unavailable, code: .warehouseQueryFailed, message: "Databricks cancelled the statement")
        case "CLOSED": throw WardenError(.unavailable, code: .warehouseQueryFailed, message: "Databricks closed the statement before its result was read")
        case let state: throw Self.malformed("a statement in the state \(state ?? "none")")
        }
    }

    static func state(_ response: [String: JSONValue]) -> String? {
        response["status"]?.objectValue?["state"]?.stringValue
    }

    /// The first chunk inline, then every chunk its `next_chunk_internal_link` names.
    func result(_ response: [String: JSONValue]) async throws -> Result {
        let columns = (response["manifest"]?.objectValue?["schema"]?.objectValue?["columns"]?.arrayValue ?? [])
            .compactMap { $0.objectValue?["name"]?.stringValue }
        var rows: [[String?]] = []
        var chunk = response["result"]?.objectValue ?? [:]
        var seen = 0
        while true {
            guard chunk["external_links"] == nil || chunk["external_links"] == .null else {
                throw Self.malformed("external links for an INLINE result")
            }
            rows += try Self.rows(chunk["data_array"] ?? .array([]), width: columns.count)
            guard let link = chunk["next_chunk_internal_link"]?.stringValue else { break }
            // The link is a path on this workspace; anything else is not followed.
            guard link.hasPrefix("/api/2.0/sql/statements/"), !link.contains(".."), seen < 100_000 else {
                throw Self.malformed("a chunk link Warden does not follow")
            }
            seen += 1
            chunk = try await call(.GET, link)
        }
        return Result(columns: columns, rows: rows)
    }

    /// `JSON_ARRAY` rows: every value a string or null. Numbers and booleans are read as text too.
    static func rows(_ value: JSONValue, width: Int) throws -> [[String?]] {
        guard case .array(let rows) = value else { throw malformed("a data_array that is not an array") }
        return try rows.map { row in
            guard case .array(let cells) = row, width == 0 || cells.count == width else { throw malformed("a row that does not match its columns") }
            return cells.map(SQLOverHTTP.text)
        }
    }

    static func isPlainId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    // MARK: Signing in

    private func bearer(renew: Bool) async throws -> String {
        switch settings.authentication {
        case .token(let token): return token
        case .oauth(let clientId, let secret):
            if !renew, let oauth, ContinuousClock.now < oauth.expires { return oauth.token }
            var request = HTTPClientRequest(url: base + "/oidc/v1/token")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(clientId):\(secret)".utf8).base64EncodedString())
            request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials&scope=all-apis"))
            let (status, body) = try await send(request)
            guard status == 200, let reply = try? Self.object(body), let token = reply["access_token"]?.stringValue else {
                throw WardenError(.badRequest, code: .warehouseAuthenticationFailed,
                                  message: "Databricks refused the OAuth client credentials (HTTP \(status))")
            }
            // Renewed a minute before it expires, so no statement starts with a token about to lapse.
            let lifetime = max(60, reply["expires_in"]?.int64Value ?? 3600)
            oauth = (token, ContinuousClock.now + .seconds(lifetime - 60))
            return token
        }
    }

    // MARK: HTTP

    private func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> [String: JSONValue] {
        var renewed = false
        while true {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer " + (try await bearer(renew: renewed)))
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
            }
            let (status, data) = try await send(request)
            if status == 401, case .oauth = settings.authentication, !renewed {
                renewed = true
                continue
            }
            guard status < 400 else {
                let reply = try? Self.object(data)
                let detail = reply?["message"]?.stringValue.map { ": " + String($0.prefix(500)) } ?? ""
                let code = reply?["error_code"]?.stringValue.map { " \($0)" } ?? ""
                switch status {
                case 401, 403:
                    throw WardenError(.badRequest, code: .warehouseAuthenticationFailed, message: "Databricks refused the credentials (HTTP \(status)\(code))\(detail)")
                case 400, 404:
                    throw WardenError(.badRequest, code: .warehouseQueryFailed, message: "Databricks refused the request (HTTP \(status)\(code))\(detail)")
                default:
                    throw WardenError(.unavailable, code: .warehouseQueryFailed, message: "Databricks answered HTTP \(status)\(code)\(detail)")
                }
            }
            return try Self.object(data)
        }
    }

    private func send(_ request: HTTPClientRequest) async throws -> (UInt, Data) {
        try await SQLOverHTTP.send(request, on: http, timeout: .seconds(max(1, operationTimeout.components.seconds)), logger: logger,
                                   service: "Databricks at \(settings.hostname):\(settings.port)")
    }

    static func object(_ data: Data) throws -> [String: JSONValue] {
        guard let object = SQLOverHTTP.object(data) else { throw malformed("an answer that is not a JSON object") }
        return object
    }

    static func malformed(_ what: String) -> WardenError {
        WardenError(.unavailable, code: .warehouseQueryFailed, message: "Databricks sent \(what)")
    }

    /// A `FAILED` statement's error: Databricks' code, SQLSTATE and message, which name the statement's problem.
    static func failure(_ error: [String: JSONValue]?, sqlState: String?) -> WardenError {
        let code = error?["error_code"]?.stringValue ?? "UNKNOWN"
        let message = error?["message"]?.stringValue.map { String($0.prefix(500)) } ?? "no message"
        let state = sqlState.map { ", SQLSTATE \($0)" } ?? ""
        switch code {
        case "UNAUTHENTICATED":
            return WardenError(.badRequest, code: .warehouseAuthenticationFailed, message: "Databricks refused the credentials (\(code)): \(message)")
        case "TEMPORARILY_UNAVAILABLE", "SERVICE_UNDER_MAINTENANCE", "WORKSPACE_TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "IO_ERROR", "INTERNAL_ERROR":
            return WardenError(.unavailable, code: .warehouseQueryFailed, message: "Databricks could not run the statement (\(code)\(state)): \(message)")
        case "DEADLINE_EXCEEDED":
            return WardenError(.unavailable, code: .warehouseTimeout, message: "Databricks gave up on the statement (\(code)): \(message)")
        default:
            return WardenError(.badRequest, code: .warehouseQueryFailed, message: "Databricks could not run the statement (\(code)\(state)): \(message)")
        }
    }
}
