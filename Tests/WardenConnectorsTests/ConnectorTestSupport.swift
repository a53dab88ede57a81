import Foundation
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

/// A local port nothing listens on: bound once by us, then released.
func closedPort() async throws -> Int {
    let server = try await SilentServer.start()
    let port = server.port
    await server.stop()
    return port
}
