import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// The native view's query-time form against the evaluator, in PostgreSQL: for random policies (local and global,
/// every mask, exceptions of every kind, conditional masks, row rules of every kind, rules that cannot apply) and
/// random users, the rows and values the view form gives the user equal those of the user's decision.
@Suite struct PostgresViewSQLTests {
    static let columns = [PolicyColumn(name: "c1", dataType: "text", tags: [try! TagName("T1.A")]),
                          PolicyColumn(name: "c2", dataType: "text", tags: [try! TagName("T2")]),
                          PolicyColumn(name: "n", dataType: "integer", tags: [try! TagName("T1")]),
                          PolicyColumn(name: "d", dataType: "timestamp", tags: [try! TagName("T2.B")]),
                          PolicyColumn(name: "b", dataType: "boolean")]
    static let target = PolicyTarget(dataSourceId: 1, columns: columns, eventTimeColumn: "d", highCardinalityColumn: "c1")

    struct Generator {
        var random: SplitMix64
        var predicates: PostgresPredicateSQLTests.Generator

        init(seed: UInt64) {
            random = SplitMix64(seed: seed)
            predicates = PostgresPredicateSQLTests.Generator(random: SplitMix64(seed: seed &+ 1))
        }

        mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

        mutating func exceptions() -> PolicyExceptions? {
            guard chance(50) else { return nil }
            let conditions = (0..<(1 + Int(random.next() % 2))).map { _ -> ExceptionCondition in
                switch random.next() % 5 {
                case 0: .group(pick(PostgresPredicateSQLTests.groups))
                case 1: .attribute(key: pick(PostgresPredicateSQLTests.keys), value: pick(PostgresPredicateSQLTests.values))
                case 2: .attribute(key: pick(PostgresPredicateSQLTests.keys), value: nil)
                case 3: .purpose(pick(["R", "R.C", "M"]))
                default: .notUnderstood("x")
                }
            }
            return PolicyExceptions(op: chance(50) ? .and : .or, conditions: conditions)
        }

        mutating func method() -> MaskingMethod {
            switch random.next() % 7 {
            case 0: .hash
            case 1: .null
            case 2: .constant(pick(["REDACTED", "it's"]))
            case 3: .regex(pattern: pick(["[ab]", "^."]), replacement: "#", global: chance(50), caseInsensitive: chance(50))
            case 4: .bucket(pick([2, 3.5]))
            case 5: .truncate(pick(MaskingMethod.TimePrecision.allCases))
            default: .reversible
            }
        }

        mutating func rule(global: Bool) -> PolicyRule {
            let names = global ? ["T1", "T2", "T1.A", "Nope"] : ["c1", "c2", "n", "d", "b", "gone"]
            let action: RuleAction
            switch random.next() % 9 {
            case 0, 1, 2:
                action = .mask(columns: [pick(names)] + (chance(30) ? [pick(names)] : []), method: method(),
                               when: chance(40) ? predicates.predicate(depth: 1) : nil)
            case 3:
                let column = global ? pick(["T1.A", "T2", "Nope"]) : pick(["c1", "c2", "gone"])
                action = .visibility(op: chance(50) ? .and : .or,
                                     conditions: [chance(50) ? .attribute(key: pick(PostgresPredicateSQLTests.keys), column: column) : .groups(column: column)])
            case 4: action = .predicate(chance(10) ? .compare(.column("gone"), .equal, .string("a")) : predicates.predicate())
            case 5: action = .time(seconds: pick([3_600, 86_400 * 400]), newer: chance(50), column: chance(80) ? nil : pick(["d", "c1"]))
            case 6: action = .minimization(percent: pick([10, 50, 90]), column: chance(80) ? nil : pick(["c2", "gone"]))
            case 7: action = .prerequisite(op: chance(50) ? .and : .or, purposes: chance(50) ? ["R"] : ["R.C", "M"])
            default: action = .notUnderstood(reason: "test", columns: chance(50) ? [pick(names)] : [])
            }
            return PolicyRule(action: action, exceptions: exceptions(), json: .null)
        }

