public import Foundation
import SQLKit
public import WardenDomain

/// A registered connection: its settings without the password, which is sealed apart.
public struct StoredConnection: Sendable {
    public var connectionKey: String
    public var technology: Technology
    /// The documented `connection` object, without `password`.
    public var connection: [String: JSONValue]
    public var sealedPassword: String
    public var createdBy: Int64
    public var updatedBy: Int64
    public var createdAt: Date
    public var updatedAt: Date

    public init(connectionKey: String, technology: Technology, connection: [String: JSONValue], sealedPassword: String, createdBy: Int64,
                updatedBy: Int64, createdAt: Date, updatedAt: Date) {
        self.connectionKey = connectionKey
        self.technology = technology
        self.connection = connection
        self.sealedPassword = sealedPassword
        self.createdBy = createdBy
        self.updatedBy = updatedBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A data object with what the API shows besides its sync state.
public struct DataObjectRecord: Sendable {
    public var object: StoredDataObject
    public var technology: Technology
    public var createdAt: Date
    public var lastCrawled: Date?
    public var remoteId: String?
}

/// What one object sync writes, in one transaction: a crawl's plan, new settings, and what they make of the objects'
/// states and data sources.
public struct ObjectSyncWrite: Sendable {
    public var connectionKey: String
    public var plan = ObjectSync.CrawlPlan()
    /// New overrides of one object (`PUT /data/settings`).
    public var overrides: (path: DataObjectPath, overrides: DataObjectOverrides)?
    public var states: [DataObjectPath: Bool] = [:]
    /// Data sources to create for active tables, and tables linked to a source that already exists.
    public var drafts: [(path: DataObjectPath, draft: DataSourceDraft)] = []
    public var links: [(path: DataObjectPath, dataSourceId: Int64)] = []
    public var disable: [Int64] = []
    public var enable: [Int64] = []
    /// The crawl's root and when it ran.
    public var crawled: DataObjectPath?
    public var owner: Int64
    /// The data owners in force on tables, made owners of their data sources: a source's id, or (nil) the source
    /// created in this write.
    public var dataOwners: [(path: DataObjectPath, dataSourceId: Int64?, principals: [SettingsPrincipal])] = []
    /// Who makes them owners: the caller of a settings change, else the connection's registrant.
    public var actorId: Int64?

    public init(connectionKey: String, owner: Int64) {
        self.connectionKey = connectionKey
        self.owner = owner
    }

    public var isEmpty: Bool {
        plan.isEmpty && overrides == nil && states.isEmpty && drafts.isEmpty && links.isEmpty && disable.isEmpty && enable.isEmpty
    }
}

/// Connections and their hierarchy of data objects (`/data`).
public struct ConnectionStore: Sendable {
    let metastore: Metastore
    let secrets: SecretBox
    let dataSources: DataSourceStore

    public init(metastore: Metastore, secrets: SecretBox, dataSources: DataSourceStore) {
        self.metastore = metastore
        self.secrets = secrets
        self.dataSources = dataSources
    }

    public static let notFound = WardenError.notFound("Connection not found", code: .connectionNotFound)
    public static let objectNotFound = WardenError.notFound("Data object not found", code: .dataObjectNotFound)

    static func secretRecordId(_ connectionKey: String) -> String { "connection:\(connectionKey)" }

    public func seal(password: String, connectionKey: String) throws -> String {
        try secrets.seal(password, recordId: Self.secretRecordId(connectionKey))
    }

    public func openPassword(of connection: StoredConnection) throws -> String {
        try secrets.open(connection.sealedPassword, recordId: Self.secretRecordId(connection.connectionKey))
    }

    // MARK: Connections

    /// Stores the connection, its root object with the connection's settings, and the first crawl job, together.
    public func create(_ connection: StoredConnection, settings: DataObjectOverrides, crawl: NewJob) async throws {
        try await metastore.write { db in
            if try await db.raw("SELECT 1 AS taken FROM connections WHERE connection_key = \(bind: connection.connectionKey)").first() != nil {
                throw WardenError.conflict("A connection with the key \"\(connection.connectionKey)\" already exists", code: .connectionConflict)
            }
            try await db.raw("""
                INSERT INTO connections (connection_key, technology, connection, password_secret, created_by, updated_by, created_at, updated_at)
                VALUES (\(bind: connection.connectionKey), \(bind: connection.technology.rawValue), \(bind: try JSONColumn.encode(JSONValue.object(connection.connection))),
                        \(bind: connection.sealedPassword), \(bind: connection.createdBy), \(bind: connection.createdBy),
                        \(bind: connection.createdAt.millis), \(bind: connection.createdAt.millis))
                """).run()
            try await Self.insertObjects([StoredDataObject(path: DataObjectPath([connection.connectionKey]), overrides: settings, active: settings.isActive ?? true)],
                                         connectionKey: connection.connectionKey, now: connection.createdAt, on: db)
            _ = try await JobStore.enqueue([crawl], createdBy: connection.createdBy, now: connection.createdAt, on: db)
        }
    }

    public func connection(key: String) async throws -> StoredConnection? {
        try await metastore.read { db in
            try await db.raw("""
                SELECT connection_key, technology, connection, password_secret, created_by, updated_by, created_at, updated_at
                FROM connections WHERE connection_key = \(bind: key)
                """).first().map(Self.connection(from:))
        }
    }

    /// Replaces the connection's settings (and password when `sealedPassword` is given), and queues a crawl.
    public func update(key: String, connection: [String: JSONValue], sealedPassword: String?, by userId: Int64, crawl: NewJob, now: Date) async throws {
        try await metastore.write { db in
            var assignments: [SQLQueryString] = ["connection = \(bind: try JSONColumn.encode(JSONValue.object(connection)))",
                                                 "updated_by = \(bind: userId)", "updated_at = \(bind: now.millis)"]
            if let sealedPassword { assignments.append("password_secret = \(bind: sealedPassword)") }
            let updated = try await db.raw("""
                UPDATE connections SET \(assignments.joined(separator: ", ")) WHERE connection_key = \(bind: key) RETURNING connection_key
                """).all()
            guard !updated.isEmpty else { throw Self.notFound }
            _ = try await JobStore.enqueue([crawl], createdBy: userId, now: now, on: db)
        }
    }

    static func connection(from row: any SQLRow) throws -> StoredConnection {
        guard let technology = Technology(rawValue: try row.string("technology")) else {
            throw WardenError(.internalError, code: .jobInvalidPayload, message: "A stored connection has an unknown technology")
        }
        return StoredConnection(
            connectionKey: try row.string("connection_key"), technology: technology,
            connection: try JSONColumn.decode(JSONValue.self, from: try row.string("connection")).objectValue ?? [:],
            sealedPassword: try row.string("password_secret"), createdBy: try row.int64("created_by"), updatedBy: try row.int64("updated_by"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    /// The groups `userId` belongs to.
    public func groupIds(userId: Int64) async throws -> [Int64] {
        try await metastore.read { db in
            try await db.raw("SELECT group_id FROM group_members WHERE user_id = \(bind: userId)").all().map { try $0.int64("group_id") }
        }
    }

    /// Those of `principals` that name no user or group.
    public func missing(_ principals: [SettingsPrincipal]) async throws -> [SettingsPrincipal] {
        guard !principals.isEmpty else { return [] }
        return try await metastore.read { db in
            var found: Set<SettingsPrincipal> = []
            for (kind, table) in [(SettingsPrincipal.Kind.user, "users"), (.group, "user_groups")] {
                let ids: [SQLBindable] = principals.filter { $0.type == kind }.map(\.id)
                guard !ids.isEmpty else { continue }
                for row in try await db.raw("SELECT id FROM \(unsafeRaw: table) WHERE id IN (\(binds: ids))").all() {
                    found.insert(SettingsPrincipal(id: try row.int64("id"), type: kind))
                }
            }
            return principals.filter { !found.contains($0) }
        }
    }

    // MARK: Objects

    /// Every column but the crawled columns themselves, which only registering a table needs (`columns(of:)`).
    static let objectColumns = """
        o.connection_key, o.database_name, o.schema_name, o.table_name, o.depth, o.overrides, o.present, o.active, o.fingerprint,
        o.data_source_id, o.remote_id, o.created_at, o.last_crawled, c.technology
        """

    /// Every object of the connection, its root first.
    public func objects(connectionKey: String) async throws -> [DataObjectRecord] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.objectColumns) FROM data_objects o JOIN connections c ON c.connection_key = o.connection_key
                WHERE o.connection_key = \(bind: connectionKey)
                ORDER BY o.depth, o.database_name, o.schema_name, o.table_name
                """).all().map(Self.record(from:))
        }
    }

    /// The objects on `path`'s lineage, the connection first, and every other object of the connection whose settings
    /// name people (who may see the connection): what deciding about one object needs, without the whole hierarchy.
    public func lineage(_ path: DataObjectPath) async throws -> [DataObjectRecord] {
        let levels = Self.levels(path)
        var lineage: [SQLQueryString] = ["o.depth = 1"]
        for depth in 2...max(2, path.segments.count) where depth <= path.segments.count {
            var condition: SQLQueryString = "o.depth = \(bind: depth)"
            for (index, column) in ["o.database_name", "o.schema_name", "o.table_name"].prefix(depth - 1).enumerated() {
                condition = condition + " AND \(unsafeRaw: column) = \(bind: levels[index])"
            }
            lineage.append(condition)
        }
        return try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.objectColumns) FROM data_objects o JOIN connections c ON c.connection_key = o.connection_key
                WHERE o.connection_key = \(bind: path.connectionKey) AND ((\(lineage.joined(separator: ") OR (")))
                      OR o.overrides LIKE '%"dataOwners"%' OR o.overrides LIKE '%"infrastructureAdmins"%')
                ORDER BY o.depth, o.database_name, o.schema_name, o.table_name
                """).all().map(Self.record(from:))
        }
    }

    /// The ids of the connection's data sources that are disabled.
    public func disabledSources(connectionKey: String) async throws -> Set<Int64> {
        try await metastore.read { db in
            Set(try await db.raw("""
                SELECT s.id FROM data_sources s JOIN data_objects o ON o.data_source_id = s.id
                WHERE o.connection_key = \(bind: connectionKey) AND s.disabled = \(bind: true)
                """).all().map { try $0.int64("id") })
        }
    }

    /// Every connection's root object, for the top-level search.
    public func roots() async throws -> [DataObjectRecord] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.objectColumns) FROM data_objects o JOIN connections c ON c.connection_key = o.connection_key
                WHERE o.depth = 1 ORDER BY o.connection_key
                """).all().map(Self.record(from:))
        }
    }

    /// The crawled columns of these tables.
    public func columns(of paths: [DataObjectPath]) async throws -> [DataObjectPath: [RemoteColumn]] {
        guard let key = paths.first?.connectionKey else { return [:] }
        let wanted = Set(paths)
        return try await metastore.read { db in
            var result: [DataObjectPath: [RemoteColumn]] = [:]
            for row in try await db.raw("""
                SELECT database_name, schema_name, table_name, columns FROM data_objects
                WHERE connection_key = \(bind: key) AND depth = 4 AND columns IS NOT NULL
                """).all() {
                let path = DataObjectPath([key, try row.string("database_name"), try row.string("schema_name"), try row.string("table_name")])
                guard wanted.contains(path) else { continue }
                result[path] = try JSONColumn.decode([RemoteColumn].self, from: try row.string("columns"))
            }
            return result
        }
    }

    static func levels(_ path: DataObjectPath) -> [String] {
        (1..<DataObjectKind.allCases.count).map { path.segments.count > $0 ? path.segments[$0] : "" }
    }

    static func record(from row: any SQLRow) throws -> DataObjectRecord {
        let depth = Int(try row.int64("depth"))
        let names = [try row.string("connection_key"), try row.string("database_name"), try row.string("schema_name"), try row.string("table_name")]
        let object = StoredDataObject(
            path: DataObjectPath(Array(names.prefix(depth))),
            overrides: DataObjectOverrides.decode(try JSONColumn.decode(JSONValue.self, from: try row.string("overrides"))),
            present: try row.bool("present"), fingerprint: try row.optionalString("fingerprint"), dataSourceId: try row.decode(column: "data_source_id", as: Int64?.self),
            active: try row.bool("active"))
        return DataObjectRecord(object: object, technology: Technology(rawValue: try row.string("technology")) ?? .postgresql,
                                createdAt: try row.date("created_at"), lastCrawled: try row.optionalDate("last_crawled"),
                                remoteId: try row.optionalString("remote_id"))
    }

    static func insertObjects(_ objects: [StoredDataObject], connectionKey: String, now: Date, on db: any SQLDatabase) async throws {
        let rows: [[SQLBindable]] = try objects.map { object in
            let levels = levels(object.path)
            return [connectionKey, levels[0], levels[1], levels[2], object.path.segments.count, try JSONColumn.encode(object.overrides.json),
                    object.present, object.active, try object.columns.map { try JSONColumn.encode($0) }, object.fingerprint, object.dataSourceId,
                    now.millis]
        }
        try await SQLBatch.insert(into: "data_objects",
                                  columns: ["connection_key", "database_name", "schema_name", "table_name", "depth", "overrides", "present",
                                            "active", "columns", "fingerprint", "data_source_id", "created_at"], rows: rows, chunk: 500, on: db)
    }

    static func whereObject(_ path: DataObjectPath) -> SQLQueryString {
        let levels = levels(path)
        return """
            connection_key = \(bind: path.connectionKey) AND database_name = \(bind: levels[0]) AND schema_name = \(bind: levels[1]) \
            AND table_name = \(bind: levels[2])
            """
    }

    /// Sets a boolean `column` of many objects of one connection: one statement per 300 paths, not one per object
    /// (deactivating a schema changes every table below it).
    static func update(_ column: String, to value: Bool, paths: [DataObjectPath], connectionKey: String, on db: any SQLDatabase) async throws {
        for chunk in SQLBatch.chunks(paths, size: 300) {
            let rows = chunk.map { path -> SQLQueryString in
                let levels = levels(path)
                return "(\(bind: levels[0]), \(bind: levels[1]), \(bind: levels[2]))"
            }
            try await db.raw("""
                UPDATE data_objects SET \(unsafeRaw: column) = \(bind: value)
                WHERE connection_key = \(bind: connectionKey) AND (database_name, schema_name, table_name) IN (VALUES \(rows.joined(separator: ", ")))
                """).run()
        }
    }

    /// Everything at or below `path`.
    static func whereSubtree(_ path: DataObjectPath) -> SQLQueryString {
        let levels = levels(path)
        var query: SQLQueryString = "connection_key = \(bind: path.connectionKey)"
        for (column, index) in [("database_name", 0), ("schema_name", 1), ("table_name", 2)] where path.segments.count > index + 1 {
            query = query + " AND \(unsafeRaw: column) = \(bind: levels[index])"
        }
        return query
    }

    /// Applies an object sync in one transaction. Fails with a conflict (retryable) when another sync of the connection
    /// inserted the same objects meanwhile; nothing is then written.
    public func commit(_ write: ObjectSyncWrite, completing: JobCompletion? = nil, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("SELECT connection_key FROM connections WHERE connection_key = \(bind: write.connectionKey)\(SQLLock.forUpdate(db))").run()
            // Sources first, so that new objects are inserted with their source and state, not updated after.
            let created = try await dataSources.insert(write.drafts.map(\.draft), owner: write.owner, jobs: { _ in [] }, now: now, on: db)
            let idsByName = Dictionary(uniqueKeysWithValues: created.map { ($0.name, $0.id) })
            var sources = Dictionary(uniqueKeysWithValues: write.links + write.drafts.map { ($0.path, idsByName[$0.draft.names.name]!) })
            let owners = write.dataOwners.flatMap { item -> [(dataSourceId: Int64, subscriber: Subscriber)] in
                guard let id = item.dataSourceId ?? sources[item.path] else { return [] }
                return item.principals.map { (id, $0.type == .user ? .user($0.id) : .group($0.id)) }
            }
            try await SubscriptionStore.makeOwners(owners, actorId: write.actorId ?? write.owner, now: now, on: db)
            var states = write.states
            let inserted = write.plan.inserted.map { object in
                var object = object
                object.dataSourceId = sources.removeValue(forKey: object.path) ?? object.dataSourceId
                object.active = states.removeValue(forKey: object.path) ?? object.active
                return object
            }
            try await Self.insertObjects(inserted, connectionKey: write.connectionKey, now: now, on: db)
            for present in [true, false] {
                try await Self.update("present", to: present, paths: write.plan.presence.filter { $0.present == present }.map(\.path),
                                      connectionKey: write.connectionKey, on: db)
            }
            for (path, table) in write.plan.columns {
                try await db.raw("""
                    UPDATE data_objects SET columns = \(bind: try JSONColumn.encode(table.columns)), fingerprint = \(bind: table.fingerprint)
                    WHERE \(Self.whereObject(path))
                    """).run()
            }
            for (path, fingerprint) in write.plan.fingerprints {
                try await db.raw("UPDATE data_objects SET fingerprint = \(bind: fingerprint) WHERE \(Self.whereObject(path))").run()
            }
            if let (path, overrides) = write.overrides {
                try await db.raw("UPDATE data_objects SET overrides = \(bind: try JSONColumn.encode(overrides.json)) WHERE \(Self.whereObject(path))").run()
            }
            for active in [true, false] {
                try await Self.update("active", to: active, paths: states.filter { $0.value == active }.map(\.key),
                                      connectionKey: write.connectionKey, on: db)
            }
            for (path, id) in sources {
                try await db.raw("UPDATE data_objects SET data_source_id = \(bind: id) WHERE \(Self.whereObject(path))").run()
            }
            for (disabled, ids) in [(true, write.disable), (false, write.enable)] {
                for chunk in SQLBatch.chunks(ids) {
                    let binds: [SQLBindable] = chunk
                    try await db.raw("""
                        UPDATE data_sources SET disabled = \(bind: disabled), updated_at = \(bind: now.millis), view_changes = view_changes + 1
                        WHERE id IN (\(binds: binds))
                        """).run()
                }
            }
            if let root = write.crawled {
                try await db.raw("UPDATE data_objects SET last_crawled = \(bind: now.millis) WHERE \(Self.whereObject(root))").run()
            }
            try await completing?.record(on: db)
        }
    }

    /// Deletes the object, everything below it and their data sources, in one transaction. Answers how many objects
    /// were below it. The connection itself goes when its root is deleted.
    /// The removal of the sources' native views is queued in the same transaction.
    public func delete(_ path: DataObjectPath, now: Date) async throws -> Int {
        try await metastore.write { db in
            let rows = try await db.raw("SELECT data_source_id, depth FROM data_objects WHERE \(Self.whereSubtree(path))\(SQLLock.forUpdate(db))").all()
            guard !rows.isEmpty else { throw Self.objectNotFound }
            let sourceIds = try rows.compactMap { try $0.decode(column: "data_source_id", as: Int64?.self) }
            try await db.raw("DELETE FROM data_objects WHERE \(Self.whereSubtree(path))").run()
            for chunk in SQLBatch.chunks(sourceIds) {
                let binds: [SQLBindable] = chunk
                // As `DataSourceStore.hardDelete`: the rest goes with the source by cascade.
                try await db.raw("""
                    DELETE FROM jobs WHERE data_source_id IN (\(binds: binds)) AND bulk_id IS NULL AND \(unsafeRaw: DataSourceStore.notARunningRefresh)
                    """).run()
                try await DataSourceStore.queueViewRemovals(chunk, now: now, on: db)
                try await db.raw("DELETE FROM activities WHERE data_source_id IN (\(binds: binds))").run()
                try await db.raw("DELETE FROM data_sources WHERE id IN (\(binds: binds))").run()
            }
            if path.segments.count == 1 {
                try await db.raw("DELETE FROM connections WHERE connection_key = \(bind: path.connectionKey)").run()
            }
            return rows.count - 1
        }
    }
}
