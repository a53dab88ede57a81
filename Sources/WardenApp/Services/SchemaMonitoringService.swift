import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Schema monitoring: `PUT /dataSource/detectRemoteChanges` and its nightly schedule. Column detection compares each
/// source's table with its dictionary; schema detection finds the tables that appeared in or vanished from a schema
/// with registered sources. Both are jobs.
struct SchemaMonitoringService: Sendable {
    let dataSources: DataSourceStore
    let dictionaries: DictionaryStore
    let access: DataSourceAccess
    let jobs: JobStore
    let connectors: any ConnectorFactory
    let signal: JobSignal
    let clock: any WardenClock
    let idGenerator: any IdGenerator
    /// New columns are masked to NULL until an owner reviews them (`WARDEN_MASK_NEW_COLUMNS`, on by default).
    let maskNewColumns: Bool

    struct Started: Sendable {
        var bulkId: String
        var schemaJobs: [String]
        var columnJobs: [String]
        var listsJobs: Bool
    }

    static let evolutionNotFound = WardenError.notFound("Schema evolution group not found", code: .dataSourceSchemaEvolutionNotFound)

    /// Queues column detection for every chosen source, and schema detection for every schema they are in. Callers
    /// choose among the sources they own; naming one they do not own is a 403 (or 404 when they may not see it). A
    /// schema evolution group is seen by whoever registered it and the owners of its sources (its `ownerProfileId` was
    /// named by the registrant, so it grants nothing), and detection runs on those of its sources the caller owns.
    func detect(_ scope: DetectionScope, caller: Principal) async throws -> Started {
        let now = clock.now()
        var handlers: [StoredHandler]
        var skipColumns = false
        if case .schemaEvolution(let id, let skip) = scope {
            guard let group = try await dataSources.schemaEvolution(id: id) else { throw Self.evolutionNotFound }
            handlers = try await dataSources.enabledHandlers(ownedBy: caller.userId, schemaEvolutionId: id, now: now)
            if handlers.isEmpty, group.createdBy != caller.userId { throw Self.evolutionNotFound }
            skipColumns = skip
        } else if case .dataSources(let ids) = scope {
            let owned = try await dataSources.ownedIds(among: ids, userId: caller.userId, now: now)
            for id in ids where !owned.contains(id) { _ = try await access.require([.owner], on: id, caller: caller) }
            handlers = try await dataSources.handlers(dataSourceIds: ids)
            let found = Set(handlers.map(\.dataSourceId))
            if let id = ids.first(where: { !found.contains($0) }) {
                throw WardenError.badRequest("Data source \(id) has no warehouse table to monitor", code: .requestValidationFailed)
            }
        } else {
            handlers = try await dataSources.enabledHandlers(ownedBy: caller.userId, now: now).filter { handler in
                guard let metadata = try? Self.metadata(handler) else { return false }
                return scope.matches(hostname: metadata.hostname, port: metadata.port, database: metadata.database, table: metadata.table)
            }
        }
        let bulkId = idGenerator.id(prefix: "bulk_detect_")
        var (schemaJobs, columnJobs) = try plan(handlers, bulkId: bulkId)
        if skipColumns { columnJobs = [] }
        _ = try await jobs.enqueue(schemaJobs + columnJobs, createdBy: caller.userId, now: now)
        await signal.wakeAll()
        return Started(bulkId: bulkId, schemaJobs: schemaJobs.map(\.id), columnJobs: columnJobs.map(\.id), listsJobs: scope.listsJobs)
    }

    /// The scheduled run (`schemaMonitoring`): detection for every enabled source, as the system.
    func runScheduled(_ lease: JobLease) async throws -> JobOutcome {
        let handlers = try await dataSources.enabledHandlers(ownedBy: nil, now: clock.now())
        guard !handlers.isEmpty else { return .output(.object(["schemaDetectionJobs": .int(0), "columnDetectionJobs": .int(0)])) }
        let (schemaJobs, columnJobs) = try plan(handlers, bulkId: idGenerator.id(prefix: "bulk_detect_"))
        _ = try await jobs.enqueue(schemaJobs + columnJobs, createdBy: 0, now: clock.now())
        await signal.wakeAll()
        return .output(.object(["schemaDetectionJobs": .int(Int64(schemaJobs.count)), "columnDetectionJobs": .int(Int64(columnJobs.count))]))
    }

