import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Connections and object sync (`/data`): registering a connection, crawling its warehouse into a hierarchy of data
/// objects, settings that trickle down that hierarchy, and the data sources of its active tables.
struct ConnectionService: Sendable {
    let connections: ConnectionStore
    let dataSources: DataSourceStore
    let identity: IdentityStore
    let jobs: JobStore
    let connectors: any ConnectorFactory
    let signal: JobSignal
    let clock: any WardenClock
    let idGenerator: any IdGenerator

    /// A parsed `connection` object.
    struct ConnectionInput: Sendable {
        var technology: Technology
        var hostname: String
        var port: Int
        var database: String?
        var username: String
        var password: String?
        var ssl: Bool
        /// What is stored and shown: the object as sent, without the password.
        var stored: [String: JSONValue]

        static let keys: Set<String> = ["technology", "hostname", "port", "database", "authenticationType", "username", "password", "ssl",
                                        "warehouse", "role", "httpPath", "catalog"]

        static func parse(_ value: JSONValue?, path: String, passwordRequired: Bool) throws(WardenError) -> ConnectionInput {
            guard case .object(let object)? = value else {
                throw WardenError.badRequest("`\(path)` is required and must be an object", code: .requestValidationFailed)
            }
            var fields = JSONFields(object, path: path)
            let technologyName = fields.string("technology", required: true) ?? ""
            let hostname = fields.string("hostname", required: true) ?? ""
            let database = fields.string("database")
            let username = fields.string("username", required: true) ?? ""
            let password = fields.string("password", required: passwordRequired)
            let authentication = fields.string("authenticationType") ?? "userPassword"
            let technology = Technology.allCases.first {
                $0.blobHandlerType.caseInsensitiveCompare(technologyName) == .orderedSame || $0.rawValue.caseInsensitiveCompare(technologyName) == .orderedSame
            }
            // HTTPS services (Snowflake, Databricks) use TLS unless `ssl: false` asks for plain HTTP.
            let ssl = fields.bool("ssl") ?? (technology == .snowflake || technology == .databricks)
            let httpPath = fields.string("httpPath", required: technology == .databricks)
            var validator = fields.validator
            if !technologyName.isEmpty {
                validator.check(technology != nil, "\(path).technology", "must be one of \(Technology.allCases.map(\.blobHandlerType).joined(separator: ", "))")
            }
            let port = fields.int("port") ?? technology?.defaultPort ?? 0
            validator.check((1...65535).contains(port), "\(path).port", "must be between 1 and 65535")
            if technology == .databricks {
                validator.check(DatabricksPath.authenticationTypes.contains(authentication), "\(path).authenticationType",
                                "must be one of " + DatabricksPath.authenticationTypes.sorted().joined(separator: ", "))
                if let httpPath { validator.check(DatabricksPath.warehouseId(httpPath) != nil, "\(path).httpPath", DatabricksPath.rule) }
            } else {
                validator.check(authentication == "userPassword", "\(path).authenticationType", "must be userPassword (the only kind Warden supports yet)")
            }
            if !hostname.isEmpty {
                validator.check(Text.isPrintable(hostname, maxLength: 253) && !hostname.contains(" ") && !hostname.contains("/"),
                                "\(path).hostname", "must be a host name or address")
            }
            if let database { validator.check(SQLIdentifier.isAcceptable(database), "\(path).database", "must be a valid database name") }
            for key in object.keys.sorted() where !keys.contains(key) {
                validator.add("\(path).\(key)", "is not a connection field")
            }
            try validator.finish()
            var stored = object.filter { $0.key != "password" }
            stored["technology"] = .string(technology!.blobHandlerType)
            stored["port"] = .int(Int64(port))
            stored["authenticationType"] = .string(authentication)
            return ConnectionInput(technology: technology!, hostname: hostname, port: port, database: database, username: username,
                                   password: password, ssl: ssl, stored: stored)
        }
    }

    /// One object as the API shows it.
    struct ObjectView: Sendable {
        var record: DataObjectRecord
        var settings: EffectiveSettings
        /// The settings some descendant overrides.
        var overriddenBelow: Set<String>
    }

