import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// An HTTP peer that answers from a script and records what it was sent: for the parts of a warehouse protocol that no
/// peer running here does (statements still running, failures in the documented shapes, rate limits, OAuth).
actor ScriptedPeer {
    /// The id scripted answers give their statement or query; `ID` in a script's keys stands for it.
    static let id = "01ef6f9b-1c2d-1a3e-9f4a-5b6c7d8e9f00"

    struct Sent: Sendable {
        var method: String
        var path: String
        var query: String
        var authorization: String?
        var raw: Data
        var body: [String: Any]? { (try? JSONSerialization.jsonObject(with: raw)) as? [String: Any] }
    }

    private(set) var sent: [Sent] = []
    private var replies: [String: [(status: Int, body: String, headers: [String: String])]]

    /// `replies[key]`, key `METHOD path` (`ID` standing for `ScriptedPeer.id`), each used once in order, the last repeated.
    init(_ replies: [String: [(status: Int, body: String, headers: [String: String])]]) {
        self.replies = replies
    }

    func answer(method: String, path: String, query: String, authorization: String?, body: Data)
        -> (status: Int, body: String, headers: [String: String]) {
        sent.append(Sent(method: method, path: path, query: query, authorization: authorization, raw: body))
        let key = "\(method) " + path.replacingOccurrences(of: Self.id, with: "ID")
        guard var queue = replies[key], !queue.isEmpty else { return (404, #"{"error_code": "NOT_FOUND", "message": "no script"}"#, [:]) }
        let next = queue.count > 1 ? queue.removeFirst() : queue[0]
        replies[key] = queue
        return next
    }

    /// Serves the script on a free local port for the duration of `body`.
    nonisolated func serve(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        for method in [HTTPRequest.Method.get, .post] {
            router.on("**", method: method) { request, _ in try await self.reply(request) }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(try #require(client.port)) }
    }

    private func reply(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let answer = answer(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", authorization: request.headers[.authorization],
                            body: Data(body.readableBytesView))
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in answer.headers { headers[HTTPField.Name(name)!] = value }
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
}
