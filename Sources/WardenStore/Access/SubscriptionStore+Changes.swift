public import Foundation
import SQLKit
public import WardenDomain

extension SubscriptionStore {
    static let lastOwner = WardenError.conflict("A data source must keep at least one owner", code: .subscriptionLastOwner)

    // MARK: Owners' changes

    /// Makes each subscriber an owner of its data source, inside the caller's transaction (connection settings name
    /// `dataOwners`, who own every source below). Users and groups that no longer exist are skipped, owners stay as
    /// they are, other members become owners. Returns how many memberships changed.
    @discardableResult
    static func makeOwners(_ pairs: [(dataSourceId: Int64, subscriber: Subscriber)], actorId: Int64, now: Date,
                           on db: any SQLDatabase) async throws -> Int {
        guard !pairs.isEmpty else { return 0 }
        var userIds: [Int64] = [], groupIds: [Int64] = []
        for pair in pairs {
            switch pair.subscriber {
            case .user(let id): userIds.append(id)
            case .group(let id): groupIds.append(id)
            }
        }
        var existing: Set<Subscriber> = []
        for (table, ids, make) in [("users", userIds, Subscriber.user), ("user_groups", groupIds, Subscriber.group)] {
            for chunk in SQLBatch.chunks(Array(Set(ids)).sorted()) {
                let binds: [SQLBindable] = chunk
                for row in try await db.raw("SELECT id FROM \(unsafeRaw: table) WHERE id IN (\(binds: binds))").all() {
                    existing.insert(make(try row.int64("id")))
                }
            }
        }
        // Locked like an owner's grant, so that the two cannot insert the same membership at once.
        var current: [Int64: [Subscriber: Subscription]] = [:]
        for chunk in SQLBatch.chunks(Array(Set(pairs.map(\.dataSourceId))).sorted()) {
            let binds: [SQLBindable] = chunk
            try await db.raw("SELECT id FROM data_sources WHERE id IN (\(binds: binds)) ORDER BY id\(SQLLock.forUpdate(db))").run()
            for row in try await db.raw("SELECT \(unsafeRaw: columns) FROM data_source_members WHERE data_source_id IN (\(binds: binds))").all() {
                let membership = try subscription(from: row)
                current[membership.dataSourceId, default: [:]][membership.subscriber] = membership
            }
        }
        var inserts: [[SQLBindable]] = []
        var upgrades: [Subscription] = []
        var seen: Set<String> = []
        for (dataSourceId, subscriber) in pairs where existing.contains(subscriber) && seen.insert("\(dataSourceId) \(subscriber)").inserted {
            guard let membership = current[dataSourceId]?[subscriber] else {
                let (userId, groupId): (Int64?, Int64?) = switch subscriber {
                case .user(let id): (id, nil)
                case .group(let id): (nil, id)
                }
                inserts.append([dataSourceId, userId, groupId, MemberState.owner.rawValue, SubscriptionOrigin.owner.rawValue, true, actorId,
                                now.millis, now.millis])
                continue
            }
            if membership.state != .owner || !membership.isActive(at: now) { upgrades.append(membership) }
        }
        let inserted = try await SQLBatch.insert(
            into: "data_source_members",
            columns: ["data_source_id", "user_id", "group_id", "state", "origin", "approved", "admin_id", "created_at", "updated_at"],
            rows: inserts, returning: columns, chunk: 200, on: db).map { try subscription(from: $0) }
        var activities = inserted.map { activity(.memberAdded, $0, actorId: actorId) }
        for previous in upgrades {
            let owner = try await upsert(dataSourceId: previous.dataSourceId, subscriber: previous.subscriber, state: .owner, origin: .owner,
                                         approved: true, adminId: actorId, expiration: nil, metadata: nil, now: now, on: db)
            activities.append(try await settle(owner, replacing: previous, actorId: actorId, now: now, on: db))
        }
        try await ActivityStore.record(activities, now: now, on: db)
        return activities.count
    }