    // MARK: Connections

    /// Registers a connection and queues its first crawl. The caller becomes an infrastructure admin and data owner
    /// of it, beside those the settings name.
    /// `read` (the key, the connection and its settings) is called only once the caller may register.
    func register(caller: Principal, read: () async throws -> (key: String, connection: ConnectionInput, settings: DataObjectOverrides)) async throws
        -> (objectPath: DataObjectPath, bulkId: String) {
        guard caller.has(.createDataSource) || caller.has(.infrastructureAdmin) else { throw WardenError.missingPermission(.createDataSource) }
        let (key, input, settings) = try await read()
        let path = try DataObjectPath.parse([key])
        guard input.technology.hasConnector else { throw input.technology.missingConnector }
        guard let password = input.password else { throw WardenError.badRequest("connection.password is required", code: .requestValidationFailed) }
        let me = [SettingsPrincipal(id: caller.userId, type: .user)]
        let root = DataObjectOverrides(isActive: settings.isActive ?? true, activateNewChildren: settings.activateNewChildren ?? true,
                                       dataOwners: DataObjectOverrides.union(me, settings.dataOwners),
                                       infrastructureAdmins: DataObjectOverrides.union(me, settings.infrastructureAdmins))
        try await checkPrincipals(root)
        let now = clock.now()
        let connection = StoredConnection(connectionKey: key, technology: input.technology, connection: input.stored,
                                          sealedPassword: try connections.seal(password: password, connectionKey: key),
                                          createdBy: caller.userId, updatedBy: caller.userId, createdAt: now, updatedAt: now)
        let (job, bulkId) = crawlJob(path, forceRecursive: false)
        try await connections.create(connection, settings: root, crawl: job)
        await signal.wakeAll()
        return (path, bulkId)
    }

    func connection(key: String, caller: Principal) async throws -> (StoredConnection, creator: User?, updater: User?) {
        let path = try DataObjectPath.parse([key])
        _ = try await visibleObjects(of: path, caller: caller, lineageOnly: true)
        guard let connection = try await connections.connection(key: key) else { throw ConnectionStore.notFound }
        return (connection, try await identity.user(id: connection.createdBy), try await identity.user(id: connection.updatedBy))
    }

    /// Replaces the connection's settings (the password is kept when none is given) and queues a crawl with them.
    func updateConnection(key: String, caller: Principal, input: () async throws -> ConnectionInput) async throws -> (objectPath: DataObjectPath, bulkId: String) {
        let path = try DataObjectPath.parse([key])
        let objects = try await visibleObjects(of: path, caller: caller, lineageOnly: true)
        try await require(.admin, on: path, objects: objects, caller: caller)
        guard let stored = try await connections.connection(key: key) else { throw ConnectionStore.notFound }
        let connection = try await input()
        guard connection.technology == stored.technology else {
            throw WardenError.badRequest("connection.technology cannot change (it is \(stored.technology.blobHandlerType)); register a new connection",
                                         code: .requestValidationFailed)
        }
        let sealed = try connection.password.map { try connections.seal(password: $0, connectionKey: key) }
        let (job, bulkId) = crawlJob(path, forceRecursive: false)
        try await connections.update(key: key, connection: connection.stored, sealedPassword: sealed, by: caller.userId, crawl: job, now: clock.now())
        await signal.wakeAll()
        return (path, bulkId)
    }

    // MARK: Objects

    func object(_ path: DataObjectPath, caller: Principal) async throws -> ObjectView {
        let objects = try await visibleObjects(of: path, caller: caller)
        guard let view = Self.view(path, in: objects) else { throw ConnectionStore.objectNotFound }
        return view
    }

    struct Search: Sendable {
        var searchText: String?
        var sortField: String
        var descending: Bool
        var offset: Int
        var limit: Int

        static let sortFields: Set<String> = ["name", "state", "createdAt", "lastCrawled", "technology"]
    }

