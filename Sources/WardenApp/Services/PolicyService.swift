import Foundation
import NIOConcurrencyHelpers
import WardenDomain
import WardenStore

/// Data policies: governors keep the global ones, owners their sources' local ones and apply the global ones that
/// wait for an owner; decisions are made afresh from the metastore on every request.
struct PolicyService: Sendable {
    let policies: PolicyStore
    let dataSources: DataSourceStore
    let identity: IdentityStore
    let projects: ProjectStore
    let access: DataSourceAccess
    let signal: JobSignal
    let clock: any WardenClock
    let globalIndex = GlobalPolicyCache()

    // MARK: Global policies

    /// `input` is read once the caller may act, so a refused caller learns nothing from a validation error.
    func createGlobal(caller: Principal, _ input: () async throws -> GlobalPolicyDraft) async throws -> DataPolicyRecord {
        try caller.require(.governance)
        let created = try await policies.createGlobal(try await input(), by: caller.userId, now: clock.now())
        await signal.wakeAll()
        return created
    }

    func globals(searchText: String?, includeStaged: Bool, sort: PolicyStore.SortField, offset: Int, size: Int,
                 caller: Principal) async throws -> [DataPolicyRecord] {
        try caller.require(.governance)
        return try await policies.globals(searchText: searchText, includeStaged: includeStaged, sort: sort, offset: offset, size: size)
    }

    func global(_ id: Int64, caller: Principal) async throws -> DataPolicyRecord {
        try caller.require(.governance)
        return try await policies.global(id: id)
    }

    func updateGlobal(_ id: Int64, caller: Principal, _ input: () async throws -> GlobalPolicyDraft) async throws -> DataPolicyRecord {
        try caller.require(.governance)
        _ = try await policies.global(id: id)
        let updated = try await policies.updateGlobal(id: id, try await input(), by: caller.userId, now: clock.now())
        await signal.wakeAll()
        return updated
    }

    func deleteGlobal(_ id: Int64, caller: Principal) async throws -> DataPolicyRecord {
        try caller.require(.governance)
        let deleted = try await policies.deleteGlobal(id: id, by: caller.userId, now: clock.now())
        await signal.wakeAll()
        return deleted
    }

    func appliedCount(_ id: Int64, caller: Principal) async throws -> Int {
        try caller.require(.governance)
        return try await policies.appliedCount(policyId: id, now: clock.now())
    }

    /// Owners apply, to their source, a global policy that waits for owners (`circumstances: null`).
    func apply(policyId: Int64, dataSourceId: Int64, caller: Principal) async throws -> DataPolicyRecord {
        _ = try await access.require([.owner], on: dataSourceId, caller: caller)
        let policy = try await policies.apply(policyId: policyId, dataSourceId: dataSourceId, by: caller.userId, now: clock.now())
        await signal.wakeAll()
        return policy
    }

    // MARK: Local policies

    /// The source's local policy (nil when it has none) and the global policies in force on it, for its owners
    /// and governors.
    func handler(_ dataSourceId: Int64, caller: Principal) async throws -> (local: DataPolicyRecord?, globals: [DataPolicyRecord]) {
        try await requireOwnerOrGovernance(dataSourceId, caller)
        let target = try await self.target(dataSourceId)
        let local = try await policies.local(dataSourceId: dataSourceId)
        let globals = try await policies.allGlobals()
        let inForce = Set(PolicyIndex(globals.map(\.policy)).matching(target, at: clock.now()).map(\.id))
        return (local, globals.filter { inForce.contains($0.id) })
    }

    /// Replaces the source's local policy. `input` is given the source's columns, against which its entries are
    /// checked, once the caller is known to own the source.
    func putLocal(_ dataSourceId: Int64, caller: Principal,
                  _ input: ([PolicyColumn]) async throws -> [JSONValue]) async throws -> (local: DataPolicyRecord?, globals: [DataPolicyRecord]) {
        _ = try await access.require([.owner], on: dataSourceId, caller: caller)
        let target = try await self.target(dataSourceId)
        let entries = try await input(target.columns)
        _ = try await policies.putLocal(dataSourceId: dataSourceId, entries: entries, by: caller.userId, now: clock.now())
        await signal.wakeAll()
        return try await handler(dataSourceId, caller: caller)
    }