    /// Adds a user or group with `state` (an owner's `POST /dataSource/{id}/access`), or changes the standing they
    /// have. A waiting request is thereby granted, and its task completed.
    public func grant(dataSourceId: Int64, subscriber: Subscriber, state: MemberState, expiration: Date?, metadata: JSONValue?,
                      actorId: Int64, now: Date) async throws -> Subscription {
        try await metastore.write { db in
            try await Self.lockMemberships(dataSourceId: dataSourceId, on: db)
            switch subscriber {
            case .user(let id):
                guard try await db.raw("SELECT id FROM users WHERE id = \(bind: id)").first() != nil else { throw Self.subscriberNotFound(subscriber) }
            case .group(let id):
                guard try await db.raw("SELECT id FROM user_groups WHERE id = \(bind: id)").first() != nil else { throw Self.subscriberNotFound(subscriber) }
            }
            let previous = try await Self.existing(dataSourceId: dataSourceId, subscriber: subscriber, on: db)
            if previous?.state == .owner, state != .owner { try await Self.requireAnotherOwner(dataSourceId: dataSourceId, besides: previous!.id, on: db) }
            var subscription = try await Self.upsert(dataSourceId: dataSourceId, subscriber: subscriber, state: state, origin: .owner,
                                                     approved: true, adminId: actorId, expiration: expiration, metadata: metadata, now: now, on: db)
            let activity = try await Self.settle(subscription, replacing: previous, actorId: actorId, now: now, on: db)
            subscription.approvals = try await Self.approvals(of: [subscription.id], on: db)[subscription.id] ?? []
            try await ActivityStore.record([activity], now: now, on: db)
            return subscription
        }
    }

    /// After an owner's grant replaced `previous` with `granted`: a waiting request is thereby approved (its pending
    /// approvals go, its task is completed), and the activity says whether a member was added or changed.
    static func settle(_ granted: Subscription, replacing previous: Subscription?, actorId: Int64, now: Date,
                       on db: any SQLDatabase) async throws -> NewActivity {
        if previous?.state == .pending {
            try await db.raw("DELETE FROM subscription_approvals WHERE subscription_id = \(bind: granted.id) AND state = 'pending'").run()
            try await TaskStore.complete(subscriptionIds: [granted.id], outcome: .approved, by: actorId, now: now, on: db)
        }
        let type: ActivityType = previous.map { $0.isActive(at: now) && $0.state != .pending } == true ? .memberStateChanged : .memberAdded
        var extra: [String: JSONValue] = [:]
        if let previous { extra["originalState"] = .string(previous.state.rawValue) }
        return activity(type, granted, actorId: actorId, extra: extra)
    }

    /// Changes a member's standing (`PUT /dataSource/{id}/access/{subscriptionId}`); returns it with the state it had.
    public func change(subscriptionId: Int64, dataSourceId: Int64, state: MemberState, expiration: Date??, actorId: Int64,
                       now: Date) async throws -> (subscription: Subscription, originalState: MemberState) {
        try await metastore.write { db in
            try await Self.lockMemberships(dataSourceId: dataSourceId, on: db)
            guard let current = try await Self.subscription(id: subscriptionId, lock: true, on: db),
                  current.dataSourceId == dataSourceId, current.isActive(at: now) else { throw Self.notFound }
            if current.state == .owner, state != .owner { try await Self.requireAnotherOwner(dataSourceId: dataSourceId, besides: current.id, on: db) }
            let newExpiration = expiration ?? current.expiration
            let row = try await db.raw("""
                UPDATE data_source_members SET state = \(bind: state.rawValue), approved = \(bind: true), admin_id = \(bind: actorId),
                    origin = \(bind: current.state == .pending ? SubscriptionOrigin.request.rawValue : current.origin.rawValue),
                    expiration = \(bind: newExpiration?.millis), updated_at = \(bind: now.millis)
                WHERE id = \(bind: subscriptionId) RETURNING \(unsafeRaw: Self.columns)
                """).first()
            var subscription = try Self.subscription(from: row!)
            if current.state == .pending {
                try await db.raw("DELETE FROM subscription_approvals WHERE subscription_id = \(bind: subscriptionId) AND state = 'pending'").run()
                try await TaskStore.complete(subscriptionIds: [subscriptionId], outcome: .approved, by: actorId, now: now, on: db)
            }
            subscription.approvals = try await Self.approvals(of: [subscriptionId], on: db)[subscriptionId] ?? []
            try await ActivityStore.record([Self.activity(.memberStateChanged, subscription, actorId: actorId,
                                                          extra: ["originalState": .string(current.state.rawValue)])], now: now, on: db)
            return (subscription, current.state)
        }
    }