    /// The children of `path`, or the connections the caller may see when there is none.
    func search(under path: DataObjectPath?, _ search: Search, caller: Principal) async throws -> (count: Int, hits: [ObjectView]) {
        var views: [ObjectView] = []
        if let path {
            let objects = try await visibleObjects(of: path, caller: caller)
            guard objects[path] != nil else { throw ConnectionStore.objectNotFound }
            views = Self.views(objects.keys.filter { $0.parent == path }, in: objects)
        } else {
            for root in try await connections.roots() {
                let key = root.object.path.connectionKey
                guard let objects = try? await visibleObjects(of: root.object.path, caller: caller) else { continue }
                if let view = Self.view(DataObjectPath([key]), in: objects) { views.append(view) }
            }
        }
        if let text = search.searchText?.lowercased(), !text.isEmpty {
            views = views.filter { $0.record.object.path.name.lowercased().contains(text) }
        }
        views.sort { lhs, rhs in
            let (a, b) = search.descending ? (rhs, lhs) : (lhs, rhs)
            switch search.sortField {
            case "state": return (a.record.object.active ? 0 : 1, a.record.object.path) < (b.record.object.active ? 0 : 1, b.record.object.path)
            case "createdAt": return (a.record.createdAt, a.record.object.path) < (b.record.createdAt, b.record.object.path)
            case "lastCrawled": return (a.record.lastCrawled ?? .distantPast, a.record.object.path) < (b.record.lastCrawled ?? .distantPast, b.record.object.path)
            case "technology": return (a.record.technology.rawValue, a.record.object.path) < (b.record.technology.rawValue, b.record.object.path)
            default: return a.record.object.path < b.record.object.path
            }
        }
        return (views.count, Array(views.dropFirst(search.offset).prefix(search.limit)))
    }

    /// Queues a crawl from `path` (not a table).
    func crawl(_ path: DataObjectPath, caller: Principal, forceRecursive input: () async throws -> Bool) async throws
        -> (objectPath: DataObjectPath, bulkId: String) {
        let objects = try await visibleObjects(of: path, caller: caller, lineageOnly: true)
        guard objects[path] != nil else { throw ConnectionStore.objectNotFound }
        try await require(.adminOrOwner, on: path, objects: objects, caller: caller)
        guard path.kind != .table else {
            throw WardenError.badRequest("A crawl cannot start at a table: crawl its schema (\(path.parent!))", code: .crawlAtTable)
        }
        let (job, bulkId) = crawlJob(path, forceRecursive: try await input())
        _ = try await jobs.enqueue([job], createdBy: caller.userId, now: clock.now())
        await signal.wakeAll()
        return (path, bulkId)
    }

    /// Sets the object's overrides and applies what they change (states, data sources) in one transaction, before
    /// answering. Below the connection, owners and admins are only ever added.
    func updateSettings(_ path: DataObjectPath, caller: Principal, overrides input: () async throws -> DataObjectOverrides) async throws
        -> (view: ObjectView, bulkId: String) {
        var objects = try await visibleObjects(of: path, caller: caller)
        guard let object = objects[path] else { throw ConnectionStore.objectNotFound }
        try await require(.admin, on: path, objects: objects, caller: caller)
        let given = try await input()
        try await checkPrincipals(given)
        var overrides = object.object.overrides
        if path.segments.count == 1 {
            overrides = DataObjectOverrides(isActive: given.isActive ?? overrides.isActive, activateNewChildren: given.activateNewChildren ?? overrides.activateNewChildren,
                                            dataOwners: given.dataOwners ?? overrides.dataOwners,
                                            infrastructureAdmins: given.infrastructureAdmins ?? overrides.infrastructureAdmins)
        } else {
            overrides = overrides.merging(given)
        }
        objects[path]!.object.overrides = overrides
        guard let connection = try await connections.connection(key: path.connectionKey) else { throw ConnectionStore.notFound }
        let stored = objects.mapValues(\.object)
        var write = try await reconciled(stored, connection: connection)
        write.overrides = (path, overrides)
        // The owners in force below the object own the data sources the connection made there (the new ones are in
        // `write` already). A source someone registered through a handler, which a crawl only linked, stays theirs.
        let below = stored.values.filter { $0.path.kind == .table && path.contains($0.path) && $0.dataSourceId != nil }
        let made = Set(try await dataSources.handlers(dataSourceIds: below.compactMap(\.dataSourceId))
            .filter { $0.metadata["connectionKey"] == .string(path.connectionKey) }.map(\.dataSourceId))
        write.dataOwners += below.filter { made.contains($0.dataSourceId!) }
            .map { ($0.path, $0.dataSourceId, Self.dataOwners(of: $0.path, in: stored)) }
        write.actorId = caller.userId
        try await connections.commit(write, now: clock.now())
        let refreshed = try await connections.objects(connectionKey: path.connectionKey)
        guard let view = Self.view(path, in: Dictionary(uniqueKeysWithValues: refreshed.map { ($0.object.path, $0) })) else {
            throw ConnectionStore.objectNotFound
        }
        // Everything was applied in the request: the bulk id names no background job.
        return (view, idGenerator.id(prefix: "bulk_settings_"))
    }

