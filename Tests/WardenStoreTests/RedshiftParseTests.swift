import Foundation
import Testing
import WardenDomain
import WardenTestSupport

/// No Redshift is reachable here: sqlglot's redshift dialect (installed by `scripts/test` into a virtual environment,
/// `WARDEN_TEST_PYTHON`) parses what Warden would run there. The golden view with a policy of every kind, and 2,000
/// views whose columns have hostile names and are masked to hostile constants (10,000 of each): every statement is
/// exactly one statement, and every name and value comes back intact.
@Suite struct RedshiftParseTests {
    struct Case: Encodable {
        var statements: [String]
        var identifiers: [String]
        var literals: [String]
    }

    struct Outcome: Decodable {
        var statements: Int
        var failures: [String]
        var failureCount: Int
    }

    /// Runs the checker with `cases` on its input (`TestProcess` waits on a thread of its own: blocking the concurrency
    /// pool's few threads for the seconds sqlglot takes would starve every other test's server).
    static func parse(_ cases: [Case]) async throws -> Outcome {
        let environment = ProcessInfo.processInfo.environment
        let python = try #require(environment["WARDEN_TEST_PYTHON"], "WARDEN_TEST_PYTHON is unset: run the tests with scripts/test")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/redshift_parse.py")
        let reply = try await TestProcess.output(of: [python, script.path], input: try JSONEncoder().encode(cases))
        return try JSONDecoder().decode(Outcome.self, from: reply)
    }

    @Test func theGoldenRedshiftViewParses() async throws {
        let view = NativeViewGoldenTests.view(.redshift)
        let outcome = try await Self.parse([Case(statements: view.setup + view.viewStatements,
                                           identifiers: view.target.columns.map(\.name) + ["Bob \"B\"", "people; --", "Sales"],
                                           literals: ["it's \\ redacted", "Research.Health", "Audit."])])
        #expect(outcome.statements == view.setup.count + view.viewStatements.count)
        #expect(outcome.failures.isEmpty, "\(outcome.failures)")
    }

    @Test func hostileNamesAndValuesStayNamesAndValuesInRedshiftSQL() async throws {
        var random = SplitMix64(seed: 127)
        var cases: [Case] = []
        var names = 0
        for _ in 0..<2_000 {
            var columns: [String] = []
            while columns.count < 5 {
                let name = PostgresHostileNamesTests.hostile(&random, maxBytes: 127)
                // Redshift folds names to lower case, so a case-only variant would be the same column.
                if !columns.contains(where: { $0.lowercased() == name.lowercased() }) { columns.append(name) }
            }
            let values = columns.map { _ in PostgresHostileNamesTests.hostile(&random, maxBytes: 200) }
            let view = NativeViewGoldenTests.view(.redshift, columns: columns.map { PolicyColumn(name: $0, dataType: "text") }, values: values)
            cases.append(Case(statements: view.viewStatements, identifiers: columns, literals: values))
            names += columns.count
        }
        let outcome = try await Self.parse(cases)
        #expect(names == 10_000)
        #expect(outcome.statements == cases.map(\.statements.count).reduce(0, +))
        #expect(outcome.failureCount == 0, "\(outcome.failures)")
    }
}
