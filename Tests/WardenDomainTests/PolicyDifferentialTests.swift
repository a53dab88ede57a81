import Foundation
import Testing
import WardenDomain

/// The evaluator against a deliberately naive reading of the policy model, on seeded random policies, dictionaries
/// and users: every policy is checked against every source by scanning (no index), every rule in order, with its own
/// tag, circumstance and exception logic. They must agree on every case.
@Suite struct PolicyDifferentialTests {
    static let cases = 10_000

    @Test func theEvaluatorAgreesWithANaiveReadingOfThePolicyModel() {
        var random = SplitMix64(seed: 20261202)
        var disagreements: [String] = []
        var shapes: [String: Int] = [:]
        for index in 0..<Self.cases {
            let world = World.random(&random)
            let real = PolicyEvaluator.decide(local: world.local, globals: PolicyIndex(world.globals), target: world.target,
                                              subject: world.subject, now: world.now)
            let naive = NaiveEvaluator.decide(world)
            let realSummary = Summary(real)
            if realSummary != naive {
                if disagreements.count < 5 { disagreements.append("case \(index): \(realSummary) vs naive \(naive)") }
                else { disagreements.append("") }
            }
            if !real.masks.isEmpty { shapes["masks", default: 0] += 1 }
            if real.showsNoRows { shapes["no rows", default: 0] += 1 } else if real.rowFilter != RowPredicate.always { shapes["row filter", default: 0] += 1 }
            if !real.conflicts.isEmpty { shapes["conflicts", default: 0] += 1 }
            if real.rules.contains(where: { $0.status == RuleOutcome.Status.excepted }) { shapes["excepted", default: 0] += 1 }
            if !real.samples.isEmpty || !real.timeWindows.isEmpty { shapes["samples or windows", default: 0] += 1 }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, the first: \(disagreements.prefix(5))")
        // The generator must reach every kind of outcome often, or agreement would prove little.
        for shape in ["masks", "no rows", "row filter", "conflicts", "excepted", "samples or windows"] {
            #expect(shapes[shape, default: 0] > Self.cases / 50, "only \(shapes[shape, default: 0]) cases with \(shape)")
        }
    }
}

/// What both evaluators are compared on.
struct Summary: Equatable, CustomStringConvertible {
    var masks: [String]
    var rows: String
    var samples: [String]
    var windows: [String]
    var conflicts: [String]
    var policies: [Int64]

    init(masks: [String], rows: String, samples: [String], windows: [String], conflicts: [String], policies: [Int64]) {
        self.masks = masks
        self.rows = rows
        self.samples = samples
        self.windows = windows
        self.conflicts = conflicts
        self.policies = policies
    }

    init(_ decision: PolicyDecision) {
        masks = decision.masks.map { "\($0.column)=\($0.method)\($0.condition.map { " when \($0)" } ?? "")" }
        rows = decision.rowFilter.description
        samples = decision.samples.map { "\($0.column) \($0.percent)" }
        windows = decision.timeWindows.map { "\($0.column) \($0.newer) \($0.seconds)" }
        conflicts = decision.conflicts.map { "\($0.column): \($0.winner) over \($0.overridden)" }
        policies = decision.policies.map(\.id)
    }

    var description: String { "masks \(masks) rows \(rows) samples \(samples) windows \(windows) conflicts \(conflicts) policies \(policies)" }
}

/// A direct reading of `policy-model.md`, written without looking at how the evaluator is organised.
enum NaiveEvaluator {
    static func tagCovers(_ wanted: String, _ carried: String) -> Bool {
        carried == wanted || carried.hasPrefix(wanted + ".")
    }

    static func columnCarries(_ column: PolicyColumn, _ tag: String) -> Bool {
        column.tags.contains { tagCovers(tag, $0.value) }
    }

    static func column(_ name: String, in columns: [PolicyColumn]) -> PolicyColumn? {
        if let exact = columns.first(where: { $0.name == name }) { return exact }
        let folded = columns.filter { $0.name.lowercased() == name.lowercased() }
        return folded.count == 1 ? folded[0] : nil
    }

