public import Foundation
import SQLKit
public import WardenDomain

/// Data policies: global ones and each data source's local one. Every change records a `policyUpdated` activity on
/// each source it affects (where the policy was in force before or after) and enqueues that source's native-view
/// job, in the transaction of the change itself.
public struct PolicyStore: Sendable {
    let metastore: Metastore
    /// For the ids of the view jobs a change enqueues.
    let ids: any IdGenerator

    public init(metastore: Metastore, ids: any IdGenerator) {
        self.metastore = metastore
        self.ids = ids
    }

    public static let notFound = WardenError.notFound("Policy not found", code: .policyNotFound)

    static let columns = "id, data_source_id, name, policy_key, entries, circumstances, staged, created_by, created_at, updated_at"

    static func record(_ row: any SQLRow) throws -> DataPolicyRecord {
        let entries = try JSONColumn.decode([JSONValue].self, from: try row.string("entries"))
        let circumstances = try row.optionalString("circumstances").map { try JSONColumn.decode(JSONValue.self, from: $0) }
        return DataPolicyRecord(id: try row.int64("id"), dataSourceId: try row.decode(column: "data_source_id", as: Int64?.self),
                                name: try row.string("name"), policyKey: try row.optionalString("policy_key"), entries: entries,
                                circumstances: circumstances, staged: try row.bool("staged"),
                                createdBy: try row.decode(column: "created_by", as: Int64?.self), createdAt: try row.date("created_at"),
                                updatedAt: try row.date("updated_at"))
    }

    // MARK: Reading

    public func global(id: Int64) async throws -> DataPolicyRecord {
        try await metastore.read { db in try await Self.global(id: id, on: db) }
    }

    static func global(id: Int64, on db: any SQLDatabase) async throws -> DataPolicyRecord {
        guard let row = try await db.raw("SELECT \(unsafeRaw: columns) FROM data_policies WHERE id = \(bind: id) AND data_source_id IS NULL")
            .first() else { throw notFound }
        return try record(row)
    }

    public enum SortField: String, Sendable, CaseIterable {
        case name, createdAt, updatedAt, id
        var column: String {
            switch self {
            case .name: "LOWER(name)"
            case .createdAt: "created_at"
            case .updatedAt: "updated_at"
            case .id: "id"
            }
        }
    }