    /// Deletes the object, its descendants and their data sources.
    func delete(_ path: DataObjectPath, caller: Principal) async throws -> (objectPath: DataObjectPath, childCount: Int) {
        let objects = try await visibleObjects(of: path, caller: caller, lineageOnly: true)
        guard objects[path] != nil else { throw ConnectionStore.objectNotFound }
        try await require(.adminOrOwner, on: path, objects: objects, caller: caller)
        let childCount = try await connections.delete(path, now: clock.now())
        await signal.wakeAll()  // the removal of the sources' views
        return (path, childCount)
    }

    // MARK: Crawling

    private func crawlJob(_ path: DataObjectPath, forceRecursive: Bool) -> (NewJob, String) {
        let bulkId = idGenerator.id(prefix: "bulk_crawl_")
        let payload: JSONValue = .object(["objectPath": .array(path.segments.map(JSONValue.string)), "forceRecursive": .bool(forceRecursive)])
        return (NewJob(id: idGenerator.id(), type: .crawl, payload: payload, bulkId: bulkId, maxAttempts: 3), bulkId)
    }

    /// Runs a crawl job: one catalog query per database, then one transaction that records what changed, creates the
    /// data sources of newly active tables, disables those of tables gone, and completes the job.
    func runCrawl(_ lease: JobLease) async throws -> JobOutcome {
        guard case .object(let payload) = lease.job.payload, case .array(let raw)? = payload["objectPath"] else {
            throw WardenError.badRequest("The crawl job names no object", code: .jobInvalidPayload)
        }
        let root = try DataObjectPath.parse(raw.compactMap(\.stringValue))
        let forceRecursive = payload["forceRecursive"] == .bool(true)
        guard let connection = try await connections.connection(key: root.connectionKey) else { throw ConnectionStore.notFound }
        let records = try await connections.objects(connectionKey: root.connectionKey)
        var stored = Dictionary(uniqueKeysWithValues: records.map { ($0.object.path, $0.object) })
        guard stored[root] != nil else { throw ConnectionStore.objectNotFound }
        let skipped = forceRecursive ? [] : Set(stored.values.filter { $0.path != root && $0.path.kind != .table && !$0.active }.map(\.path))

        let settings = try connectionSettings(connection, database: nil)
        let databases: [String]
        if root.segments.count > 1 {
            databases = [root.segments[1]]
        } else if let database = connection.connection["database"]?.stringValue {
            databases = [database]
        } else {
            databases = try await connectors.connector(for: settings).listDatabases()
        }
        var found: [DataObjectPath: CrawledTable?] = [:]
        var tablesSeen = 0
        for database in databases where !skipped.contains(root.lineage[0].child(database)) {
            let connector = try connectors.connector(for: try connectionSettings(connection, database: database))
            let base = DataObjectPath([root.connectionKey, database])
            // A database crawled before is compared by fingerprints first; only new and changed tables are described.
            let crawledBefore = stored.keys.contains { $0.kind == .table && base.contains($0) }
            var catalog = crawledBefore ? try await connector.catalogFingerprints() : try await connector.catalog()
            let changed = catalog.fingerprints.filter { table, fingerprint in
                stored[base.child(table.schema).child(table.table)]?.fingerprint != fingerprint
            }
            if !changed.isEmpty {
                let unread = changed.keys.filter { catalog.tables[$0] == nil }
                if !unread.isEmpty { catalog.tables.merge(try await connector.describe(unread)) { current, _ in current } }
                // What they held before, to tell a change of columns from another change to the table.
                let before = try await connections.columns(of: changed.keys.map { base.child($0.schema).child($0.table) })
                for (path, columns) in before { stored[path]?.columns = columns }
            }
            found[base] = .some(nil)
            for schema in catalog.schemas { found[base.child(schema)] = .some(nil) }
            for (table, fingerprint) in catalog.fingerprints {
                let path = base.child(table.schema).child(table.table)
                // A changed table that vanished before it was described counts as gone until the next crawl.
                if changed[table] != nil, catalog.tables[table] == nil { continue }
                found[base.child(table.schema)] = .some(nil)
                found[path] = CrawledTable(columns: catalog.tables[table] ?? [], fingerprint: fingerprint)
            }
            tablesSeen += catalog.fingerprints.count
            try? await jobs.progress(lease, output: .object(["objectPath": .array(root.segments.map(JSONValue.string)),
                                                             "databases": .int(Int64(databases.count)), "tablesSeen": .int(Int64(tablesSeen))]),
                                     now: clock.now())
        }
        let plan = ObjectSync.plan(root: root, found: found, stored: stored, skipped: skipped)
        for object in plan.inserted { stored[object.path] = object }
        for (path, present) in plan.presence { stored[path]?.present = present }
        for (path, table) in plan.columns {
            stored[path]?.columns = table.columns
            stored[path]?.fingerprint = table.fingerprint
        }
        var write = try await reconciled(stored, connection: connection)
        write.plan = plan
        write.crawled = root
        let output: JSONValue = .object([
            "objectPath": .array(root.segments.map(JSONValue.string)), "databases": .int(Int64(databases.count)), "tablesSeen": .int(Int64(tablesSeen)),
            "objectsAdded": .int(Int64(plan.inserted.count)), "objectsGone": .int(Int64(plan.presence.filter { !$0.present }.count)),
            "objectsBack": .int(Int64(plan.presence.filter(\.present).count)), "tablesWithNewColumns": .int(Int64(plan.columns.count)),
            "dataSourcesCreated": .int(Int64(write.drafts.count)), "dataSourcesDisabled": .int(Int64(write.disable.count)),
            "dataSourcesEnabled": .int(Int64(write.enable.count)),
        ])
        let now = clock.now()
        try await connections.commit(write, completing: JobCompletion(lease, output: output, now: now), now: now)
        return .recorded
    }

