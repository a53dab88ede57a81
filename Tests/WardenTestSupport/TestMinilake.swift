import AsyncHTTPClient
public import Foundation
import NIOCore
public import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A minilake server (PyPI `minilake`: Databricks' APIs over DuckDB) for one test, from the virtual environment
/// `scripts/test` makes and names in `WARDEN_TEST_MINILAKE_PYTHON`, started through `Tests/Peers/minilake_server.py`
/// (which binds named parameters, the one part of the Statement Execution API minilake leaves out).
public enum TestMinilake {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String { "WARDEN_TEST_MINILAKE_PYTHON is unset: run the tests with scripts/test, which installs minilake" }
    }

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// What a test gets: the port, a SQL warehouse's id and a catalog of its own.
    public struct Peer: Sendable {
        public var port: Int
        public var warehouseId: String
        public var catalog: String
        public var httpPath: String { "/sql/1.0/warehouses/\(warehouseId)" }

        /// Calls minilake's API as a test's own client would, without going through Warden.
        public func call(_ method: HTTPMethod, _ path: String, json: String? = nil) async throws -> (status: UInt, body: Data) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer dapi-test-token")
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: json))
            }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            return (response.status.code, Data((try await response.body.collect(upTo: 64 * 1024 * 1024)).readableBytesView))
        }

        /// Runs `sql` on the warehouse, failing the test's setup when it fails.
        public func execute(_ sql: String) async throws {
            let body = try JSONSerialization.data(withJSONObject: ["warehouse_id": warehouseId, "statement": sql])
            let reply = try await call(.POST, "/api/2.0/sql/statements", json: String(decoding: body, as: UTF8.self))
            guard reply.status == 200 else { throw Failed(description: "minilake refused \(sql): \(String(decoding: reply.body, as: UTF8.self))") }
        }
    }

    public static var python: String {
        get throws {
            guard let python = ProcessInfo.processInfo.environment["WARDEN_TEST_MINILAKE_PYTHON"], !python.isEmpty else { throw Missing() }
            return python
        }
    }

    /// Runs `body` with a fresh minilake server holding one SQL warehouse and the catalog `catalog` (schemas created by
    /// the test); stops the server and removes its data after.
    public static func run(catalog: String = "lake", _ body: (Peer) async throws -> Void) async throws {
        let python = try python
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/minilake_server.py").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warden-minilake-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = Int.random(in: 20_000..<60_000)
        let pid = try TestProcess.spawn([python, script, String(port), directory.path])
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        var peer = Peer(port: port, warehouseId: "", catalog: catalog)
        var ready = false
        for _ in 0..<300 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            ready = (try? await peer.call(.GET, "/api/2.0/sql/warehouses").status) == 200
        }
        guard ready else { throw Failed(description: "minilake did not start within 30 s") }
        let created = try await peer.call(.POST, "/api/2.0/sql/warehouses", json: #"{"name": "warden", "cluster_size": "2X-Small"}"#)
        guard created.status == 200, let id = (try JSONSerialization.jsonObject(with: created.body) as? [String: Any])?["id"] as? String else {
            throw Failed(description: "minilake did not create a warehouse: \(String(decoding: created.body, as: UTF8.self))")
        }
        peer.warehouseId = id
        let catalogReply = try await peer.call(.POST, "/api/2.1/unity-catalog/catalogs", json: #"{"name": "\#(catalog)"}"#)
        guard catalogReply.status == 200 else { throw Failed(description: "minilake did not create the catalog \(catalog)") }
        try await body(peer)
    }
}