        mutating func policy(id: Int64, global: Bool) -> DataPolicy {
            let entries = (0..<(1 + Int(random.next() % 2))).map { _ in
                PolicyEntry(type: nil, typeName: "test", rules: (0..<(1 + Int(random.next() % 2))).map { _ in rule(global: global) }, description: nil)
            }
            return DataPolicy(id: id, kind: global ? .global(scope: .everywhere) : .local(dataSourceId: 1), name: "p\(id)", entries: entries,
                              staged: chance(5), createdAt: Date(timeIntervalSince1970: Double(random.next() % 5)))
        }

        mutating func subject(_ index: Int) -> PolicySubject {
            PolicySubject(user: predicates.user(index), purposes: pick([[], ["R"], ["R.C"], ["M"], ["R.C", "M"]]))
        }
    }

    /// 2,000 random policy sets and users over 40 rows with NULLs: zero differences between the view form and the
    /// evaluator's decision, in the rows shown and in every value.
    /// A regular-expression mask of one character class is rendered as `translate`: PostgreSQL's own
    /// `regexp_replace` gives the same text for every pattern, flag and sample here, and other patterns keep it.
    @Test func characterClassMasksEqualTheRegularExpression() async throws {
        let warehouse = try await TestWarehouse.army()
        let dialect = PostgresDialect(user: "x", keys: .init(salt: "NULL", encryptionKey: "NULL", macKey: "NULL"))
        let samples = ["abc123", "ÄbC-09_zZ", "", "naïve 42 \u{212A}elvin", "x\ny\tz", "ÉTÉ été 1/2", "AbCdEf 0xFF", "___  __", "🙂9🙂", "k K ſ"]
        let patterns = ["[0-9]", "[a-z]", "[A-Fx-z_]", "a", "K", " ", "[aeiou ]", "[0-9a-f]", "[^0-9]", "[a-]", "\\d", "."]
        var translated = 0
        var checks: [String] = []
        for pattern in patterns {
            for caseInsensitive in [false, true] {
                for replacement in ["#", "*", "é"] {
                    let method = MaskingMethod.regex(pattern: pattern, replacement: replacement, global: true, caseInsensitive: caseInsensitive)
                    for sample in samples {
                        let rendered = dialect.mask(method, raw: PostgresDialect.literal(sample), column: "c")
                        if rendered.hasPrefix("translate(") { translated += 1 }
                        let flags = caseInsensitive ? "gi" : "g"
                        let expected = "regexp_replace(\(PostgresDialect.literal(sample)), \(PostgresDialect.literal(pattern)), "
                            + "\(PostgresDialect.literal(replacement)), '\(flags)')"
                        checks.append("(\(rendered)) IS DISTINCT FROM (\(expected))")
                    }
                }
            }
        }
        #expect(translated == 8 * 2 * 3 * samples.count, "the character classes, and only they, become translate")
        let differing = try await warehouse.rows("SELECT count(*)::text FROM (VALUES " + checks.map { "(\($0))" }.joined(separator: ", ")
                                                 + ") AS v (differs) WHERE differs")
        #expect(differing.first?.first == "0")
    }

    @Test func theViewShowsEachUserExactlyWhatTheEvaluatorDecides() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        var generator = Generator(seed: 20_261_207)
        var rows: [String] = []
        for id in 0..<40 {
            func text() -> String { generator.chance(15) ? "NULL" : PostgresDialect.literal(generator.pick(PostgresPredicateSQLTests.values)) }
            let n = generator.chance(15) ? "NULL" : String(Int(generator.random.next() % 9) - 2)
            let d = generator.chance(15) ? "NULL" : "now() - make_interval(days => \(generator.random.next() % 800))"
            let b = generator.chance(15) ? "NULL" : (generator.chance(50) ? "TRUE" : "FALSE")
            rows.append("(\(id), \(text()), \(text()), \(n), \(d), \(b))")
        }
        try await warehouse.execute("CREATE TABLE public.t (id int PRIMARY KEY, c1 text, c2 text, n int, d timestamp, b boolean)")
        try await warehouse.execute("INSERT INTO public.t VALUES " + rows.joined(separator: ", "))
        func hex(_ data: Data) -> String { "decode('" + data.map { String(format: "%02x", $0) }.joined() + "', 'hex')" }
        let stored = DataSourceKeys.generate()
        let keys = PostgresDialect.Keys(salt: hex(stored.salt), encryptionKey: hex(stored.encryptionKey), macKey: hex(stored.macKey))

