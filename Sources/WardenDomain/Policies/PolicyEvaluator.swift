public import Foundation

/// Decides what one user sees of one data source, from its local policy and the global policies in force on it.
///
/// Rules of one entry and entries of one source all apply; row rules are ANDed. One mask per column: the
/// earliest-created policy's applies and the later ones are conflicts. Whatever cannot be applied as written fails
/// closed: a mask to NULL, a row rule to no rows.
public enum PolicyEvaluator {
    public static func decide(local: DataPolicy?, globals: PolicyIndex, target: PolicyTarget, subject: PolicySubject,
                              now: Date) -> PolicyDecision {
        decide(policies: inForce(local: local, globals: globals, target: target, now: now), target: target, subject: subject)
    }

    /// The decision from `policies`, the policies in force on the source (`inForce`), earliest first.
    public static func decide(policies: [DataPolicy], target: PolicyTarget, subject: PolicySubject) -> PolicyDecision {
        var decision = PolicyDecision(allowed: subject.subscribed, denialReason: subject.subscribed ? nil : "not subscribed to the data source",
                                      masks: [], rowFilter: .always, samples: [], timeWindows: [], visibilities: [], conflicts: [], rules: [],
                                      policies: policies)
        var rows: [RowPredicate] = []
        var masks: [String: ColumnMask] = [:]
        for policy in policies {
            for (entryIndex, entry) in policy.entries.enumerated() {
                for (ruleIndex, rule) in entry.rules.enumerated() {
                    let ref = PolicyRuleRef(policyId: policy.id, global: policy.isGlobal, entry: entryIndex, rule: ruleIndex)
                    let effect = effect(of: rule, in: entry, global: policy.isGlobal, target: target, subject: subject)
                    decision.rules.append(RuleOutcome(rule: ref, status: effect.status, reason: effect.reason))
                    for mask in effect.masks {
                        let column = mask.column
                        if let winner = masks[column] {
                            decision.conflicts.append(MaskConflict(column: column, winner: winner.rule, overridden: ref))
                        } else {
                            masks[column] = ColumnMask(column: column, requested: mask.requested, method: mask.method,
                                                       condition: mask.condition, rule: ref, note: mask.note)
                        }
                    }
                    if let row = effect.rows { rows.append(row) }
                    decision.visibilities += effect.visibilities.map { RowVisibility(column: $0.column, values: $0.values, rule: ref) }
                    if let sample = effect.sample { decision.samples.append(RowSample(column: sample.column, percent: sample.percent, rule: ref)) }
                    if let window = effect.window {
                        decision.timeWindows.append(TimeWindow(column: window.column, seconds: window.seconds, newer: window.newer, rule: ref))
                    }
                }
            }
        }
        decision.masks = target.columns.compactMap { masks[$0.name] }
        decision.rowFilter = .all(rows)
        return decision
    }

    /// The policies in force on the source, earliest first: the order in which they claim columns.
    public static func inForce(local: DataPolicy?, globals: PolicyIndex, target: PolicyTarget, now: Date) -> [DataPolicy] {
        var policies = globals.matching(target, at: now)
        if let local, !local.staged { policies.append(local) }
        return (reviewPolicy(for: target).map { [$0] } ?? []) + policies.sorted(by: DataPolicy.precedes)
    }

    /// The id of `reviewPolicy`, which no stored policy has.
    public static let reviewPolicyId: Int64 = -1

    /// Columns that appeared in the warehouse and await an owner's review are masked to NULL for everyone: a built-in
    /// policy ahead of every other, so no exception or later policy exposes them before the review.
    public static func reviewPolicy(for target: PolicyTarget) -> DataPolicy? {
        let pending = target.columns.filter(\.pendingReview).map(\.name)
        guard !pending.isEmpty else { return nil }
        let json: JSONValue = .object([
            "type": .string("masking"), "exceptions": .null,
            "config": .object(["fields": .array(pending.map(JSONValue.string)),
                               "maskingConfig": .object(["type": .string("Consistent Value"), "metadata": .object(["constant": .null])])]),
        ])
        let rule = PolicyRule(action: .mask(columns: pending, method: .null, when: nil), exceptions: nil, json: json)
        return DataPolicy(id: reviewPolicyId, kind: .local(dataSourceId: target.dataSourceId), name: "New columns awaiting an owner's review",
                          entries: [PolicyEntry(type: .masking, typeName: "masking", rules: [rule],
                                                description: "Warden masks columns added in the warehouse until an owner reviews them")],
                          createdAt: .distantPast)
    }

