import Testing
import WardenConnectors
import WardenDomain
import WardenTestSupport

@Suite struct PostgresConnectorStatisticsTests {
    @Test func rowCountsCountTablesAndViewsAndSkipMissingOnes() async throws {
        let warehouse = try await TestWarehouse.army()

        let counts = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).rowCounts([
                warehouse.table("army_records"), warehouse.table("data"), warehouse.table("records_view"),
                warehouse.table("missing"),
            ])
        }

        #expect(counts == [warehouse.table("army_records"): 25, warehouse.table("data"): 7, warehouse.table("records_view"): 12])
    }

    @Test func rowCountsBatchMoreTablesThanOneQueryHolds() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("""
            DO $$ BEGIN FOR i IN 1..230 LOOP
                EXECUTE format('CREATE TABLE army.t%s AS SELECT generate_series(1, %s) AS n', i, i % 5);
            END LOOP; END $$
            """)
        let tables = (1...230).map { warehouse.table("t\($0)") }

        let counts = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).rowCounts(tables)
        }

        #expect(counts.count == 230)
        #expect(counts == Dictionary(uniqueKeysWithValues: (1...230).map { (warehouse.table("t\($0)"), Int64($0 % 5)) }))
    }

    @Test func highCardinalityPicksTheColumnWithTheMostDistinctValues() async throws {
        let warehouse = try await TestWarehouse.army()

        let column = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings())
                .highCardinalityColumn(of: warehouse.table("army_records"), columns: TestWarehouse.armyRecordColumns, rowCount: 25)
        }

        #expect(column == "soldier_id")
    }

    @Test func highCardinalityTiesGoToTheEarlierColumn() async throws {
        let warehouse = try await TestWarehouse.army()

        let (forward, backward) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            // Both have 12 distinct values.
            let forward = try await connector.highCardinalityColumn(
                of: warehouse.table("army_records"), columns: ["contact_email", "date_of_birth", "rank"], rowCount: nil)
            let backward = try await connector.highCardinalityColumn(
                of: warehouse.table("army_records"), columns: ["rank", "date_of_birth", "contact_email"], rowCount: nil)
            return (forward, backward)
        }

        #expect(forward == "contact_email")
        #expect(backward == "date_of_birth")
    }

    @Test func highCardinalityOfNoColumnsIsNil() async throws {
        let warehouse = try await TestWarehouse.army()

        let column = try await withConnectors { connectors in
            try await connectors.connector(for: warehouse.settings()).highCardinalityColumn(of: warehouse.table("data"), columns: [], rowCount: 7)
        }

        #expect(column == nil)
    }

    @Test func highCardinalityOfALargeTableUsesASample() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("""
            CREATE TABLE army.big AS
            SELECT i % 10 AS bucket, 'label ' || (i % 1000) AS label, i AS id FROM generate_series(1, 150000) AS i
            """)

        let (counted, claimed) = try await withConnectors { connectors in
            let connector = try connectors.connector(for: warehouse.settings())
            let counted = try await connector.highCardinalityColumn(of: warehouse.table("big"), columns: ["bucket", "label", "id"], rowCount: nil)
            // Claiming a far larger table makes the sample about 1% of the rows: ids still outnumber labels.
            let claimed = try await connector.highCardinalityColumn(
                of: warehouse.table("big"), columns: ["bucket", "label", "id"], rowCount: 15_000_000)
            return (counted, claimed)
        }

        #expect(counted == "id")
        #expect(claimed == "id")
    }
}
