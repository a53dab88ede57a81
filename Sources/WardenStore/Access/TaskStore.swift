public import Foundation
import SQLKit
public import WardenDomain

public struct TaskQuery: Sendable {
    public enum SortField: String, Sendable, CaseIterable { case createdAt, updatedAt, type, state }
    public var states: [TaskState] = []
    public var types: [TaskType] = []
    public var searchText: String?
    public var targetProfileId: Int64?
    public var requestingUserProfileId: Int64?
    public var profileId: Int64?
    public var paging = Paging(size: 100, offset: 0)
    public var sortField: SortField = .createdAt
    public var sortOrder: WardenDomain.SortOrder = .desc

    public init() {}
}

/// Tasks: requests addressed to the people responsible for a data source. Who may handle a task is decided when
/// asked, not stored: an access request goes to whoever can give one of its waiting approvals now; other tasks go to
/// the users they name.
public struct TaskStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Task not found", code: .taskNotFound)

    // MARK: Who sees what

    /// Tasks `caller` may handle now: addressed to them, or an access request with a step they can approve. Nobody
    /// handles a request of their own, but a schema change reported to the owners is theirs to review even when one
    /// of them ran the detection.
    static func handleable(by caller: Principal) -> SQLQueryString {
        let permissions: [SQLBindable] = caller.permissions.map(\.rawValue).sorted()
        let permissionMatch: SQLQueryString = permissions.isEmpty ? "1 = 0" : "a.required_permission IN (\(binds: permissions))"
        let reports: [SQLBindable] = [TaskType.columnAdded, .columnDeleted, .columnTypeChanged].map(\.rawValue)
        return """
            ((t.requester_id <> \(bind: caller.userId) OR t.type IN (\(binds: reports))) AND (
                (t.subscription_id IS NULL AND EXISTS (SELECT 1 FROM task_targets tt WHERE tt.task_id = t.id AND tt.user_id = \(bind: caller.userId)))
                OR (t.subscription_id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM subscription_approvals a WHERE a.subscription_id = t.subscription_id AND a.state = 'pending' AND (
                        a.specific_approver_id = \(bind: caller.userId)
                        OR (a.specific_approver_id IS NULL AND (\(permissionMatch)
                            OR (a.required_permission = 'OWNER' AND EXISTS (
                                SELECT 1 FROM data_source_members o WHERE o.data_source_id = t.data_source_id
                                AND o.user_id = \(bind: caller.userId) AND o.state = 'owner')))))))))
            """
    }

    /// Tasks `caller` may see: their own, those they may handle or handled, and every task of a source they own.
    static func visible(to caller: Principal) -> SQLQueryString {
        """
        (t.requester_id = \(bind: caller.userId) OR t.handled_by = \(bind: caller.userId)
         OR EXISTS (SELECT 1 FROM task_targets tt WHERE tt.task_id = t.id AND tt.user_id = \(bind: caller.userId))
         OR EXISTS (SELECT 1 FROM data_source_members o WHERE o.data_source_id = t.data_source_id AND o.user_id = \(bind: caller.userId)
                    AND o.state = 'owner')
         OR \(handleable(by: caller)))
        """
    }

    static let selectTasks = """
        SELECT t.id, t.type, t.state, t.data_source_id, ds.name AS data_source_name, t.requester_id, r.name AS requester_name,
               r.email AS requester_email, t.subscription_id, t.reason, t.metadata, t.outcome, t.handled_by, t.created_at, t.updated_at,
               t.completed_at
        FROM tasks t JOIN data_sources ds ON ds.id = t.data_source_id JOIN users r ON r.id = t.requester_id
        """

    // MARK: Reading

    public struct PendingTasks: Sendable {
        public var outgoing: Page<AccessTask>
        public var incoming: Page<AccessTask>
    }

    /// Pending tasks `caller` created, and pending tasks waiting for them.
    public func pending(for caller: Principal, query: TaskQuery) async throws -> PendingTasks {
        var query = query
        query.states = [.pending]
        let outgoing: SQLQueryString = "t.requester_id = \(bind: caller.userId)"
        return try await metastore.read { db in
            PendingTasks(outgoing: try await Self.page(where: outgoing, query: query, on: db),
                         incoming: try await Self.page(where: Self.handleable(by: caller), query: query, on: db))
        }
    }

    /// The tasks of one data source that `caller` may see.
    public func tasks(dataSourceId: Int64, caller: Principal, query: TaskQuery) async throws -> Page<AccessTask> {
        try await metastore.read { db in
            try await Self.page(where: "t.data_source_id = \(bind: dataSourceId) AND \(Self.visible(to: caller))", query: query, on: db)
        }
    }

    static func page(where scope: SQLQueryString, query: TaskQuery, on db: any SQLDatabase) async throws -> Page<AccessTask> {
        var conditions: [SQLQueryString] = [scope]
        if !query.states.isEmpty {
            let states: [SQLBindable] = query.states.map(\.rawValue)
            conditions.append("t.state IN (\(binds: states))")
        }
        if !query.types.isEmpty {
            let types: [SQLBindable] = query.types.map(\.rawValue)
            conditions.append("t.type IN (\(binds: types))")
        }
        if let text = query.searchText {
            let pattern = SQLText.containsPattern(text)
            conditions.append("""
                (LOWER(COALESCE(t.reason, '')) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(ds.name) LIKE \(bind: pattern) ESCAPE '\\'
                 OR LOWER(COALESCE(r.name, '')) LIKE \(bind: pattern) ESCAPE '\\')
                """)
        }
        if let id = query.requestingUserProfileId { conditions.append("t.requester_id = \(bind: id)") }
        if let id = query.targetProfileId { conditions.append(Self.targets(id)) }
        if let id = query.profileId { conditions.append("(t.requester_id = \(bind: id) OR \(Self.targets(id)))") }
        let filter = conditions.joined(separator: " AND ")
        let sortColumn = switch query.sortField {
        case .createdAt: "t.created_at"
        case .updatedAt: "t.updated_at"
        case .type: "t.type"
        case .state: "t.state"
        }
        let direction = query.sortOrder == .asc ? "ASC" : "DESC"
        let count = try await db.raw("""
            SELECT COUNT(*) AS n FROM tasks t JOIN data_sources ds ON ds.id = t.data_source_id JOIN users r ON r.id = t.requester_id
            WHERE \(filter)
            """).first()!.decode(column: "n", as: Int.self)
        let rows = try await db.raw("""
            \(unsafeRaw: selectTasks) WHERE \(filter)
            ORDER BY \(unsafeRaw: sortColumn) \(unsafeRaw: direction), t.id \(unsafeRaw: direction)
            LIMIT \(bind: query.paging.size) OFFSET \(bind: query.paging.offset)
            """).all()
        return Page(items: try await withTargets(try rows.map(Self.task(from:)), on: db), count: count)
    }

    private static func targets(_ userId: Int64) -> SQLQueryString {
        "EXISTS (SELECT 1 FROM task_targets tt WHERE tt.task_id = t.id AND tt.user_id = \(bind: userId))"
    }

    public func task(id: Int64) async throws -> AccessTask? {
        try await metastore.read { db in try await Self.task(id: id, on: db) }
    }

    static func task(id: Int64, on db: any SQLDatabase) async throws -> AccessTask? {
        guard let row = try await db.raw("\(unsafeRaw: selectTasks) WHERE t.id = \(bind: id)").first() else { return nil }
        return try await withTargets([try task(from: row)], on: db).first
    }

    /// Whether `caller` may see, or handle, one task.
    public func access(taskId: Int64, caller: Principal) async throws -> (visible: Bool, handleable: Bool) {
        try await metastore.read { db in
            let row = try await db.raw("""
                SELECT CASE WHEN \(Self.visible(to: caller)) THEN 1 ELSE 0 END AS visible,
                       CASE WHEN \(Self.handleable(by: caller)) THEN 1 ELSE 0 END AS handleable
                FROM tasks t WHERE t.id = \(bind: taskId)
                """).first()
            guard let row else { return (false, false) }
            return (try row.decode(column: "visible", as: Int.self) == 1, try row.decode(column: "handleable", as: Int.self) == 1)
        }
    }

    static func task(from row: any SQLRow) throws -> AccessTask {
        AccessTask(
            id: try row.int64("id"), type: TaskType(rawValue: try row.string("type")) ?? .queryDebug,
            state: TaskState(rawValue: try row.string("state")) ?? .pending, dataSourceId: try row.int64("data_source_id"),
            dataSourceName: try row.string("data_source_name"),
            requester: PersonSummary(id: try row.int64("requester_id"), name: try row.optionalString("requester_name"),
                                  email: try row.optionalString("requester_email")),
            subscriptionId: try row.decode(column: "subscription_id", as: Int64?.self), reason: try row.optionalString("reason"),
            metadata: try row.optionalString("metadata").map { try JSONColumn.decode(JSONValue.self, from: $0) },
            outcome: try row.optionalString("outcome").flatMap(TaskOutcome.init(rawValue:)),
            handledBy: try row.decode(column: "handled_by", as: Int64?.self), targets: [],
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"), completedAt: try row.optionalDate("completed_at"))
    }

    static func withTargets(_ tasks: [AccessTask], on db: any SQLDatabase) async throws -> [AccessTask] {
        guard !tasks.isEmpty else { return tasks }
        let ids: [SQLBindable] = tasks.map(\.id)
        var targets: [Int64: [PersonSummary]] = [:]
        for row in try await db.raw("""
            SELECT tt.task_id, u.id, u.name, u.email FROM task_targets tt JOIN users u ON u.id = tt.user_id
            WHERE tt.task_id IN (\(binds: ids)) ORDER BY tt.task_id, u.id
            """).all() {
            targets[try row.int64("task_id"), default: []].append(
                PersonSummary(id: try row.int64("id"), name: try row.optionalString("name"), email: try row.optionalString("email")))
        }
        return tasks.map { task in
            var task = task
            task.targets = targets[task.id] ?? []
            return task
        }
    }

    // MARK: Changes

    /// Creates a task inside a caller's transaction.
    static func create(type: TaskType, dataSourceId: Int64, requesterId: Int64, subscriptionId: Int64?, reason: String?, metadata: JSONValue?,
                       targets: [Int64], now: Date, on db: any SQLDatabase) async throws -> Int64 {
        if let subscriptionId {
            // A request asked again after it ended reuses its subscription row; its old task gives way to the new one.
            try await db.raw("UPDATE tasks SET subscription_id = NULL WHERE subscription_id = \(bind: subscriptionId)").run()
        }
        let row = try await db.raw("""
            INSERT INTO tasks (type, state, data_source_id, requester_id, subscription_id, reason, metadata, created_at, updated_at)
            VALUES (\(bind: type.rawValue), \(bind: TaskState.pending.rawValue), \(bind: dataSourceId), \(bind: requesterId),
                    \(bind: subscriptionId), \(bind: reason), \(bind: try metadata.map { try JSONColumn.encode($0) }), \(bind: now.millis), \(bind: now.millis))
            RETURNING id
            """).first()
        let id = try row!.int64("id")
        try await SQLBatch.insert(into: "task_targets", columns: ["task_id", "user_id"], rows: targets.map { [id, $0] }, on: db)
        return id
    }

    /// Creates a task addressed to `targets` (a `queryDebug` request, for instance), recorded on the data source.
    public func create(type: TaskType, dataSourceId: Int64, requesterId: Int64, reason: String?, metadata: JSONValue?,
                       targets: [Int64], now: Date) async throws -> AccessTask {
        try await metastore.write { db in
            let id = try await Self.create(type: type, dataSourceId: dataSourceId, requesterId: requesterId, subscriptionId: nil,
                                           reason: reason, metadata: metadata, targets: targets, now: now, on: db)
            try await ActivityStore.record([NewActivity(dataSourceId: dataSourceId, actorId: requesterId, type: .taskCreated,
                                                        details: .object(["taskId": .int(id), "type": .string(type.rawValue)]))],
                                           now: now, on: db)
            return try await Self.task(id: id, on: db)!
        }
    }

    /// Completes the pending tasks of these access requests inside a caller's transaction.
    static func complete(subscriptionIds: [Int64], outcome: TaskOutcome, by actorId: Int64?, now: Date, on db: any SQLDatabase,
                         reason: String? = nil) async throws {
        guard !subscriptionIds.isEmpty else { return }
        let ids: [SQLBindable] = subscriptionIds
        let note: SQLQueryString = reason.map { ", metadata = \(bind: (try? JSONColumn.encode(JSONValue.object(["decisionReason": .string($0)]))) ?? "{}")" } ?? ""
        try await db.raw("""
            UPDATE tasks SET state = \(bind: TaskState.completed.rawValue), outcome = \(bind: outcome.rawValue), handled_by = \(bind: actorId),
                completed_at = \(bind: now.millis), updated_at = \(bind: now.millis)\(note)
            WHERE subscription_id IN (\(binds: ids)) AND state = \(bind: TaskState.pending.rawValue)
            """).run()
    }

    /// Marks a task handled by `actorId`; only a pending task changes (handling it twice returns it as it is).
    /// `recording` is recorded either way, with the completion.
    /// `reviewing` names the added columns a `columnAdded` task is about: completing it reviews them.
    public func complete(id: Int64, by actorId: Int64, now: Date, recording: [NewActivity] = [], reviewing: [String] = []) async throws -> AccessTask {
        try await metastore.write { db in
            try await ActivityStore.record(recording, now: now, on: db)
            let updated = try await db.raw("""
                UPDATE tasks SET state = \(bind: TaskState.completed.rawValue), outcome = \(bind: TaskOutcome.handled.rawValue),
                    handled_by = \(bind: actorId), completed_at = \(bind: now.millis), updated_at = \(bind: now.millis)
                WHERE id = \(bind: id) AND state = \(bind: TaskState.pending.rawValue) RETURNING data_source_id, type
                """).all()
            if let row = updated.first {
                try await DictionaryStore.review(reviewing, dataSourceId: try row.int64("data_source_id"), on: db)
                try await ActivityStore.record([NewActivity(dataSourceId: try row.int64("data_source_id"), actorId: actorId, type: .taskCompleted,
                                                            details: .object(["taskId": .int(id), "type": .string(try row.string("type"))]))],
                                               now: now, on: db)
            }
            guard let task = try await Self.task(id: id, on: db) else { throw Self.notFound }
            return task
        }
    }

    /// Deletes a task. Deleting a waiting access request ends the request too: withdrawn when the requester deletes
    /// it, denied when an approver does.
    public func delete(id: Int64, by actorId: Int64, now: Date) async throws -> AccessTask {
        try await metastore.write { db in
            guard let task = try await Self.task(id: id, on: db) else { throw Self.notFound }
            var activities = [NewActivity(dataSourceId: task.dataSourceId, actorId: actorId, type: .taskDeleted,
                                          details: .object(["taskId": .int(id), "type": .string(task.type.rawValue)]))]
            if task.state == .pending, let subscriptionId = task.subscriptionId,
               let request = try await SubscriptionStore.subscription(id: subscriptionId, lock: true, on: db), request.state == .pending {
                try await db.raw("DELETE FROM data_source_members WHERE id = \(bind: subscriptionId)").run()
                activities.append(SubscriptionStore.activity(task.requester.id == actorId ? .accessWithdrawn : .accessDenied, request, actorId: actorId))
            }
            try await db.raw("DELETE FROM tasks WHERE id = \(bind: id)").run()
            try await ActivityStore.record(activities, now: now, on: db)
            return task
        }
    }
}
