import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Registers warehouse tables as data sources and manages their handlers.
struct HandlerService: Sendable {
    let dataSources: DataSourceStore
    let access: DataSourceAccess
    let dictionaries: DictionaryStore
    let jobs: JobStore
    let connectors: any ConnectorFactory
    let secrets: SecretBox
    let signal: JobSignal
    let clock: any WardenClock
    let idGenerator: any IdGenerator

    /// A parsed `POST /{tech}/handler` body.
    struct Registration: Sendable {
        var handlers: [HandlerMetadata]
        var settings: DataSourceSettings
        var template: NameTemplate
        /// `schemaEvolution`: the sources are put in a new schema evolution group.
        var evolution: Evolution? = nil
        /// `dataSource.name` and `dataSource.sqlTableName`: they name the one data source a single handler creates.
        var name: String? = nil
        var sqlTableName: String? = nil
        /// What the request carried that Warden did not use, said back in `warnings`.
        var warnings: [String] = []
    }

    /// A schema evolution group to make: its owner (`ownerProfileId`; the registering user when absent) and template.
    struct Evolution: Sendable {
        var ownerId: Int64?
        var template: NameTemplate
    }

    struct Created: Sendable {
        var dataSource: DataSource
        var warnings: [String]
    }

    // MARK: Registration

    /// Reads the catalog for every table, then creates all data sources in one transaction.
    func register(_ registration: Registration, technology: Technology, owner: Principal) async throws -> [Created] {
        try owner.require(.createDataSource)
        var drafts: [DataSourceDraft] = []
        var seenTables: Set<String> = []
        var seenNames: Set<String> = []
        for (index, metadata) in registration.handlers.enumerated() {
            let names = DataSourceNames(metadata: metadata, template: registration.template, name: registration.name,
                                        sqlTableName: registration.sqlTableName)
            try names.validate(path: "handler[\(index)].metadata")
            guard seenTables.insert(metadata.remoteKey(technology: technology)).inserted else {
                throw WardenError.badRequest("duplicate tables are specified in the payload: \(metadata.table)", code: .handlerDuplicateTables)
            }
            guard seenNames.insert(names.name).inserted else {
                throw WardenError.badRequest("duplicate data source names are specified in the payload: \(names.name)",
                                             code: .handlerDuplicateNames)
            }
            guard seenNames.insert("sql:" + names.sqlTableName).inserted else {
                throw WardenError.badRequest("duplicate SQL table names are specified in the payload: \(names.sqlTableName) "
                                             + "(set bodataTableName or a tableFormat such as <schema>_<tablename>)",
                                             code: .handlerDuplicateNames)
            }
            drafts.append(DataSourceDraft(names: names, technology: technology, settings: registration.settings,
                                          metadata: metadata, columns: [], rowCount: nil))
        }
        guard technology.hasConnector else { throw technology.missingConnector }

        // One catalog query and one batch of counts per distinct connection.
        let groups = Dictionary(grouping: drafts.indices) { drafts[$0].metadata.settings(technology: technology, storedPassword: nil) }
        for (settings, indices) in groups {
            let connector = try connectors.connector(for: settings)
            let tables = indices.map { drafts[$0].metadata.table }
            let described = try await connector.describe(tables)
            let missing = tables.filter { described[$0] == nil }
            guard missing.isEmpty else {
                throw WardenError.badRequest(
                    "Table\(missing.count == 1 ? "" : "s") \(missing.map(\.description).joined(separator: ", ")) "
                        + "\(missing.count == 1 ? "does" : "do") not exist in database \(settings.database) at \(settings.hostname):\(settings.port)",
                    code: .warehouseTableNotFound)
            }
            let counts = try await connector.rowCounts(tables)
            for index in indices {
                let table = drafts[index].metadata.table
                drafts[index].columns = described[table]!.map(Self.dictionaryColumn)
                drafts[index].rowCount = counts[table]
            }
        }
        let evolution = registration.evolution.map { (ownerId: $0.ownerId ?? owner.userId, template: $0.template) }
        let sources = try await dataSources.create(drafts, owner: owner.userId, evolution: evolution, jobs: { id in
            [NewJob(id: idGenerator.id(), type: .highCardinality, dataSourceId: id)]
        }, now: clock.now())
        await signal.wakeAll()
        return sources.map { source in
            Created(dataSource: source, warnings: source.rowCount == 0 ? ["The table is empty"] : [])
        }
    }

    static func dictionaryColumn(_ column: RemoteColumn) -> DictionaryColumn {
        DictionaryColumn(name: column.name, dataType: TypeMapping.dataType(forBaseType: column.baseType),
                         remoteType: column.remoteType, nullable: column.nullable)
    }

    // MARK: Handlers

    /// The handler and its data source, for a caller who owns it or curates it as an expert.
    /// Others get 404 when they cannot see the source at all, 403 when they can.
    func handler(id: Int64, technology: Technology, caller: Principal, roles: Set<MemberState> = [.owner, .expert])
        async throws -> (DataSource, StoredHandler) {
        let source: DataSource
        do {
            source = try await access.require(roles, on: id, caller: caller)
        } catch let error as WardenError where error.kind == .notFound {
            throw Self.handlerNotFound
        }
        guard source.technology == technology, let handler = try await dataSources.handler(dataSourceId: id) else {
            throw Self.handlerNotFound
        }
        return (source, handler)
    }

    static let handlerNotFound = WardenError.notFound("Handler not found", code: .handlerNotFound)

