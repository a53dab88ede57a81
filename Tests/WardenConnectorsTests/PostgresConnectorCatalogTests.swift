import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

@Suite struct PostgresConnectorCatalogTests {
    @Test func listSchemasShowsUserSchemasButNotSystemOnes() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE SCHEMA sales")

        let schemas = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).listSchemas()
        }

        #expect(schemas == ["army", "public", "sales"])
    }

    /// The crawl's catalog: every table with its columns, partitions folded into their parent; and the server-side
    /// fingerprints a re-crawl compares first equal those computed from the columns, whatever the names hold.
    @Test func theCatalogAndItsFingerprintsAgree() async throws {
        let warehouse = try await TestWarehouse.army()
        for statement in [
            #"CREATE SCHEMA "Ünï ""code"" s""#,
            #"CREATE TABLE "Ünï ""code"" s"."t; --" ("é" varchar(12) NOT NULL, "a""b" numeric(10, 2), "x y" army.clearance_level, "mail" army.email)"#,
            #"CREATE TABLE "Ünï ""code"" s".nothing ()"#,
            "CREATE TABLE army.events (id integer, at date) PARTITION BY RANGE (at)",
            "CREATE TABLE army.events_2024 PARTITION OF army.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        ] {
            try await warehouse.execute(statement)
        }
        let (full, fingerprints) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            return (try await connector.catalog(), try await connector.catalogFingerprints())
        }
        let odd = TableReference(schema: #"Ünï "code" s"#, table: "t; --")
        #expect(full.schemas.contains(odd.schema))
        #expect(full.tables[odd]?.map(\.name) == ["é", #"a"b"#, "x y", "mail"])
        #expect(full.tables[TableReference(schema: odd.schema, table: "nothing")] == [])
        #expect(full.tables[TableReference(schema: "army", table: "events")]?.map(\.name) == ["id", "at"])
        #expect(full.tables[TableReference(schema: "army", table: "events_2024")] == nil)
        #expect(fingerprints.tables.isEmpty)
        #expect(fingerprints.schemas == full.schemas)
        #expect(!full.fingerprints.isEmpty && fingerprints.fingerprints == full.fingerprints)

        // Every kind of column change gives the table another fingerprint; the other tables keep theirs.
        var last = full.fingerprints
        for change in ["ALTER TABLE army.data ADD COLUMN extra text DEFAULT 'x'", "ALTER TABLE army.data RENAME COLUMN extra TO other",
                       "ALTER TABLE army.data ALTER COLUMN other TYPE varchar(9)", "ALTER TABLE army.data ALTER COLUMN other SET NOT NULL",
                       "ALTER TABLE army.data DROP COLUMN other"] {
            try await warehouse.execute(change)
            let now = try await withConnectors { try await $0.connector(for: warehouse.settings()).catalogFingerprints().fingerprints }
            let data = TableReference(schema: "army", table: "data")
            #expect(now[data] != last[data], "\(change)")
            #expect(now.filter { $0.key != data } == last.filter { $0.key != data }, "\(change)")
            last = now
        }
    }

    @Test func listTablesShowsTablesAndViewsOfOneSchema() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE SEQUENCE army.numbers")
        try await warehouse.execute("CREATE TABLE public.elsewhere (id integer)")

        let (army, empty) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            return (try await connector.listTables(schema: "army"), try await connector.listTables(schema: "no_such_schema"))
        }

        #expect(army == ["army_records", "data", "records_view"])
        #expect(empty == [])
    }

    @Test func quotesInNamesAreHandledSafely() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute(#"CREATE SCHEMA "weird""schema""#)
        try await warehouse.execute(#"CREATE TABLE "weird""schema"."odd""name; DROP TABLE army.data; --" ("we""ird" integer, "select" text)"#)
        try await warehouse.execute(#"INSERT INTO "weird""schema"."odd""name; DROP TABLE army.data; --" SELECT i, 'x' FROM generate_series(1, 3) AS i"#)
        let table = TableReference(schema: #"weird"schema"#, table: #"odd"name; DROP TABLE army.data; --"#)

        let (columns, counts, column, tables) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            return (
                try await connector.describe([table])[table]?.map(\.name),
                try await connector.rowCounts([table]),
                try await connector.highCardinalityColumn(of: table, columns: ["select", #"we"ird"#], rowCount: nil),
                try await connector.listTables(schema: #"weird"schema"#)
            )
        }

        #expect(columns == [#"we"ird"#, "select"])
        #expect(counts == [table: 3])
        #expect(column == #"we"ird"#)
        #expect(tables == [#"odd"name; DROP TABLE army.data; --"#])
        #expect(try await warehouse.rows("SELECT count(*)::text FROM army.data") == [["7"]])
    }

    @Test(arguments: ["", "bell\u{7}", "nul\u{0}", String(repeating: "x", count: 128)])
    func unusableIdentifiersAreRefusedBeforeAnyQuery(name: String) async throws {
        let settings = ConnectionSettings(technology: .postgresql, hostname: "127.0.0.1", port: try await closedPort(),
                                          database: "none", username: "nobody", password: "secret", ssl: false)

        try await withConnectors { connectors in
            let connector = try connectors.connector(for: settings)
            await expectWarehouseError(.warehouseInvalidIdentifier) {
                _ = try await connector.rowCounts([TableReference(schema: "army", table: name)])
            }
            await expectWarehouseError(.warehouseInvalidIdentifier) {
                _ = try await connector.describe([TableReference(schema: name, table: "data")])
            }
            await expectWarehouseError(.warehouseInvalidIdentifier) {
                _ = try await connector.highCardinalityColumn(of: TableReference(schema: "army", table: "data"), columns: [name], rowCount: 1)
            }
            await expectWarehouseError(.warehouseInvalidIdentifier) {
                _ = try await connector.listTables(schema: name)
            }
        }
    }

    @Test func aFailingQueryReportsTheServersMessage() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE VIEW army.broken AS SELECT 1 / (rank - rank) AS boom FROM army.army_records")

        let error = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            return await expectWarehouseError(.warehouseQueryFailed) {
                _ = try await connector.rowCounts([warehouse.table("broken")]).count
                _ = try await connector.highCardinalityColumn(of: warehouse.table("broken"), columns: ["boom"], rowCount: 25)
            }
        }

        #expect(error?.message.contains("division by zero") == true, "\(String(describing: error))")
    }
}
