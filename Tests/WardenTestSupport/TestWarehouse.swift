import Foundation
import Logging
import PostgresNIO
public import WardenDomain
import WardenStore

/// A warehouse for tests: a fresh database on the test PostgreSQL server (`WARDEN_TEST_POSTGRES_URL`,
/// started by `scripts/test`) filled with the `army` schema.
public struct TestWarehouse: Sendable {
    public let host: String
    public let port: Int
    public let database: String
    public let username: String
    public let password: String
    /// Contents of the PEM file named by `WARDEN_TEST_POSTGRES_CA` (the CA of the server's TLS
    /// certificate); empty when the variable is not set.
    public let caCertificatePEM: String

    public struct MissingCertificate: Error, CustomStringConvertible {
        public init() {}

        public var description: String {
            "WARDEN_TEST_POSTGRES_CA is not set: run the suite with scripts/test, whose server offers TLS"
        }
    }

    /// The server's columns of `army.army_records`, in order; `soldier_id` has the most distinct values.
    public static let armyRecordColumns = [
        "rank", "unit_number", "service_number", "fitness_score", "soldier_id", "accuracy", "pay_grade", "bonus", "active",
        "first_name", "last_name", "state", "notes", "grade_letter", "unit_code", "contact_email", "clearance",
        "date_of_birth", "reveille", "reveille_tz", "enlisted_at", "updated_at", "tour_length", "profile", "preferences",
        "photo", "ip_address", "medals", "allowance", "birth_weight",
    ]