    static func circumstanceHolds(_ circumstance: Circumstance, _ world: World) -> Bool {
        switch circumstance {
        case .sourceTag(let tag): return world.target.tags.contains { tagCovers(tag.value, $0.value) }
        case .columnTag(let tag): return world.target.columns.contains { columnCarries($0, tag.value) }
        case .columnRegex(let pattern, let insensitive):
            return world.target.columns.contains { $0.name.range(of: pattern, options: insensitive ? [.regularExpression, .caseInsensitive] : [.regularExpression]) != nil }
        case .time(let start, let end):
            if let start, world.now < start { return false }
            if let end, world.now >= end { return false }
            return true
        }
    }

    /// A global rule is about the source unless it names tags (masked or visibility columns) the source lacks.
    static func ruleIsAbout(_ action: RuleAction, _ world: World) -> Bool {
        switch action {
        case .mask(let tags, _, _): return tags.contains { tag in world.target.columns.contains { columnCarries($0, tag) } }
        case .visibility(_, let conditions): return conditions.allSatisfy { c in world.target.columns.contains { columnCarries($0, c.column) } }
        default: return true
        }
    }

    static func inForce(_ policy: DataPolicy, _ world: World) -> Bool {
        if policy.staged { return false }
        guard case .global(let scope) = policy.kind else { return true }
        switch scope {
        case .everywhere: break
        case .whereApplied: if !world.target.appliedPolicyIds.contains(policy.id) { return false }
        case .when(let items):
            for item in items where item.op == .and { if !circumstanceHolds(item.circumstance, world) { return false } }
            let alternatives = items.filter { $0.op == .or }
            if !alternatives.isEmpty, !alternatives.contains(where: { circumstanceHolds($0.circumstance, world) }) { return false }
        }
        return policy.entries.contains { $0.rules.contains { ruleIsAbout($0.action, world) } }
    }

    static func excepted(_ exceptions: PolicyExceptions?, _ world: World) -> Bool {
        guard let exceptions, !exceptions.conditions.isEmpty else { return false }
        let user = world.subject.user
        let held = exceptions.conditions.map { condition -> Bool in
            switch condition {
            case .group(let name): return user.groups.contains(name)
            case .attribute(let key, let value):
                let values = user.attributes[key] ?? []
                if let value { return values.contains(value) }
                return !values.isEmpty
            case .purpose(let purpose): return world.subject.purposes.contains { tagCovers(purpose, $0) }
            case .notUnderstood: return false
            }
        }
        return exceptions.op == .and ? !held.contains(false) : held.contains(true)
    }