        let cases = 2_000
        let batch = 50
        var compared = 0
        var differences: [String] = []
        var shapes: [String: Int] = [:]
        for start in stride(from: 0, to: cases, by: batch) {
            var selects: [String] = []
            var described: [String] = []
            for index in start..<(start + batch) {
                let globals = (0..<Int(generator.random.next() % 3)).map { generator.policy(id: Int64(10 + $0), global: true) }
                let local = generator.chance(80) ? generator.policy(id: 1, global: false) : nil
                let subject = generator.subject(index)
                let now = Date()
                let index_ = PolicyIndex(globals)
                let decision = PolicyEvaluator.decide(local: local, globals: index_, target: Self.target, subject: subject, now: now)
                let user = subject.user
                let groups = "ARRAY[" + user.groups.sorted().map(PostgresDialect.literal).joined(separator: ", ") + "]::text[]"
                let purposes = "ARRAY[" + subject.purposes.map(PostgresDialect.literal).joined(separator: ", ") + "]::text[]"
                let attributes = try String(decoding: JSONSerialization.data(withJSONObject: user.attributes, options: .sortedKeys), as: UTF8.self)
                let u = "(SELECT \(PostgresDialect.literal(user.username)) AS username, \(groups) AS groups, "
                    + "\(PostgresDialect.literal(attributes))::jsonb AS attributes, \(purposes) AS purposes)"
                let dialect = PostgresDialect(user: u, keys: keys)
                let view = NativeViewSQL(target: Self.target, policies: PolicyEvaluator.inForce(local: local, globals: index_, target: Self.target, now: now),
                                         dialect: dialect)
                let oracle = NativeViewSQL.oracle(decision, target: Self.target, dialect: dialect)
                shapes[decision.showsNoRows ? "no rows" : decision.rowFilter == .always ? "all rows" : "some rows", default: 0] += 1
                if !decision.masks.isEmpty { shapes["masked", default: 0] += 1 }
                // Each value as text: a view column that some user reads masked to text is text for everyone.
                let values = "ARRAY[" + Self.columns.map { "CAST(v.\(SQLIdentifier.quoted($0.name)) AS text)" }.joined(separator: ", ") + "]"
                func shown(_ columns: [String], _ filter: String, join: String) -> String {
                    "COALESCE((SELECT string_agg(v.id || ':' || array_to_string(\(values), ',', '∅'), '|' ORDER BY v.id) "
                        + "FROM (SELECT t.id, \(columns.joined(separator: ", ")) FROM public.t t \(join) WHERE \(filter)) v), '')"
                }
                selects.append("SELECT \(index)::text, \(shown(view.columns(), view.filter(), join: "")), \(shown(oracle.columns, oracle.filter, join: ""))")
                described.append("policies \(decision.policies.map(\.name)) rules \(decision.rules.map { "\($0.status)" }) for \(subject)")
            }
            for row in try await warehouse.rows(selects.joined(separator: "\nUNION ALL\n")) {
                compared += 1
                if row[1] != row[2], let index = row[0].flatMap(Int.init) {
                    differences.append("case \(index): \(described[index - start])\n view:      \((row[1] ?? "").prefix(300))\n evaluator: \((row[2] ?? "").prefix(300))")
                }
            }
        }
        print("view differential: \(compared) cases, \(differences.count) differences, shapes \(shapes.sorted { $0.key < $1.key })")
        #expect(compared == cases)
        #expect(differences.isEmpty, "\(differences.prefix(3).joined(separator: "\n"))")
        #expect(shapes["some rows", default: 0] > 100 && shapes["no rows", default: 0] > 100 && shapes["masked", default: 0] > 500)
    }
}
