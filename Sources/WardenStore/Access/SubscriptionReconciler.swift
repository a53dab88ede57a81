import Foundation
import SQLKit
import WardenDomain

/// Keeps memberships of `policy`-governed data sources true to their policies, inside the transaction of the change
/// that may have moved someone in or out (a policy, a group membership, an attribute), so there is never a moment
/// when the change is stored and the access it implies is not.
enum SubscriptionReconciler {
    /// Re-evaluates the users `userIds` (every user when nil) against the `policy` sources `dataSourceIds` (every
    /// one when nil): members a policy admitted who no longer qualify lose access, and qualifying users of a policy
    /// that subscribes automatically gain it. What an owner granted is left alone.
    static func reconcile(dataSourceIds: [Int64]?, userIds: [Int64]?, actorId: Int64?, now: Date, on db: any SQLDatabase) async throws {
        // The users' groups or attributes changed: their warden_system rows must follow in every view they read.
        if let userIds { try await ViewChanges.ofUsers(userIds, on: db) }
        if let userIds, userIds.isEmpty { return }
        if let dataSourceIds, dataSourceIds.isEmpty { return }
        let sourceFilter: SQLQueryString = dataSourceIds.map { ids in
            let binds: [SQLBindable] = ids
            return "AND id IN (\(binds: binds))"
        } ?? ""
        let policies = try await db.raw("""
            SELECT id, subscription_policy FROM data_sources
            WHERE subscription_type = \(bind: SubscriptionType.policy.rawValue) AND disabled = \(bind: false) \(sourceFilter)
            """).all().map { row -> (Int64, SubscriptionPolicy) in
            (try row.int64("id"), try DataSourceStore.subscriptionPolicy(from: try row.optionalString("subscription_policy") ?? "{}"))
        }
        guard !policies.isEmpty else { return }
        let subjects = try await Self.subjects(userIds: userIds, on: db)
        let policyIds: [SQLBindable] = policies.map(\.0)
        let userFilter: SQLQueryString = userIds.map { ids in
            let binds: [SQLBindable] = ids
            return "AND user_id IN (\(binds: binds))"
        } ?? ""
        var members: [Pair: SubscriptionReconciliation.Member] = [:]
        for row in try await db.raw("""
            SELECT id, data_source_id, user_id, state, origin FROM data_source_members
            WHERE user_id IS NOT NULL AND data_source_id IN (\(binds: policyIds)) \(userFilter)
            """).all() {
            members[Pair(dataSourceId: try row.int64("data_source_id"), userId: try row.int64("user_id"))] = .init(
                subscriptionId: try row.int64("id"), state: MemberState(rawValue: try row.string("state")) ?? .subscribed,
                origin: SubscriptionOrigin(rawValue: try row.string("origin")) ?? .owner)
        }
        let outcome = SubscriptionReconciliation.decide(policies: policies, users: subjects, members: members)
        let revoked = outcome.revoked.map { (subscriptionId: $0.1.subscriptionId, pair: $0.0, state: $0.1.state) }
        let added = outcome.added

        var activities: [NewActivity] = []
        if !revoked.isEmpty {
            let ids: [SQLBindable] = revoked.map(\.subscriptionId)
            try await TaskStore.complete(subscriptionIds: revoked.map(\.subscriptionId), outcome: .revoked, by: actorId, now: now, on: db)
            try await db.raw("DELETE FROM data_source_members WHERE id IN (\(binds: ids))").run()
            activities += revoked.map {
                NewActivity(dataSourceId: $0.pair.dataSourceId, actorId: actorId, type: .accessRevoked,
                            details: .object(["profileId": .int($0.pair.userId), "subscriptionId": .int($0.subscriptionId),
                                              "state": .string($0.state.rawValue),
                                              "reason": .string("no longer meets the subscription policy")]))
            }
        }
        if !added.isEmpty {
            let rows: [[SQLBindable]] = added.map {
                [$0.dataSourceId, $0.userId, MemberState.subscribed.rawValue, SubscriptionOrigin.policy.rawValue, true, now.millis, now.millis]
            }
            try await SQLBatch.insert(into: "data_source_members",
                                      columns: ["data_source_id", "user_id", "state", "origin", "approved", "created_at", "updated_at"],
                                      rows: rows, chunk: 200, on: db)
            activities += added.map {
                NewActivity(dataSourceId: $0.dataSourceId, actorId: actorId, type: .subscribed,
                            details: .object(["profileId": .int($0.userId), "origin": .string(SubscriptionOrigin.policy.rawValue),
                                              "reason": .string("meets the subscription policy")]))
            }
        }
        try await ActivityStore.record(activities, now: now, on: db)
    }

    typealias Pair = SubscriptionReconciliation.Pair

    /// What policies are evaluated on, for the users `userIds` (every user when nil): their groups and effective attributes.
    static func subjects(userIds: [Int64]?, on db: any SQLDatabase) async throws -> [Int64: SubscriptionReconciliation.User] {
        func filter(_ column: String) -> SQLQueryString {
            guard let userIds else { return "" }
            let binds: [SQLBindable] = userIds
            return "WHERE \(unsafeRaw: column) IN (\(binds: binds))"
        }
        var disabled: [Int64: Bool] = [:]
        var groups: [Int64: Set<SubscriptionSubject.GroupRef>] = [:]
        for row in try await db.raw("SELECT id, disabled FROM users \(filter("id"))").all() {
            disabled[try row.int64("id")] = try row.bool("disabled")
        }
        for row in try await db.raw("""
            SELECT gm.user_id, g.name, g.iamid FROM group_members gm JOIN user_groups g ON g.id = gm.group_id \(filter("gm.user_id"))
            """).all() {
            groups[try row.int64("user_id"), default: []].insert(.init(name: try row.string("name"), iamid: try row.string("iamid")))
        }
        let attributes = try await IdentityStore.attributes(ofUsers: userIds, on: db)
        return disabled.reduce(into: [:]) { result, user in
            result[user.key] = SubscriptionReconciliation.User(
                subject: SubscriptionSubject(groups: groups[user.key] ?? [], attributes: attributes[user.key]?.effective ?? [:]),
                disabled: user.value)
        }
    }

    /// The subject for one group subscribing as a whole: the group itself and its attributes.
    static func subject(groupId: Int64, on db: any SQLDatabase) async throws -> SubscriptionSubject? {
        guard let group = try await IdentityStore.group(id: groupId, on: db) else { return nil }
        return SubscriptionSubject(groups: [.init(name: group.name, iamid: group.iamid)],
                                   attributes: try await IdentityStore.attributes(ofGroups: [groupId], on: db)[groupId] ?? [:])
    }

    /// The users in a group, for re-evaluating them after a change to the group.
    static func memberIds(ofGroup groupId: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        try await db.raw("SELECT user_id FROM group_members WHERE group_id = \(bind: groupId)").all().map { try $0.int64("user_id") }
    }
}