    /// What the objects' settings and presence make of their states and data sources, as a write.
    private func reconciled(_ objects: [DataObjectPath: StoredDataObject], connection: StoredConnection) async throws -> ObjectSyncWrite {
        let disabledIds = try await connections.disabledSources(connectionKey: connection.connectionKey)
        let disabled = Dictionary(uniqueKeysWithValues: objects.values.compactMap(\.dataSourceId).map { ($0, disabledIds.contains($0)) })
        let plan = ObjectSync.reconcile(objects, disabled: disabled)
        var write = ObjectSyncWrite(connectionKey: connection.connectionKey, owner: connection.createdBy)
        write.states = plan.states
        write.disable = plan.disable
        write.enable = plan.enable
        let password = try connections.openPassword(of: connection)
        // Columns a crawl just read come with the objects; the others (tables activated by a setting) from the store.
        let stored = try await connections.columns(of: plan.create.filter { objects[$0]?.columns == nil })
        var candidates: [(path: DataObjectPath, draft: DataSourceDraft)] = []
        for path in plan.create {
            guard let columns = objects[path]?.columns ?? stored[path],
                  let draft = try? Self.draft(for: path, columns: columns, connection: connection, password: password) else { continue }
            candidates.append((path, draft))
        }
        // A table registered before (by a handler) is linked, not registered twice; names already taken get a suffix.
        let taken = try await dataSources.taken(names: candidates.map(\.draft.names.name), sqlTableNames: candidates.map(\.draft.names.sqlTableName),
                                                remoteKeys: candidates.map { $0.draft.metadata.remoteKey(technology: connection.technology) })
        var fresh: [(path: DataObjectPath, draft: DataSourceDraft)] = []
        for (path, draft) in candidates {
            if let existing = taken.remoteKeys[draft.metadata.remoteKey(technology: connection.technology)] {
                write.links.append((path, existing))
            } else {
                fresh.append((path, draft))
            }
        }
        let drafts = DataSourceNames.disambiguated(fresh.map(\.draft), takenNames: taken.names, takenSQLTableNames: taken.sqlTableNames)
        write.drafts = Array(zip(fresh.map(\.path), drafts))
        write.dataOwners = write.drafts.map { ($0.path, nil, Self.dataOwners(of: $0.path, in: objects)) }
        return write
    }

