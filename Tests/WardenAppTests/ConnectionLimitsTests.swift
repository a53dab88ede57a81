import Foundation
import HummingbirdTesting
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection that sends exactly the bytes a test gives it: partial heads, stalled bodies, a body after an
/// answer. Blocking socket calls run on a thread of their own, never on the concurrency pool.
final class RawConnection: @unchecked Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // deinit runs for a throwing init too, and closes the descriptor once: closing it here as well could close
        // a descriptor the process has reused meanwhile.
        guard connected == 0 else {
            throw WardenError(.internalError, code: .internal, message: "could not connect to port \(port)")
        }
        // A send the server never reads must fail within the test, not hang it.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Sends every byte; false when the server stopped taking them (the send timed out or the peer closed).
    func send(_ data: Data) async -> Bool {
        await onThread {
            data.withUnsafeBytes { buffer in
                var sent = 0
                while sent < buffer.count {
                    let n = Glibc.send(self.descriptor, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                    if n <= 0 { return false }
                    sent += n
                }
                return true
            }
        }
    }

    func send(_ text: String) async -> Bool { await send(Data(text.utf8)) }

    /// Reads until the server closes the connection or `limit` passes: what arrived, whether it closed, and when.
    func readUntilClosed(limit seconds: Int) async -> (data: Data, closed: Bool, elapsed: Duration) {
        await onThread {
            let started = ContinuousClock.now
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var received = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while ContinuousClock.now - started < .seconds(seconds) {
                let n = recv(self.descriptor, &buffer, buffer.count, 0)
                if n == 0 { return (received, true, ContinuousClock.now - started) }
                // A reset after the answer is a close too.
                if n < 0 { return (received, errno == ECONNRESET, ContinuousClock.now - started) }
                received.append(contentsOf: buffer[0..<n])
            }
            return (received, false, ContinuousClock.now - started)
        }
    }

    /// Reads one answer: its head and a body of its `Content-Length`.
    func readAnswer(limit seconds: Int) async -> String {
        await onThread {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var received = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let text = String(decoding: received, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n") {
                    let head = text[..<end.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return text }
                }
                let n = recv(self.descriptor, &buffer, buffer.count, 0)
                if n <= 0 { return text }
                received.append(contentsOf: buffer[0..<n])
            }
        }
    }

    private func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}

/// Connections a client leaves idle, half-sent or stalled are closed; an answer that leaves a body unread closes
/// the connection after reading what the client still sends.
@Suite struct ConnectionLimitsTests {
    static func limited(_ config: inout AppConfig) {
        config.http.idleTimeout = .seconds(3)
        config.http.headerTimeout = .seconds(1)
        config.http.bodyTimeout = .seconds(2)
    }

    @Test func idleHalfSentAndStalledConnectionsAreClosed() async throws {
        try await TestServer.run(.sqlite, configure: Self.limited) { server in
            let port = try #require(server.client.port)
            let idle = try RawConnection(port: port)
            let partialHead = try RawConnection(port: port)
            let stalledBody = try RawConnection(port: port)
            let keptAlive = try RawConnection(port: port)
            #expect(await partialHead.send("GET /health HTTP/1.1\r\nHost: localhost\r\n"))
            #expect(await stalledBody.send("POST /bim/apikey/authenticate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                           + "Content-Length: 100\r\n\r\n{\"apikey\":"))
            #expect(await keptAlive.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"))

            async let idleEnd = idle.readUntilClosed(limit: 20)
            async let headEnd = partialHead.readUntilClosed(limit: 20)
            async let bodyEnd = stalledBody.readUntilClosed(limit: 20)
            async let keptAliveEnd = keptAlive.readUntilClosed(limit: 20)
            let (idleResult, headResult, bodyResult, keptAliveResult) = await (idleEnd, headEnd, bodyEnd, keptAliveEnd)

            #expect(idleResult.closed && idleResult.elapsed < .seconds(10), "idle: \(idleResult.elapsed)")
            #expect(headResult.closed && headResult.elapsed < .seconds(10) && headResult.data.isEmpty, "partial head: \(headResult.elapsed)")
            #expect(bodyResult.closed && bodyResult.elapsed < .seconds(10), "stalled body: \(bodyResult.elapsed)")
            #expect(String(decoding: keptAliveResult.data, as: UTF8.self).hasPrefix("HTTP/1.1 200"), "an answered request is answered first")
            #expect(keptAliveResult.closed && keptAliveResult.elapsed < .seconds(10), "kept alive: \(keptAliveResult.elapsed)")
        }
    }

