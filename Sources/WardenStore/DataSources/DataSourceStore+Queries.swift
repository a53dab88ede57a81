public import Foundation
import SQLKit
public import WardenDomain

/// A data source as one caller sees it: with their standing on it.
public struct DataSourceView: Sendable, Equatable {
    public var dataSource: DataSource
    public var memberState: MemberState?
    /// The caller's own membership and its expiration (read by the single-source lookups only).
    public var subscriptionId: Int64?
    public var subscriptionExpiration: Date?

    /// The API's `subscriptionStatus`.
    public var subscriptionStatus: String { memberState?.rawValue ?? "not_subscribed" }
}

/// The answer to a search: a page, and the aggregates the non-full modes ask for.
public struct DataSourceSearchResult: Sendable {
    public var count: Int
    public var hits: [DataSourceView]
    public var tagCounts: [(name: String, count: Int)]
    public var statusCounts: [String: Int]
    public var recordCountRange: (min: Int64?, max: Int64?)
    public var createdAtRange: (min: Date?, max: Date?)
}

extension DataSourceStore {
    /// Who may see which row, in SQL: the same rule as `DataSource.isVisible(to:)`.
    static let visibleToCaller: SQLQueryString = """
        ((ds.disabled = \(bind: false) AND ((m.state IS NOT NULL AND m.state <> 'pending')
                                            OR (ds.private = \(bind: false) AND (ds.discoverable = \(bind: true) OR m.state = 'pending'))))
         OR (ds.disabled = \(bind: true) AND m.state = 'owner'))
        """

    static func qualifiedColumns(_ alias: String) -> String {
        columns.split(separator: ",").map { "\(alias).\($0.trimmingCharacters(in: .whitespacesAndNewlines))" }.joined(separator: ", ")
    }

    static func view(from row: any SQLRow) throws -> DataSourceView {
        DataSourceView(dataSource: try dataSource(from: row),
                       memberState: try row.optionalString("member_state").flatMap(MemberState.init(rawValue:)))
    }

    // MARK: Search

