import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// What running a job produced: its completion was recorded in the transaction of its effect, or it is to be
/// recorded by the worker (a job whose effect is not in the metastore).
enum JobOutcome: Sendable, Equatable {
    case recorded
    case output(JSONValue)
}

/// Carries out one job. Every effect in the metastore commits in one transaction with the job's completion, so a
/// job is applied once in effect: a crash before the commit leaves nothing done, a crash after it leaves the job
/// completed, and a worker whose lease passed to another commits nothing.
struct JobRunner: Sendable {
    let dataSources: DataSourceStore
    let dictionaries: DictionaryStore
    let handlers: HandlerService
    let bulk: DataSourceService
    let connectors: any ConnectorFactory
    let secrets: SecretBox
    let subscriptions: SubscriptionStore
    let enforcement: EnforcementService
    let connections: ConnectionService
    let monitoring: SchemaMonitoringService
    let clock: any WardenClock

    func run(_ lease: JobLease) async throws -> JobOutcome {
        let job = lease.job
        switch job.type {
        case .dataSourceBulk:
            // A bulk action on a missing source must fail visibly rather than be skipped.
            return try await bulk.applyBulk(lease)
        case .subscriptionExpiry:
            try await subscriptions.expire(now: clock.now(), completing: lease)
            return .recorded
        case .nativeViewRefresh:
            return try (await runViewRefreshes([lease])[job.id] ?? .failure(Self.notRun)).get()
        case .nativeViewRemoval:
            return .output(try await enforcement.remove(job))
        case .highCardinality, .handlerUpdate:
            return try await runOnSource(lease)
        case .crawl:
            return try await connections.runCrawl(lease)
        case .columnDetection:
            return try await monitoring.runColumnDetection(lease)
        case .schemaDetection:
            return try await monitoring.runSchemaDetection(lease)
        case .schemaMonitoring:
            return try await monitoring.runScheduled(lease)
        }
    }

    static let notRun = WardenError(.internalError, code: .jobInvalidPayload, message: "The job was not run")

    /// Native view refreshes, many at once: the views of sources on one warehouse are applied in one transaction.
    func runViewRefreshes(_ leases: [JobLease]) async -> [String: Result<JobOutcome, any Error>] {
        var outcomes: [String: Result<JobOutcome, any Error>] = [:]
        var items: [(source: DataSource, handler: StoredHandler)] = []
        var jobIds: [Int64: [String]] = [:]
        // Every job's source and handler in two queries for the batch.
        let ids = leases.compactMap(\.job.dataSourceId)
        let loaded: [String: Result<(DataSource, StoredHandler)?, any Error>]
        do {
            let sources = try await dataSources.dataSources(ids: ids)
            let handlers = Dictionary(try await dataSources.handlers(dataSourceIds: ids).map { ($0.dataSourceId, $0) }, uniquingKeysWith: { first, _ in first })
            loaded = Dictionary(leases.map { lease in
                guard let id = lease.job.dataSourceId else {
                    return (lease.job.id, .failure(WardenError.badRequest("The job names no data source", code: .jobInvalidPayload)))
                }
                guard let source = sources[id], let handler = handlers[id] else { return (lease.job.id, .success(nil)) }
                return (lease.job.id, .success((source, handler)))
            }, uniquingKeysWith: { first, _ in first })
        } catch {
            return Dictionary(leases.map { ($0.job.id, .failure(error)) }, uniquingKeysWith: { first, _ in first })
        }
        for lease in leases {
            let job = lease.job
            switch loaded[job.id] {
            case .success(let (source, handler)?):
                if jobIds[source.id] == nil { items.append((source, handler)) }
                jobIds[source.id, default: []].append(job.id)
            case .success(nil):
                outcomes[job.id] = .success(.output(.object(["skipped": .string("The data source no longer exists")])))
            case .failure(let error):
                outcomes[job.id] = .failure(error)
            case nil:
                outcomes[job.id] = .failure(Self.notRun)
            }
        }
        for (id, result) in await enforcement.refresh(items) {
            for jobId in jobIds[id] ?? [] { outcomes[jobId] = result.map(JobOutcome.output) }
        }
        return outcomes
    }

    /// The job types that act on one data source's handler; a source deleted meanwhile leaves nothing to do.
    private func runOnSource(_ lease: JobLease) async throws -> JobOutcome {
        let job = lease.job
        guard let id = job.dataSourceId else {
            throw WardenError.badRequest("The job names no data source", code: .jobInvalidPayload)
        }
        guard let source = try await dataSources.dataSource(id: id), let handler = try await dataSources.handler(dataSourceId: id) else {
            return .output(.object(["skipped": .string("The data source no longer exists")]))
        }
        switch job.type {
        case .highCardinality:
            try await computeHighCardinality(source, handler: handler, lease: lease)
            return .recorded
        case .handlerUpdate:
            try await applyHandlerPatch(lease, source: source, handler: handler)
            return .recorded
        case .dataSourceBulk, .subscriptionExpiry, .nativeViewRefresh, .nativeViewRemoval, .crawl, .columnDetection, .schemaDetection, .schemaMonitoring:
            throw WardenError(.internalError, code: .jobInvalidPayload, message: "A \(job.type.rawValue) job does not act on one handler")
        }
    }

    private func computeHighCardinality(_ source: DataSource, handler: StoredHandler, lease: JobLease) async throws {
        let metadata = try HandlerMetadata.parse(handler.metadata, path: "stored", technology: source.technology, passwordRequired: false)
        let settings = metadata.settings(technology: source.technology, storedPassword: try dataSources.openPassword(of: handler))
        let columns = try await dictionaries.dictionary(dataSourceId: source.id)?.columns.map(\.name) ?? []
        let column = try await connectors.connector(for: settings)
            .highCardinalityColumn(of: source.remoteTable, columns: columns, rowCount: source.rowCount)
        let now = clock.now()
        try await dataSources.setHighCardinalityColumn(
            dataSourceId: source.id, column: column, now: now,
            completing: JobCompletion(lease, output: .object(["highCardinalityColumn": column.map(JSONValue.string) ?? .null]), now: now))
    }

    /// Merges the bulk patch into the stored metadata and applies it like a handler update.
    private func applyHandlerPatch(_ lease: JobLease, source: DataSource, handler: StoredHandler) async throws {
        let job = lease.job
        guard case .object(let payload) = job.payload, case .object(var patch)? = payload["patch"], let bulkId = job.bulkId else {
            throw WardenError.badRequest("The job payload is not a handler patch", code: .jobInvalidPayload)
        }
        var merged = handler.metadata
        for (key, sealedKey) in HandlerService.sealedKeys {
            if case .string(let sealed)? = patch.removeValue(forKey: sealedKey) {
                merged[key] = .string(try secrets.open(sealed, recordId: HandlerService.jobSecretRecordId(bulkId)))
            }
        }
        merged.merge(patch) { _, new in new }
        let metadata = try HandlerMetadata.parse(merged, path: "handler.metadata", technology: source.technology, passwordRequired: false)
        let output = JSONValue.object(["dataSourceId": .int(source.id), "connectionString": .string(metadata.connectionString())])
        _ = try await handlers.apply(metadata, to: source, handler: handler, by: job.createdBy,
                                     completing: JobCompletion(lease, output: output, now: clock.now()))
    }
}
