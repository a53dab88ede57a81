public import Foundation
import SQLKit
public import WardenDomain

/// What became of one subscription request.
public enum SubscribeOutcome: Sendable, Equatable {
    /// Let in at once (or already in, or already waiting: asking twice changes nothing).
    case accepted(Subscription)
    /// Refused, with a sentence saying why.
    case refused(reason: String)
}

/// One row of `GET /dataSource/{id}/access`: a membership with whom it belongs to.
public struct AccessEntry: Sendable {
    public var subscription: Subscription
    /// The user the row shows: the member, or (with `expandGroups`) a member of a subscribed group.
    public var user: User?
    public var group: Group?
    public var adminName: String?
}

public struct AccessQuery: Sendable {
    public enum SortField: String, Sendable, CaseIterable { case name, state, createdAt, updatedAt, email, subscriptionId }
    public var states: [MemberState] = []
    public var approved: Bool?
    public var searchText: String?
    public var paging = Paging(size: 100, offset: 0)
    public var sortField: SortField = .name
    public var sortOrder: WardenDomain.SortOrder = .asc
    public var expandGroups = false
    public var ignoreSystemGenerated = false
    /// `filterBySchemaEvolution`: only those with such a membership (of `states`, else any but pending) on every
    /// enabled source of the source's schema evolution group.
    public var acrossSchemaEvolution = false

    public init() {}
}