    /// Searches the data sources `callerId` may see. Every filter is SQL over indexed columns; substring search
    /// uses a trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL), so nothing is filtered in the application.
    public func search(_ query: DataSourceQuery, callerId: Int64, now: Date) async throws -> DataSourceSearchResult {
        var conditions: [SQLQueryString] = [Self.visibleToCaller]
        if !query.blobHandlerTypes.isEmpty {
            let technologies: [SQLBindable] = Technology.allCases
                .filter { technology in query.blobHandlerTypes.contains { $0.lowercased() == technology.blobHandlerType.lowercased() } }
                .map(\.rawValue)
            conditions.append(technologies.isEmpty ? "1 = 0" : "ds.technology IN (\(binds: technologies))")
        }
        if !query.subscriptions.isEmpty {
            var alternatives: [SQLQueryString] = []
            let states: [SQLBindable] = query.subscriptions.compactMap { MemberState(rawValue: $0.rawValue)?.rawValue }
            if !states.isEmpty { alternatives.append("m.state IN (\(binds: states))") }
            if query.subscriptions.contains(.notSubscribed) { alternatives.append("m.state IS NULL") }
            conditions.append(alternatives.isEmpty ? "1 = 0" : "(" + alternatives.joined(separator: " OR ") + ")")
        }
        if !query.statuses.isEmpty {
            let statuses: [SQLBindable] = query.statuses
            conditions.append("ds.status IN (\(binds: statuses))")
        }
        if !query.tags.isEmpty {
            conditions.append("ds.id IN (\(TagStore.dataSourceIdsTagged(query.tags)))")
        }
        if let text = query.searchText {
            conditions.append(textCondition(text, nameOnly: query.nameOnly))
        }
        if !query.columns.isEmpty {
            let names: [SQLBindable] = query.columns
            conditions.append("""
                ds.id IN (SELECT d.data_source_id FROM dictionaries d JOIN dictionary_columns c ON c.dictionary_id = d.id
                          WHERE c.name IN (\(binds: names)))
                """)
        }
        if !query.connectionStrings.isEmpty {
            let values: [SQLBindable] = query.connectionStrings
            conditions.append("ds.connection_string IN (\(binds: values))")
        }
        if let schema = query.schema {
            conditions.append("(ds.sql_schema_name = \(bind: schema) OR ds.remote_schema = \(bind: schema))")
        }
        if !query.dataSourceIds.isEmpty {
            let ids: [SQLBindable] = query.dataSourceIds
            conditions.append("ds.id IN (\(binds: ids))")
        }
        if let only = query.onlyIds {
            let ids: [SQLBindable] = only
            conditions.append(only.isEmpty ? "1 = 0" : "ds.id IN (\(binds: ids))")
        }
        if !query.excludedProjects.isEmpty {
            let projects: [SQLBindable] = query.excludedProjects
            conditions.append("ds.id NOT IN (SELECT p.data_source_id FROM project_data_sources p WHERE p.project_id IN (\(binds: projects)))")
        }
        if query.ephemeral == true {
            // Warden registers no ephemeral data sources.
            conditions.append("1 = 0")
        }
        if let hostname = query.hostname {
            conditions.append("LOWER(ds.connection_string) LIKE \(bind: "%@" + SQLText.escapeLike(hostname.lowercased()) + ":%") ESCAPE '\\'")
        }
        let source: SQLQueryString = """
            FROM data_sources ds
            LEFT JOIN \(Membership.effective(userId: callerId, now: now)) m ON m.data_source_id = ds.id
            WHERE \(conditions.joined(separator: " AND "))
            """
        let direction = query.sortOrder == .asc ? "ASC" : "DESC"
        let sortColumn = switch query.sortField {
        case .name: "LOWER(ds.name)"
        case .createdAt: "ds.created_at"
        case .blobHandlerType: "ds.technology"
        case .subscriptionStatus: "COALESCE(m.state, 'not_subscribed')"
        case .recordCount: "COALESCE(ds.row_count, -1)"
        case .status: "ds.status"
        // No data policies exist yet, so every source sorts alike; the id keeps the order stable.
        case .policy: "ds.id"
        case .editable: "CASE WHEN m.state = 'owner' THEN 1 ELSE 0 END"
        }
        return try await metastore.read { db in
            var result = DataSourceSearchResult(count: 0, hits: [], tagCounts: [], statusCounts: [:],
                                                recordCountRange: (nil, nil), createdAtRange: (nil, nil))
            if query.mode != .full || query.searchText == nil {
                result.count = try await db.raw("SELECT COUNT(*) AS n \(source)").first()!.decode(column: "n", as: Int.self)
            }
            switch query.mode {
            case .count:
                break
            case .full where query.searchText != nil:
                // A text search may match many rows: collect them once (id and sort key only), count them, sort
                // that narrow set, and read full rows for the page alone. Without text, walking the name index
                // in order is cheaper, so that case keeps the plain query below.
                let rows = try await db.raw("""
                    WITH hits AS MATERIALIZED (
                        SELECT ds.id AS id, \(unsafeRaw: sortColumn) AS sort_key \(source)),
                    page AS (
                        SELECT id, sort_key FROM hits ORDER BY sort_key \(unsafeRaw: direction), id \(unsafeRaw: direction)
                        LIMIT \(bind: query.paging.size) OFFSET \(bind: query.paging.offset))
                    SELECT (SELECT COUNT(*) FROM hits) AS total, \(unsafeRaw: Self.qualifiedColumns("ds")), m.state AS member_state
                    FROM page h JOIN data_sources ds ON ds.id = h.id
                    LEFT JOIN \(Membership.effective(userId: callerId, now: now)) m ON m.data_source_id = ds.id
                    ORDER BY h.sort_key \(unsafeRaw: direction), h.id \(unsafeRaw: direction)
                    """).all()
                result.hits = try rows.map(Self.view(from:))
                // An empty page carries no total; then it is counted on its own.
                if let first = rows.first {
                    result.count = try first.decode(column: "total", as: Int.self)
                } else {
                    result.count = try await db.raw("SELECT COUNT(*) AS n \(source)").first()!.decode(column: "n", as: Int.self)
                }
            case .full:
                result.hits = try await db.raw("""
                    SELECT \(unsafeRaw: Self.qualifiedColumns("ds")), m.state AS member_state \(source)
                    ORDER BY \(unsafeRaw: sortColumn) \(unsafeRaw: direction), ds.id \(unsafeRaw: direction)
                    LIMIT \(bind: query.paging.size) OFFSET \(bind: query.paging.offset)
                    """).all().map(Self.view(from:))
            case .tag:
                result.tagCounts = try await db.raw("""
                    SELECT t.name, COUNT(*) AS n FROM data_source_tags dt JOIN tags t ON t.id = dt.tag_id
                    WHERE dt.data_source_id IN (SELECT ds.id \(source)) GROUP BY t.name ORDER BY t.name
                    """).all().map { (try $0.string("name"), try $0.decode(column: "n", as: Int.self)) }
            case .minMax:
                let row = try await db.raw("""
                    SELECT MIN(ds.row_count) AS min_rows, MAX(ds.row_count) AS max_rows, MIN(ds.created_at) AS min_created,
                           MAX(ds.created_at) AS max_created \(source)
                    """).first()!
                result.recordCountRange = (try row.decode(column: "min_rows", as: Int64?.self), try row.decode(column: "max_rows", as: Int64?.self))
                result.createdAtRange = (try row.optionalDate("min_created"), try row.optionalDate("max_created"))
            case .status:
                for row in try await db.raw("SELECT ds.status, COUNT(*) AS n \(source) GROUP BY ds.status").all() {
                    result.statusCounts[try row.string("status")] = try row.decode(column: "n", as: Int.self)
                }
            }
            return result
        }
    }

