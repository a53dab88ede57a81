import Foundation
import Testing
import WardenDomain

/// Golden decisions, in the style of Apache Ranger's policy-engine fixtures: each file under `PolicyCases/` holds
/// shared `defaults` (a dictionary with tags, source tags, a user) and `cases`, each with the policies, what differs
/// from the defaults, and the expected decision. A case that expects `errors` checks that the policies are refused
/// with exactly those fields.
@Suite struct PolicyGoldenTests {
    struct File: Decodable {
        var defaults: Setup
        var cases: [Case]
    }

    struct Column: Decodable {
        var name: String
        var dataType: String
        var tags: [String]?
    }

    struct User: Decodable {
        var username: String?
        var groups: [String]?
        var attributes: [String: [String]]?
        var purposes: [String]?
        var subscribed: Bool?
    }

    struct Global: Decodable {
        var id: Int64
        var actions: [JSONValue]
        /// Absent: everywhere. The JSON `null` is written here as the string "null" (Decodable cannot tell them apart).
        var circumstances: JSONValue?
        var staged: Bool?
        /// Seconds after the fixtures' epoch; defaults to the id, so lower ids are older.
        var created: Int?
    }

    struct Setup: Decodable {
        var columns: [Column]?
        var sourceTags: [String]?
        var eventTime: String?
        var highCardinality: String?
        var user: User?
        var now: String?
    }

    struct Expected: Decodable {
        /// Column → mask, such as `Hash`, `Constant(REDACTED)`, `Nullify when "region" = 'EU'`.
        var masks: [String: String]?
        /// The row filter's canonical text; `TRUE` when absent.
        var rows: String?
        var samples: [String]?
        var windows: [String]?
        /// `column: winner over overridden`, such as `ssn: global 1 #0.0 over global 2 #0.0`.
        var conflicts: [String]?
        /// Rule → status, such as `"global 1 #0.0": "excepted"`; only the rules listed are checked.
        var rules: [String: String]?
        /// Ids of the global policies in force.
        var globals: [Int64]?
        var allowed: Bool?
        /// Fields of a refused policy.
        var errors: [String]?
    }

    struct Case: Decodable {
        var name: String
        var local: [JSONValue]?
        /// Seconds after the epoch the local policy was created; defaults to 1000 (after every global).
        var localCreated: Int?
        var globals: [Global]?
        var applied: [Int64]?
        var stored: Bool?
        var setup: Setup?
        var expect: Expected
    }

    static let epoch = ISODate.parse("2026-01-01T00:00:00Z")!

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("PolicyCases")

