import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Carries out one job. Every job type is idempotent: running it twice leaves the same state as once.
struct JobRunner: Sendable {
    let dataSources: DataSourceStore
    let dictionaries: DictionaryStore
    let handlers: HandlerService
    let bulk: DataSourceService
    let connectors: any ConnectorFactory
    let secrets: SecretBox
    let subscriptions: SubscriptionStore
    let clock: any WardenClock

    func run(_ job: Job) async throws -> JSONValue {
        // A bulk action on a missing source must fail visibly rather than be skipped.
        if job.type == .dataSourceBulk { return try await bulk.applyBulk(job) }
        if job.type == .subscriptionExpiry { return .object(["expired": .int(Int64(try await subscriptions.expire(now: clock.now())))]) }
        guard let id = job.dataSourceId else {
            throw WardenError.badRequest("The job names no data source", code: "job.invalid_payload")
        }
        guard let source = try await dataSources.dataSource(id: id), let handler = try await dataSources.handler(dataSourceId: id) else {
            return .object(["skipped": .string("The data source no longer exists")])
        }
        switch job.type {
        case .highCardinality:
            return try await computeHighCardinality(source, handler: handler)
        case .nativeViewRefresh:
            // Native views arrive with policy enforcement; until then there is nothing to regenerate.
            return .object(["refreshed": .bool(false),
                            "message": .string("Native views are not generated yet: policy enforcement is not built, so there is nothing to refresh")])
        case .handlerUpdate:
            return try await applyHandlerPatch(job, source: source, handler: handler)
        case .dataSourceBulk:
            return try await bulk.applyBulk(job)
        case .subscriptionExpiry:
            return .object(["expired": .int(Int64(try await subscriptions.expire(now: clock.now())))])
        }
    }

    private func computeHighCardinality(_ source: DataSource, handler: StoredHandler) async throws -> JSONValue {
        let metadata = try HandlerMetadata.parse(handler.metadata, path: "stored", technology: source.technology, passwordRequired: false)
        let settings = metadata.settings(technology: source.technology, storedPassword: try dataSources.openPassword(of: handler))
        let columns = try await dictionaries.dictionary(dataSourceId: source.id)?.columns.map(\.name) ?? []
        let column = try await connectors.connector(for: settings)
            .highCardinalityColumn(of: source.remoteTable, columns: columns, rowCount: source.rowCount)
        try await dataSources.setHighCardinalityColumn(dataSourceId: source.id, column: column, now: clock.now())
        return .object(["highCardinalityColumn": column.map(JSONValue.string) ?? .null])
    }

    /// Merges the bulk patch into the stored metadata and applies it like a handler update.
    private func applyHandlerPatch(_ job: Job, source: DataSource, handler: StoredHandler) async throws -> JSONValue {
        guard case .object(let payload) = job.payload, case .object(var patch)? = payload["patch"], let bulkId = job.bulkId else {
            throw WardenError.badRequest("The job payload is not a handler patch", code: "job.invalid_payload")
        }
        var merged = handler.metadata
        if case .string(let sealed)? = patch.removeValue(forKey: "sealedPassword") {
            merged["password"] = .string(try secrets.open(sealed, recordId: HandlerService.jobSecretRecordId(bulkId)))
        }
        merged.merge(patch) { _, new in new }
        let metadata = try HandlerMetadata.parse(merged, path: "handler.metadata", technology: source.technology, passwordRequired: false)
        let updated = try await handlers.apply(metadata, to: source, handler: handler, by: job.createdBy)
        return .object(["dataSourceId": .int(updated.id), "connectionString": .string(updated.connectionString)])
    }
}