    /// As urllib sends it (`Connection: close`) and with keep-alive: the whole 11 MiB goes out, the 413 comes back,
    /// and the connection is closed. (On a quiet machine within 20 ms; the bound here only rules out a hang, since
    /// the suite shares two cores.)
    @Test(arguments: [true, false])
    func anOversizeBodyGets413AndTheConnectionCloses(connectionClose: Bool) async throws {
        try await TestServer.run(.sqlite) { server in
            let connection = try RawConnection(port: try #require(server.client.port))
            let body = Data(repeating: UInt8(ascii: "x"), count: 11 << 20)
            let head = "POST /bim/apikey/authenticate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + (connectionClose ? "Connection: close\r\n" : "") + "Content-Length: \(body.count)\r\n\r\n"
            let started = ContinuousClock.now
            #expect(await connection.send(Data(head.utf8) + body), "the server read the whole body")
            let answer = await connection.readUntilClosed(limit: 20)
            let elapsed = ContinuousClock.now - started
            let text = String(decoding: answer.data, as: UTF8.self)

            #expect(text.hasPrefix("HTTP/1.1 413"), "\(text.prefix(200))")
            #expect(text.lowercased().contains("connection: close"))
            #expect(text.contains("\"code\":\"request.too_large\""))
            #expect(answer.closed)
            #expect(elapsed < .seconds(15), "413 after \(elapsed)")
        }
    }

    /// A refusal decided before the body was read (here: no credentials) says so and closes the connection once the
    /// client has sent the rest, so no second request is read from the middle of the first one's body.
    @Test func aRefusalBeforeTheBodyClosesTheConnection() async throws {
        try await TestServer.run(.sqlite) { server in
            let connection = try RawConnection(port: try #require(server.client.port))
            #expect(await connection.send("POST /bim/iam/bim/user HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"))
            let text = await connection.readAnswer(limit: 30)
            #expect(text.hasPrefix("HTTP/1.1 401"), "\(text.prefix(200))")
            #expect(text.lowercased().contains("connection: close"))
            // The rest of the body is read, not taken for a second request, and then the connection ends.
            #expect(await connection.send(#"{"userid": "intrud"}"#))
            let rest = await connection.readUntilClosed(limit: 30)
            #expect(rest.closed && rest.data.isEmpty)
        }
    }

    /// Past the cap a connection waits to be accepted until another one ends (here: the idle ones, after 3 s). The
    /// real executable, since Hummingbird's test mode leaves the cap out.
    @Test func connectionsAboveTheCapWaitForOthersToEnd() async throws {
        let directory = try TestMetastores.temporaryDirectory()
        let server = try WardenProcess(dataDirectory: directory, metastore: .sqlite(path: directory + "/warden.sqlite"),
                                       environment: ["WARDEN_HTTP_MAX_CONNECTIONS": "2", "WARDEN_HTTP_IDLE_TIMEOUT": "3"])
        defer { server.kill() }
        try await server.waitUntilReady()
        let idle = [try RawConnection(port: server.port), try RawConnection(port: server.port)]
        try await Task.sleep(for: .milliseconds(300))
        let waiting = try RawConnection(port: server.port)
        let started = ContinuousClock.now
        #expect(await waiting.send("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
        let answer = await waiting.readUntilClosed(limit: 20)

        #expect(String(decoding: answer.data, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(ContinuousClock.now - started >= .seconds(1), "answered only once an idle connection was closed")
        _ = idle
    }

    /// Pipelined requests: the answer to the first one is not taken for an answer given before its body was read,
    /// although the second request's body is still on its way.
    @Test func pipelinedRequestsAreAllAnswered() async throws {
        try await TestServer.run(.sqlite) { server in
            let connection = try RawConnection(port: try #require(server.client.port))
            let body = #"{"apikey": "not-a-key-0123456789"}"#
            #expect(await connection.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                           + "POST /bim/apikey/authenticate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                           + "Content-Length: \(body.utf8.count)\r\n\r\n" + body.prefix(5)))
            let first = await connection.readAnswer(limit: 30)
            #expect(first.hasPrefix("HTTP/1.1 200"), "\(first.prefix(200))")
            #expect(!first.lowercased().contains("connection: close"))
            #expect(await connection.send(String(body.dropFirst(5))))
            let second = await connection.readAnswer(limit: 30)
            #expect(second.hasPrefix("HTTP/1.1 401"), "\(second.prefix(200))")
        }
    }

    @Test func theLimitsAreSettings() throws {
        let config = try AppConfig.load(environment: ["WARDEN_HTTP_IDLE_TIMEOUT": "7", "WARDEN_HTTP_HEADER_TIMEOUT": "3",
                                                      "WARDEN_HTTP_BODY_TIMEOUT": "30", "WARDEN_HTTP_MAX_CONNECTIONS": "50"])
        #expect(config.http == HTTPLimits(idleTimeout: .seconds(7), headerTimeout: .seconds(3), bodyTimeout: .seconds(30), maxConnections: 50))
        #expect(throws: ConfigError.self) { try AppConfig.load(environment: ["WARDEN_HTTP_IDLE_TIMEOUT": "0"]) }
    }
}
