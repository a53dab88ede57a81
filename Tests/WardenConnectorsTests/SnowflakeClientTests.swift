import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

/// The Snowflake protocol client against a fakesnow server (`TestFakesnow`), one per test.
@Suite struct SnowflakeClientTests {
    static func client(_ port: Int, _ database: String, password: String = "secret-password") -> SnowflakeClient {
        SnowflakeClient(settings: .init(hostname: "127.0.0.1", port: port, useTLS: false, account: "fakesnow", username: "warden",
                                        password: password, database: database, schema: "PUBLIC"),
                        http: HTTPClient.shared, logger: Logger(label: "test"))
    }

    /// The Python connector's reading of the same query, as text (`Tests/Peers/snowflake_read.py`).
    static func pythonReads(_ port: Int, _ database: String, _ sql: String) async throws -> [[String?]] {
        let python = try TestFakesnow.python
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/snowflake_read.py")
        let data = try await TestProcess.output(of: [python, script.path, String(port), database, sql])
        return try JSONDecoder().decode([[String?]].self, from: data)
    }

    @Test func statementsRunWithBindingsAndResultsReadLikeThePythonConnectorReadsThem() async throws {
        try await TestFakesnow.run { port, database in
            let client = Self.client(port, database)
            _ = try await client.query("CREATE DATABASE IF NOT EXISTS \(database)")
            _ = try await client.query("CREATE SCHEMA IF NOT EXISTS \(database).PUBLIC")
            _ = try await client.query("""
                CREATE TABLE \(database).PUBLIC.PEOPLE (ID NUMBER(10, 0), NAME VARCHAR, AMOUNT NUMBER(12, 2), ACTIVE BOOLEAN, BORN DATE,
                SEEN TIMESTAMP_NTZ)
                """)
            _ = try await client.query("""
                INSERT INTO \(database).PUBLIC.PEOPLE VALUES (1, 'Ana ✓', 12.5, TRUE, '1990-02-03', '2024-05-06 07:08:09.123456'),
                (2, NULL, -0.05, FALSE, NULL, NULL), (3, 'O''Brien; --', 0, NULL, '2000-01-01', '1970-01-01 00:00:00')
                """)
            let select = "SELECT ID, NAME, AMOUNT, ACTIVE, BORN, SEEN FROM \(database).PUBLIC.PEOPLE ORDER BY ID"
            let result = try await client.query(select)
            #expect(result.columns == ["ID", "NAME", "AMOUNT", "ACTIVE", "BORN", "SEEN"])
            var python = try await Self.pythonReads(port, database, select)
            // The NULL timestamp: its Arrow struct is marked null, which the Python connector does not look at (it reads
            // the zero epoch under it, 1970-01-01); the value in the table is NULL, and Warden reads NULL.
            #expect(python[1][5] == "1970-01-01T00:00:00.000000000Z")
            python[1][5] = nil
            #expect(result.rows == python, "Warden: \(result.rows)\nPython: \(python)")
            #expect(result.rows.first?[1] == "Ana ✓" && result.rows.last?[1] == "O'Brien; --")

            // Bound values stay values, whatever they hold.
            let bound = try await client.query("SELECT NAME FROM \(database).PUBLIC.PEOPLE WHERE NAME = ?", bindings: ["O'Brien; --"])
            #expect(bound.rows == [["O'Brien; --"]])

            // A statement Snowflake refuses is a clear error naming its code; the password is in no message.
            do {
                _ = try await client.query("SELECT NOPE FROM \(database).PUBLIC.NO_SUCH_TABLE")
                Issue.record("a query of a missing table succeeded")
            } catch let error as WardenError {
                #expect(error.code == .warehouseQueryFailed && error.message.contains("code"))
                #expect(!error.message.contains("secret-password"))
            }
        }
    }

    @Test func anUnreachableHostIsAClearErrorWithoutSecrets() async throws {
        let client = SnowflakeClient(settings: .init(hostname: "127.0.0.1", port: 1, useTLS: false, username: "warden", password: "secret-password"),
                                     http: HTTPClient.shared, operationTimeout: .seconds(2), logger: Logger(label: "test"))
        do {
            _ = try await client.query("SELECT 1")
            Issue.record("a query reached port 1")
        } catch let error as WardenError {
            #expect(error.code == .warehouseUnreachable && !error.message.contains("secret-password"))
        }
    }
}
