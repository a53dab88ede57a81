public import Foundation
import SQLKit
public import WardenDomain

/// A handler as stored: its metadata without secrets, and the password sealed with the SecretBox.
public struct StoredHandler: Sendable, Equatable {
    public var dataSourceId: Int64
    /// The source's schema evolution group, if any.
    public var schemaEvolutionId: Int64?
    public var technology: Technology
    public var metadata: [String: JSONValue]
    public var sealedPassword: String
    public var connectionString: String
    public var createdAt: Date
    public var updatedAt: Date
}

/// Data sources, their handlers and memberships.
public struct DataSourceStore: Sendable {
    let metastore: Metastore
    let secrets: SecretBox

    public init(metastore: Metastore, secrets: SecretBox) {
        self.metastore = metastore
        self.secrets = secrets
    }

    public static let notFound = WardenError.notFound("Data source not found", code: .dataSourceNotFound)

    static let columns = """
        id, name, sql_table_name, sql_schema_name, schema_project_name, technology, type, record_format, private, organization,
        category, description, has_examples, connection_string, remote_schema, remote_table, row_count, high_cardinality_column,
        disabled, status, status_info, documentation, subscription_policy, created_by, created_at, updated_at, column_evolution_enabled,
        high_cardinality_at, schema_evolution_id
        """

    /// The associated data for a handler's sealed password: it opens only for the data source it was sealed for.
    static func secretRecordId(_ dataSourceId: Int64) -> String { "data-source-handler:\(dataSourceId)" }

    public func openPassword(of handler: StoredHandler) throws -> String {
        try openPassword(handler.sealedPassword, dataSourceId: handler.dataSourceId)
    }

    /// A handler's password as sealed for the source `dataSourceId`, also after the source is gone (a view removal).
    public func openPassword(_ sealed: String, dataSourceId: Int64) throws -> String {
        try secrets.open(sealed, recordId: Self.secretRecordId(dataSourceId))
    }

    // MARK: Creation

    /// Creates every draft with its handler, dictionary, owner and follow-up jobs in one transaction:
    /// all of them, or none when any conflicts with an existing data source.
    /// With `evolution`, the drafts are put in a new schema evolution group with that owner and template.
    public func create(_ drafts: [DataSourceDraft], owner: Int64, evolution: (ownerId: Int64, template: NameTemplate)? = nil,
                       jobs: @escaping @Sendable (Int64) -> [NewJob], now: Date) async throws -> [DataSource] {
        try await metastore.write { db in
            var drafts = drafts
            if let evolution {
                let row = try await db.raw("""
                    INSERT INTO schema_evolutions (owner_id, name_template, created_by, created_at)
                    VALUES (\(bind: evolution.ownerId), \(bind: try JSONColumn.encode(evolution.template)), \(bind: owner), \(bind: now.millis))
                    RETURNING id
                    """).first()
                let id = try row.map { try $0.int64("id") }
                for index in drafts.indices { drafts[index].schemaEvolutionId = id }
            }
            return try await insert(drafts, owner: owner, jobs: jobs, now: now, on: db)
        }
    }

    /// A schema evolution group.
    public func schemaEvolution(id: Int64) async throws -> SchemaEvolution? {
        try await metastore.read { db in
            try await db.raw("""
                SELECT id, owner_id, name_template, created_by, created_at FROM schema_evolutions WHERE id = \(bind: id)
                """).first().map { row in
                SchemaEvolution(id: try row.int64("id"), ownerId: try row.int64("owner_id"),
                                template: try JSONColumn.decode(NameTemplate.self, from: try row.string("name_template")),
                                createdBy: try row.int64("created_by"), createdAt: try row.date("created_at"))
            }
        }
    }

