import PostgresNIO
import Testing
import WardenDomain

@testable import WardenConnectors

@Suite struct PostgresCatalogSQLTests {
    @Test func tablesAreSelectedByBoundPairsNeverByText() {
        let tables = [TableReference(schema: "a'; --", table: "t1"), TableReference(schema: "b", table: "t2")]

        let query = PostgresCatalogSQL.describe(tables)

        #expect(query.sql.contains("((n.nspname = $1 AND c.relname = $2) OR (n.nspname = $3 AND c.relname = $4))"))
        #expect(!query.sql.contains("a'; --"))
        #expect(query.binds.count == 4)
    }

    @Test func rowCountsQuoteEveryName() {
        let query = PostgresCatalogSQL.rowCounts([TableReference(schema: "s", table: #"we"ird"#), TableReference(schema: "s", table: "t")])

        #expect(query.sql == """
            SELECT CAST(0 AS INTEGER), COUNT(*) FROM "s"."we""ird"
            UNION ALL
            SELECT CAST(1 AS INTEGER), COUNT(*) FROM "s"."t"
            """)
    }

    @Test(arguments: [(Int64(0), false), (100_000, false), (100_001, true), (2_000_000, true)])
    func distinctCountsSampleOnlyLargeTables(rowCount: Int64, sampled: Bool) {
        let query = PostgresCatalogSQL.distinctCounts(of: TableReference(schema: "s", table: "t"), columns: ["a", "b"], rowCount: rowCount)

        #expect(query.sql.hasPrefix(#"SELECT COUNT(DISTINCT CAST("a" AS TEXT)), COUNT(DISTINCT CAST("b" AS TEXT)) FROM "s"."t""#))
        #expect(query.sql.hasSuffix(" WHERE RANDOM() < $1") == sampled)
        #expect(query.binds.count == (sampled ? 1 : 0))
    }

    @Test func chunksCoverEveryElementOnceInOrder() {
        let chunks = Array(1...1001).chunks(of: 500)

        #expect(chunks.map(\.count) == [500, 500, 1])
        #expect(chunks.flatMap { $0 } == Array(1...1001))
        #expect([Int]().chunks(of: 500).isEmpty)
    }

    @Test func tablesAreValidatedAndDeduplicatedInOrder() throws {
        let a = TableReference(schema: "s", table: "a")
        let b = TableReference(schema: "s", table: "b")

        #expect(try PostgresConnector.validated([b, a, b]) == [b, a])
        #expect(throws: WardenError.self) { try PostgresConnector.validated([TableReference(schema: "", table: "a")]) }
    }

    @Test func theDeadlineCutsOffAnOperationAndCancelsIt() async throws {
        let clock = ContinuousClock()
        let start = clock.now

        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100)) {
                try await Task.sleep(for: .seconds(60))
            }
        }

        // Far below the 60 s sleep: the operation was cut off. Not a speed bound (a loaded CI machine took 7 s once).
        #expect(clock.now - start < .seconds(30))
    }

    @Test func anOperationWithinTheDeadlineReturnsItsResult() async throws {
        let value = try await withDeadline(.seconds(10)) { 42 }

        #expect(value == 42)
    }
}