    static func files() throws -> [(String, File)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            (name, try JSONDecoder().decode(File.self, from: Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test func everyGoldenCaseDecidesAsExpected() throws {
        var count = 0
        for (file, contents) in try Self.files() {
            for testCase in contents.cases {
                count += 1
                check(testCase, defaults: contents.defaults, label: "\(file): \(testCase.name)")
            }
        }
        #expect(count >= 80, "the golden cases cover every type, exception, circumstance, conflict and fail-closed path")
    }

    func check(_ testCase: Case, defaults: Setup, label: String) {
        let setup = testCase.setup
        let columns = (setup?.columns ?? defaults.columns ?? []).map { column in
            PolicyColumn(name: column.name, dataType: column.dataType, tags: (column.tags ?? []).map { try! TagName($0) })
        }
        let strict = testCase.stored != true
        var validator = Validator()
        var policies: [DataPolicy] = []
        if let local = testCase.local {
            let entries = PolicyReader(global: false, columns: columns, strict: strict).entries(local, path: "jsonPolicies", into: &validator)
            policies.append(DataPolicy(id: 1, kind: .local(dataSourceId: 1), name: "local", entries: entries,
                                       createdAt: Self.epoch.addingTimeInterval(TimeInterval(testCase.localCreated ?? 1000))))
        }
        for global in testCase.globals ?? [] {
            let reader = PolicyReader(global: true, columns: nil, strict: strict)
            let entries = reader.entries(global.actions, path: "global\(global.id).actions", into: &validator)
            let circumstances: JSONValue? = global.circumstances == .string("null") ? .null : global.circumstances
            let scope = reader.scope(circumstances, path: "global\(global.id).circumstances", into: &validator)
            policies.append(DataPolicy(id: global.id, kind: .global(scope: scope), name: "global \(global.id)", entries: entries,
                                       staged: global.staged ?? false,
                                       createdAt: Self.epoch.addingTimeInterval(TimeInterval(global.created ?? Int(global.id)))))
        }
        if let errors = testCase.expect.errors {
            #expect(validator.problems.map(\.field).sorted() == errors.sorted(), "\(label): \(validator.problems)")
            return
        }
        guard validator.problems.isEmpty else {
            Issue.record("\(label): the policies were refused: \(validator.problems)")
            return
        }
        let user = setup?.user ?? defaults.user ?? User()
        let subject = PolicySubject(user: PredicateUser(username: user.username ?? "alice", groups: Set(user.groups ?? []),
                                                        attributes: user.attributes ?? [:]),
                                    purposes: user.purposes ?? [], subscribed: user.subscribed ?? true)
        let target = PolicyTarget(dataSourceId: 1, tags: (setup?.sourceTags ?? defaults.sourceTags ?? []).map { try! TagName($0) },
                                  columns: columns, eventTimeColumn: setup?.eventTime ?? defaults.eventTime,
                                  highCardinalityColumn: setup?.highCardinality ?? defaults.highCardinality,
                                  appliedPolicyIds: Set(testCase.applied ?? []))
        let now = (setup?.now ?? defaults.now).flatMap(ISODate.parse) ?? Self.epoch.addingTimeInterval(86_400)
        let local = policies.first { !$0.isGlobal }
        let decision = PolicyEvaluator.decide(local: local, globals: PolicyIndex(policies.filter(\.isGlobal)), target: target,
                                              subject: subject, now: now)
        let expected = testCase.expect
        let masks = Dictionary(uniqueKeysWithValues: decision.masks.map { ($0.column, Self.describe($0)) })
        #expect(masks == (expected.masks ?? [:]), "\(label): masks")
        #expect(decision.rowFilter.description == (expected.rows ?? "TRUE"), "\(label): rows")
        #expect(decision.samples.map { "\($0.column) \($0.percent)%" } == (expected.samples ?? []), "\(label): samples")
        #expect(decision.timeWindows.map { "\($0.column) \($0.newer ? "newer" : "older") \($0.seconds)" } == (expected.windows ?? []),
                "\(label): windows")
        #expect(decision.conflicts.map { "\($0.column): \($0.winner) over \($0.overridden)" } == (expected.conflicts ?? []), "\(label): conflicts")
        if let globals = expected.globals {
            #expect(decision.policies.filter(\.isGlobal).map(\.id) == globals, "\(label): policies in force")
        }
        if let allowed = expected.allowed { #expect(decision.allowed == allowed, "\(label): allowed") }
        for (rule, status) in expected.rules ?? [:] {
            let outcome = decision.rules.first { $0.rule.description == rule }
            #expect(outcome?.status.rawValue == status, "\(label): \(rule) is \(outcome.map { "\($0.status): \($0.reason)" } ?? "absent")")
        }
    }

    static func describe(_ mask: ColumnMask) -> String {
        let method = switch mask.method {
        case .constant(let text): "Constant(\(text))"
        case .regex(let pattern, let replacement, _, _): "Regex(\(pattern) → \(replacement))"
        case .bucket(let size): "Rounding(\(size == size.rounded() ? String(Int(size)) : String(size)))"
        case .truncate(let precision): "Rounding(\(precision.rawValue))"
        default: mask.method.actionType
        }
        return mask.condition.map { "\(method) when \($0)" } ?? method
    }
}