    static func decide(_ world: World) -> Summary {
        let live = ([world.local].compactMap { $0 } + world.globals).filter { inForce($0, world) }
            .sorted { ($0.createdAt, $0.id, $0.isGlobal ? 1 : 0) < ($1.createdAt, $1.id, $1.isGlobal ? 1 : 0) }
        let columns = world.target.columns
        var masked: [String: (text: String, ref: String)] = [:]
        var conflicts: [String] = []
        var rows: [RowPredicate] = []
        var samples: [String] = []
        var windows: [String] = []
        for policy in live {
            let global = policy.isGlobal
            for (e, entry) in policy.entries.enumerated() {
                for (r, rule) in entry.rules.enumerated() {
                    let ref = "\(global ? "global" : "local") \(policy.id) #\(e).\(r)"
                    func named(_ names: [String]) -> [PolicyColumn] {
                        global ? columns.filter { c in names.contains { columnCarries(c, $0) } }
                            : columns.filter { c in names.contains { column($0, in: columns)?.name == c.name } }
                    }
                    func addMask(_ column: PolicyColumn, _ text: String) {
                        if let winner = masked[column.name] { conflicts.append("\(column.name): \(winner.ref) over \(ref)") }
                        else { masked[column.name] = (text, ref) }
                    }
                    if case .notUnderstood(_, let names) = rule.action {
                        let hit = named(names)
                        if hit.isEmpty { rows.append(.never) }
                        for column in hit { addMask(column, "\(MaskingMethod.null)") }
                        continue
                    }
                    if global, !ruleIsAbout(rule.action, world) { continue }
                    if excepted(rule.exceptions, world) { continue }
                    switch rule.action {
                    case .mask(let names, let method, let when):
                        var condition = ""
                        if let when {
                            let resolved = when.resolved(for: world.subject.user, columns: columns)
                            if resolved == .never { continue }
                            if let resolved, resolved != .always { condition = " when \(resolved)" }
                        }
                        for column in named(names) {
                            addMask(column, "\(method.applies(to: column.dataType) ? method : .null)" + condition)
                        }
                    case .visibility(let op, let conditions):
                        var parts: [RowPredicate] = []
                        var missing = false
                        for condition in conditions {
                            guard let column = named([condition.column]).first else { missing = true; break }
                            let values: [String]
                            switch condition {
                            case .attribute(let key, _): values = world.subject.user.attributes[key] ?? []
                            case .groups: values = Array(world.subject.user.groups)
                            }
                            parts.append(values.isEmpty ? .never : .inList(.column(column.name), values.sorted().map { .string($0) }, negated: false))
                        }
                        rows.append(missing ? .never : op == .and ? .all(parts) : .any(parts))
                    case .predicate(let predicate):
                        if let resolved = predicate.resolved(for: world.subject.user, columns: columns) { rows.append(resolved) }
                        else if !(global && predicate.columns.allSatisfy { column($0, in: columns) != nil }) { rows.append(.never) }
                    case .time(let seconds, let newer, let name):
                        if let name = name ?? world.target.eventTimeColumn, let column = column(name, in: columns),
                           ["date", "timestamp", "timestamp with time zone"].contains(column.dataType) {
                            windows.append("\(column.name) \(newer) \(seconds)")
                        } else {
                            rows.append(.never)
                        }
                    case .minimization(let percent, let name):
                        if let name = name ?? world.target.highCardinalityColumn, let column = column(name, in: columns) {
                            samples.append("\(column.name) \(percent)")
                        } else {
                            rows.append(.never)
                        }
                    case .prerequisite(let op, let purposes):
                        let held = purposes.map { p in world.subject.purposes.contains { tagCovers(p, $0) } }
                        if op == .and ? held.contains(false) : !held.contains(true) { rows.append(.never) }
                    case .notUnderstood:
                        break
                    }
                }
            }
        }
        let masks = columns.compactMap { column in masked[column.name].map { "\(column.name)=\($0.text)" } }
        return Summary(masks: masks, rows: RowPredicate.all(rows).description, samples: samples, windows: windows, conflicts: conflicts,
                       policies: live.map(\.id))
    }
}

/// One random case: a source, a user, a local policy and global ones.
struct World {
    var local: DataPolicy?
    var globals: [DataPolicy]
    var target: PolicyTarget
    var subject: PolicySubject
    var now: Date

    static let tags = ["A", "A.B", "A.B.C", "A.D", "B", "B.C", "C"]
    static let types = ["text", "integer", "numeric", "date", "timestamp", "boolean"]
    static let groups = ["G1", "G2", "G3"]
    static let purposes = ["P", "P.Q", "R"]
    static let predicates = ["c0 = 'x'", "@isInGroups('G1')", "@hasAttribute('Dept', 'x') OR c1 IS NULL", "@groupsContains(c2)",
                             "NOT @attributeValuesContains('Dept', c0)", "@columnTagged('A.B') = @username", "c9 = 1",
                             "@columnTagged('C') IN ('a', 'b')", "c1 BETWEEN 1 AND 5 AND @isInGroups('G2', 'G3')"]
    static let methods: [MaskingMethod] = [.hash, .null, .constant("x"), .regex(pattern: "a", replacement: "b", global: true, caseInsensitive: false),
                                           .bucket(10), .truncate(.year), .reversible]