/// Memberships of data sources and the requests for them: who asked, who approved, and until when access holds.
/// Every change is one transaction with its activity record and its task.
public struct SubscriptionStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Subscription not found", code: .subscriptionNotFound)
    static let columns = "id, data_source_id, user_id, group_id, state, origin, approved, admin_id, expiration, metadata, created_at, updated_at"

    // MARK: Reading

    public func subscription(id: Int64) async throws -> Subscription? {
        try await metastore.read { db in try await Self.subscription(id: id, on: db) }
    }

    static func subscription(id: Int64, lock: Bool = false, on db: any SQLDatabase) async throws -> Subscription? {
        // The row lock serialises deciders of the same request.
        let forUpdate: SQLQueryString = lock ? SQLLock.forUpdate(db) : ""
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: columns) FROM data_source_members WHERE id = \(bind: id)\(forUpdate)
            """).first() else { return nil }
        var subscription = try Self.subscription(from: row)
        subscription.approvals = try await approvals(of: [id], on: db)[id] ?? []
        return subscription
    }

    static func subscription(from row: any SQLRow, prefix: String = "") throws -> Subscription {
        let userId = try row.decode(column: prefix + "user_id", as: Int64?.self)
        let groupId = try row.decode(column: prefix + "group_id", as: Int64?.self)
        return Subscription(
            id: try row.int64(prefix + "id"), dataSourceId: try row.int64(prefix + "data_source_id"),
            subscriber: userId.map(Subscriber.user) ?? .group(groupId ?? 0),
            state: MemberState(rawValue: try row.string(prefix + "state")) ?? .subscribed,
            origin: SubscriptionOrigin(rawValue: try row.string(prefix + "origin")) ?? .owner,
            approved: try row.bool(prefix + "approved"), adminId: try row.decode(column: prefix + "admin_id", as: Int64?.self),
            expiration: try row.optionalDate(prefix + "expiration"),
            metadata: try row.optionalString(prefix + "metadata").map { try JSONColumn.decode(JSONValue.self, from: $0) },
            createdAt: try row.date(prefix + "created_at"), updatedAt: try row.date(prefix + "updated_at"))
    }

    static func approvals(of ids: [Int64], on db: any SQLDatabase) async throws -> [Int64: [ApprovalStep]] {
        guard !ids.isEmpty else { return [:] }
        let binds: [SQLBindable] = ids
        var result: [Int64: [ApprovalStep]] = [:]
        for row in try await db.raw("""
            SELECT a.subscription_id, a.step, a.required_permission, a.specific_approver_id, a.state, a.approver_id, a.reason,
                   a.decided_at, u.name AS approver_name
            FROM subscription_approvals a LEFT JOIN users u ON u.id = a.approver_id
            WHERE a.subscription_id IN (\(binds: binds)) ORDER BY a.subscription_id, a.step
            """).all() {
            let specific = try row.decode(column: "specific_approver_id", as: Int64?.self)
            let approver = ApprovalRequirement.approver(named: try row.string("required_permission")) ?? .owner
            result[try row.int64("subscription_id"), default: []].append(ApprovalStep(
                step: try row.decode(column: "step", as: Int.self),
                requirement: ApprovalRequirement(approver: approver, specificApproverRequired: specific != nil, specificApprover: specific),
                state: ApprovalStep.State(rawValue: try row.string("state")) ?? .pending,
                approverId: try row.decode(column: "approver_id", as: Int64?.self), approverName: try row.optionalString("approver_name"),
                reason: try row.optionalString("reason"), decidedAt: try row.optionalDate("decided_at")))
        }
        return result
    }

    /// The members of a data source as `GET /dataSource/{id}/access` lists them, current at `now`.
    public func access(dataSourceId: Int64, query: AccessQuery, now: Date) async throws -> Page<AccessEntry> {
        let userColumns = IdentityStore.userColumns.split(separator: ",")
            .map { "u.\($0.trimmingCharacters(in: .whitespaces)) AS u_\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
        let memberColumns = Self.columns.split(separator: ",")
            .map { "sm.\($0.trimmingCharacters(in: .whitespaces)) AS s_\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
        var conditions: [SQLQueryString] = [
            "sm.data_source_id = \(bind: dataSourceId)", "(sm.expiration IS NULL OR sm.expiration > \(bind: now.millis))",
        ]
        if !query.states.isEmpty {
            let states: [SQLBindable] = query.states.map(\.rawValue)
            conditions.append("sm.state IN (\(binds: states))")
        }
        if let approved = query.approved { conditions.append("sm.approved = \(bind: approved)") }
        if query.acrossSchemaEvolution {
            // A source in no group: no other source, so nobody is filtered out.
            let level: SQLQueryString = query.states.isEmpty
                ? "om.state <> \(bind: MemberState.pending.rawValue)"
                : "om.state IN (\(binds: query.states.map(\.rawValue) as [SQLBindable]))"
            conditions.append("""
                NOT EXISTS (SELECT 1 FROM data_sources o
                    WHERE o.schema_evolution_id = (SELECT d.schema_evolution_id FROM data_sources d WHERE d.id = \(bind: dataSourceId))
                    AND o.id <> \(bind: dataSourceId) AND o.disabled = \(bind: false)
                    AND NOT EXISTS (SELECT 1 FROM data_source_members om WHERE om.data_source_id = o.id
                        AND (om.user_id = sm.user_id OR om.group_id = sm.group_id)
                        AND (om.expiration IS NULL OR om.expiration > \(bind: now.millis)) AND \(level)))
                """)
        }
        if let text = query.searchText {
            let pattern = SQLText.containsPattern(text)
            conditions.append("""
                (LOWER(COALESCE(u.name, g.name, '')) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(COALESCE(u.email, g.email, '')) LIKE \(bind: pattern) ESCAPE '\\'
                 OR LOWER(COALESCE(u.userid, '')) LIKE \(bind: pattern) ESCAPE '\\')
                """)
        }
        if query.ignoreSystemGenerated { conditions.append("(u.id IS NULL OR u.system_generated = \(bind: false))") }
        let filter = conditions.joined(separator: " AND ")
        let selectList = """
            SELECT \(memberColumns), \(userColumns), g.id AS g_id, g.iamid AS g_iamid, g.name AS g_name,
                   g.email AS g_email, g.description AS g_description, g.created_at AS g_created_at, g.updated_at AS g_updated_at,
                   a.name AS admin_name
            """
        let direct: SQLQueryString = """
            \(unsafeRaw: selectList)
            FROM data_source_members sm LEFT JOIN users u ON u.id = sm.user_id LEFT JOIN user_groups g ON g.id = sm.group_id
            LEFT JOIN users a ON a.id = sm.admin_id
            WHERE \(filter)\(unsafeRaw: query.expandGroups ? " AND sm.group_id IS NULL" : "")
            """
        // With expandGroups a subscribed group is shown as its members, each carrying the group's subscription.
        let expanded: SQLQueryString = """
             UNION ALL
            \(unsafeRaw: selectList)
            FROM data_source_members sm JOIN group_members gm ON gm.group_id = sm.group_id JOIN users u ON u.id = gm.user_id
            JOIN user_groups g ON g.id = sm.group_id LEFT JOIN users a ON a.id = sm.admin_id
            WHERE \(filter)
            """
        let rows: SQLQueryString = query.expandGroups ? direct + expanded : direct
        let sortKey = switch query.sortField {
        case .name: "LOWER(COALESCE(x.u_name, x.g_name, x.u_userid, ''))"
        case .state: "x.s_state"
        case .createdAt: "x.s_created_at"
        case .updatedAt: "x.s_updated_at"
        case .email: "LOWER(COALESCE(x.u_email, x.g_email, ''))"
        case .subscriptionId: "x.s_id"
        }
        let direction = query.sortOrder == .asc ? "ASC" : "DESC"
        return try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM (\(rows)) x").first()!.decode(column: "n", as: Int.self)
            let page = try await db.raw("""
                SELECT * FROM (\(rows)) x ORDER BY \(unsafeRaw: sortKey) \(unsafeRaw: direction), x.s_id \(unsafeRaw: direction), x.u_id
                LIMIT \(bind: query.paging.size) OFFSET \(bind: query.paging.offset)
                """).all()
            var entries = try page.map { row in
                AccessEntry(
                    subscription: try Self.subscription(from: row, prefix: "s_"),
                    user: try row.decode(column: "u_id", as: Int64?.self) == nil ? nil : try IdentityStore.user(from: PrefixedRow(row, "u_")),
                    group: try row.decode(column: "g_id", as: Int64?.self) == nil ? nil : try IdentityStore.group(from: PrefixedRow(row, "g_")),
                    adminName: try row.optionalString("admin_name"))
            }
            let approvals = try await Self.approvals(of: Array(Set(entries.map(\.subscription.id))), on: db)
            for index in entries.indices { entries[index].subscription.approvals = approvals[entries[index].subscription.id] ?? [] }
            return Page(items: entries, count: count)
        }
    }

    // MARK: Subscribing

    /// Asks for `subscriber` to be let into a data source, as its subscription policy decides for them: subscribed
    /// at once, a pending request with a task for its approvers, or a refusal saying why. `chosenApprovers` name the
    /// specific approvers a policy asks the requester to pick. Asking again while subscribed or waiting changes nothing.
    public func subscribe(dataSourceId: Int64, subscriber: Subscriber, requesterId: Int64, chosenApprovers: [ApprovalRequirement],
                          metadata: JSONValue?, now: Date) async throws -> SubscribeOutcome {
        try await metastore.write { db in
            guard let source = try await DataSourceStore.dataSource(id: dataSourceId, on: db), !source.disabled else { throw DataSourceStore.notFound }
            if let existing = try await Self.existing(dataSourceId: dataSourceId, subscriber: subscriber, on: db), existing.isActive(at: now) {
                return .accepted(existing)
            }
            let subject: SubscriptionSubject? = switch subscriber {
            case .user(let id): try await SubscriptionReconciler.subjects(userIds: [id], on: db)[id]?.subject
            case .group(let id): try await SubscriptionReconciler.subject(groupId: id, on: db)
            }
            guard let subject else { throw Self.subscriberNotFound(subscriber) }
            switch source.subscriptionPolicy.decide(for: subject) {
            case .refuse(let reason):
                return .refused(reason: reason)
            case .subscribe:
                let subscription = try await Self.upsert(dataSourceId: dataSourceId, subscriber: subscriber, state: .subscribed, origin: .request,
                                                         approved: true, adminId: nil, expiration: nil, metadata: metadata, now: now, on: db)
                try await ActivityStore.record([Self.activity(.subscribed, subscription, actorId: requesterId)], now: now, on: db)
                return .accepted(subscription)
            case .request(let requirements):
                var steps: [ApprovalRequirement] = []
                for requirement in requirements {
                    guard requirement.specificApproverRequired, requirement.specificApprover == nil else { steps.append(requirement); continue }
                    guard let chosen = chosenApprovers.first(where: { $0.approver == requirement.approver && $0.specificApprover != nil }) else {
                        return .refused(reason: "This data source asks you to name a specific approver for the \(requirement.requiredPermission) "
                                        + "approval (`approvals[].specificApprover`)")
                    }
                    let standing = try await Self.standing(userId: chosen.specificApprover!, dataSourceId: dataSourceId, on: db)
                    guard let standing, chosen.specificApprover != requesterId,
                          ApprovalRequirement(approver: requirement.approver).canBeApproved(by: standing) else {
                        return .refused(reason: "The approver you named (profile \(chosen.specificApprover!)) cannot give the "
                                        + "\(requirement.requiredPermission) approval")
                    }
                    steps.append(ApprovalRequirement(approver: requirement.approver, specificApproverRequired: true,
                                                     specificApprover: chosen.specificApprover))
                }
                var subscription = try await Self.upsert(dataSourceId: dataSourceId, subscriber: subscriber, state: .pending, origin: .request,
                                                         approved: false, adminId: nil, expiration: nil, metadata: metadata, now: now, on: db)
                try await db.raw("DELETE FROM subscription_approvals WHERE subscription_id = \(bind: subscription.id)").run()
                let stepRows: [[SQLBindable]] = steps.enumerated().map { index, step in
                    [subscription.id, index, step.requiredPermission, step.specificApprover, ApprovalStep.State.pending.rawValue]
                }
                try await SQLBatch.insert(into: "subscription_approvals",
                                          columns: ["subscription_id", "step", "required_permission", "specific_approver_id", "state"],
                                          rows: stepRows, on: db)
                subscription.approvals = steps.enumerated().map { ApprovalStep(step: $0.offset, requirement: $0.element) }
                let targets = try await Self.approverCandidates(steps, dataSourceId: dataSourceId, excluding: requesterId, on: db)
                _ = try await TaskStore.create(type: .subscription, dataSourceId: dataSourceId, requesterId: requesterId,
                                               subscriptionId: subscription.id, reason: nil, metadata: nil, targets: targets, now: now, on: db)
                try await ActivityStore.record([Self.activity(.accessRequested, subscription, actorId: requesterId,
                                                              extra: ["approvals": .array(steps.map(\.json))])], now: now, on: db)
                return .accepted(subscription)
            }
        }
    }

    static func subscriberNotFound(_ subscriber: Subscriber) -> WardenError {
        switch subscriber {
        case .user(let id): WardenError.notFound("No user has profile id \(id)", code: .userNotFound)
        case .group: IdentityStore.groupNotFound
        }
    }

    static func existing(dataSourceId: Int64, subscriber: Subscriber, on db: any SQLDatabase) async throws -> Subscription? {
        let condition: SQLQueryString = switch subscriber {
        case .user(let id): "user_id = \(bind: id)"
        case .group(let id): "group_id = \(bind: id)"
        }
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: columns) FROM data_source_members WHERE data_source_id = \(bind: dataSourceId) AND \(condition)
            """).first() else { return nil }
        var subscription = try subscription(from: row)
        subscription.approvals = try await approvals(of: [subscription.id], on: db)[subscription.id] ?? []
        return subscription
    }

    /// Inserts or replaces the subscriber's membership (an expired one is replaced like any other).
    static func upsert(dataSourceId: Int64, subscriber: Subscriber, state: MemberState, origin: SubscriptionOrigin, approved: Bool,
                       adminId: Int64?, expiration: Date?, metadata: JSONValue?, now: Date, on db: any SQLDatabase) async throws -> Subscription {
        let (userId, groupId, target): (Int64?, Int64?, String) = switch subscriber {
        case .user(let id): (id, nil, "(data_source_id, user_id)")
        case .group(let id): (nil, id, "(data_source_id, group_id)")
        }
        let metadataText = try metadata.map { try JSONColumn.encode($0) }
        let row = try await db.raw("""
            INSERT INTO data_source_members (data_source_id, user_id, group_id, state, origin, approved, admin_id, expiration, metadata,
                                             created_at, updated_at)
            VALUES (\(bind: dataSourceId), \(bind: userId), \(bind: groupId), \(bind: state.rawValue), \(bind: origin.rawValue),
                    \(bind: approved), \(bind: adminId), \(bind: expiration?.millis), \(bind: metadataText), \(bind: now.millis), \(bind: now.millis))
            ON CONFLICT \(unsafeRaw: target) DO UPDATE SET state = excluded.state, origin = excluded.origin, approved = excluded.approved,
                admin_id = excluded.admin_id, expiration = excluded.expiration, metadata = COALESCE(excluded.metadata, data_source_members.metadata),
                updated_at = excluded.updated_at
            RETURNING \(unsafeRaw: columns)
            """).first()
        return try subscription(from: row!)
    }

    /// What `userId` brings to approving requests on a data source.
    static func standing(userId: Int64, dataSourceId: Int64, on db: any SQLDatabase) async throws -> ApproverStanding? {
        guard let row = try await db.raw("SELECT permissions, disabled FROM users WHERE id = \(bind: userId)").first(),
              try !row.bool("disabled") else { return nil }
        let permissions = try JSONColumn.decode([String].self, from: try row.string("permissions")).compactMap(Permission.init(rawValue:))
        let isOwner = try await db.raw("""
            SELECT 1 AS one FROM data_source_members
            WHERE data_source_id = \(bind: dataSourceId) AND user_id = \(bind: userId) AND state = \(bind: MemberState.owner.rawValue)
            """).first() != nil
        return ApproverStanding(userId: userId, isOwner: isOwner, permissions: Set(permissions))
    }

    /// Who could approve these steps today, to address the request's task to them.
    static func approverCandidates(_ steps: [ApprovalRequirement], dataSourceId: Int64, excluding requesterId: Int64,
                                   on db: any SQLDatabase) async throws -> [Int64] {
        var ids: Set<Int64> = []
        for step in steps {
            if let specific = step.specificApprover { ids.insert(specific); continue }
            switch step.approver {
            case .owner:
                for row in try await db.raw("""
                    SELECT user_id FROM data_source_members
                    WHERE data_source_id = \(bind: dataSourceId) AND user_id IS NOT NULL AND state = \(bind: MemberState.owner.rawValue)
                    """).all() { ids.insert(try row.int64("user_id")) }
            case .permission(let permission):
                // Permissions are stored as a JSON array of names, so the quoted name is an exact element match.
                for row in try await db.raw("""
                    SELECT id FROM users WHERE disabled = \(bind: false) AND permissions LIKE \(bind: "%\"\(permission.rawValue)\"%")
                    """).all() { ids.insert(try row.int64("id")) }
            }
        }
        ids.remove(requesterId)
        return ids.sorted()
    }

    static func activity(_ type: ActivityType, _ subscription: Subscription, actorId: Int64?, extra: [String: JSONValue] = [:]) -> NewActivity {
        var details: [String: JSONValue] = ["subscriptionId": .int(subscription.id), "state": .string(subscription.state.rawValue)]
        switch subscription.subscriber {
        case .user(let id): details["profileId"] = .int(id)
        case .group(let id): details["groupId"] = .int(id)
        }
        if let expiration = subscription.expiration { details["expiration"] = .string(ISODate.format(expiration)) }
        details.merge(extra) { $1 }
        return NewActivity(dataSourceId: subscription.dataSourceId, actorId: actorId, type: type, details: .object(details))
    }
}
