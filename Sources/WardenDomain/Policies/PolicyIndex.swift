public import Foundation

/// Global policies indexed by the tags a data source must carry for them to apply, so that finding a source's
/// policies looks up its tags instead of scanning every policy: its cost follows the source's tags and the
/// policies that match, not how many policies exist.
///
/// A policy is indexed under keys of which a source must have at least one:
/// - an `and` circumstance on a source or column tag: that tag;
/// - only `or` circumstances, all on tags: each of them;
/// - otherwise, when every rule masks tagged columns: each masked tag (a policy that masks nothing here does not
///   apply here).
/// Other policies (a regex or time circumstance alone, or row rules everywhere) are checked for every source.
public struct PolicyIndex: Sendable {
    enum Key: Hashable {
        case sourceTag(TagName)
        case columnTag(TagName)
    }

    /// Live (not staged) global policies, earliest first.
    public let policies: [DataPolicy]
    private var keyed: [Key: [Int]] = [:]
    private var unkeyed: [Int] = []
    private var applied: [Int64: Int] = [:]

    public init(_ globals: [DataPolicy]) {
        policies = globals.filter { $0.isGlobal && !$0.staged }.sorted(by: DataPolicy.precedes)
        for (position, policy) in policies.enumerated() {
            guard case .global(let scope) = policy.kind else { continue }
            if scope == .whereApplied {
                applied[policy.id] = position
            } else if let keys = Self.keys(scope: scope, entries: policy.entries) {
                for key in keys { keyed[key, default: []].append(position) }
            } else {
                unkeyed.append(position)
            }
        }
    }

    /// The global policies in force on `target` at `now`, earliest first.
    public func matching(_ target: PolicyTarget, at now: Date) -> [DataPolicy] {
        var positions = Set(unkeyed)
        for id in target.appliedPolicyIds {
            if let position = applied[id] { positions.insert(position) }
        }
        for tag in target.tags {
            for name in [tag] + tag.ancestors { positions.formUnion(keyed[.sourceTag(name)] ?? []) }
        }
        for column in target.columns {
            for tag in column.tags {
                for name in [tag] + tag.ancestors { positions.formUnion(keyed[.columnTag(name)] ?? []) }
            }
        }
        return positions.sorted().map { policies[$0] }.filter { Self.applies($0, to: target, at: now) }
    }

    /// Whether a global policy is in force on `target`: its circumstances hold (or an owner applied it), and at
    /// least one of its rules is about the source.
    public static func applies(_ policy: DataPolicy, to target: PolicyTarget, at now: Date) -> Bool {
        guard case .global(let scope) = policy.kind, !policy.staged else { return false }
        let inScope: Bool = switch scope {
        case .everywhere: true
        case .whereApplied: target.appliedPolicyIds.contains(policy.id)
        case .when(let items): Self.holds(items, on: target, at: now)
        }
        guard inScope else { return false }
        return policy.entries.contains { entry in entry.rules.contains { isAbout(target, $0.action) } }
    }

    /// Every `and` item holds, and at least one `or` item when there are any.
    static func holds(_ items: [(op: LogicalOperator, circumstance: Circumstance)], on target: PolicyTarget, at now: Date) -> Bool {
        let all = items.filter { $0.op == .and }
        let any = items.filter { $0.op == .or }
        return all.allSatisfy { holds($0.circumstance, on: target, at: now) }
            && (any.isEmpty || any.contains { holds($0.circumstance, on: target, at: now) })
    }

    static func holds(_ circumstance: Circumstance, on target: PolicyTarget, at now: Date) -> Bool {
        switch circumstance {
        case .sourceTag(let tag):
            return target.isTagged(tag)
        case .columnTag(let tag):
            return target.columns.contains { $0.isTagged(tag) }
        case .columnRegex(let pattern, let caseInsensitive):
            guard let regex = try? NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : []) else { return false }
            return target.columns.contains { column in
                regex.firstMatch(in: column.name, range: NSRange(column.name.startIndex..., in: column.name)) != nil
            }
        case .time(let start, let end):
            return (start.map { now >= $0 } ?? true) && (end.map { now < $0 } ?? true)
        }
    }

    /// Whether a global rule concerns `target`: a mask whose tags some column carries, a visibility rule whose
    /// tags all have a column; every other rule concerns every source it is in scope for.
    static func isAbout(_ target: PolicyTarget, _ action: RuleAction) -> Bool {
        switch action {
        case .mask(let tags, _, _):
            return tags.contains { name in target.columns.contains { $0.isTagged(named: name) } }
        case .visibility(_, let conditions):
            return conditions.allSatisfy { condition in target.columns.contains { $0.isTagged(named: condition.column) } }
        case .predicate, .time, .minimization, .prerequisite, .notUnderstood:
            return true
        }
    }

    private static func keys(scope: PolicyScope, entries: [PolicyEntry]) -> [Key]? {
        func key(_ circumstance: Circumstance) -> Key? {
            switch circumstance {
            case .sourceTag(let tag): .sourceTag(tag)
            case .columnTag(let tag): .columnTag(tag)
            case .columnRegex, .time: nil
            }
        }
        if case .when(let items) = scope {
            if let required = items.first(where: { $0.op == .and && key($0.circumstance) != nil }) {
                return [key(required.circumstance)!]
            }
            let alternatives = items.filter { $0.op == .or }.compactMap { key($0.circumstance) }
            if !items.contains(where: { $0.op == .and }), !alternatives.isEmpty, alternatives.count == items.count {
                return alternatives
            }
        }
        // Every rule masks tagged columns: only a source with such a column is concerned.
        var masked: [Key] = []
        for entry in entries {
            for rule in entry.rules {
                guard case .mask(let tags, _, _) = rule.action else { return nil }
                for name in tags {
                    guard let tag = try? TagName(name) else { return nil }
                    masked.append(.columnTag(tag))
                }
            }
        }
        return masked.isEmpty ? nil : masked
    }
}
