import Testing
@testable import WardenConnectors
import WardenDomain
import WardenTestSupport

@Suite struct WarehouseConnectorsTests {
    @Test(arguments: [Technology.trino, .asa])
    func technologiesWithoutAConnectorAreNotImplemented(technology: Technology) async throws {
        let settings = ConnectionSettings(technology: technology, hostname: "example.com", port: technology.defaultPort,
                                          database: "db", username: "u", password: "p", ssl: true)

        try await withConnectors { connectors in
            #expect {
                _ = try connectors.connector(for: settings)
            } throws: { error in
                guard let error = error as? WardenError else { return false }
                return error.kind == .notImplemented && error.code.rawValue == "connector.not_implemented"
                    && error.message.contains(technology.rawValue)
            }
        }
    }

    @Test func databricksNeedsTheWarehousesHTTPPath() async throws {
        let settings = ConnectionSettings(technology: .databricks, hostname: "example.com", port: 443, database: "main", username: "token",
                                          password: "dapi", ssl: true)
        try await withConnectors { connectors in
            #expect { _ = try connectors.connector(for: settings) } throws: { ($0 as? WardenError)?.message.contains("httpPath") == true }
            var given = settings
            given.httpPath = "/sql/1.0/warehouses/abc123"
            let connector = try connectors.connector(for: given)
            #expect(connector is DatabricksConnector)
        }
    }

    @Test(arguments: [Technology.redshift, .postgresql])
    func redshiftAndPostgresqlSpeakThePostgresProtocol(technology: Technology) async throws {
        let warehouse = try await TestWarehouse.army()

        let tables = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings(technology: technology))
            #expect(connector is PostgresConnector)
            return try await connector.listTables(schema: "army")
        }

        #expect(tables == ["army_records", "data", "records_view"])
    }

    @Test func equalSettingsShareOnePoolAndDifferentSettingsDoNot() async throws {
        let warehouse = try await TestWarehouse.army()

        let (afterSame, afterOther) = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).testConnection()
            try await connectors.connector(for: warehouse.settings()).testConnection()
            let afterSame = connectors.openPoolCount
            try await connectors.connector(for: warehouse.settings(technology: .redshift)).testConnection()
            return (afterSame, connectors.openPoolCount)
        }

        #expect(afterSame == 1)
        #expect(afterOther == 2)
    }

    @Test func theLeastRecentlyUsedPoolIsClosedBeyondTheLimit() async throws {
        let warehouse = try await TestWarehouse.army()

        let (counts, tables) = try await withConnectors(maxWarehouses: 2) { connectors in
            let first = try connectors.connector(for: warehouse.settings(technology: .postgresql))
            let second = try connectors.connector(for: warehouse.settings(technology: .redshift))
            try await first.testConnection()
            try await second.testConnection()
            try await first.testConnection()
            var counts = [connectors.openPoolCount]
            // `second` is now the least recently used of the two.
            try await connectors.connector(for: warehouse.settings(ssl: true, trusted: [warehouse.caCertificatePEM])).testConnection()
            counts.append(connectors.openPoolCount)
            // A connector whose pool was closed gets a new one.
            let tables = try await second.listTables(schema: "army")
            counts.append(connectors.openPoolCount)
            return (counts, tables)
        }

        #expect(counts == [2, 2, 2])
        #expect(tables == ["army_records", "data", "records_view"])
    }

    @Test func aChangedPasswordGetsANewPool() async throws {
        let warehouse = try await TestWarehouse.army()
        var changed = warehouse.settings()
        changed.password = "changed-password"

        try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).testConnection()
            let connector = try connectors.connector(for: changed)

            #expect(connectors.openPoolCount == 2)
            await expectWarehouseError(.warehouseAuthenticationFailed) { try await connector.testConnection() }
            #expect(connectors.openPoolCount == 1)
        }
    }

    @Test func afterShutdownNoConnectorIsHandedOut() async throws {
        let warehouse = try await TestWarehouse.army()
        let connectors = WarehouseConnectors(logger: TestMetastores.logger)
        try await connectors.connector(for: warehouse.settings()).testConnection()

        await connectors.shutdown()

        #expect(connectors.openPoolCount == 0)
        #expect(throws: WardenError.self) { _ = try connectors.connector(for: warehouse.settings()) }
    }

    /// A shutdown waits for its pools' tasks for a bounded time: ended tasks answer at once, and one that never ends
    /// is left after the limit instead of holding the shutdown forever.
    @Test func shutdownWaitsForItsPoolsAtMostItsLimit() async {
        let ended = Task<Void, Never> {}
        #expect(await WarehouseConnectors.wait(for: [ended], atMost: .seconds(30)))
        let stuck = Task<Void, Never> { try? await Task.sleep(for: .seconds(3600)) }
        defer { stuck.cancel() }
        #expect(await !WarehouseConnectors.wait(for: [ended, stuck], atMost: .milliseconds(200)))
    }
}
