import Foundation
import Testing
import WardenDomain
import WardenTestSupport

/// 10,000 hostile identifiers and values (quotes, semicolons, comments, dollar quotes, backslashes, unicode, case-only
/// variants, names at PostgreSQL's 63-byte limit) through the predicate and view renderers, executed by PostgreSQL:
/// every statement parses, every value compares equal to itself, every mask returns its constant exactly, and the
/// canary table that the values try to drop is still there.
@Suite struct PostgresHostileNamesTests {
    static let pieces = ["'", "\"", ";", "--", "/*", "*/", "\\", "$$", "$1", "$w$", "ü", "Ⅻ", "🙂", " ", "\t", "\n", ")", "(", ",", "%", "_",
                         "\u{202E}", "NULL", "e'", "U&'", "?", "::", "[]", "{}", "a", "A", "drop", "DROP TABLE public.canary; --",
                         "'); DROP TABLE public.canary; --", "\"; DROP TABLE public.canary; --"]

    static func hostile(_ random: inout SplitMix64, maxBytes: Int) -> String {
        var text = ""
        for _ in 0..<(1 + Int(random.next() % 6)) {
            let piece = pieces[Int(random.next() % UInt64(pieces.count))]
            guard text.utf8.count + piece.utf8.count <= maxBytes else { break }
            text += piece
        }
        return text.isEmpty ? "x" : text
    }

    @Test func hostileNamesAndValuesNeitherBreakNorInjectTheRenderedSQL() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE TABLE public.canary (id int)")
        var random = SplitMix64(seed: 63)
        let perTable = 200
        var checked = 0
        for tableIndex in 0..<50 {
            var names: [String] = []
            var seen = Set<String>()
            while names.count < perTable {
                let name = Self.hostile(&random, maxBytes: 63)
                // PostgreSQL folds nothing inside quotes, so case-only variants are distinct columns; exact repeats are not.
                if seen.insert(name).inserted { names.append(name) }
            }
            let values = names.map { _ in Self.hostile(&random, maxBytes: 200) }
            let table = "public.h\(tableIndex)"
            try await warehouse.execute("CREATE TABLE \(table) (" + names.map { "\(SQLIdentifier.quoted($0)) text" }.joined(separator: ", ") + ")")
            try await warehouse.execute("INSERT INTO \(table) VALUES (" + values.map(PostgresDialect.literal).joined(separator: ", ") + ")")

            let columns = names.map { PolicyColumn(name: $0, dataType: "text") }
            let user = "(SELECT ''::text AS username, '{}'::text[] AS groups, '{}'::jsonb AS attributes, '{}'::text[] AS purposes)"
            let dialect = PostgresPredicateSQLTests.dialect(user)
            // Each column equals its own value, through a predicate rendered for query time.
            let matches = zip(names, values).map { name, value -> String in
                let predicate = RowPredicate.compare(.column(name), .equal, .string(value))
                return "(CASE WHEN \(PredicateSQL.render(predicate, table: "t", columns: columns, user: .queryTime, dialect: dialect)!) THEN 1 ELSE 0 END)"
            }
            // Each column masked to its own value as a constant, through the view renderer.
            let policy = DataPolicy(id: 1, kind: .local(dataSourceId: 1), name: "masks", entries: [PolicyEntry(
                type: .masking, typeName: "masking", rules: zip(names, values).map { name, value in
                    PolicyRule(action: .mask(columns: [name], method: .constant(value), when: nil), exceptions: nil, json: .null)
                }, description: nil)], createdAt: Date())
            let view = NativeViewSQL(target: PolicyTarget(dataSourceId: 1, columns: columns), policies: [policy], dialect: dialect)
            let masked = zip(names, values).map { name, value in
                "(CASE WHEN v.\(SQLIdentifier.quoted(name)) = \(PostgresDialect.literal(value)) THEN 1 ELSE 0 END)"
            }
            let rows = try await warehouse.rows("""
                SELECT (SELECT CAST(\(matches.joined(separator: " + ")) AS text) FROM \(table) t),
                       (SELECT CAST(\(masked.joined(separator: " + ")) AS text) FROM (SELECT \(view.columns().joined(separator: ", ")) FROM \(table) t
                        WHERE \(view.filter())) v)
                """)
            #expect(rows.first?[0] == String(perTable), "table \(tableIndex): predicates")
            #expect(rows.first?[1] == String(perTable), "table \(tableIndex): masks")
            checked += perTable
        }
        #expect(checked == 10_000)
        #expect(try await warehouse.rows("SELECT to_regclass('public.canary')::text").first?[0] == "canary")
    }
}
