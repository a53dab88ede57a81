import ArgumentParser
import Foundation
import WardenDomain

/// Policy decisions per second in process, for one user on one source: with the source's own 10 policies, and with
/// 10,000 global policies of which 10 match it. Both run in the same process, alternating, and the report is the
/// median of the rounds, with the ratio. `--print-world` writes the same policies, columns and user as JSON, for
/// `Benchmarks/policy-engines.sh` to give casbin and cedarpy the same decisions.
struct Decide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure policy decisions per second: 10 policies on the source vs 10,000 global policies of which 10 match.")

    @Option(help: "Global policies in the large case.") var globals: Int = 10_000
    @Option(help: "Policies that apply, in both cases.") var matching: Int = 10
    @Option(help: "Columns of the source.") var columns: Int = 30
    @Option(help: "Decisions per round.") var decisions: Int = 20_000
    @Option(help: "Rounds of each case (alternating); the median is reported.") var rounds: Int = 5
    @Flag(help: "Print the benchmark's policies, columns and user as JSON and exit.") var printWorld = false

    func validate() throws {
        guard globals >= matching, matching > 0, columns >= matching, decisions > 0, rounds > 0 else {
            throw ValidationError("need globals >= matching > 0, columns >= matching, and positive decisions and rounds")
        }
    }

    func run() async throws {
        let world = World(globals: globals, matching: matching, columns: columns)
        if printWorld {
            print(String(decoding: try JSONSerialization.data(withJSONObject: world.description, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        let small = PolicyIndex(world.policies(count: matching))
        let large = PolicyIndex(world.policies(count: globals))
        // The same decision either way, or the comparison would mean nothing.
        let a = PolicyEvaluator.decide(local: nil, globals: small, target: world.target, subject: world.subject, now: world.now)
        let b = PolicyEvaluator.decide(local: nil, globals: large, target: world.target, subject: world.subject, now: world.now)
        guard a.masks == b.masks, a.masks.count == matching / 2 + matching % 2 else {
            throw BenchError("the two cases decide differently (\(a.masks.count) and \(b.masks.count) masks)")
        }
        var smallRates: [Double] = []
        var largeRates: [Double] = []
        for _ in 0..<rounds {
            smallRates.append(rate(small, world))
            largeRates.append(rate(large, world))
        }
        let smallMedian = smallRates.sorted()[rounds / 2]
        let largeMedian = largeRates.sorted()[rounds / 2]
        let report: [String: Any] = ["policiesOnSource": matching, "globalPolicies": globals, "columns": columns,
                                     "decisionsPerSecondSmall": smallMedian.rounded(), "decisionsPerSecondLarge": largeMedian.rounded(),
                                     "ratioSmallOverLarge": (smallMedian / largeMedian * 100).rounded() / 100]
        print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
    }

    private func rate(_ index: PolicyIndex, _ world: World) -> Double {
        let clock = ContinuousClock()
        var masked = 0
        let elapsed = clock.measure {
            for _ in 0..<decisions {
                masked &+= PolicyEvaluator.decide(local: nil, globals: index, target: world.target, subject: world.subject, now: world.now).masks.count
            }
        }
        precondition(masked > 0)
        return Double(decisions) / Decide.seconds(elapsed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Policy `i` masks the columns tagged `Tag<i>` unless the user is in group `Group<i>`. The source carries tags
    /// `Tag0 … Tag<matching-1>` on its first columns, so exactly the first `matching` policies apply; the user is in
    /// the odd groups, so half of those are excepted.
    struct World {
        let globals: Int
        let matching: Int
        let columns: Int
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        var target: PolicyTarget {
            PolicyTarget(dataSourceId: 1, columns: (0..<columns).map { i in
                PolicyColumn(name: "c\(i)", dataType: "text", tags: i < matching ? [try! TagName("Tag\(i)")] : [])
            })
        }

        var subject: PolicySubject {
            PolicySubject(user: PredicateUser(username: "alice", groups: Set(stride(from: 1, to: matching, by: 2).map { "Group\($0)" }),
                                              attributes: ["Department": ["Sales"]]))
        }

        func policyJSON(_ i: Int) -> JSONValue {
            .object(["type": .string("masking"), "rules": .array([.object([
                "type": .string("masking"),
                "config": .object(["fields": .array([.string("Tag\(i)")]),
                                   "maskingConfig": .object(["type": .string("Consistent Value"), "metadata": .object([:])])]),
                "exceptions": .object(["operator": .string("or"),
                                       "conditions": .array([.object(["type": .string("groups"), "group": .object(["name": .string("Group\(i)")])])])]),
            ])])])
        }

        func policies(count: Int) -> [DataPolicy] {
            let reader = PolicyReader(global: true, columns: nil, strict: true)
            return (0..<count).map { i in
                var validator = Validator()
                let entries = reader.entries([policyJSON(i)], path: "actions", into: &validator)
                precondition(validator.problems.isEmpty, "\(validator.problems)")
                let scope = reader.scope(.array([.object(["type": .string("columnTags"), "operator": .string("or"),
                                                          "columnTag": .object(["name": .string("Tag\(i)")])])]), path: "", into: &validator)
                return DataPolicy(id: Int64(i + 1), kind: .global(scope: scope), name: "p\(i)", entries: entries,
                                  createdAt: now.addingTimeInterval(Double(i)))
            }
        }

        /// For the other engines: every policy as (tag, excepted group), the columns with their tags, the user's groups.
        var description: [String: Any] {
            ["policies": (0..<globals).map { ["tag": "Tag\($0)", "exceptGroup": "Group\($0)"] },
             "columns": (0..<columns).map { i in ["name": "c\(i)", "tags": i < matching ? ["Tag\(i)"] : []] },
             "user": ["name": "alice", "groups": Array(subject.user.groups).sorted()],
             "matching": matching]
        }
    }
}
