import Foundation
import Testing
import WardenDomain
import WardenTestSupport

/// The PostgreSQL rendering of row predicates: quoting by table, and a differential test against PostgreSQL in which
/// the view form (user functions decided at query time from the user's `warden_system` row) must select exactly the
/// rows of the evaluator's form (user functions resolved by Warden for that user).
@Suite struct PostgresPredicateSQLTests {
    static let columns = [PolicyColumn(name: "c1", dataType: "text"), PolicyColumn(name: "c2", dataType: "text"),
                          PolicyColumn(name: "n", dataType: "integer"), PolicyColumn(name: "b", dataType: "boolean"),
                          PolicyColumn(name: "we\"ird; -- name", dataType: "text", tags: [try! TagName("PII.Email")])]

    static func parse(_ text: String) -> RowPredicate {
        var validator = Validator()
        return RowPredicate.parse(text, path: "p", columns: nil, into: &validator)!
    }

    @Test(arguments: [
        ("c1 = 'x'", #"(t."c1" = 'x')"#),
        ("c1 = 'it''s; DROP TABLE t; --'", #"(t."c1" = 'it''s; DROP TABLE t; --')"#),
        ("@columnTagged('PII') IS NULL", #"(t."we""ird; -- name" IS NULL)"#),
        ("n BETWEEN 1 AND 5 AND NOT b", #"((t."n" BETWEEN 1 AND 5) AND (NOT (t."b")))"#),
        ("c1 IN ('a', 'b') OR c2 LIKE 'x%'", #"((t."c1" IN ('a', 'b')) OR (t."c2" LIKE 'x%'))"#),
        ("@hasAttribute('Dept', 'HR')", #"COALESCE((SELECT (w.attributes -> 'Dept') ? 'HR' FROM u w), FALSE)"#),
        ("@isInGroups('A', 'B''s')", #"COALESCE((SELECT w.groups @> ARRAY['A', 'B''s']::text[] FROM u w), FALSE)"#),
        ("@attributeValuesContains('State', c1)",
         #"(CAST(t."c1" AS text) = ANY(COALESCE((SELECT ARRAY(SELECT jsonb_array_elements_text(w.attributes -> 'State')) FROM u w), '{}'::text[])))"#),
        ("c2 = @username", #"(t."c2" = (SELECT w.username FROM u w))"#),
    ])
    func predicatesRenderWithEveryNameAndValueQuoted(text: String, sql: String) {
        #expect(PredicateSQL.render(Self.parse(text), table: "t", columns: Self.columns, user: .queryTime, dialect: Self.dialect("u")) == sql)
    }

    @Test func unresolvableNamesRenderNothing() {
        #expect(PredicateSQL.render(Self.parse("missing = 'x'"), table: "t", columns: Self.columns, user: .queryTime, dialect: Self.dialect("u")) == nil)
        #expect(PredicateSQL.render(Self.parse("@columnTagged('Nope') = 'x'"), table: "t", columns: Self.columns, user: .queryTime,
                                    dialect: Self.dialect("u")) == nil)
    }

    /// PostgreSQL with the querying user's row in the FROM item `user`, and no keys.
    static func dialect(_ user: String) -> PostgresDialect {
        PostgresDialect(user: user, keys: .init(salt: "NULL::bytea", encryptionKey: "NULL::bytea", macKey: "NULL::bytea"))
    }

    // MARK: Differential

    static let values = ["a", "b", "ab", "x'y", "Ünï", ""]
    static let groups = ["g1", "g2", "g'3"]
    static let keys = ["K1", "K2"]

    struct Generator {
        var random: SplitMix64

        mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

        mutating func text() -> PredicateOperand {
            chance(60) ? .column(pick(["c1", "c2"])) : chance(50) ? .string(pick(PostgresPredicateSQLTests.values)) : .username
        }

        mutating func predicate(depth: Int = 0) -> RowPredicate {
            if depth < 3, chance(35) {
                let items = (0..<(2 + Int(random.next() % 2))).map { _ in predicate(depth: depth + 1) }
                return chance(50) ? .and(items) : .or(items)
            }
            if depth < 3, chance(10) { return .not(predicate(depth: depth + 1)) }
            switch random.next() % 12 {
            case 0: return .compare(.column(pick(["c1", "c2"])), pick([.equal, .notEqual, .less]), text())
            case 1: return .compare(.column("n"), pick(ComparisonOperator.allCases), .number(pick(["0", "2", "-1", "3.5"])))
            case 2: return .isNull(.column(pick(["c1", "c2", "n", "b"])), negated: chance(50))
            case 3: return .inList(.column(pick(["c1", "c2"])), (0..<2).map { _ in text() }, negated: chance(30))
            case 4: return .like(.column(pick(["c1", "c2"])), pattern: .string(pick(["a%", "%b", "_", "x'%"])), negated: chance(30))
            case 5: return .between(.column("n"), .number("1"), .number(pick(["2", "4"])), negated: chance(30))
            case 6: return .truthy(.column("b"))
            case 7: return .userHasAttribute(key: pick(PostgresPredicateSQLTests.keys), value: chance(70) ? pick(PostgresPredicateSQLTests.values) : nil)
            case 8: return .userInGroups(Array(PostgresPredicateSQLTests.groups.prefix(1 + Int(random.next() % 2))))
            case 9: return .attributeValuesContain(key: pick(PostgresPredicateSQLTests.keys), .column(pick(["c1", "c2"])))
            case 10: return .groupsContain(.column(pick(["c1", "c2"])))
            default: return .compare(.username, .equal, .column(pick(["c1", "c2"])))
            }
        }

        mutating func user(_ index: Int) -> PredicateUser {
            var attributes: AttributeMap = [:]
            for key in PostgresPredicateSQLTests.keys where chance(70) {
                attributes[key] = Array(Set((0..<Int(random.next() % 3)).map { _ in pick(PostgresPredicateSQLTests.values) })).sorted()
            }
            let groups = Set(PostgresPredicateSQLTests.groups.filter { _ in chance(50) } + (chance(30) ? ["a"] : []))
            return PredicateUser(username: pick(["a", "b", "u\(index)"]), groups: groups, attributes: attributes)
        }
    }

    /// 2,000 random predicate and user pairs over 40 rows with NULLs: the view form and the evaluator's form select the
    /// same rows, every time.
    @Test func theViewFormSelectsExactlyTheRowsTheEvaluatorDecides() async throws {
        let warehouse = try await TestWarehouse.army()
        var generator = Generator(random: SplitMix64(seed: 20_261_207))
        var rows: [String] = []
        for id in 0..<40 {
            func text() -> String { generator.chance(15) ? "NULL" : PostgresDialect.literal(generator.pick(Self.values)) }
            let n = generator.chance(15) ? "NULL" : String(Int(generator.random.next() % 7) - 1)
            let b = generator.chance(15) ? "NULL" : (generator.chance(50) ? "TRUE" : "FALSE")
            rows.append("(\(id), \(text()), \(text()), \(n), \(b))")
        }
        try await warehouse.execute("CREATE TABLE public.t (id int PRIMARY KEY, c1 text, c2 text, n int, b boolean)")
        try await warehouse.execute("INSERT INTO public.t VALUES " + rows.joined(separator: ", "))

        let cases = 2_000
        let batch = 100
        var compared = 0
        var differences: [String] = []
        for start in stride(from: 0, to: cases, by: batch) {
            var selects: [String] = []
            var described: [String] = []
            for index in start..<(start + batch) {
                let user = generator.user(index)
                let predicate = generator.predicate()
                let groups = "ARRAY[" + user.groups.sorted().map(PostgresDialect.literal).joined(separator: ", ") + "]::text[]"
                let attributes = try String(decoding: JSONSerialization.data(withJSONObject: user.attributes, options: .sortedKeys), as: UTF8.self)
                let subject = "(SELECT \(PostgresDialect.literal(user.username)) AS username, \(groups) AS groups, "
                    + "\(PostgresDialect.literal(attributes))::jsonb AS attributes)"
                guard let dynamic = PredicateSQL.render(predicate, table: "t", columns: Self.columns, user: .queryTime, dialect: Self.dialect(subject)),
                      let resolved = PredicateSQL.render(predicate, table: "t", columns: Self.columns, user: .resolved(user), dialect: Self.dialect(subject)) else {
                    Issue.record("\(predicate) did not render")
                    continue
                }
                selects.append("""
                    SELECT \(index)::text, COALESCE((SELECT string_agg(t.id::text, ',' ORDER BY t.id) FROM public.t t WHERE \(dynamic)), ''),
                           COALESCE((SELECT string_agg(t.id::text, ',' ORDER BY t.id) FROM public.t t WHERE \(resolved)), '')
                    """)
                described.append("\(predicate) for \(user)")
            }
            for row in try await warehouse.rows(selects.joined(separator: "\nUNION ALL\n")) {
                compared += 1
                if row[1] != row[2], let index = row[0].flatMap(Int.init) {
                    differences.append("case \(index): \(described[index - start]): view \(row[1] ?? "") ≠ evaluator \(row[2] ?? "")")
                }
            }
        }
        #expect(compared == cases)
        #expect(differences.isEmpty, "\(differences.prefix(5).joined(separator: "\n"))")
    }
}