    /// One column detection job per source, one schema detection job per schema of a connection (and schema
    /// evolution group: a group's new tables join it, named by its template).
    private func plan(_ handlers: [StoredHandler], bulkId: String) throws -> (schema: [NewJob], column: [NewJob]) {
        var groups: [String: (evolution: Int64?, ids: [Int64])] = [:]
        for handler in handlers {
            guard let metadata = try? Self.metadata(handler) else { continue }
            let key = [handler.technology.rawValue, metadata.connectionString(), metadata.table.schema, handler.schemaEvolutionId.map(String.init) ?? ""]
                .joined(separator: "\u{1F}")
            groups[key, default: (handler.schemaEvolutionId, [])].ids.append(handler.dataSourceId)
        }
        let schema = groups.keys.sorted().map { key in
            let (evolution, ids) = groups[key]!
            var payload: [String: JSONValue] = ["dataSourceIds": .array(ids.map(JSONValue.int))]
            if let evolution { payload["schemaEvolutionId"] = .int(evolution) }
            return NewJob(id: idGenerator.id(), type: .schemaDetection, payload: .object(payload), dataSourceId: ids[0], bulkId: bulkId)
        }
        let column = handlers.map { NewJob(id: idGenerator.id(), type: .columnDetection, dataSourceId: $0.dataSourceId, bulkId: bulkId) }
        return (schema, column)
    }

    static func metadata(_ handler: StoredHandler) throws -> HandlerMetadata {
        try HandlerMetadata.parse(handler.metadata, path: "stored", technology: handler.technology, passwordRequired: false)
    }

    private func loaded(_ id: Int64) async throws -> (DataSource, StoredHandler, HandlerMetadata, ConnectionSettings) {
        guard let source = try await dataSources.dataSource(id: id), let handler = try await dataSources.handler(dataSourceId: id) else {
            throw DataSourceStore.notFound
        }
        let metadata = try Self.metadata(handler)
        return (source, handler, metadata, metadata.settings(technology: handler.technology, storedPassword: try dataSources.openPassword(of: handler)))
    }

    /// Who a change is reported to and by: the source's owners; the job's creator, or the first owner for the schedule.
    private func owners(of id: Int64, createdBy: Int64) async throws -> (owners: [Int64], actor: Int64) {
        let owners = try await dataSources.members(dataSourceId: id, now: clock.now()).filter { $0.state == .owner }.map(\.userId)
        return (owners, createdBy > 0 ? createdBy : owners.first ?? 1)
    }

    // MARK: Jobs

    /// Compares the table's columns with the dictionary and applies the difference with its tasks, in one transaction
    /// with the job's completion.
    func runColumnDetection(_ lease: JobLease) async throws -> JobOutcome {
        guard let id = lease.job.dataSourceId else { throw WardenError.badRequest("The job names no data source", code: .jobInvalidPayload) }
        let (_, _, metadata, settings) = try await loaded(id)
        guard let described = try await connectors.connector(for: settings).describe([metadata.table])[metadata.table] else {
            // Schema detection disables a source whose table vanished; column detection reports it.
            let message = "Table \(metadata.table) no longer exists in database \(settings.database)"
            try await dataSources.recordCheck(id: id, name: "columnEvolution", check: .object([
                "status": .string("failed"), "message": .string(message), "lastAttempted": .string(ISODate.format(clock.now())),
            ]), notRun: DataSourcePayload.healthCheckNotRun)
            return .output(.object(["dataSourceId": .int(id), "tableMissing": .bool(true), "message": .string(message)]))
        }
        let current = try await dictionaries.dictionary(dataSourceId: id)?.columns ?? []
        let changes = ColumnChanges(dictionary: current, remote: described.map(HandlerService.dictionaryColumn))
        let (owners, actor) = try await owners(of: id, createdBy: lease.job.createdBy)
        let output: JSONValue = .object([
            "dataSourceId": .int(id), "columnsAdded": .array(changes.added.map { .string($0.name) }),
            "columnsDeleted": .array(changes.deleted.map(JSONValue.string)), "columnsTypeChanged": .array(changes.typeChanged.map { .string($0.name) }),
            "maskedUntilReviewed": .bool(maskNewColumns && !changes.added.isEmpty),
        ])
        let now = clock.now()
        try await dictionaries.applyDetection(dataSourceId: id, changes: changes, maskNew: maskNewColumns, owners: owners, actorId: actor,
                                              completing: JobCompletion(lease, output: output, now: now), now: now)
        try? await dataSources.recordCheck(id: id, name: "columnEvolution", check: .object(["status": .string("passed"),
                                                                                          "lastAttempted": .string(ISODate.format(now))]),
                                           notRun: DataSourcePayload.healthCheckNotRun)
        return .recorded
    }