    static func random(_ random: inout SplitMix64) -> World {
        let epoch = Date(timeIntervalSince1970: 1_780_000_000)
        func pick<T>(_ items: [T]) -> T { items[random.below(items.count)] }
        func subset<T>(_ items: [T], chance: Int = 40) -> [T] { items.filter { _ in random.below(100) < chance } }
        let columnCount = 3 + random.below(6)
        let columns = (0..<columnCount).map { i in
            PolicyColumn(name: "c\(i)", dataType: pick(types), tags: subset(tags, chance: 20).map { try! TagName($0) })
        }
        let target = PolicyTarget(dataSourceId: 1, tags: subset(tags, chance: 25).map { try! TagName($0) }, columns: columns,
                                  eventTimeColumn: random.below(3) == 0 ? nil : "c\(random.below(columnCount + 1))",
                                  highCardinalityColumn: random.below(4) == 0 ? nil : "c\(random.below(columnCount))",
                                  appliedPolicyIds: Set(subset(Array(100..<108)).map(Int64.init)))
        let subject = PolicySubject(user: PredicateUser(username: "u\(random.below(3))", groups: Set(subset(groups)),
                                                        attributes: random.below(2) == 0 ? [:] : ["Dept": subset(["x", "y"], chance: 60)]),
                                    purposes: subset(purposes, chance: 30))
        func exceptions() -> PolicyExceptions? {
            guard random.below(3) == 0 else { return nil }
            let conditions: [ExceptionCondition] = (0..<(1 + random.below(3))).map { _ in
                switch random.below(5) {
                case 0, 1: .group(pick(groups))
                case 2: .attribute(key: "Dept", value: random.below(2) == 0 ? nil : pick(["x", "y"]))
                case 3: .purpose(pick(purposes))
                default: .notUnderstood("?")
                }
            }
            return PolicyExceptions(op: random.below(2) == 0 ? .and : .or, conditions: conditions)
        }
        func names(global: Bool) -> [String] {
            (0..<(1 + random.below(3))).map { _ in global ? pick(tags) : "c\(random.below(columnCount + 1))" }
        }
        func predicate() -> RowPredicate {
            var validator = Validator()
            return RowPredicate.parse(pick(predicates), path: "p", columns: nil, into: &validator)!
        }
        func rule(global: Bool) -> PolicyRule {
            let action: RuleAction = switch random.below(9) {
            case 0, 1, 2: .mask(columns: names(global: global), method: pick(methods), when: random.below(4) == 0 ? predicate() : nil)
            case 3: .visibility(op: random.below(2) == 0 ? .and : .or,
                                conditions: names(global: global).map { random.below(2) == 0 ? .groups(column: $0) : .attribute(key: "Dept", column: $0) })
            case 4: .predicate(predicate())
            case 5: .time(seconds: 60, newer: random.below(2) == 0, column: random.below(2) == 0 ? nil : "c\(random.below(columnCount + 1))")
            case 6: .minimization(percent: 1 + random.below(100), column: random.below(2) == 0 ? nil : "c\(random.below(columnCount + 1))")
            case 7: .prerequisite(op: random.below(2) == 0 ? .and : .or, purposes: subset(purposes, chance: 50) + [pick(purposes)])
            default: .notUnderstood(reason: "?", columns: random.below(2) == 0 ? [] : names(global: global))
            }
            return PolicyRule(action: action, exceptions: exceptions(), json: .null)
        }
        func entries(global: Bool) -> [PolicyEntry] {
            (0..<(1 + random.below(2))).map { _ in
                PolicyEntry(type: .masking, typeName: "masking", rules: (0..<(1 + random.below(2))).map { _ in rule(global: global) }, description: nil)
            }
        }
        func scope() -> PolicyScope {
            switch random.below(5) {
            case 0: return .everywhere
            case 1: return .whereApplied
            default:
                return .when((0..<(1 + random.below(3))).map { _ in
                    let circumstance: Circumstance = switch random.below(6) {
                    case 0, 1: .sourceTag(try! TagName(pick(tags)))
                    case 2, 3: .columnTag(try! TagName(pick(tags)))
                    case 4: .columnRegex(pattern: pick(["^c[0-2]$", "3", "C1"]), caseInsensitive: random.below(2) == 0)
                    default: .time(start: random.below(2) == 0 ? nil : epoch.addingTimeInterval(Double(random.below(200) - 100)),
                                   end: random.below(2) == 0 ? nil : epoch.addingTimeInterval(Double(random.below(200))))
                    }
                    return (random.below(2) == 0 ? LogicalOperator.and : .or, circumstance)
                })
            }
        }
        let globals = (0..<random.below(8)).map { i in
            DataPolicy(id: Int64(100 + i), kind: .global(scope: scope()), name: "g\(i)", entries: entries(global: true),
                       staged: random.below(8) == 0, createdAt: epoch.addingTimeInterval(Double(random.below(20))))
        }
        let local = random.below(4) == 0 ? nil
            : DataPolicy(id: 1, kind: .local(dataSourceId: 1), name: "local", entries: entries(global: false),
                         createdAt: epoch.addingTimeInterval(Double(random.below(20))))
        return World(local: local, globals: globals, target: target, subject: subject, now: epoch)
    }
}

extension SplitMix64 {
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
