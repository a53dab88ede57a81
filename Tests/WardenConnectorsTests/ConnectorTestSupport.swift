import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PostgresNIO
import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

/// A connector registry for one test, shut down afterwards whatever happens.
@discardableResult
func withConnectors<T>(
    connectTimeout: Duration = .seconds(10), operationTimeout: Duration = .seconds(30), maxWarehouses: Int = 64,
    _ body: (WarehouseConnectors) async throws -> T
) async throws -> T {
    let connectors = WarehouseConnectors(logger: TestMetastores.logger, connectTimeout: connectTimeout,
                                         operationTimeout: operationTimeout, maxWarehouses: maxWarehouses)
    do {
        let result = try await body(connectors)
        await connectors.shutdown()
        return result
    } catch {
        await connectors.shutdown()
        throw error
    }
}

/// Expects `body` to throw a `WardenError` with `code`, and returns it for further checks.
@discardableResult
func expectWarehouseError(_ code: WardenError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                          _ body: () async throws -> Void) async -> WardenError? {
    do {
        try await body()
        Issue.record("expected \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as WardenError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.kind == .badRequest, sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected WardenError \(code), got \(String(reflecting: error))", sourceLocation: sourceLocation)
        return nil
    }
}

extension TestWarehouse {
    /// Rows of a query run directly (not through the connector), every column cast to text by the query.
    func rows(_ sql: String) async throws -> [[String?]] {
        let configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestMetastores.logger)
        do {
            var result: [[String?]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestMetastores.logger) {
                result.append(try row.map { try $0.decode(String?.self) })
            }
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    func table(_ name: String) -> TableReference { TableReference(schema: "army", table: name) }
}

/// A TCP server that accepts connections and never says a word: a warehouse that hangs.
struct SilentServer {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    static func start() async throws -> SilentServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SilentServer(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// A local port where nothing listens and connections are refused: a socket bound to it without listening. It stays
/// bound for the rest of the run (a few sockets at most), so no other test's server can take the port meanwhile.
func closedPort() async throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