    /// Removes a member (an owner's `DELETE /dataSource/{id}/access/{subscriptionId}`, or a user's own unsubscribe).
    /// A waiting request that is removed this way was withdrawn.
    public func remove(subscriptionId: Int64, dataSourceId: Int64, actorId: Int64, now: Date) async throws -> Subscription {
        try await metastore.write { db in
            try await Self.lockMemberships(dataSourceId: dataSourceId, on: db)
            guard let current = try await Self.subscription(id: subscriptionId, lock: true, on: db), current.dataSourceId == dataSourceId else {
                throw Self.notFound
            }
            if current.state == .owner { try await Self.requireAnotherOwner(dataSourceId: dataSourceId, besides: current.id, on: db) }
            let selfService = current.userId == actorId
            if current.state == .pending {
                try await TaskStore.complete(subscriptionIds: [subscriptionId], outcome: selfService ? .withdrawn : .denied, by: actorId, now: now, on: db)
            }
            try await db.raw("DELETE FROM data_source_members WHERE id = \(bind: subscriptionId)").run()
            let type: ActivityType = current.state == .pending ? (selfService ? .accessWithdrawn : .accessDenied)
                : (selfService ? .unsubscribed : .memberRemoved)
            try await ActivityStore.record([Self.activity(type, current, actorId: actorId)], now: now, on: db)
            return current
        }
    }

    /// The caller's own membership of a data source, for unsubscribing.
    public func own(dataSourceId: Int64, userId: Int64) async throws -> Subscription? {
        try await metastore.read { db in try await Self.existing(dataSourceId: dataSourceId, subscriber: .user(userId), on: db) }
    }

    /// Serialises changes to one data source's memberships: every change that may remove an owner takes the data
    /// source's row lock before it reads a membership, always in that order, so concurrent changes cannot deadlock.
    static func lockMemberships(dataSourceId: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("SELECT id FROM data_sources WHERE id = \(bind: dataSourceId)\(SQLLock.forUpdate(db))").run()
    }

    /// Fails unless the data source keeps an owner once `subscriptionId` is no longer one. The data source row is
    /// locked first, so two owners demoting each other at once are serialised and the second sees the first's change.
    static func requireAnotherOwner(dataSourceId: Int64, besides subscriptionId: Int64, on db: any SQLDatabase) async throws {
        try await lockMemberships(dataSourceId: dataSourceId, on: db)
        let others = try await db.raw("""
            SELECT COUNT(*) AS n FROM data_source_members
            WHERE data_source_id = \(bind: dataSourceId) AND user_id IS NOT NULL AND state = \(bind: MemberState.owner.rawValue)
              AND expiration IS NULL AND id <> \(bind: subscriptionId)
            """).first()!.decode(column: "n", as: Int.self)
        guard others > 0 else { throw lastOwner }
    }

    // MARK: Approvals