    /// Registers the tables that appeared in the schema (owned like the job's first source; in its schema evolution
    /// group and named by the group's template when it has one, else by the default template) and disables the job's
    /// sources whose tables vanished.
    func runSchemaDetection(_ lease: JobLease) async throws -> JobOutcome {
        guard case .object(let payload) = lease.job.payload, case .array(let raw)? = payload["dataSourceIds"] else {
            throw WardenError.badRequest("The job names no data sources", code: .jobInvalidPayload)
        }
        let ids = raw.compactMap(\.int64Value)
        guard let first = ids.first else { return .output(.object([:])) }
        // A group deleted since the job was queued: its new tables are registered as any others.
        var evolution: SchemaEvolution?
        if let id = payload["schemaEvolutionId"]?.int64Value { evolution = try await dataSources.schemaEvolution(id: id) }
        let (_, _, metadata, settings) = try await loaded(first)
        let technology = settings.technology
        let schema = metadata.table.schema
        let connector = try connectors.connector(for: settings)
        let remote = Set(try await connector.listTables(schema: schema))
        let now = clock.now()
        let (owners, actor) = try await owners(of: first, createdBy: lease.job.createdBy)

        let disabled = try await dataSources.disabledStates(ids: ids)
        let vanished = try await dataSources.handlers(dataSourceIds: ids).compactMap { handler -> Int64? in
            guard let table = try? Self.metadata(handler).table, !remote.contains(table.table), disabled[handler.dataSourceId] == false else { return nil }
            return handler.dataSourceId
        }
        for id in vanished {
            var changes = DataSourceChanges()
            changes.deleted = true
            _ = try await dataSources.update(id: id, changes: changes, actorId: actor, now: now)
        }

        // Tables not registered yet, by anyone: the remote key says whether a table is.
        let candidates = remote.sorted().map { name -> HandlerMetadata in
            var table = metadata
            table.table = TableReference(schema: schema, table: name)
            table.password = nil
            table.dataSourceName = nil
            table.sqlTableName = nil
            return table
        }
        let taken = try await dataSources.taken(names: [], sqlTableNames: [], remoteKeys: candidates.map { $0.remoteKey(technology: technology) })
        let fresh = candidates.filter { taken.remoteKeys[$0.remoteKey(technology: technology)] == nil }
        var created: [DataSource] = []
        if !fresh.isEmpty {
            let described = try await connector.describe(fresh.map(\.table))
            var drafts = fresh.compactMap { table -> DataSourceDraft? in
                guard let columns = described[table.table] else { return nil }
                var withPassword = table
                withPassword.password = settings.password
                return DataSourceDraft(names: DataSourceNames(metadata: table, template: evolution?.template ?? NameTemplate()),
                                       technology: technology, settings: DataSourceSettings(), metadata: withPassword,
                                       columns: columns.map(HandlerService.dictionaryColumn), rowCount: nil, schemaEvolutionId: evolution?.id)
            }
            let names = try await dataSources.taken(names: drafts.map(\.names.name), sqlTableNames: drafts.map(\.names.sqlTableName), remoteKeys: [])
            drafts = DataSourceNames.disambiguated(drafts, takenNames: names.names, takenSQLTableNames: names.sqlTableNames)
            let owner = owners.first ?? actor
            created = try await dataSources.create(drafts, owner: owner, jobs: { [idGenerator] id in
                [NewJob(id: idGenerator.id(), type: .highCardinality, dataSourceId: id)]
            }, now: now)
            await signal.wakeAll()
        }
        return .output(.object(["schema": .string(schema), "dataSourcesCreated": .array(created.map { .int($0.id) }),
                                "dataSourcesDisabled": .array(vanished.map(JSONValue.int))]))
    }
}