    /// The data owners in force on an object: named on it or above it.
    static func dataOwners(of path: DataObjectPath, in objects: [DataObjectPath: StoredDataObject]) -> [SettingsPrincipal] {
        EffectiveSettings(chain: path.lineage.map { objects[$0]?.overrides ?? DataObjectOverrides() }).dataOwners
    }

    /// The data source of a crawled table: named `<connectionKey>.<database>.<schema>.<table>`, its handler reaching the
    /// table with the connection's credentials, its dictionary from the crawl.
    static func draft(for path: DataObjectPath, columns: [RemoteColumn], connection: StoredConnection, password: String) throws -> DataSourceDraft {
        var object = connection.connection.filter { HandlerMetadata.knownKeys.contains($0.key) && $0.key != "technology" }
        object["database"] = .string(path.segments[1])
        object["schema"] = .string(path.segments[2])
        object["table"] = .string(path.segments[3])
        object["password"] = .string(password)
        object["connectionKey"] = .string(connection.connectionKey)
        let metadata = try HandlerMetadata.parse(object, path: "connection", technology: connection.technology, passwordRequired: true)
        var name = path.segments.joined(separator: ".")
        while name.count > 256 { name.removeLast() }
        let names = DataSourceNames(metadata: metadata, template: NameTemplate(), name: name,
                                    sqlTableName: SQLIdentifier.plain(path.segments.dropFirst().joined(separator: "_")))
        return DataSourceDraft(names: names, technology: connection.technology, settings: DataSourceSettings(), metadata: metadata,
                               columns: columns.map(HandlerService.dictionaryColumn), rowCount: nil)
    }

    private func connectionSettings(_ connection: StoredConnection, database: String?) throws -> ConnectionSettings {
        let stored = connection.connection
        let fallback = connection.technology == .redshift ? "dev" : "postgres"
        return ConnectionSettings(technology: connection.technology, hostname: stored["hostname"]?.stringValue ?? "",
                                  port: Int(stored["port"]?.int64Value ?? Int64(connection.technology.defaultPort)),
                                  database: database ?? stored["database"]?.stringValue ?? fallback, username: stored["username"]?.stringValue ?? "",
                                  password: try connections.openPassword(of: connection), ssl: stored["ssl"] == .bool(true),
                                  warehouse: stored["warehouse"]?.stringValue, role: stored["role"]?.stringValue,
                                  httpPath: stored["httpPath"]?.stringValue, authenticationType: stored["authenticationType"]?.stringValue)
    }

    // MARK: Authorization

    enum Role { case admin, adminOrOwner }