    /// `create`'s work inside the caller's transaction (a crawl creates the sources of the tables it activates).
    func insert(_ drafts: [DataSourceDraft], owner: Int64, jobs: @Sendable (Int64) -> [NewJob], now: Date,
                on db: any SQLDatabase) async throws -> [DataSource] {
        guard !drafts.isEmpty else { return [] }
        try await rejectConflicts(drafts, on: db)
        let rows: [[SQLBindable]] = try drafts.map { draft in
            [draft.names.name, draft.names.sqlTableName, draft.names.sqlSchemaName, draft.names.schemaProjectName,
             draft.technology.rawValue, draft.settings.type, draft.settings.recordFormat, draft.settings.isPrivate,
             draft.settings.organization, draft.settings.category, draft.settings.description, draft.settings.hasExamples,
             draft.metadata.connectionString(), draft.metadata.remoteKey(technology: draft.technology),
             draft.metadata.table.schema, draft.metadata.table.table, draft.rowCount, String?.none, false, owner,
             now.millis, now.millis, draft.settings.subscriptionPolicy.type.rawValue,
             try JSONColumn.encode(draft.settings.subscriptionPolicy.json), draft.settings.subscriptionPolicy.isDiscoverable,
             draft.settings.columnEvolutionEnabled, draft.schemaEvolutionId]
        }
        let inserted = try await SQLBatch.insert(
            into: "data_sources",
            columns: ["name", "sql_table_name", "sql_schema_name", "schema_project_name", "technology", "type", "record_format",
                      "private", "organization", "category", "description", "has_examples", "connection_string", "remote_key",
                      "remote_schema", "remote_table", "row_count", "high_cardinality_column", "disabled", "created_by",
                      "created_at", "updated_at", "subscription_type", "subscription_policy", "discoverable",
                      "column_evolution_enabled", "schema_evolution_id"],
            rows: rows, returning: Self.columns, chunk: 100, on: db)
        let sources = try inserted.map(Self.dataSource(from:))
        // RETURNING follows VALUES order on both dialects; matching by name makes that assumption harmless.
        let draftsByName = Dictionary(uniqueKeysWithValues: drafts.map { ($0.names.name, $0) })

        var handlerRows: [[SQLBindable]] = []
        var memberRows: [[SQLBindable]] = []
        var dictionaryRows: [[SQLBindable]] = []
        for source in sources {
            let draft = draftsByName[source.name]!
            let sealed = try secrets.seal(draft.metadata.password ?? "", recordId: Self.secretRecordId(source.id))
            handlerRows.append([source.id, draft.technology.rawValue, try JSONColumn.encode(draft.metadata.stored), sealed,
                                draft.metadata.connectionString(), now.millis, now.millis])
            memberRows.append([source.id, owner, MemberState.owner.rawValue, SubscriptionOrigin.owner.rawValue, true, owner,
                               now.millis, now.millis])
            dictionaryRows.append([source.id, now.millis, now.millis])
        }
        try await SQLBatch.insert(into: "data_source_handlers",
                                  columns: ["data_source_id", "technology", "metadata", "password_secret", "connection_string",
                                            "created_at", "updated_at"], rows: handlerRows, on: db)
        try await SQLBatch.insert(into: "data_source_members",
                                  columns: ["data_source_id", "user_id", "state", "origin", "approved", "admin_id", "created_at", "updated_at"],
                                  rows: memberRows, on: db)
        let dictionaries = try await SQLBatch.insert(into: "dictionaries", columns: ["data_source_id", "created_at", "updated_at"],
                                                     rows: dictionaryRows, returning: "id, data_source_id", on: db)
        var columnRows: [[SQLBindable]] = []
        let namesById = Dictionary(uniqueKeysWithValues: sources.map { ($0.id, $0.name) })
        for row in dictionaries {
            let dataSourceId = try row.int64("data_source_id")
            let draft = draftsByName[namesById[dataSourceId]!]!
            columnRows += DictionaryStore.rows(dictionaryId: try row.int64("id"), columns: draft.columns)
        }
        try await SQLBatch.insert(into: "dictionary_columns", columns: DictionaryStore.columnNames, rows: columnRows, chunk: 500, on: db)
        try await JobStore.enqueue(sources.flatMap { jobs($0.id) }, createdBy: owner, now: now, on: db)
        try await ActivityStore.record(sources.map { NewActivity(dataSourceId: $0.id, actorId: owner, type: .created) }, now: now, on: db)
        let governed = sources.filter(\.subscriptionPolicy.subscribesAutomatically).map(\.id)
        if !governed.isEmpty {
            try await SubscriptionReconciler.reconcile(dataSourceIds: governed, userIds: nil, actorId: owner, now: now, on: db)
        }
        return sources
    }

