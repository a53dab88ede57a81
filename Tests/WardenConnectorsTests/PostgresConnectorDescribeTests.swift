import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

@Suite struct PostgresConnectorDescribeTests {
    @Test func describeReturnsExactlyTheCatalogsColumnsInOrder() async throws {
        let warehouse = try await TestWarehouse.army()
        let expected = try await warehouse.rows("""
            SELECT table_name::text, column_name::text, data_type::text, udt_name::text, is_nullable::text
            FROM information_schema.columns WHERE table_schema = 'army' ORDER BY table_name, ordinal_position
            """)

        let described = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings())
                .describe([warehouse.table("army_records"), warehouse.table("data"), warehouse.table("records_view")])
        }

        #expect(Set(described.keys) == [warehouse.table("army_records"), warehouse.table("data"), warehouse.table("records_view")])
        for table in ["army_records", "data", "records_view"] {
            let catalog = expected.filter { $0[0] == table }
            let columns = try #require(described[warehouse.table(table)])
            #expect(columns.map(\.name) == catalog.map { $0[1]! }, "\(table)")
            #expect(columns.map(\.baseType) == catalog.map { $0[3]! }, "\(table): the base type is the catalog's udt_name")
            #expect(columns.map(\.nullable) == catalog.map { $0[4] == "YES" }, "\(table)")
            for (column, row) in zip(columns, catalog) where !["ARRAY", "USER-DEFINED"].contains(row[2]) && !column.remoteType.contains(".") {
                #expect(column.remoteType.hasPrefix(row[2]!), "\(table).\(column.name): \(column.remoteType) vs \(row[2]!)")
            }
        }
        #expect(described[warehouse.table("army_records")]?.map(\.name) == TestWarehouse.armyRecordColumns)
    }

    @Test func remoteTypesKeepTypmodsAndBaseTypesSeeThroughDomains() async throws {
        let warehouse = try await TestWarehouse.army()

        let columns = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).describe([warehouse.table("army_records")])
        }[warehouse.table("army_records")] ?? []

        let byName = Dictionary(uniqueKeysWithValues: columns.map { ($0.name, $0) })
        #expect(byName["first_name"] == RemoteColumn(name: "first_name", remoteType: "character varying(255)", baseType: "varchar", nullable: false))
        #expect(byName["pay_grade"] == RemoteColumn(name: "pay_grade", remoteType: "numeric(10,2)", baseType: "numeric", nullable: false))
        #expect(byName["state"] == RemoteColumn(name: "state", remoteType: "character(2)", baseType: "bpchar", nullable: true))
        #expect(byName["medals"] == RemoteColumn(name: "medals", remoteType: "text[]", baseType: "_text", nullable: true))
        #expect(byName["contact_email"] == RemoteColumn(name: "contact_email", remoteType: "army.email", baseType: "varchar", nullable: true))
        #expect(byName["clearance"] == RemoteColumn(name: "clearance", remoteType: "army.clearance_level", baseType: "clearance_level", nullable: false))
        #expect(byName["updated_at"]?.remoteType == "timestamp with time zone")
    }

    @Test func describedBaseTypesMapToTheApiVocabulary() async throws {
        let warehouse = try await TestWarehouse.army()

        let columns = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).describe([warehouse.table("army_records")])
        }[warehouse.table("army_records")] ?? []

        let dataTypes = Dictionary(uniqueKeysWithValues: columns.map { ($0.name, TypeMapping.dataType(forBaseType: $0.baseType)) })
        #expect(dataTypes == [
            "rank": "smallint", "unit_number": "integer", "service_number": "bigint", "fitness_score": "real",
            "soldier_id": "text", "accuracy": "double precision", "pay_grade": "numeric", "bonus": "numeric",
            "active": "boolean", "first_name": "text", "last_name": "text", "state": "text", "notes": "text",
            "grade_letter": "text", "unit_code": "text", "contact_email": "text", "clearance": "text",
            "date_of_birth": "date", "reveille": "time", "reveille_tz": "time", "enlisted_at": "timestamp",
            "updated_at": "timestamp with time zone", "tour_length": "interval", "profile": "json", "preferences": "json",
            "photo": "binary", "ip_address": "text", "medals": "array", "allowance": "numeric", "birth_weight": "real",
        ])
    }

    @Test func missingTablesAreAbsentFromTheResult() async throws {
        let warehouse = try await TestWarehouse.army()

        let described = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).describe([
                warehouse.table("data"), warehouse.table("no_such_table"), TableReference(schema: "nowhere", table: "data"),
            ])
        }

        #expect(Array(described.keys) == [warehouse.table("data")])
    }

    @Test func describeFindsMaterializedViewsAndPartitionedTablesButNotIndexes() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE MATERIALIZED VIEW army.ranks AS SELECT rank, count(*) AS soldiers FROM army.army_records GROUP BY rank")
        try await warehouse.execute("CREATE TABLE army.events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at)")
        try await warehouse.execute("CREATE INDEX data_name_index ON army.data (name)")

        let described = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings())
                .describe([warehouse.table("ranks"), warehouse.table("events"), warehouse.table("data_name_index")])
        }

        #expect(described[warehouse.table("ranks")]?.map(\.name) == ["rank", "soldiers"])
        #expect(described[warehouse.table("events")]?.map(\.nullable) == [false, false])
        #expect(described[warehouse.table("data_name_index")] == nil)
    }

    @Test func droppedColumnsAreNotDescribed() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("ALTER TABLE army.data DROP COLUMN email")

        let columns = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).describe([warehouse.table("data")])
        }[warehouse.table("data")]

        #expect(columns?.map(\.name) == ["id", "name", "amount", "created_at", "flag", "category", "total", "ratio", "day", "payload", "code"])
    }

    @Test func manyTablesAreDescribedAcrossChunks() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("""
            DO $$ BEGIN FOR i IN 1..520 LOOP EXECUTE format('CREATE TABLE army.t%s (c%s integer)', i, i); END LOOP; END $$
            """)
        let tables = (1...520).map { warehouse.table("t\($0)") }

        let described = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).describe(tables + tables)
        }

        #expect(described.count == 520)
        #expect(described[warehouse.table("t517")]?.map(\.name) == ["c517"])
    }

    @Test func describingNothingAsksNothing() async throws {
        let settings = ConnectionSettings(technology: .postgresql, hostname: "127.0.0.1", port: try await closedPort(),
                                          database: "none", username: "nobody", password: "secret", ssl: false)

        let described = try await withConnectors { connectors in
            try await connectors.connector(for: settings).describe([])
        }

        #expect(described.isEmpty)
    }
}
