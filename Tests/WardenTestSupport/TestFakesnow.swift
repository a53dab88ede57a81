import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A fakesnow server (PyPI `fakesnow[server]`: Snowflake's connector protocol over DuckDB) for one test, from the
/// virtual environment `scripts/test` makes and names in `WARDEN_TEST_FAKESNOW_PYTHON`.
public enum TestFakesnow {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String { "WARDEN_TEST_FAKESNOW_PYTHON is unset: run the tests with scripts/test, which installs fakesnow" }
    }

    public struct NotStarted: Error, CustomStringConvertible {
        public var description: String { "fakesnow did not start within 20 s" }
    }

    public static var python: String {
        get throws {
            guard let python = ProcessInfo.processInfo.environment["WARDEN_TEST_FAKESNOW_PYTHON"], !python.isEmpty else { throw Missing() }
            return python
        }
    }

    /// Runs `body` with the port of a fresh fakesnow server and a database name of its own; stops the server after.
    public static func run(_ body: (_ port: Int, _ database: String) async throws -> Void) async throws {
        let port = Int.random(in: 20_000..<60_000)
        let pid = try TestProcess.spawn([try python, "-m", "fakesnow", "-s", "-p", String(port)])
        // Stopped at once, whatever it is doing, and reaped.
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // Ready when it accepts a sign-in; polled with sleeps, so no thread is held while it starts.
        var ready = false
        for _ in 0..<200 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/session/v1/login-request")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"data": {"SESSION_PARAMETERS": {}}}"#))
            ready = (try? await HTTPClient.shared.execute(request, timeout: .seconds(2)).status.code) == 200
        }
        guard ready else { throw NotStarted() }
        try await body(port, "DB_" + UUID().uuidString.prefix(8).uppercased())
    }
}