    // MARK: One rule

    struct PendingMask {
        var column: String
        var requested: MaskingMethod
        var method: MaskingMethod
        var condition: RowPredicate?
        var note: String?
    }

    struct Effect {
        var status: RuleOutcome.Status
        var reason: String
        var masks: [PendingMask] = []
        var rows: RowPredicate?
        var sample: (column: String, percent: Int)?
        var window: (column: String, seconds: Int, newer: Bool)?
        var visibilities: [(column: String, values: [String])] = []

        static func notApplicable(_ reason: String) -> Effect { Effect(status: .notApplicable, reason: reason) }
        static func noRows(_ reason: String) -> Effect { Effect(status: .failedClosed, reason: reason, rows: .never) }
    }

    static func effect(of rule: PolicyRule, in entry: PolicyEntry, global: Bool, target: PolicyTarget, subject: PolicySubject) -> Effect {
        if case .notUnderstood(let reason, let names) = rule.action {
            let columns = self.columns(named: names, global: global, in: target)
            guard !columns.isEmpty else { return .noRows("not understood (\(reason)): no rows are shown") }
            return Effect(status: .failedClosed, reason: "not understood (\(reason)): its columns are masked to NULL",
                          masks: columns.map { PendingMask(column: $0.name, requested: .null, method: .null, note: "the rule is not understood") })
        }
        // A rule about columns this source does not have is not about this source.
        if global, !PolicyIndex.isAbout(target, rule.action) {
            return .notApplicable("no column of the data source carries its tags")
        }
        if let exceptions = rule.exceptions, let reason = excepting(exceptions, subject) {
            return Effect(status: .excepted, reason: reason)
        }
        switch rule.action {
        case .mask(let names, let method, let when):
            let columns = self.columns(named: names, global: global, in: target)
            guard !columns.isEmpty else { return .notApplicable("the data source has none of its columns") }
            var condition: RowPredicate?
            var note: String?
            if let when {
                switch when.resolved(for: subject.user, columns: target.columns) {
                case .some(.constant(false)):
                    return .notApplicable("its condition holds in no row for this user")
                case .some(.constant(true)):
                    condition = nil
                case .some(let resolved):
                    condition = resolved
                case .none:
                    note = "its condition names a column the data source does not have, so every row is masked"
                }
            }
            let masks = columns.map { column in
                method.applies(to: column.dataType)
                    ? PendingMask(column: column.name, requested: method, method: method, condition: condition, note: note)
                    : PendingMask(column: column.name, requested: method, method: .null, condition: condition,
                                  note: "\(method.actionType) cannot apply to \(column.dataType), so the column is NULL")
            }
            return Effect(status: masks.contains { $0.method != method || $0.note != nil } ? .failedClosed : .applied,
                          reason: "masks " + columns.map(\.name).joined(separator: ", "), masks: masks)
        case .visibility(let op, let conditions):
            var parts: [RowPredicate] = []
            var visibilities: [(column: String, values: [String])] = []
            for condition in conditions {
                guard let column = self.columns(named: [condition.column], global: global, in: target).first else {
                    return .noRows("the data source has no column \(condition.column)")
                }
                let values: [String] = switch condition {
                case .attribute(let key, _): subject.user.attributes[key] ?? []
                case .groups: Array(subject.user.groups)
                }
                parts.append(values.isEmpty ? .never : .inList(.column(column.name), values.sorted().map(PredicateOperand.string), negated: false))
                visibilities.append((column.name, values.sorted()))
            }
            let filter = op == .and ? RowPredicate.all(parts) : RowPredicate.any(parts)
            var effect = Effect(status: .applied, reason: "rows must match the user", rows: filter)
            effect.visibilities = visibilities
            return effect
        case .predicate(let predicate):
            guard let resolved = predicate.resolved(for: subject.user, columns: target.columns) else {
                return global && predicate.namesOnlyMissingTags(in: target)
                    ? .notApplicable("no column of the data source carries the tag it names")
                    : .noRows("its predicate names a column the data source does not have")
            }
            return Effect(status: .applied, reason: "rows must match its predicate", rows: resolved)
        case .time(let seconds, let newer, let name):
            guard let name = name ?? target.eventTimeColumn, let column = target.columns.named(name) else {
                return .noRows("it needs an event time column, and the data source has none")
            }
            guard TypeFamily(column.dataType) == .time else { return .noRows("its column \(column.name) is not a date or timestamp") }
            return Effect(status: .applied, reason: "rows \(newer ? "newer" : "older") than \(seconds) seconds",
                          window: (column.name, seconds, newer))
        case .minimization(let percent, let name):
            guard let name = name ?? target.highCardinalityColumn, let column = target.columns.named(name) else {
                return .noRows("it needs a column to sample by, and the data source has none")
            }
            return Effect(status: .applied, reason: "a \(percent)% sample of the rows", sample: (column.name, percent))
        case .prerequisite(let op, let purposes):
            let held = op == .and ? purposes.allSatisfy(subject.actsUnder) : purposes.contains(where: subject.actsUnder)
            return held ? Effect(status: .notApplicable, reason: "acting under its purposes")
                : Effect(status: .applied, reason: "not acting under " + purposes.joined(separator: op == .and ? " and " : " or "), rows: .never)
        case .notUnderstood:
            preconditionFailure("handled above")
        }
    }

