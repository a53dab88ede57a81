import Foundation
import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

@Suite struct PostgresConnectorFailureTests {
    @Test func aWrongPasswordIsReportedAsRejectedCredentialsWithoutThePassword() async throws {
        let warehouse = try await TestWarehouse.army()
        var settings = warehouse.settings()
        settings.password = "not-the-password-42"

        let (error, pools) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: settings)
            let error = await expectWarehouseError(.warehouseAuthenticationFailed) { try await connector.testConnection() }
            return (error, connectors.openPoolCount)
        }

        #expect(error?.message == "The warehouse rejected the credentials of user \(warehouse.username)")
        #expect(error?.message.contains("not-the-password-42") == false)
        #expect(pools == 0, "a pool with rejected credentials is closed so it stops retrying")
    }

    @Test func aMissingDatabaseIsNamed() async throws {
        let warehouse = try await TestWarehouse.army()
        var settings = warehouse.settings()
        settings.database = "no_such_database"

        let error = try await withConnectors { connectors in
            let connector = try connectors.connector(for: settings)
            return await expectWarehouseError(.warehouseDatabaseNotFound) { _ = try await connector.listSchemas() }
        }

        #expect(error?.message == "The database no_such_database does not exist on the warehouse at \(warehouse.host):\(warehouse.port)")
    }

    @Test func aClosedPortIsUnreachable() async throws {
        let port = try await closedPort()
        let settings = ConnectionSettings(technology: .redshift, hostname: "127.0.0.1", port: port, database: "dev",
                                          username: "admin", password: "secret-pw", ssl: false)

        let error = try await withConnectors { connectors in
            let connector = try connectors.connector(for: settings)
            return await expectWarehouseError(.warehouseUnreachable) { _ = try await connector.describe([TableReference(schema: "a", table: "b")]) }
        }

        #expect(error?.message.hasPrefix("Could not connect to the warehouse at 127.0.0.1:\(port): ") == true, "\(String(describing: error))")
        #expect(error?.message.localizedCaseInsensitiveContains("refused") == true, "\(String(describing: error))")
        #expect(error?.message.contains("secret-pw") == false)
    }

    @Test func anUnknownHostIsUnreachable() async throws {
        let settings = ConnectionSettings(technology: .postgresql, hostname: "warehouse.invalid", port: 5432, database: "dev",
                                          username: "admin", password: "secret-pw", ssl: false)

        try await withConnectors { connectors in
            let connector = try connectors.connector(for: settings)
            await expectWarehouseError(.warehouseUnreachable) { try await connector.testConnection() }
        }
    }

    @Test func tlsWithTheTrustedCertificateWorksAndIsEncrypted() async throws {
        let warehouse = try await TestWarehouse.army()
        try #require(!warehouse.caCertificatePEM.isEmpty, "\(TestWarehouse.MissingCertificate())")

        let schemas = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings(ssl: true, trusted: [warehouse.caCertificatePEM]))
            let schemas = try await connector.listSchemas()
            // The pooled connection stays open: the server says how it is connected.
            let encrypted = try await warehouse.rows("""
                SELECT bool_and(s.ssl)::text FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
                WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                """)
            #expect(encrypted == [["true"]])
            return schemas
        }

        #expect(schemas.contains("army"))
    }

    @Test func tlsNamesTheHostByNameAsWellAsByAddress() async throws {
        let warehouse = try await TestWarehouse.army()
        try #require(!warehouse.caCertificatePEM.isEmpty, "\(TestWarehouse.MissingCertificate())")
        var settings = warehouse.settings(ssl: true, trusted: [warehouse.caCertificatePEM])
        settings.hostname = "localhost"

        try await withConnectors { connectors in
            try await connectors.connector(for: settings).testConnection()
        }
    }

    @Test func tlsWithoutTrustingTheCertificateFails() async throws {
        let warehouse = try await TestWarehouse.army()

        let error = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings(ssl: true))
            return await expectWarehouseError(.warehouseTlsFailed) { try await connector.testConnection() }
        }

        #expect(error?.message.hasPrefix("TLS with the warehouse at \(warehouse.host):\(warehouse.port) failed: ") == true,
                "\(String(describing: error))")
    }

    @Test func trustedCertificatesThatAreNotPEMAreRefused() async throws {
        let warehouse = try await TestWarehouse.army()

        try await withConnectors { connectors in
            await expectWarehouseError(.warehouseTlsFailed) {
                _ = try connectors.connector(for: warehouse.settings(ssl: true, trusted: ["not a certificate"]))
            }
        }
    }

    @Test func withoutTLSTheConnectionIsPlain() async throws {
        let warehouse = try await TestWarehouse.army()

        try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings(ssl: false)).testConnection()
            let encrypted = try await warehouse.rows("""
                SELECT bool_or(s.ssl)::text FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
                WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                """)
            #expect(encrypted == [["false"]])
        }
    }

    /// Whichever limit is shorter cuts the silence off: the connect timeout (the handshake never ends) or
    /// the operation timeout (cancelling the connection attempt).
    @Test(arguments: [(connect: 1, operation: 1), (connect: 120, operation: 1), (connect: 1, operation: 120)])
    func aWarehouseThatNeverAnswersIsCutOffByTheTimeout(connect: Int, operation: Int) async throws {
        let server = try await SilentServer.start()
        defer { Task { await server.stop() } }
        let settings = ConnectionSettings(technology: .postgresql, hostname: "127.0.0.1", port: server.port, database: "dev",
                                          username: "admin", password: "secret-pw", ssl: false)
        let clock = ContinuousClock()

        let (error, elapsed) = try await withConnectors(connectTimeout: .seconds(connect), operationTimeout: .seconds(operation)) { connectors in
            let connector = try connectors.connector(for: settings)
            let start = clock.now
            let error = await expectWarehouseError(.warehouseTimeout) { _ = try await connector.listSchemas() }
            return (error, clock.now - start)
        }

        // About 1 second when run alone. The bound is loose on purpose, since the suite shares two cores with
        // tests that start processes: it only rules out waiting for the 120-second limit, or for ever.
        #expect(elapsed < .seconds(60))
        #expect(error?.message == "The warehouse at 127.0.0.1:\(server.port) did not answer within 1 second")
    }

    @Test func aQueryThatRunsTooLongIsCutOffAndItsConnectionClosed() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE VIEW army.slow AS SELECT CAST(pg_sleep(30) AS text) AS nap")
        let clock = ContinuousClock()

        // Five seconds leave room for the new connection (SCRAM authentication) the pool opens afterwards,
        // even on a machine busy with the rest of the suite.
        let (error, elapsed) = try await withConnectors(operationTimeout: .seconds(5)) { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            // The first connection, too, may outlast five seconds on a loaded machine: polled like the one after.
            for attempt in 1...6 {
                do {
                    try await connector.testConnection()
                    break
                } catch let error as WardenError where error.code == .warehouseTimeout && attempt < 6 {
                    continue
                }
            }
            let start = clock.now
            let error = await expectWarehouseError(.warehouseTimeout) {
                _ = try await connector.highCardinalityColumn(of: warehouse.table("slow"), columns: ["nap"], rowCount: 1)
            }
            let elapsed = clock.now - start
            // The pool is still usable afterwards. On a loaded machine the new connection's SCRAM handshake may
            // itself outlast five seconds, so this is a poll with a generous deadline, not a single try.
            var tables: [String] = []
            for attempt in 1...6 {
                do {
                    tables = try await connector.listTables(schema: "army")
                    break
                } catch let error as WardenError where error.code == .warehouseTimeout && attempt < 6 {
                    continue
                }
            }
            #expect(tables.contains("slow"))
            return (error, elapsed)
        }

        #expect(elapsed < .seconds(15), "cut off after 5 seconds rather than waiting for the 30-second query")
        #expect(error?.message == "The warehouse at \(warehouse.host):\(warehouse.port) did not answer within 5 seconds")
    }
}