    /// Substring match on names (and descriptions unless `nameOnly`), served by the trigram index.
    private func textCondition(_ text: String, nameOnly: Bool) -> SQLQueryString {
        let pattern = SQLText.containsPattern(text)
        switch metastore.kind {
        case .postgresql:
            return nameOnly
                ? "LOWER(ds.name) LIKE \(bind: pattern) ESCAPE '\\'"
                : "(LOWER(ds.name) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(COALESCE(ds.description, '')) LIKE \(bind: pattern) ESCAPE '\\')"
        case .sqlite:
            // A trigram phrase MATCH is a case-insensitive substring match served by the FTS5 index. It needs
            // three characters to form a trigram; shorter text is matched with LIKE over the table.
            guard text.count >= 3 else {
                return nameOnly
                    ? "LOWER(ds.name) LIKE \(bind: pattern) ESCAPE '\\'"
                    : "(LOWER(ds.name) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(COALESCE(ds.description, '')) LIKE \(bind: pattern) ESCAPE '\\')"
            }
            let phrase = "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            return "ds.id IN (SELECT rowid FROM data_source_search WHERE data_source_search MATCH \(bind: nameOnly ? "name : " + phrase : phrase))"
        }
    }

    // MARK: Lookups

    public enum Lookup: Sendable {
        case id(Int64), name(String), sqlTableName(String)
    }