    /// Creates a fresh database on the test server with schema `army`: table `army_records` (30 columns covering
    /// every mapped type family, nullable and NOT NULL, some with typmods like varchar(255) and numeric(10,2),
    /// a json and a jsonb column, a uuid, a bytea, an array, an enum and a domain) with 25 rows of varied data
    /// whose clearly highest-cardinality column is `soldier_id` (25 distinct values; no other column has more
    /// than 12); table `data` (12 columns) with 7 rows; plus a view `army.records_view`.
    public static func army() async throws -> TestWarehouse {
        guard let url = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] else {
            throw TestMetastores.MissingPostgres()
        }
        let server = try PostgresSettings.parse(url: url)
        var ca = ""
        if let path = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_CA"], !path.isEmpty {
            ca = try String(contentsOfFile: path, encoding: .utf8)
        }
        let name = "warden_wh_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let warehouse = TestWarehouse(
            host: server.host, port: server.port, database: String(name), username: server.username,
            password: server.password ?? "", caCertificatePEM: ca)

        try await warehouse.withConnection(database: server.database) { connection in
            // From template0: nothing ever connects to it (autovacuum may visit template1, and then a concurrent
            // CREATE DATABASE from template1 fails because "the source database is being accessed by other users").
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE template0"), logger: logger)
        }
        try await warehouse.withConnection { connection in
            for statement in armySchema {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        return warehouse
    }

    /// Runs one SQL statement against the warehouse database (for tests that alter tables).
    public func execute(_ sql: String) async throws {
        try await withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger)
        }
    }

    /// The rows of one query whose columns are all text (cast them: `x::text`), NULL as nil; as another role when
    /// `role` is given (a login role with that password).
    public func rows(_ sql: String, as role: (name: String, password: String)? = nil) async throws -> [[String?]] {
        var result: [[String?]] = []
        try await withConnection(role: role) { connection in
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger) {
                result.append(try row.map { cell in try cell.decode(String?.self) })
            }
        }
        return result
    }

    /// Settings that reach this warehouse; with `ssl`, `trusted` is what the connector may trust
    /// (pass `[caCertificatePEM]` for a working TLS connection).
    public func settings(technology: Technology = .postgresql, ssl: Bool = false, trusted: [String] = []) -> ConnectionSettings {
        ConnectionSettings(technology: technology, hostname: host, port: port, database: database, username: username,
                           password: password, ssl: ssl, trustedCertificates: trusted)
    }

    private static let logger: Logger = TestMetastores.logger

    /// A failure of the test warehouse itself, with PostgreSQL's own words (PSQLError hides them by default).
    public struct SetupFailed: Error, CustomStringConvertible {
        public let description: String
    }

    private func withConnection(database: String? = nil, role: (name: String, password: String)? = nil,
                                _ body: (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: host, port: port, username: role?.name ?? username, password: role?.password ?? password, database: database ?? self.database,
            tls: .disable)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: Self.logger)
        } catch {
            throw SetupFailed(description: "could not connect to the test warehouse: \(String(reflecting: error))")
        }
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw SetupFailed(description: "the test warehouse failed: \(String(reflecting: error))")
        }
        try await connection.close()
    }

    /// Data is derived from the row number `i` modulo small numbers, so that every column except
    /// `soldier_id` repeats (at most 12 distinct values) and tests can predict the cardinality winner.
    private static let armySchema = [
        "CREATE SCHEMA army",
        "CREATE TYPE army.clearance_level AS ENUM ('public', 'confidential', 'secret', 'top secret')",
        "CREATE DOMAIN army.email AS varchar(320)",
        """
        CREATE TABLE army.army_records (
            rank smallint NOT NULL,
            unit_number integer,
            service_number bigint NOT NULL,
            fitness_score real,
            soldier_id uuid NOT NULL UNIQUE,
            accuracy double precision,
            pay_grade numeric(10,2) NOT NULL,
            bonus numeric,
            active boolean NOT NULL,
            first_name varchar(255) NOT NULL,
            last_name character varying,
            state char(2),
            notes text,
            grade_letter "char",
            unit_code name,
            contact_email army.email,
            clearance army.clearance_level NOT NULL,
            date_of_birth date NOT NULL,
            reveille time,
            reveille_tz time with time zone,
            enlisted_at timestamp NOT NULL,
            updated_at timestamp with time zone,
            tour_length interval,
            profile json,
            preferences jsonb NOT NULL,
            photo bytea,
            ip_address inet,
            medals text[],
            allowance money,
            birth_weight float4
        )
        """,
        """
        INSERT INTO army.army_records
        SELECT
            i % 5,
            CASE WHEN i % 6 = 0 THEN NULL ELSE 100 + i % 7 END,
            9000000000 + i % 9,
            (i % 6) * 1.5,
            CAST(md5('soldier ' || i) AS uuid),
            (i % 8) / 3.0,
            (i % 10) * 100.25,
            CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 4) * 12.5 END,
            i % 2 = 0,
            (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Ken', 'Dennis', 'Margaret', 'Niklaus'])[1 + i % 10],
            (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Thompson', 'Ritchie', 'Hamilton', 'Wirth', 'Kay'])[1 + i % 11],
            (ARRAY['CA', 'NY', 'TX', 'WA'])[1 + i % 4],
            CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || (i % 5) END,
            CAST(chr(65 + i % 3) AS "char"),
            CAST('unit-' || (i % 4) AS name),
            'soldier' || (i % 12) || '@army.example',
            (ARRAY['public', 'confidential', 'secret', 'top secret'])[1 + i % 4]::army.clearance_level,
            DATE '1990-01-01' + i % 12,
            TIME '05:00' + (i % 4) * INTERVAL '1 hour',
            CAST('06:00+02' AS timetz) + (i % 3) * INTERVAL '1 minute',
            TIMESTAMP '2020-03-01 08:00' + (i % 10) * INTERVAL '1 day',
            CASE WHEN i % 4 = 0 THEN NULL ELSE TIMESTAMPTZ '2024-06-01 12:00+00' + (i % 11) * INTERVAL '1 hour' END,
            (i % 7) * INTERVAL '1 month',
            CAST('{"squad": ' || (i % 6) || '}' AS json),
            CAST('{"meal": "' || (ARRAY['veg', 'meat', 'fish'])[1 + i % 3] || '"}' AS jsonb),
            decode(lpad(to_hex(i % 8), 2, '0'), 'hex'),
            CAST('10.0.0.' || (i % 9) AS inet),
            ARRAY['medal ' || (i % 5)],
            CAST((i % 6) * 10 AS money),
            CASE WHEN i % 5 = 0 THEN NULL ELSE 3.0 + (i % 5) / 10.0 END
        FROM generate_series(1, 25) AS i
        """,
        """
        CREATE TABLE army.data (
            id integer PRIMARY KEY,
            name text NOT NULL,
            email varchar(100),
            amount numeric(12,2),
            created_at timestamptz NOT NULL,
            flag boolean,
            category text,
            total bigint,
            ratio float8,
            day date,
            payload jsonb,
            code char(3)
        )
        """,
        """
        INSERT INTO army.data
        SELECT i, 'item ' || i, 'item' || i || '@example.com', i * 10.5, TIMESTAMPTZ '2025-01-01 00:00+00' + i * INTERVAL '1 day',
               i % 2 = 0, (ARRAY['a', 'b', 'c'])[1 + i % 3], i * 1000, i / 7.0, DATE '2025-01-01' + i,
               CAST('{"i": ' || i || '}' AS jsonb), 'C' || lpad(CAST(i AS text), 2, '0')
        FROM generate_series(1, 7) AS i
        """,
        """
        CREATE VIEW army.records_view AS
        SELECT soldier_id, first_name, last_name, rank FROM army.army_records WHERE active
        """,
    ]
}