    /// Replaces the handler's metadata. The connection is checked again when it or the table changed; given
    /// columns replace the dictionary, omitted ones keep it; an omitted password keeps the stored one. Answers the
    /// source, the stored handler and its dictionary's columns. `metadata` is read only once the caller is known to
    /// own the handler, so a refused caller learns nothing from a validation error.
    func update(id: Int64, technology: Technology, caller: Principal, metadata input: () async throws -> HandlerMetadata) async throws
        -> (DataSource, StoredHandler, [DictionaryColumn]) {
        let (source, handler) = try await self.handler(id: id, technology: technology, caller: caller, roles: [.owner])
        let metadata = try await input()
        let updated = try await apply(metadata, to: source, handler: handler, by: caller.userId)
        guard let stored = try await dataSources.handler(dataSourceId: id) else { throw Self.handlerNotFound }
        return (updated, stored, try await dictionaries.dictionary(dataSourceId: id)?.columns ?? [])
    }

    /// Applies metadata to a handler. When the table itself changed and no columns were given, the dictionary
    /// is read again from the catalog (the old one describes another table) and its cardinality recomputed.
    func apply(_ metadata: HandlerMetadata, to source: DataSource, handler: StoredHandler, by userId: Int64,
               completing: JobCompletion? = nil) async throws -> DataSource {
        let storedPassword = try dataSources.openPassword(of: handler)
        let settings = metadata.settings(technology: source.technology, storedPassword: storedPassword)
        let previous = try HandlerMetadata.parse(handler.metadata, path: "stored", technology: source.technology, passwordRequired: false)
            .settings(technology: source.technology, storedPassword: storedPassword)
        var rowCount: Int64?
        var columns = metadata.columns
        var followUps: [NewJob] = []
        if settings != previous || metadata.table != source.remoteTable {
            let connector = try connectors.connector(for: settings)
            guard let described = try await connector.describe([metadata.table])[metadata.table] else {
                throw WardenError.badRequest("Table \(metadata.table) does not exist in database \(settings.database) at "
                                             + "\(settings.hostname):\(settings.port)", code: .warehouseTableNotFound)
            }
            rowCount = try await connector.rowCounts([metadata.table])[metadata.table]
            if metadata.table != source.remoteTable {
                columns = columns ?? described.map(Self.dictionaryColumn)
                followUps.append(NewJob(id: idGenerator.id(), type: .highCardinality, dataSourceId: source.id))
            }
        }
        let updated = try await dataSources.updateHandler(dataSourceId: source.id, technology: source.technology, metadata: metadata,
                                                          newPassword: metadata.password, rowCount: rowCount, columns: columns,
                                                          jobs: followUps, by: userId, now: clock.now(), completing: completing)
        if !followUps.isEmpty { await signal.wakeAll() }
        return updated
    }

    /// Enqueues one update job per handler the caller owns with this connection string.
    func bulkUpdate(technology: Technology, connectionString: String, patch: [String: JSONValue], caller: Principal)
        async throws -> (bulkId: String, jobs: Int) {
        try Self.validatePatch(patch, technology: technology)
        // Without a connector no job could succeed; "0 jobs created" would read as success.
        guard technology.hasConnector else { throw technology.missingConnector }
        let ids = try await dataSources.ownedHandlerIds(technology: technology, connectionString: connectionString, userId: caller.userId)
        let bulkId = idGenerator.id(prefix: "bulk_ds_update_")
        var safePatch = patch.filter { !HandlerMetadata.unstoredKeys.contains($0.key) }
        for (key, sealedKey) in Self.sealedKeys {
            // Secrets travel sealed: job payloads are stored like every other secret.
            if case .string(let secret)? = patch[key] {
                safePatch[sealedKey] = .string(try secrets.seal(secret, recordId: Self.jobSecretRecordId(bulkId)))
            }
        }
        let jobsToCreate = ids.map { id in
            NewJob(id: idGenerator.id(), type: .handlerUpdate, payload: .object(["patch": .object(safePatch)]), dataSourceId: id, bulkId: bulkId)
        }
        _ = try await jobs.enqueue(jobsToCreate, createdBy: caller.userId, now: clock.now())
        await signal.wakeAll()
        return (bulkId, jobsToCreate.count)
    }

    static func jobSecretRecordId(_ bulkId: String) -> String { "job-payload:\(bulkId)" }

    /// Each secret a patch may carry (a password, Databricks' token, Snowflake's private key) and the key it travels
    /// under, sealed, in a bulk update job's payload.
    static let sealedKeys = ["password": "sealedPassword", "token": "sealedToken", "privateKey": "sealedPrivateKey"]

    /// Checks the patch's values now, so a bad bulk request is a 400 rather than failing jobs later:
    /// it is parsed over placeholder values for the fields a patch need not carry.
    static func validatePatch(_ patch: [String: JSONValue], technology: Technology) throws {
        for key in sealedKeys.values where patch[key] != nil {
            throw WardenError.badRequest("`handler.metadata.\(key)` is not accepted", code: .requestValidationFailed)
        }
        var probe: [String: JSONValue] = ["hostname": .string("h"), "database": .string("d"), "username": .string("u"),
                                          "schema": .string("s"), "table": .string("t"), "httpPath": .string("/sql/1.0/warehouses/probe")]
        probe.merge(patch) { _, new in new }
        try HandlerMetadata.parse(probe, path: "handler.metadata", technology: technology, passwordRequired: false)
            .validateGivenNames(path: "handler.metadata")
    }

    /// Enqueues a job for one data source the caller owns and returns its id.
    func trigger(_ type: JobType, handlerId: Int64, technology: Technology, caller: Principal) async throws -> String {
        _ = try await handler(id: handlerId, technology: technology, caller: caller, roles: [.owner])
        let job = try await jobs.enqueue([NewJob(id: idGenerator.id(), type: type, dataSourceId: handlerId)], createdBy: caller.userId, now: clock.now())[0]
        await signal.wakeAll()
        return job.id
    }
}