    /// The names of the global policies in force on the source.
    func globalPoliciesInForce(on dataSourceId: Int64) async throws -> [String] {
        try await globalIndex.index(policies).matching(try await target(dataSourceId), at: clock.now()).map(\.name)
    }

    // MARK: Decisions

    /// The enabled sources that `globalPolicy` (a name; nil: any) is in force on and, with `withConflicts`, where two
    /// policies in force mask one column (as decided for someone no exception holds for), for search filters.
    func dataSourceIds(inForce globalPolicy: String?, withConflicts: Bool) async throws -> [Int64] {
        let locals = try await policies.allLocals()
        let globals = try await globalIndex.index(policies)
        var ids: [Int64] = []
        for target in try await policies.targets(ids: nil) {
            let inForce = globals.matching(target, at: clock.now())
            if let globalPolicy, !inForce.contains(where: { $0.name == globalPolicy }) { continue }
            if withConflicts {
                let policies = PolicyEvaluator.inForce(local: locals[target.dataSourceId]?.policy, globals: globals, target: target, now: clock.now())
                if PolicyEvaluator.decide(policies: policies, target: target, subject: .nobody).conflicts.isEmpty { continue }
            }
            ids.append(target.dataSourceId)
        }
        return ids
    }

    /// The data sources the caller can see whose purpose restrictions acting under `purposes` satisfies, with those
    /// restrictions; sources of `excludedProjects` left out.
    func dataSources(forPurposes purposes: [String], excludedProjects: [Int64],
                     caller: Principal) async throws -> [(source: DataSource, restrictions: [PurposeRestriction])] {
        let excluded = try await projects.dataSourceIds(inProjects: excludedProjects)
        let locals = try await policies.allLocals()
        let globals = try await globalIndex.index(policies)
        var found: [(source: DataSource, restrictions: [PurposeRestriction])] = []
        for target in try await policies.targets(ids: nil) where !excluded.contains(target.dataSourceId) {
            let restrictions = PurposeRestriction.inForce(PolicyEvaluator.inForce(local: locals[target.dataSourceId]?.policy, globals: globals,
                                                                                  target: target, now: clock.now()))
            guard restrictions.contains(where: { $0.isSatisfied(byActingUnder: purposes) }),
                  let (source, _) = try? await access.visible(target.dataSourceId, to: caller) else { continue }
            found.append((source, restrictions))
        }
        return found
    }

    /// What `profileId` sees of the source, and why. The user themself may ask, as may the source's owners and
    /// holders of `FETCH_POLICY_INFO` or `GOVERNANCE`; anyone else learns nothing (404 for a user they cannot name).
    /// `trial` replaces the stored local entries (`POST /policy/testPolicy`): nothing is stored.
    /// `projectId` decides as if the user acted under that project (by default: the one they act under).
    func decide(_ dataSourceId: Int64, profileId: Int64, projectId: Int64? = nil, caller: Principal,
                trial: (([PolicyColumn]) async throws -> [JSONValue])? = nil) async throws -> Decided {
        let (source, state) = try await access.visible(dataSourceId, to: caller)
        let mayAskForOthers = state == .owner || caller.permissions.contains(.fetchPolicyInfo) || caller.permissions.contains(.governance)
        guard profileId == caller.userId || mayAskForOthers else {
            throw WardenError.forbidden("Only the user themself, the data source's owners and holders of FETCH_POLICY_INFO may see another user's decision",
                                        code: .authPermissionRequired)
        }
        if let projectId { _ = try await projects.project(id: projectId) }
        let target = try await self.target(dataSourceId)
        var local = try await policies.local(dataSourceId: dataSourceId)?.policy
        if let trial {
            guard state == .owner || caller.permissions.contains(.governance) else {
                throw DataSourceAccess.roleRequired([.owner], action: "test policies on this data source")
            }
            var validator = Validator()
            let entries = PolicyReader(global: false, columns: target.columns, strict: true)
                .entries(try await trial(target.columns), path: "jsonPolicies", into: &validator)
            try validator.finish()
            local = DataPolicy(id: local?.id ?? 0, kind: .local(dataSourceId: dataSourceId), name: "test", entries: entries,
                               createdAt: local?.createdAt ?? clock.now())
        }
        let globals = try await globalIndex.index(policies)
        let (subject, project) = try await self.subject(profileId, on: dataSourceId, projectId: projectId)
        return Decided(decision: PolicyEvaluator.decide(local: local, globals: globals, target: target, subject: subject, now: clock.now()),
                       target: target, project: project, purposes: subject.purposes, now: clock.now(), technology: source.technology)
    }

