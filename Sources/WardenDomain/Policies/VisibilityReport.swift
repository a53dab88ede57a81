/// The counts of a visibility report: how many distinct values the source's visibility columns hold, and how many
/// of them one user's decision lets through.
public struct VisibilityCounts: Sendable, Equatable {
    /// True when no row-level visibility or purpose restriction is in force on the source.
    public var noVisibilities: Bool
    public var dataSourceVisibilitiesCount: Int
    public var userVisibilitiesCount: Int

    public init(noVisibilities: Bool, dataSourceVisibilitiesCount: Int, userVisibilitiesCount: Int) {
        self.noVisibilities = noVisibilities
        self.dataSourceVisibilitiesCount = dataSourceVisibilitiesCount
        self.userVisibilitiesCount = userVisibilitiesCount
    }

    /// The columns whose values are counted: those of every visibility rule in force, as `baseline` (the decision
    /// for someone no exception holds for) names them.
    public static func columns(baseline: PolicyDecision) -> [String] {
        Set(baseline.visibilities.map(\.column)).sorted()
    }

    /// `values`: each visibility column's distinct values in the warehouse. A value counts for the user when every
    /// visibility condition that applies to them on its column admits it; a column none applies to (the user is
    /// excepted) counts whole. A user who sees no rows at all sees none of them.
    public static func compute(baseline: PolicyDecision, user: PolicyDecision, values: [String: [String]]) -> VisibilityCounts {
        let columns = columns(baseline: baseline)
        let restrictsByPurpose = baseline.rules.contains { outcome in
            guard outcome.appliedForUser, case .prerequisite? = baseline.rule(outcome.rule)?.action else { return false }
            return true
        }
        var total = 0
        var seen = 0
        for column in columns {
            let columnValues = Set(values[column] ?? [])
            total += columnValues.count
            guard !user.showsNoRows else { continue }
            let conditions = user.visibilities.filter { $0.column == column }
            seen += conditions.reduce(columnValues) { admitted, condition in admitted.intersection(condition.values) }.count
        }
        return VisibilityCounts(noVisibilities: columns.isEmpty && !restrictsByPurpose, dataSourceVisibilitiesCount: total,
                                userVisibilitiesCount: seen)
    }
}

/// A purpose restriction in force on a data source: no rows unless acting under `purposes` (all of them with `and`,
/// one with `or`).
public struct PurposeRestriction: Sendable, Equatable {
    public var policyId: Int64
    public var op: LogicalOperator
    public var purposes: [String]

    public init(policyId: Int64, op: LogicalOperator, purposes: [String]) {
        self.policyId = policyId
        self.op = op
        self.purposes = purposes
    }

    /// The restrictions of the policies in force (staged ones are not in force), in policy order.
    public static func inForce(_ policies: [DataPolicy]) -> [PurposeRestriction] {
        policies.filter { !$0.staged }.flatMap { policy in
            policy.entries.flatMap(\.rules).compactMap { rule in
                guard case .prerequisite(let op, let purposes) = rule.action else { return nil }
                return PurposeRestriction(policyId: policy.id, op: op, purposes: purposes)
            }
        }
    }

    /// Whether acting under `purposes` satisfies the restriction.
    public func isSatisfied(byActingUnder purposes: [String]) -> Bool {
        var subject = PolicySubject.nobody
        subject.purposes = purposes
        return op == .and ? self.purposes.allSatisfy(subject.actsUnder) : self.purposes.contains(where: subject.actsUnder)
    }
}