    /// Approves or denies one waiting request, as `approver`. The request row is locked first, so of two deciders
    /// exactly one finds it waiting; the other gets a 409. An approval completes the request when it was the last
    /// step waiting; a denial ends it.
    public func decide(subscriptionId: Int64, approve: Bool, reason: String?, approver: Principal,
                       now: Date) async throws -> Result<Subscription, DecisionFailure> {
        try await metastore.write { db in
            func failure(_ error: WardenError) -> Result<Subscription, DecisionFailure> {
                .failure(DecisionFailure(id: subscriptionId, error: error))
            }
            guard let current = try await Self.subscription(id: subscriptionId, lock: true, on: db),
                  let source = try await DataSourceStore.dataSource(id: current.dataSourceId, on: db) else {
                return failure(.notFound("Subscription request not found", code: .subscriptionNotFound))
            }
            let callerState = try await Membership.state(dataSourceId: source.id, userId: approver.userId, now: now, on: db)
            guard source.isVisible(to: callerState) || current.approvals.contains(where: { $0.requirement.specificApprover == approver.userId })
                    || !approver.permissions.isDisjoint(with: current.approvals.compactMap(\.requirement.permission)) else {
                return failure(.notFound("Subscription request not found", code: .subscriptionNotFound))
            }
            guard current.state == .pending else { return failure(.conflict("This request has already been decided", code: .subscriptionAlreadyDecided)) }
            guard current.userId != approver.userId else { return failure(.forbidden("You cannot decide on your own request", code: .subscriptionOwnRequest)) }
            let standing = ApproverStanding(userId: approver.userId, isOwner: callerState == .owner, permissions: approver.permissions)
            let mine = current.stepsDecidable(by: standing)
            guard !mine.isEmpty else {
                let needed = current.approvals.filter { $0.state == .pending }.map(\.requirement.requiredPermission)
                return failure(.forbidden("You may not decide on this request: it waits for " + needed.joined(separator: ", ") + " approval",
                                          code: .subscriptionApprovalForbidden))
            }
            if approve {
                let steps: [SQLBindable] = mine.map(\.step)
                try await db.raw("""
                    UPDATE subscription_approvals SET state = 'approved', approver_id = \(bind: approver.userId), reason = \(bind: reason),
                        decided_at = \(bind: now.millis)
                    WHERE subscription_id = \(bind: subscriptionId) AND step IN (\(binds: steps))
                    """).run()
                let waiting = current.approvals.count - current.approvals.filter { $0.state == .approved }.count - mine.count
                var subscription = current
                if waiting == 0 {
                    let row = try await db.raw("""
                        UPDATE data_source_members SET state = \(bind: MemberState.subscribed.rawValue), approved = \(bind: true),
                            admin_id = \(bind: approver.userId), updated_at = \(bind: now.millis)
                        WHERE id = \(bind: subscriptionId) RETURNING \(unsafeRaw: Self.columns)
                        """).first()
                    subscription = try Self.subscription(from: row!)
                    try await TaskStore.complete(subscriptionIds: [subscriptionId], outcome: .approved, by: approver.userId, now: now, on: db)
                }
                subscription.approvals = try await Self.approvals(of: [subscriptionId], on: db)[subscriptionId] ?? []
                var extra: [String: JSONValue] = ["approvals": .array(mine.map { .string($0.requirement.requiredPermission) })]
                if let reason { extra["reason"] = .string(reason) }
                if waiting > 0 { extra["waitingFor"] = .int(Int64(waiting)) }
                try await ActivityStore.record([Self.activity(.accessApproved, subscription, actorId: approver.userId, extra: extra)],
                                               now: now, on: db)
                return .success(subscription)
            } else {
                try await TaskStore.complete(subscriptionIds: [subscriptionId], outcome: .denied, by: approver.userId, now: now, on: db,
                                             reason: reason)
                try await db.raw("DELETE FROM data_source_members WHERE id = \(bind: subscriptionId)").run()
                var extra: [String: JSONValue] = [:]
                if let reason { extra["reason"] = .string(reason) }
                try await ActivityStore.record([Self.activity(.accessDenied, current, actorId: approver.userId, extra: extra)], now: now, on: db)
                var denied = current
                denied.approved = false
                return .success(denied)
            }
        }
    }

    // MARK: Expiry

    /// Ends every membership whose expiration has passed, recording each. Running it twice changes nothing more.
    /// With `completing`, the job that runs it is completed (output `{"expired": n}`) in the same transaction.
    @discardableResult
    public func expire(now: Date, completing lease: JobLease? = nil) async throws -> Int {
        try await metastore.write { db in
            let rows = try await db.raw("""
                DELETE FROM data_source_members WHERE expiration IS NOT NULL AND expiration <= \(bind: now.millis) RETURNING \(unsafeRaw: Self.columns)
                """).all()
            let expired = try rows.map { try Self.subscription(from: $0) }
            try await ActivityStore.record(expired.map { Self.activity(.accessExpired, $0, actorId: nil) }, now: now, on: db)
            if let lease {
                try await JobCompletion(lease, output: .object(["expired": .int(Int64(expired.count))]), now: now).record(on: db)
            }
            return expired.count
        }
    }
}

extension ApprovalRequirement {
    var permission: Permission? { if case .permission(let permission) = approver { permission } else { nil } }
}