    /// A decision with what it was made about: the source, and the project the user acted under, if any.
    struct Decided: Sendable {
        var decision: PolicyDecision
        var target: PolicyTarget
        var project: ProjectContext?
        /// The purposes that counted.
        var purposes: [String]
        var now: Date
        var technology: Technology

        /// The decision for someone with no groups, attributes or purposes, from the same policies: every rule applies
        /// unless its exceptions are empty of conditions, so its visibilities name every visibility column in force.
        var baseline: PolicyDecision { PolicyEvaluator.decide(policies: decision.policies, target: target, subject: .nobody) }
    }

    /// The stored policies' decisions on one source for each of `userIds`, with no check of who asks: for services
    /// that have already authorized their caller.
    func decisions(_ dataSourceId: Int64, userIds: [Int64]) async throws -> [Int64: PolicyDecision] {
        let target = try await self.target(dataSourceId)
        let policies = PolicyEvaluator.inForce(local: try await self.policies.local(dataSourceId: dataSourceId)?.policy,
                                               globals: try await globalIndex.index(self.policies), target: target, now: clock.now())
        var decisions: [Int64: PolicyDecision] = [:]
        for userId in userIds {
            decisions[userId] = PolicyEvaluator.decide(policies: policies, target: target,
                                                       subject: try await self.subject(userId, on: dataSourceId).subject)
        }
        return decisions
    }

    /// The user as policies see them on this source, with the purposes of the project they act under (or
    /// `projectId`) where those count; 404 for an unknown user.
    private func subject(_ userId: Int64, on dataSourceId: Int64,
                         projectId: Int64? = nil) async throws -> (subject: PolicySubject, project: ProjectContext?) {
        guard let details = try await identity.details(userId: userId) else { throw IdentityStore.userNotFound }
        let state = try await dataSources.memberState(dataSourceId: dataSourceId, userId: userId, now: clock.now())
        let context = try await projects.context(userId: userId, dataSourceId: dataSourceId, projectId: projectId)
        let subject = PolicySubject(user: PredicateUser(username: details.user.userid, groups: Set(details.groups.map(\.name)),
                                                        attributes: details.effectiveAttributes),
                                    purposes: context?.purposes(at: clock.now()) ?? [], subscribed: state?.isMember ?? false)
        return (subject, context)
    }

    /// The source's dictionary columns, with their tags.
    func columns(of dataSourceId: Int64) async throws -> [PolicyColumn] {
        try await target(dataSourceId).columns
    }

    private func target(_ dataSourceId: Int64) async throws -> PolicyTarget {
        guard let target = try await policies.targets(ids: [dataSourceId]).first else { throw DataSourceStore.notFound }
        return target
    }

    private func requireOwnerOrGovernance(_ dataSourceId: Int64, _ caller: Principal) async throws {
        let (_, state) = try await access.visible(dataSourceId, to: caller)
        guard state == .owner || caller.permissions.contains(.governance) else {
            throw DataSourceAccess.roleRequired([.owner], action: "see this data source's policies")
        }
    }
}

/// The index of the global policies, rebuilt only when their generation in the metastore has changed since it was
/// built: decisions never use policies older than the last committed change, and do not parse every global policy
/// on every request.
final class GlobalPolicyCache: Sendable {
    private let cached = NIOLockedValueBox<(generation: String, index: PolicyIndex)?>(nil)

    func index(_ store: PolicyStore) async throws -> PolicyIndex {
        // The generation is read before the policies: what is built is at least as new as the generation it is kept under.
        let generation = try await store.globalGeneration()
        if let hit = cached.withLockedValue({ $0 }), hit.generation == generation { return hit.index }
        let index = PolicyIndex(try await store.allGlobals().map(\.policy))
        cached.withLockedValue { $0 = (generation, index) }
        return index
    }
}