    /// The connection's objects, when the caller may see them: with CREATE_DATA_SOURCE, APPLICATION_ADMIN or
    /// INFRASTRUCTURE_ADMIN, or as an admin or owner somewhere in its hierarchy. Others get 404, as for a connection
    /// that does not exist.
    /// `lineageOnly`: the objects on the path's lineage (and those naming people), all a decision about one object needs.
    private func visibleObjects(of path: DataObjectPath, caller: Principal, lineageOnly: Bool = false) async throws
        -> [DataObjectPath: DataObjectRecord] {
        let records = lineageOnly ? try await connections.lineage(path) : try await connections.objects(connectionKey: path.connectionKey)
        guard !records.isEmpty else { throw path.segments.count == 1 ? ConnectionStore.notFound : ConnectionStore.objectNotFound }
        let objects = Dictionary(uniqueKeysWithValues: records.map { ($0.object.path, $0) })
        if caller.has(.createDataSource) || caller.has(.applicationAdmin) || caller.has(.infrastructureAdmin) { return objects }
        let me = try await principals(of: caller)
        let named = records.contains { record in
            let own = record.object.overrides
            return !me.isDisjoint(with: (own.dataOwners ?? []) + (own.infrastructureAdmins ?? []))
        }
        guard named else { throw path.segments.count == 1 ? ConnectionStore.notFound : ConnectionStore.objectNotFound }
        return objects
    }

    /// 403 unless the caller holds `role` on the object: INFRASTRUCTURE_ADMIN (the permission, or the setting in force
    /// on the object) and, for `adminOrOwner`, a data owner in force on it.
    private func require(_ role: Role, on path: DataObjectPath, objects: [DataObjectPath: DataObjectRecord], caller: Principal) async throws {
        if caller.has(.infrastructureAdmin) { return }
        let settings = EffectiveSettings(chain: path.lineage.map { objects[$0]?.object.overrides ?? DataObjectOverrides() })
        let me = try await principals(of: caller)
        if !me.isDisjoint(with: settings.infrastructureAdmins) { return }
        if role == .adminOrOwner, !me.isDisjoint(with: settings.dataOwners) { return }
        throw WardenError.forbidden(role == .admin ? "Only an infrastructure admin of \(path) may do this"
                                                   : "Only an infrastructure admin or data owner of \(path) may do this", code: .authForbidden)
    }

    private func principals(of caller: Principal) async throws -> Set<SettingsPrincipal> {
        Set([SettingsPrincipal(id: caller.userId, type: .user)] + (try await connections.groupIds(userId: caller.userId)).map { SettingsPrincipal(id: $0, type: .group) })
    }

    /// 400 naming users and groups that do not exist.
    private func checkPrincipals(_ overrides: DataObjectOverrides) async throws {
        let all = (overrides.dataOwners ?? []) + (overrides.infrastructureAdmins ?? [])
        let missing = try await connections.missing(all)
        guard missing.isEmpty else {
            throw WardenError.badRequest("No such \(missing.map { "\($0.type.rawValue) \($0.id)" }.joined(separator: ", "))", code: .requestValidationFailed)
        }
    }

    static func view(_ path: DataObjectPath, in objects: [DataObjectPath: DataObjectRecord]) -> ObjectView? {
        views([path], in: objects).first
    }

    /// The objects at `paths` as the API shows them. Which settings are overridden below each is found in one pass.
    static func views(_ paths: [DataObjectPath], in objects: [DataObjectPath: DataObjectRecord]) -> [ObjectView] {
        let wanted = Set(paths)
        var below: [DataObjectPath: Set<String>] = [:]
        for (path, object) in objects {
            let names = object.object.overrides.names
            guard !names.isEmpty else { continue }
            for ancestor in path.lineage.dropLast() where wanted.contains(ancestor) { below[ancestor, default: []].formUnion(names) }
        }
        return paths.compactMap { path in
            guard let record = objects[path] else { return nil }
            let settings = EffectiveSettings(chain: path.lineage.map { objects[$0]?.object.overrides ?? DataObjectOverrides() })
            return ObjectView(record: record, settings: settings, overriddenBelow: below[path] ?? [])
        }
    }
}