    /// Which of the names and SQL table names are taken, and the sources already registered for the remote keys.
    public func taken(names: [String], sqlTableNames: [String], remoteKeys: [String])
        async throws -> (names: Set<String>, sqlTableNames: Set<String>, remoteKeys: [String: Int64]) {
        try await metastore.read { db in
            var result: (names: Set<String>, sqlTableNames: Set<String>, remoteKeys: [String: Int64]) = ([], [], [:])
            for (column, values) in [("name", names), ("sql_table_name", sqlTableNames), ("remote_key", remoteKeys)] {
                for chunk in SQLBatch.chunks(values) {
                    let binds: [SQLBindable] = chunk
                    for row in try await db.raw("""
                        SELECT id, \(unsafeRaw: column) AS value FROM data_sources WHERE \(unsafeRaw: column) IN (\(binds: binds))
                        """).all() {
                        let value = try row.string("value")
                        switch column {
                        case "name": result.names.insert(value)
                        case "sql_table_name": result.sqlTableNames.insert(value)
                        default: result.remoteKeys[value] = try row.int64("id")
                        }
                    }
                }
            }
            return result
        }
    }

    /// Fails with a 409 naming the existing data source when a draft's table, name or SQL table name is taken.
    private func rejectConflicts(_ drafts: [DataSourceDraft], on db: any SQLDatabase) async throws {
        let checks: [(column: String, values: [String], describe: (DataSourceDraft) -> String, key: (DataSourceDraft) -> String)] = [
            ("remote_key", drafts.map { $0.metadata.remoteKey(technology: $0.technology) },
             // The documented sentence leads, for clients that match on it.
             { "duplicate tables are specified in the payload. Table \($0.metadata.table) in \($0.metadata.connectionString()) is already registered" },
             { $0.metadata.remoteKey(technology: $0.technology) }),
            ("name", drafts.map(\.names.name), { "The data source name \"\($0.names.name)\" is already taken" }, { $0.names.name }),
            ("sql_table_name", drafts.map(\.names.sqlTableName),
             { "The SQL table name \"\($0.names.sqlTableName)\" is already taken" }, { $0.names.sqlTableName }),
        ]
        for check in checks {
            for chunk in SQLBatch.chunks(check.values) {
                let binds: [SQLBindable] = chunk
                guard let row = try await db.raw("""
                    SELECT id, name, private, \(unsafeRaw: check.column) AS conflict FROM data_sources
                    WHERE \(unsafeRaw: check.column) IN (\(binds: binds)) LIMIT 1
                    """).first() else { continue }
                let taken = try row.string("conflict")
                let draft = drafts.first { check.key($0) == taken }!
                // A private source is named only in general terms: the caller may not be allowed to know it.
                let existing = try row.bool("private") ? "another data source"
                    : "data source \"\(try row.string("name"))\" (id \(try row.int64("id")))"
                throw WardenError.conflict("\(check.describe(draft)) by \(existing)", code: .dataSourceConflict)
            }
        }
    }

    // MARK: Reading

    public func dataSource(id: Int64) async throws -> DataSource? {
        try await metastore.read { db in
            try await Self.dataSource(id: id, on: db)
        }
    }

    /// With `lock`, the row stays locked to this transaction, so a read-modify-write cannot lose a concurrent update.
    static func dataSource(id: Int64, lock: Bool = false, on db: any SQLDatabase) async throws -> DataSource? {
        let forUpdate: SQLQueryString = lock ? SQLLock.forUpdate(db) : ""
        return try await db.raw("SELECT \(unsafeRaw: columns) FROM data_sources WHERE id = \(bind: id)\(forUpdate)").first().map(dataSource(from:))
    }