    /// Global policies whose name contains `searchText` (ignoring case), by `sort` then id.
    public func globals(searchText: String?, includeStaged: Bool, sort: SortField, offset: Int, size: Int) async throws -> [DataPolicyRecord] {
        let text: SQLQueryString = searchText.map { "AND LOWER(name) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        let staged: SQLQueryString = includeStaged ? "" : "AND staged = \(bind: false)"
        return try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM data_policies WHERE data_source_id IS NULL \(text) \(staged)
                ORDER BY \(unsafeRaw: sort.column), id LIMIT \(bind: size) OFFSET \(bind: offset)
                """).all().map(Self.record)
        }
    }

    /// Changes with every change of a global policy, in the change's own transaction: a reader that saw a generation
    /// and the policies read after it may reuse what it built from them for as long as the generation is the same.
    static let generationSetting = "global_policy_generation"

    public func globalGeneration() async throws -> String {
        try await metastore.read { db in
            try await db.raw("SELECT value FROM metastore_settings WHERE name = \(bind: Self.generationSetting)").first()?.string("value") ?? ""
        }
    }

    /// Every global policy, for decisions. Read afresh each time: no decision outlives a change.
    public func allGlobals() async throws -> [DataPolicyRecord] {
        try await metastore.read { db in try await Self.allGlobals(on: db) }
    }

    static func allGlobals(on db: any SQLDatabase) async throws -> [DataPolicyRecord] {
        try await db.raw("SELECT \(unsafeRaw: columns) FROM data_policies WHERE data_source_id IS NULL ORDER BY id").all().map(record)
    }

    /// Every data source's local policy, by data source id.
    public func allLocals() async throws -> [Int64: DataPolicyRecord] {
        try await metastore.read { db in
            var locals: [Int64: DataPolicyRecord] = [:]
            for row in try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM data_policies WHERE data_source_id IS NOT NULL").all() {
                let record = try Self.record(row)
                if let id = record.dataSourceId { locals[id] = record }
            }
            return locals
        }
    }

    /// The local policies of these data sources, by data source id (those without one absent), in one query per 500.
    public func locals(ids: [Int64]) async throws -> [Int64: DataPolicyRecord] {
        try await metastore.read { db in
            var locals: [Int64: DataPolicyRecord] = [:]
            for chunk in SQLBatch.chunks(ids) {
                let binds = chunk.map { $0 as SQLBindable }
                for row in try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM data_policies WHERE data_source_id IN (\(binds: binds))").all() {
                    let record = try Self.record(row)
                    if let id = record.dataSourceId { locals[id] = record }
                }
            }
            return locals
        }
    }

    public func local(dataSourceId: Int64) async throws -> DataPolicyRecord? {
        try await metastore.read { db in try await Self.local(dataSourceId: dataSourceId, on: db) }
    }

    static func local(dataSourceId: Int64, on db: any SQLDatabase) async throws -> DataPolicyRecord? {
        try await db.raw("SELECT \(unsafeRaw: columns) FROM data_policies WHERE data_source_id = \(bind: dataSourceId)").first().map(record)
    }

    /// What decisions need to know about data sources: their tags, their columns with tags, and where owners
    /// applied policies. `ids` nil: every enabled source.
    public func targets(ids: [Int64]?) async throws -> [PolicyTarget] {
        try await metastore.read { db in try await Self.targets(ids: ids, on: db) }
    }

    static func targets(ids: [Int64]?, on db: any SQLDatabase) async throws -> [PolicyTarget] {
        let filter: SQLQueryString
        if let ids {
            guard !ids.isEmpty else { return [] }
            let binds: [SQLBindable] = ids
            filter = "s.id IN (\(binds: binds))"
        } else {
            filter = "s.disabled = \(bind: false)"
        }
        var targets: [Int64: PolicyTarget] = [:]
        var order: [Int64] = []
        for row in try await db.raw("SELECT s.id, s.high_cardinality_column FROM data_sources s WHERE \(filter) ORDER BY s.id").all() {
            let id = try row.int64("id")
            order.append(id)
            targets[id] = PolicyTarget(dataSourceId: id, columns: [], highCardinalityColumn: try row.optionalString("high_cardinality_column"))
        }
        for row in try await db.raw("""
            SELECT d.data_source_id, c.name, c.data_type, c.pending_review FROM dictionary_columns c
            JOIN dictionaries d ON d.id = c.dictionary_id JOIN data_sources s ON s.id = d.data_source_id
            WHERE \(filter) ORDER BY c.dictionary_id, c.position
            """).all() {
            targets[try row.int64("data_source_id")]?.columns.append(PolicyColumn(name: try row.string("name"), dataType: try row.string("data_type"),
                                                                                    pendingReview: try row.bool("pending_review")))
        }
        for row in try await db.raw("""
            SELECT a.data_source_id, t.name FROM data_source_tags a JOIN tags t ON t.id = a.tag_id JOIN data_sources s ON s.id = a.data_source_id
            WHERE \(filter)
            """).all() {
            if let tag = try? TagName(try row.string("name")) { targets[try row.int64("data_source_id")]?.tags.append(tag) }
        }
        for row in try await db.raw("""
            SELECT a.data_source_id, a.column_name, t.name FROM column_tags a JOIN tags t ON t.id = a.tag_id
            JOIN data_sources s ON s.id = a.data_source_id WHERE \(filter)
            """).all() {
            let id = try row.int64("data_source_id")
            let column = try row.string("column_name")
            guard let tag = try? TagName(try row.string("name")), let index = targets[id]?.columns.firstIndex(where: { $0.name == column }) else { continue }
            targets[id]?.columns[index].tags.append(tag)
        }
        for row in try await db.raw("""
            SELECT a.data_source_id, a.policy_id FROM policy_applications a JOIN data_sources s ON s.id = a.data_source_id WHERE \(filter)
            """).all() {
            targets[try row.int64("data_source_id")]?.appliedPolicyIds.insert(try row.int64("policy_id"))
        }
        return order.compactMap { targets[$0] }
    }

    /// How many enabled data sources a global policy is in force on at `now`.
    public func appliedCount(policyId: Int64, now: Date) async throws -> Int {
        try await metastore.read { db in
            let policy = try await Self.global(id: policyId, on: db).policy
            return try await Self.targets(ids: nil, on: db).filter { PolicyIndex.applies(policy, to: $0, at: now) }.count
        }
    }

    // MARK: Global changes

    public func createGlobal(_ draft: GlobalPolicyDraft, by userId: Int64, now: Date) async throws -> DataPolicyRecord {
        try await metastore.write { db in
            try await Self.checkKey(draft.policyKey, except: nil, on: db)
            let row = try await db.raw("""
                INSERT INTO data_policies (name, policy_key, entries, circumstances, staged, created_by, created_at, updated_at)
                VALUES (\(bind: draft.name), \(bind: draft.policyKey), \(bind: try JSONColumn.encode(draft.entries)),
                        \(bind: try draft.circumstances.map(JSONColumn.encode)), \(bind: draft.staged), \(bind: userId),
                        \(bind: now.millis), \(bind: now.millis))
                RETURNING \(unsafeRaw: Self.columns)
                """).first()!
            let created = try Self.record(row)
            try await Self.recordChange(before: nil, after: created, action: "created", by: userId, now: now, ids: ids, on: db)
            return created
        }
    }

    public func updateGlobal(id: Int64, _ draft: GlobalPolicyDraft, by userId: Int64, now: Date) async throws -> DataPolicyRecord {
        try await metastore.write { db in
            let before = try await Self.global(id: id, on: db)
            try await Self.checkKey(draft.policyKey, except: id, on: db)
            let row = try await db.raw("""
                UPDATE data_policies SET name = \(bind: draft.name), policy_key = \(bind: draft.policyKey),
                    entries = \(bind: try JSONColumn.encode(draft.entries)), circumstances = \(bind: try draft.circumstances.map(JSONColumn.encode)),
                    staged = \(bind: draft.staged), updated_at = \(bind: now.millis)
                WHERE id = \(bind: id) RETURNING \(unsafeRaw: Self.columns)
                """).first()!
            let after = try Self.record(row)
            if draft.circumstances != .null { try await db.raw("DELETE FROM policy_applications WHERE policy_id = \(bind: id)").run() }
            try await Self.recordChange(before: before, after: after, action: "updated", by: userId, now: now, ids: ids, on: db)
            return after
        }
    }

    public func deleteGlobal(id: Int64, by userId: Int64, now: Date) async throws -> DataPolicyRecord {
        try await metastore.write { db in
            let before = try await Self.global(id: id, on: db)
            try await Self.recordChange(before: before, after: nil, action: "deleted", by: userId, now: now, ids: ids, on: db)
            try await db.raw("DELETE FROM data_policies WHERE id = \(bind: id)").run()
            return before
        }
    }

    /// Applies a global policy whose circumstances are `null` to a data source; applying it twice changes nothing.
    public func apply(policyId: Int64, dataSourceId: Int64, by userId: Int64, now: Date) async throws -> DataPolicyRecord {
        try await metastore.write { db in
            let policy = try await Self.global(id: policyId, on: db)
            guard policy.circumstances == .null else {
                throw WardenError.badRequest("The policy applies by its circumstances; only a policy whose circumstances are null is applied by owners",
                                             code: .policyNotApplicable)
            }
            let existing = try await db.raw("""
                SELECT 1 AS found FROM policy_applications WHERE policy_id = \(bind: policyId) AND data_source_id = \(bind: dataSourceId)
                """).first()
            guard existing == nil else { return policy }
            try await db.raw("""
                INSERT INTO policy_applications (policy_id, data_source_id, applied_by, created_at)
                VALUES (\(bind: policyId), \(bind: dataSourceId), \(bind: userId), \(bind: now.millis))
                """).run()
            try await Self.changed([dataSourceId], policy: policy, action: "applied", by: userId, now: now, on: db)
            return policy
        }
    }

    // MARK: Local changes

    /// Replaces a data source's local policy (creating it when there is none).
    public func putLocal(dataSourceId: Int64, entries: [JSONValue], by userId: Int64, now: Date) async throws -> DataPolicyRecord {
        try await metastore.write { db in
            let encoded = try JSONColumn.encode(entries)
            let row: any SQLRow
            if try await Self.local(dataSourceId: dataSourceId, on: db) != nil {
                row = try await db.raw("""
                    UPDATE data_policies SET entries = \(bind: encoded), updated_at = \(bind: now.millis)
                    WHERE data_source_id = \(bind: dataSourceId) RETURNING \(unsafeRaw: Self.columns)
                    """).first()!
            } else {
                row = try await db.raw("""
                    INSERT INTO data_policies (data_source_id, name, entries, staged, created_by, created_at, updated_at)
                    VALUES (\(bind: dataSourceId), \(bind: "local"), \(bind: encoded), \(bind: false), \(bind: userId),
                            \(bind: now.millis), \(bind: now.millis))
                    RETURNING \(unsafeRaw: Self.columns)
                    """).first()!
            }
            let record = try Self.record(row)
            try await Self.changed([dataSourceId], policy: record, action: "updated", by: userId, now: now, on: db)
            return record
        }
    }

    // MARK: Effects of a change

    private static func checkKey(_ key: String, except id: Int64?, on db: any SQLDatabase) async throws {
        let other: SQLQueryString = id.map { "AND id <> \(bind: $0)" } ?? ""
        if try await db.raw("SELECT id FROM data_policies WHERE policy_key = \(bind: key) \(other)").first() != nil {
            throw WardenError.conflict("A global policy with the policyKey \(key) already exists", code: .policyConflict)
        }
    }

    /// The sources a global policy was in force on before or after the change get their activity and view job.
    private static func recordChange(before: DataPolicyRecord?, after: DataPolicyRecord?, action: String, by userId: Int64, now: Date,
                                     ids: any IdGenerator, on db: any SQLDatabase) async throws {
        if (before ?? after)?.isGlobal == true {
            try await db.raw("""
                INSERT INTO metastore_settings (name, value, updated_at) VALUES (\(bind: generationSetting), \(bind: ids.id()), \(bind: now.millis))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).run()
        }
        let policies = [before, after].compactMap { $0?.policy }
        let affected = try await targets(ids: nil, on: db)
            .filter { target in policies.contains { PolicyIndex.applies($0, to: target, at: now) } }
            .map(\.dataSourceId)
        try await changed(affected, policy: (after ?? before)!, action: action, by: userId, now: now, on: db)
    }

    private static func changed(_ dataSourceIds: [Int64], policy: DataPolicyRecord, action: String, by userId: Int64, now: Date,
                                on db: any SQLDatabase) async throws {
        guard !dataSourceIds.isEmpty else { return }
        let details: JSONValue = .object(["policyType": .string("data"), "policyId": .int(policy.id), "action": .string(action),
                                          "triggeredByGlobal": .bool(policy.isGlobal), "policyName": .string(policy.name)])
        // The activity marks each source's view as changed (`ViewChanges`), in this transaction: the view scheduler
        // queues its refresh.
        try await ActivityStore.record(dataSourceIds.map { NewActivity(dataSourceId: $0, actorId: userId, type: .policyUpdated, details: details) },
                                       now: now, on: db)
    }
}