    /// One data source with the caller's standing, found by id, name or SQL table name.
    public func view(_ lookup: Lookup, callerId: Int64, now: Date) async throws -> DataSourceView? {
        let condition: SQLQueryString = switch lookup {
        case .id(let id): "ds.id = \(bind: id)"
        case .name(let name): "ds.name = \(bind: name)"
        case .sqlTableName(let name): "ds.sql_table_name = \(bind: name)"
        }
        return try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.qualifiedColumns("ds")), m.state AS member_state, m.own_id, m.own_expiration FROM data_sources ds
                LEFT JOIN \(Membership.effective(userId: callerId, now: now)) m ON m.data_source_id = ds.id
                WHERE \(condition)
                """).first().map { row in
                var view = try Self.view(from: row)
                view.subscriptionId = try row.decode(column: "own_id", as: Int64?.self)
                view.subscriptionExpiration = try row.optionalDate("own_expiration")
                return view
            }
        }
    }

    /// The enabled data sources `userId` is a member of (owner, expert, ingest or subscriber, directly or through a group).
    public func mine(userId: Int64, now: Date) async throws -> [DataSource] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.qualifiedColumns("ds")) FROM data_sources ds
                JOIN \(Membership.effective(userId: userId, now: now)) m ON m.data_source_id = ds.id AND m.state <> 'pending'
                WHERE ds.disabled = \(bind: false) ORDER BY LOWER(ds.name), ds.id
                """).all().map(Self.dataSource(from:))
        }
    }

    /// Owners and experts with their profiles.
    public func contacts(dataSourceId: Int64) async throws -> [(user: User, state: MemberState)] {
        let columns = IdentityStore.userColumns.split(separator: ",").map { "u.\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
        return try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: columns), m.state AS member_state FROM data_source_members m JOIN users u ON u.id = m.user_id
                WHERE m.data_source_id = \(bind: dataSourceId) AND m.state IN ('owner', 'expert') ORDER BY m.state DESC, u.id
                """).all().map { row in
                (try IdentityStore.user(from: row), MemberState(rawValue: try row.string("member_state")) ?? .expert)
            }
        }
    }

    // MARK: Changes

    /// Applies `PUT /dataSource/{id}` changes and records the activity, in one transaction. Only the fields given are
    /// written, under the row's lock, so concurrent updates of different fields both hold.
    public func update(id: Int64, changes: DataSourceChanges, actorId: Int64, now: Date,
                       completing: JobCompletion? = nil) async throws -> DataSource {
        try await metastore.write { db in
            guard let current = try await Self.dataSource(id: id, lock: true, on: db) else { throw Self.notFound }
            var assignments: [SQLQueryString] = []
            if let value = changes.name { assignments.append("name = \(bind: value)") }
            if let value = changes.sqlTableName { assignments.append("sql_table_name = \(bind: value)") }
            if let value = changes.recordFormat { assignments.append("record_format = \(bind: value)") }
            if let value = changes.organization { assignments.append("organization = \(bind: value)") }
            if let value = changes.category { assignments.append("category = \(bind: value)") }
            if let value = changes.description { assignments.append("description = \(bind: value)") }
            if let value = changes.documentation { assignments.append("documentation = \(bind: value)") }
            if let value = changes.hasExamples { assignments.append("has_examples = \(bind: value)") }
            if let value = changes.isPrivate { assignments.append("private = \(bind: value)") }
            if let policy = changes.subscriptionPolicy {
                assignments.append("subscription_type = \(bind: policy.type.rawValue)")
                assignments.append("subscription_policy = \(bind: try JSONColumn.encode(policy.json))")
                assignments.append("discoverable = \(bind: policy.isDiscoverable)")
            }
            let disabled = changes.deleted ?? current.disabled
            if disabled != current.disabled {
                assignments.append("disabled = \(bind: disabled)")
                assignments.append("deleted_at = \(bind: disabled ? now.millis : Int64?.none)")
            }
            assignments.append("updated_at = \(bind: now.millis)")
            do {
                try await db.raw("UPDATE data_sources SET \(assignments.joined(separator: ", ")) WHERE id = \(bind: id)").run()
            } catch where DatabaseErrors.isUniqueViolation(error) {
                throw WardenError.conflict("Another data source already has that name or SQL table name", code: .dataSourceConflict)
            }
            var activities = [NewActivity(dataSourceId: id, actorId: actorId, type: .updated)]
            if disabled != current.disabled {
                activities.append(NewActivity(dataSourceId: id, actorId: actorId, type: disabled ? .disabled : .restored))
            }
            if let policy = changes.subscriptionPolicy, policy != current.subscriptionPolicy {
                activities.append(NewActivity(dataSourceId: id, actorId: actorId, type: .subscriptionPolicyChanged,
                                              details: .object(["from": current.subscriptionPolicy.json, "to": policy.json])))
            }
            try await ActivityStore.record(activities, now: now, on: db)
            if let policy = changes.subscriptionPolicy, policy != current.subscriptionPolicy, policy.type == .policy {
                try await SubscriptionReconciler.reconcile(dataSourceIds: [id], userIds: nil, actorId: actorId, now: now, on: db)
            }
            try await completing?.record(on: db)
            return try await Self.dataSource(id: id, on: db)!
        }
    }

    /// Deletes the data source for good with everything attached to it, in one transaction: dictionary,
    /// handler, memberships, tags, blobs and lineage (by cascade), its activities, and its jobs except those of a
    /// bulk action, which stay listed under their bulk id, and a running view refresh. The removal of its native view
    /// is queued in the same transaction (`queueViewRemovals`).
    public func hardDelete(id: Int64, now: Date, completing: JobCompletion? = nil) async throws {
        try await metastore.write { db in
            try await db.raw("DELETE FROM jobs WHERE data_source_id = \(bind: id) AND bulk_id IS NULL AND \(unsafeRaw: Self.notARunningRefresh)").run()
            try await Self.queueViewRemovals([id], now: now, on: db)
            try await db.raw("DELETE FROM activities WHERE data_source_id = \(bind: id)").run()
            let deleted = try await db.raw("DELETE FROM data_sources WHERE id = \(bind: id) RETURNING id").all()
            guard !deleted.isEmpty else { throw Self.notFound }
            try await completing?.record(on: db)
        }
    }

    /// A refresh that runs while its source is deleted keeps its job row, so that its worker completes it and the
    /// view removal can wait for it (`JobStore.isRunning`) instead of racing it.
    static let notARunningRefresh = "NOT (type = '\(JobType.nativeViewRefresh.rawValue)' AND state = '\(JobState.active.rawValue)')"

    /// Queues, inside a purge's transaction and before the sources go, a `nativeViewRemoval` job for each source on a
    /// warehouse where Warden makes native views. The job carries the handler's technology, metadata and still-sealed
    /// password, which go with the source; its id is derived from the source, so it is queued once.
    static func queueViewRemovals(_ ids: [Int64], now: Date, on db: any SQLDatabase) async throws {
        for chunk in SQLBatch.chunks(ids) {
            let binds: [SQLBindable] = chunk
            var jobs: [NewJob] = []
            for handler in try await db.raw("SELECT \(unsafeRaw: Self.handlerSelection) WHERE h.data_source_id IN (\(binds: binds))").all()
                .map(Self.handler(from:)) where NativeView.Warehouse(handler.technology) != nil {
                jobs.append(NewJob(id: JobStore.nameBasedId("warden.view-removal:\(handler.dataSourceId)"), type: .nativeViewRemoval, payload: .object([
                    "technology": .string(handler.technology.rawValue), "metadata": .object(handler.metadata),
                    "sealedPassword": .string(handler.sealedPassword),
                ]), dataSourceId: handler.dataSourceId, maxAttempts: 10))
            }
            try await JobStore.enqueue(jobs, createdBy: 0, now: now, on: db)
        }
    }

    /// Records the outcome of a health check.
    /// Sets one check (`{status, message, lastAttempted}`) in the source's `statusInfo`, keeping the others; the
    /// source's status is failed while any check is. A source never checked gets `notRun` for the other checks.
    public func recordCheck(id: Int64, name: String, check: JSONValue, notRun: JSONValue) async throws {
        try await metastore.write { db in
            guard let row = try await db.raw("SELECT status_info FROM data_sources WHERE id = \(bind: id)").first() else { return }
            var info: [String: JSONValue]
            if case .object(let stored)? = try row.optionalString("status_info").map({ try JSONColumn.decode(JSONValue.self, from: $0) }) {
                info = stored
            } else if case .object(let initial) = notRun {
                info = initial
            } else {
                info = [:]
            }
            info[name] = check
            let failed = info.values.contains { if case .object(let item) = $0 { item["status"] == .string("failed") } else { false } }
            try await db.raw("""
                UPDATE data_sources SET status = \(bind: failed ? "failed" : "passed"), status_info = \(bind: try JSONColumn.encode(JSONValue.object(info)))
                WHERE id = \(bind: id)
                """).run()
        }
    }

    public func recordHealth(id: Int64, status: String, info: JSONValue, actorId: Int64, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("""
                UPDATE data_sources SET status = \(bind: status), status_info = \(bind: try JSONColumn.encode(info)) WHERE id = \(bind: id)
                """).run()
            try await ActivityStore.record([NewActivity(dataSourceId: id, actorId: actorId, type: .healthChecked,
                                                        details: .object(["status": .string(status)]))], now: now, on: db)
        }
    }
}

extension DataSourceStore {
    /// What subscription policies are evaluated on for one user: their groups and effective attributes.
    public func subscriptionSubject(userId: Int64) async throws -> SubscriptionSubject? {
        try await metastore.read { db in try await SubscriptionReconciler.subjects(userIds: [userId], on: db)[userId]?.subject }
    }

    /// Adds users to a data source, or changes their standing, in one transaction.
    /// A data source keeps an owner: demoting the last one is refused like on the access routes.
    public func setMembers(_ members: [(profileId: Int64, state: MemberState)], dataSourceId: Int64, actorId: Int64, now: Date,
                           completing: JobCompletion? = nil) async throws {
        try await metastore.write { db in
            try await SubscriptionStore.lockMemberships(dataSourceId: dataSourceId, on: db)
            var activities: [NewActivity] = []
            for member in members {
                guard try await db.raw("SELECT id FROM users WHERE id = \(bind: member.profileId)").first() != nil else {
                    throw SubscriptionStore.subscriberNotFound(.user(member.profileId))
                }
                if member.state != .owner,
                   let previous = try await SubscriptionStore.existing(dataSourceId: dataSourceId, subscriber: .user(member.profileId), on: db),
                   previous.state == .owner {
                    try await SubscriptionStore.requireAnotherOwner(dataSourceId: dataSourceId, besides: previous.id, on: db)
                }
                _ = try await SubscriptionStore.upsert(dataSourceId: dataSourceId, subscriber: .user(member.profileId), state: member.state,
                                                       origin: .owner, approved: true, adminId: actorId, expiration: nil, metadata: nil,
                                                       now: now, on: db)
                activities.append(NewActivity(dataSourceId: dataSourceId, actorId: actorId, type: .memberAdded,
                                              details: .object(["profileId": .int(member.profileId), "state": .string(member.state.rawValue)])))
            }
            try await ActivityStore.record(activities, now: now, on: db)
            try await completing?.record(on: db)
        }
    }
}