    /// The data sources of `ids` that exist, by id, in one query per 500.
    public func dataSources(ids: [Int64]) async throws -> [Int64: DataSource] {
        try await metastore.read { db in
            var result: [Int64: DataSource] = [:]
            for chunk in SQLBatch.chunks(ids) {
                let binds: [SQLBindable] = chunk
                for row in try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM data_sources WHERE id IN (\(binds: binds))").all() {
                    let source = try Self.dataSource(from: row)
                    result[source.id] = source
                }
            }
            return result
        }
    }

    /// Whether each existing data source of `ids` is disabled, read when a bulk delete is enqueued.
    public func disabledStates(ids: [Int64]) async throws -> [Int64: Bool] {
        try await metastore.read { db in
            var result: [Int64: Bool] = [:]
            for chunk in SQLBatch.chunks(ids) {
                let binds: [SQLBindable] = chunk
                for row in try await db.raw("SELECT id, disabled FROM data_sources WHERE id IN (\(binds: binds))").all() {
                    result[try row.int64("id")] = try row.bool("disabled")
                }
            }
            return result
        }
    }

    public func handler(dataSourceId: Int64) async throws -> StoredHandler? {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.handlerSelection) WHERE h.data_source_id = \(bind: dataSourceId)
                """).first().map(Self.handler(from:))
        }
    }

    /// The handlers of these sources (those that have one), in id order: one query per 500 ids.
    public func handlers(dataSourceIds ids: [Int64]) async throws -> [StoredHandler] {
        try await metastore.read { db in
            var handlers: [StoredHandler] = []
            for chunk in SQLBatch.chunks(Array(Set(ids)).sorted()) {
                let binds: [SQLBindable] = chunk
                handlers += try await db.raw("""
                    SELECT \(unsafeRaw: Self.handlerSelection) WHERE h.data_source_id IN (\(binds: binds)) ORDER BY h.data_source_id
                    """).all().map(Self.handler(from:))
            }
            return handlers
        }
    }

    /// The handlers of the enabled sources, those `userId` owns at `now` when given, those of one schema evolution
    /// group when given, by source id.
    public func enabledHandlers(ownedBy userId: Int64?, schemaEvolutionId: Int64? = nil, now: Date) async throws -> [StoredHandler] {
        try await metastore.read { db in
            let owned: SQLQueryString = userId.map { """
                JOIN \(Membership.effective(userId: $0, now: now)) m ON m.data_source_id = h.data_source_id AND m.state = \(bind: MemberState.owner.rawValue)
                """ } ?? ""
            let group: SQLQueryString = schemaEvolutionId.map { "AND d.schema_evolution_id = \(bind: $0)" } ?? ""
            return try await db.raw("""
                SELECT \(unsafeRaw: Self.handlerSelection) \(owned) WHERE d.disabled = \(bind: false) \(group) ORDER BY h.data_source_id
                """).all().map(Self.handler(from:))
        }
    }

    /// The select list and FROM clause of handlers, with their source's schema evolution group.
    static let handlerSelection = """
        h.data_source_id, h.technology, h.metadata, h.password_secret, h.connection_string, h.created_at, h.updated_at,
        d.schema_evolution_id FROM data_source_handlers h JOIN data_sources d ON d.id = h.data_source_id
        """

    static func handler(from row: any SQLRow) throws -> StoredHandler {
        StoredHandler(
            dataSourceId: try row.int64("data_source_id"),
            schemaEvolutionId: try row.decode(column: "schema_evolution_id", as: Int64?.self),
            technology: try Self.technology(row.string("technology")),
            metadata: try JSONColumn.decode([String: JSONValue].self, from: try row.string("metadata")),
            sealedPassword: try row.string("password_secret"),
            connectionString: try row.string("connection_string"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    /// The caller's standing on a data source at `now`, if any: their own or, when stronger, a group's.
    public func memberState(dataSourceId: Int64, userId: Int64, now: Date) async throws -> MemberState? {
        try await metastore.read { db in
            try await Membership.state(dataSourceId: dataSourceId, userId: userId, now: now, on: db)
        }
    }

    /// Those of `ids` that exist and that `userId` owns at `now` (their own membership or a group's): one query per
    /// 500 ids, for requests about many sources.
    public func ownedIds(among ids: [Int64], userId: Int64, now: Date) async throws -> Set<Int64> {
        try await metastore.read { db in
            var owned: Set<Int64> = []
            for chunk in SQLBatch.chunks(ids) {
                let binds: [SQLBindable] = chunk
                for row in try await db.raw("""
                    SELECT m.data_source_id FROM \(Membership.effective(userId: userId, now: now)) m
                    JOIN data_sources d ON d.id = m.data_source_id
                    WHERE m.state = \(bind: MemberState.owner.rawValue) AND m.data_source_id IN (\(binds: binds))
                    """).all() {
                    owned.insert(try row.int64("data_source_id"))
                }
            }
            return owned
        }
    }

    /// Every enabled user with a standing on the source at `now`, and that standing.
    public func members(dataSourceId: Int64, now: Date) async throws -> [(userId: Int64, state: MemberState)] {
        try await metastore.read { db in try await Membership.members(dataSourceId: dataSourceId, now: now, on: db) }
    }

    /// `members(dataSourceId:)` for many sources at once, by source id (sources without members absent).
    public func members(dataSourceIds: [Int64], now: Date) async throws -> [Int64: [(userId: Int64, state: MemberState)]] {
        try await metastore.read { db in try await Membership.members(dataSourceIds: dataSourceIds, now: now, on: db) }
    }

    /// Ids of the handlers of `technology` with this connection string that `userId` owns.
    public func ownedHandlerIds(technology: Technology, connectionString: String, userId: Int64) async throws -> [Int64] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT h.data_source_id FROM data_source_handlers h
                JOIN data_source_members m ON m.data_source_id = h.data_source_id AND m.user_id = \(bind: userId) AND m.state = \(bind: MemberState.owner.rawValue)
                WHERE h.technology = \(bind: technology.rawValue) AND h.connection_string = \(bind: connectionString)
                ORDER BY h.data_source_id
                """).all().map { try $0.int64("data_source_id") }
        }
    }

    // MARK: Updates

    /// Replaces a handler's metadata (and, when given, its password, names and dictionary) and enqueues `jobs`,
    /// in one transaction.
    public func updateHandler(dataSourceId: Int64, technology: Technology, metadata: HandlerMetadata, newPassword: String?,
                              rowCount: Int64?, columns: [DictionaryColumn]?, jobs: [NewJob] = [], by userId: Int64,
                              now: Date, completing: JobCompletion? = nil) async throws -> DataSource {
        try await metastore.write { db in
            guard let current = try await Self.dataSource(id: dataSourceId, lock: true, on: db) else { throw Self.notFound }
            let name = metadata.dataSourceName ?? current.name
            do {
                try await db.raw("""
                    UPDATE data_sources SET name = \(bind: name), sql_table_name = \(bind: metadata.sqlTableName ?? current.sqlTableName),
                        sql_schema_name = \(bind: metadata.sqlSchemaName ?? current.sqlSchemaName),
                        schema_project_name = \(bind: metadata.schemaProjectName ?? current.schemaProjectName),
                        connection_string = \(bind: metadata.connectionString()),
                        remote_key = \(bind: metadata.remoteKey(technology: technology)), remote_schema = \(bind: metadata.table.schema),
                        remote_table = \(bind: metadata.table.table), row_count = \(bind: rowCount ?? current.rowCount),
                        updated_at = \(bind: now.millis)
                    WHERE id = \(bind: dataSourceId)
                    """).run()
            } catch where DatabaseErrors.isUniqueViolation(error) {
                throw WardenError.conflict("Another data source already has the name \"\(name)\", the SQL table name, or table \(metadata.table)",
                                           code: .dataSourceConflict)
            }
            let sealedUpdate: SQLQueryString = try newPassword.map {
                ", password_secret = \(bind: try secrets.seal($0, recordId: Self.secretRecordId(dataSourceId)))"
            } ?? ""
            try await db.raw("""
                UPDATE data_source_handlers SET metadata = \(bind: try JSONColumn.encode(metadata.stored)),
                    connection_string = \(bind: metadata.connectionString()), updated_at = \(bind: now.millis)\(sealedUpdate)
                WHERE data_source_id = \(bind: dataSourceId)
                """).run()
            if let columns {
                _ = try await DictionaryStore.replace(dataSourceId: dataSourceId, columns: columns, now: now, on: db)
            }
            try await JobStore.enqueue(jobs, createdBy: userId, now: now, on: db)
            try await ActivityStore.record([NewActivity(dataSourceId: dataSourceId, actorId: userId, type: .handlerUpdated,
                                                        details: .object(["connectionString": .string(metadata.connectionString())]))],
                                           now: now, on: db)
            try await completing?.record(on: db)
            return try await Self.dataSource(id: dataSourceId, on: db)!
        }
    }

    public func setHighCardinalityColumn(dataSourceId: Int64, column: String?, now: Date, completing: JobCompletion? = nil) async throws {
        try await metastore.write { db in
            try await db.raw("""
                UPDATE data_sources SET high_cardinality_column = \(bind: column), high_cardinality_at = \(bind: now.millis),
                    updated_at = \(bind: now.millis) WHERE id = \(bind: dataSourceId)
                """).run()
            try await completing?.record(on: db)
        }
    }

    // MARK: Rows

    static func technology(_ raw: String) throws -> Technology {
        guard let technology = Technology(rawValue: raw) else {
            throw WardenError(.internalError, code: .metastoreCorrupt, message: "Unknown technology \(raw) in the metastore")
        }
        return technology
    }

    /// Stored policies were validated when set; one that no longer parses is a corrupt metastore, not a client error.
    static func subscriptionPolicy(from text: String) throws -> SubscriptionPolicy {
        do {
            return try SubscriptionPolicy.parse(try JSONColumn.decode(JSONValue.self, from: text), path: "subscriptionPolicy")
        } catch {
            throw WardenError(.internalError, code: .metastoreCorrupt, message: "A stored subscription policy no longer parses", cause: error)
        }
    }

    static func dataSource(from row: any SQLRow) throws -> DataSource {
        DataSource(
            id: try row.int64("id"), name: try row.string("name"), sqlTableName: try row.string("sql_table_name"),
            sqlSchemaName: try row.string("sql_schema_name"), schemaProjectName: try row.optionalString("schema_project_name"),
            technology: try technology(row.string("technology")), type: try row.string("type"),
            recordFormat: try row.optionalString("record_format"), isPrivate: try row.bool("private"),
            organization: try row.optionalString("organization"), category: try row.optionalString("category"),
            description: try row.optionalString("description"), hasExamples: try row.bool("has_examples"),
            connectionString: try row.string("connection_string"),
            remoteTable: TableReference(schema: try row.string("remote_schema"), table: try row.string("remote_table")),
            rowCount: try row.decode(column: "row_count", as: Int64?.self),
            highCardinalityColumn: try row.optionalString("high_cardinality_column"), disabled: try row.bool("disabled"),
            status: try row.string("status"),
            statusInfo: try row.optionalString("status_info").map { try JSONColumn.decode(JSONValue.self, from: $0) },
            documentation: try row.optionalString("documentation"),
            subscriptionPolicy: try row.optionalString("subscription_policy").map(Self.subscriptionPolicy(from:)) ?? .default,
            createdBy: try row.int64("created_by"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            columnEvolutionEnabled: try row.bool("column_evolution_enabled"), highCardinalityCheckedAt: try row.optionalDate("high_cardinality_at"),
            schemaEvolutionId: try row.decode(column: "schema_evolution_id", as: Int64?.self))
    }
}