    /// The reason the user is excepted, or nil when the rule applies to them.
    static func excepting(_ exceptions: PolicyExceptions, _ subject: PolicySubject) -> String? {
        func holds(_ condition: ExceptionCondition) -> Bool {
            switch condition {
            case .group(let name): subject.user.groups.contains(name)
            case .attribute(let key, let value):
                value.map { (subject.user.attributes[key] ?? []).contains($0) } ?? !(subject.user.attributes[key] ?? []).isEmpty
            case .purpose(let purpose): subject.actsUnder(purpose)
            case .notUnderstood: false
            }
        }
        guard !exceptions.conditions.isEmpty else { return nil }
        let excepted = exceptions.op == .and ? exceptions.conditions.allSatisfy(holds) : exceptions.conditions.contains(where: holds)
        guard excepted else { return nil }
        let held = exceptions.conditions.filter(holds).map(\.described)
        return "excepted: " + held.joined(separator: exceptions.op == .and ? " and " : ", ")
    }

    /// The columns a rule names: by name in a local policy, by tag (and the tags below it) in a global one.
    static func columns(named names: [String], global: Bool, in target: PolicyTarget) -> [PolicyColumn] {
        if global {
            return target.columns.filter { column in names.contains(where: column.isTagged(named:)) }
        }
        var found: [PolicyColumn] = []
        for name in names {
            if let column = target.columns.named(name), !found.contains(column) { found.append(column) }
        }
        return target.columns.filter(found.contains)
    }
}

extension ExceptionCondition {
    var described: String {
        switch self {
        case .group(let name): "member of \(name)"
        case .attribute(let key, let value?): "has \(key) = \(value)"
        case .attribute(let key, nil): "has \(key)"
        case .purpose(let purpose): "acting under \(purpose)"
        case .notUnderstood(let text): "not understood: \(text)"
        }
    }
}

extension RowPredicate {
    /// True when every name the predicate cannot resolve on `target` is a `@columnTagged` tag (no plain column is
    /// missing): the predicate is about tagged columns this source does not have.
    func namesOnlyMissingTags(in target: PolicyTarget) -> Bool {
        columns.allSatisfy { target.columns.named($0) != nil }
    }
}
