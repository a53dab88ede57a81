import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// The /dataSource operations: search and details as the caller may see them, changes, health checks and bulk
/// actions.
struct DataSourceService: Sendable {
    let dataSources: DataSourceStore
    let access: DataSourceAccess
    let dictionaries: DictionaryStore
    let tags: TagStore
    let blobs: BlobStore
    let blobContent: BlobContentStore
    let metastore: Metastore
    let jobs: JobStore
    let connectors: any ConnectorFactory
    let signal: JobSignal
    let activities: ActivityStore
    let policies: PolicyService
    let enforcement: EnforcementService
    let clock: any WardenClock
    let idGenerator: any IdGenerator

    // MARK: Search and details

    /// What the caller may see of the search: the store filters by visibility in the same query.
    func search(_ query: DataSourceQuery, caller: Principal) async throws -> (DataSourceSearchResult, tags: [Int64: [String]]) {
        var query = query
        if query.globalPolicy != nil || query.policyConflicts {
            query.onlyIds = try await policies.dataSourceIds(inForce: query.globalPolicy, withConflicts: query.policyConflicts)
        }
        let result = try await dataSources.search(query, callerId: caller.userId, now: clock.now())
        let tags = query.mode == .full ? try await tags.tagNames(ofDataSources: result.hits.map(\.dataSource.id)) : [:]
        return (result, tags)
    }

    /// A source the caller may see, with its tags; one they may not see is not found.
    func details(_ lookup: DataSourceStore.Lookup, caller: Principal) async throws -> (DataSourceView, tags: [String]) {
        guard let view = try await dataSources.view(lookup, callerId: caller.userId, now: clock.now()),
              try await access.isVisible(view.dataSource, state: view.memberState, to: caller) else {
            throw DataSourceStore.notFound
        }
        return (view, try await tags.tagNames(ofDataSources: [view.dataSource.id])[view.dataSource.id] ?? [])
    }

    func mine(_ caller: Principal) async throws -> [DataSource] {
        try await dataSources.mine(userId: caller.userId, now: clock.now())
    }

    func contacts(of id: Int64, caller: Principal) async throws -> [(user: User, state: MemberState)] {
        _ = try await access.visible(id, to: caller)
        return try await dataSources.contacts(dataSourceId: id)
    }

    /// Owners and experts read a source's activities.
    func activities(of id: Int64, paging: Paging, caller: Principal) async throws -> (DataSource, Page<Activity>) {
        let source = try await access.require([.owner, .expert], on: id, caller: caller)
        return (source, try await activities.activities(dataSourceId: id, paging: paging))
    }

    /// Owners change a source; `fields` are the wire fields left once unchanged read-only ones were dropped.
    func update(_ id: Int64, fields: [String: JSONValue], caller: Principal) async throws {
        let source = try await access.require([.owner], on: id, caller: caller)
        let changes = try DataSourceChanges.parse(fields, current: source)
        if changes != DataSourceChanges() {
            _ = try await dataSources.update(id: id, changes: changes, actorId: caller.userId, now: clock.now())
        }
    }

    // MARK: Health

    /// The checks a health report names, run or not.
    static let healthChecks = ["sql", "stats", "columnEvolution", "fingerprint", "schemaEvolution", "globalPolicy", "highCardinality"]

    /// Runs the real checks against the warehouse and records the outcome. A check that does not hold is
    /// reported as `failed` with what went wrong; the check itself never fails the request.
    func healthCheck(of id: Int64, caller: Principal) async throws -> HealthReport {
        let source = try await access.require([.owner, .expert], on: id, caller: caller)
        let now = clock.now()
        func check(_ passed: Bool, _ message: String) -> HealthReport.Check { .result(passed, message, at: now) }
        var sql: HealthReport.Check
        var stats: HealthReport.Check
        var columns: HealthReport.Check
        do {
            guard let handler = try await dataSources.handler(dataSourceId: source.id) else { throw DataSourceStore.notFound }
            let metadata = try HandlerMetadata.parse(handler.metadata, path: "stored", technology: source.technology, passwordRequired: false)
            let connector = try connectors.connector(for: metadata.settings(technology: source.technology,
                                                                            storedPassword: try dataSources.openPassword(of: handler)))
            try await connector.testConnection()
            sql = check(true, "Passed")
            if let remote = try await connector.describe([source.remoteTable])[source.remoteTable] {
                let counts = try await connector.rowCounts([source.remoteTable])
                stats = counts[source.remoteTable].map { check(true, "\($0) rows") } ?? check(false, "The row count could not be read")
                let dictionary = Set(try await dictionaries.dictionary(dataSourceId: source.id)?.columns.map(\.name) ?? [])
                let table = Set(remote.map(\.name))
                let missing = dictionary.subtracting(table).sorted()
                let added = table.subtracting(dictionary).sorted()
                var problems: [String] = []
                if !missing.isEmpty { problems.append("The dictionary lists columns the table no longer has: " + missing.joined(separator: ", ")) }
                if !added.isEmpty { problems.append("The table has columns the dictionary lacks: " + added.joined(separator: ", ")) }
                columns = check(problems.isEmpty, problems.isEmpty ? "The columns match the dictionary" : problems.joined(separator: "; "))
            } else {
                sql = check(false, "Table \(source.remoteTable) no longer exists in the warehouse")
                stats = check(false, "Not run: the table is missing")
                columns = check(false, "Not run: the table is missing")
            }
        } catch {
            sql = check(false, (error as? WardenError)?.message ?? "The check failed unexpectedly")
            stats = check(false, "Not run: the warehouse check failed")
            columns = check(false, "Not run: the warehouse check failed")
        }
        let highCardinality = source.highCardinalityColumn.map {
            HealthReport.Check(.passed, $0, lastAttempted: source.highCardinalityCheckedAt)
        } ?? .notRun("The high cardinality job has not found a column yet")
        var report = HealthReport(sql: sql, stats: stats, columnEvolution: columns, highCardinality: highCardinality, attemptedAt: now)
        let inForce = try await policies.globalPoliciesInForce(on: source.id)
        report.globalPolicy = check(true, inForce.isEmpty ? "No global policy is in force" : "In force: " + inForce.joined(separator: ", "))
        if sql.status == .passed, let handler = try await dataSources.handler(dataSourceId: source.id) {
            do {
                if let drift = try await enforcement.drift(source, handler: handler) {
                    if let problems = drift.problems {
                        report.nativeView = check(problems.isEmpty, problems.isEmpty
                            ? "The view \(drift.view) matches its policies and grants" : problems.joined(separator: "; "))
                    } else {
                        report.nativeView = .notRun("The view \(drift.view) has not been generated yet")
                    }
                } else {
                    report.nativeView = .notRun("Warden does not generate \(source.technology.rawValue) views yet")
                }
            } catch {
                report.nativeView = check(false, (error as? WardenError)?.message ?? "The check failed unexpectedly")
            }
        }
        try await dataSources.recordHealth(id: source.id, status: report.passed ? "passed" : "failed",
                                           info: try JSONValue.encoded(HealthReportPayload(report, withStatus: false),
                                                                       encoder: WardenJSON.makeEncoder()),
                                           actorId: caller.userId, now: now)
        return report
    }

    // MARK: Bulk

    /// One job per data source; each job is its own transaction, so one failure does not undo the others.
    func bulk(_ change: BulkChange, ids: [Int64], caller: Principal) async throws -> (String, Int) {
        let action = change.action
        let bulkId = idGenerator.id(prefix: "bulk_ds_update_")
        let ids = Array(Set(ids)).sorted()
        // What a delete does is fixed now, from the state the caller saw: a re-run must not turn a disable into a purge.
        let disabled = action == .delete ? try await dataSources.disabledStates(ids: ids) : [:]
        let created = try await jobs.enqueue(ids.map { id in
            var payload: [String: JSONValue] = ["action": .string(action.rawValue), "update": change.update]
            if action == .delete { payload["intent"] = .string(DeleteIntent(sourceIsDisabled: disabled[id] ?? false).rawValue) }
            return NewJob(id: idGenerator.id(), type: .dataSourceBulk, payload: .object(payload), dataSourceId: id, bulkId: bulkId, maxAttempts: 3)
        }, createdBy: caller.userId, now: clock.now())
        await signal.wakeAll()
        return (bulkId, created.count)
    }

    /// Refreshes native views: one job per data source, all of which the caller must own.
    func refreshViews(ids: [Int64], caller: Principal) async throws -> (String, Int) {
        guard (1...10_000).contains(ids.count) else {
            throw WardenError.badRequest("`dataSourceIds` must list 1 to 10000 data source ids", code: .requestValidationFailed)
        }
        // Owners pass in one query; for any other id, the check that says why (404 or 403), in the order given.
        let owned = try await dataSources.ownedIds(among: ids, userId: caller.userId, now: clock.now())
        for id in ids where !owned.contains(id) { _ = try await access.require([.owner], on: id, caller: caller) }
        let bulkId = idGenerator.id(prefix: "bulk_view_refresh_")
        let created = try await jobs.enqueue(Array(Set(ids)).sorted().map {
            NewJob(id: idGenerator.id(), type: .nativeViewRefresh, dataSourceId: $0, bulkId: bulkId)
        }, createdBy: caller.userId, now: clock.now())
        await signal.wakeAll()
        return (bulkId, created.count)
    }

    /// The change a bulk request asks for: `update` parsed for the actions that take one.
    static func change(_ action: BulkAction, update: JSONValue?) throws -> BulkChange {
        switch action {
        case .addUsers: .addUsers(try members(in: update))
        case .tags: .tags(try tagNames(in: update))
        case .disable: .disable
        case .restore: .restore
        case .delete: .delete
        }
    }

    /// `update` for add-users: `[{id, state}]`, or that list under `users` or `profiles`.
    static func members(in update: JSONValue?) throws -> [BulkMember] {
        let items: [JSONValue]
        switch update {
        case .array(let list)?: items = list
        case .object(let object)?:
            guard case .array(let list)? = object["users"] ?? object["profiles"] else { fallthrough }
            items = list
        default:
            throw WardenError.badRequest("`update` must list the users to add as [{\"id\": <profileId>, \"state\": \"subscribed\"}]",
                                         code: .requestValidationFailed)
        }
        var validator = Validator()
        var result: [BulkMember] = []
        for (index, item) in items.enumerated() {
            var fields = JSONFields(item.objectValue ?? [:], path: "update[\(index)]", validator: validator)
            let id = fields.int("id", required: true)
            let state = fields.string("state") ?? MemberState.subscribed.rawValue
            validator = fields.validator
            guard let memberState = MemberState(rawValue: state), memberState != .pending else {
                validator.add("update[\(index)].state", "must be one of: subscribed, expert, owner")
                continue
            }
            if let id { result.append(BulkMember(profileId: Int64(id), state: memberState)) }
        }
        try validator.finish()
        return result
    }

    /// `update` for tags: `{"tags": [{"name": …}]}`, each name valid.
    static func tagNames(in update: JSONValue?) throws -> [String] {
        guard case .array(let items)? = update?.objectValue?["tags"], (1...Limits.tagsPerRequest).contains(items.count) else {
            throw WardenError.badRequest("`update.tags` must list 1 to \(Limits.tagsPerRequest) tags to add as [{\"name\": …}]",
                                         code: .requestValidationFailed)
        }
        let names = items.compactMap { $0.objectValue?["name"]?.stringValue }
        guard names.count == items.count else {
            throw WardenError.badRequest("Every entry of `update.tags` needs a `name`", code: .requestValidationFailed)
        }
        for name in names { _ = try TagName(name, field: "update.tags.name") }
        return names
    }

    /// Carries out one data source's share of a bulk action, as its job, checking the starter still owns it. The effect
    /// and the job's completion commit together. A delete does what its recorded intent says (a job without one only
    /// disables); disabling or restoring a source already in that state changes nothing.
    func applyBulk(_ lease: JobLease) async throws -> JobOutcome {
        let job = lease.job
        guard case .object(let payload) = job.payload, let raw = payload["action"]?.stringValue, let action = BulkAction(rawValue: raw),
              let id = job.dataSourceId else {
            throw WardenError.badRequest("The job payload is not a bulk action", code: .jobInvalidPayload)
        }
        let caller = job.createdBy
        // One answer for "missing" and "not yours", so bulk jobs cannot probe for sources the caller may not see.
        guard try await dataSources.memberState(dataSourceId: id, userId: caller, now: clock.now()) == .owner,
              let source = try await dataSources.dataSource(id: id) else {
            throw WardenError.notFound("Data source \(id) is not among the data sources you own", code: .dataSourceNotFound)
        }
        let now = clock.now()
        var output: [String: JSONValue] = ["dataSourceId": .int(id), "action": .string(action.rawValue)]
        func completion() -> JobCompletion { JobCompletion(lease, output: .object(output), now: now) }
        switch action {
        case .disable, .restore, .delete:
            let intent = action == .delete ? payload["intent"]?.stringValue.flatMap(DeleteIntent.init(rawValue:)) ?? .disable : nil
            if let intent { output["intent"] = .string(intent.rawValue) }
            if intent == .purge {
                // Someone restored it since: deleting a source in use for good is not what the caller asked for.
                guard source.disabled else {
                    throw WardenError.conflict("Data source \(id) was restored after the delete was requested, so it was not deleted",
                                               code: .dataSourceRestored)
                }
                try await purge(id: id, completing: completion())
                return .recorded
            }
            let disable = action != .restore
            guard source.disabled != disable else { return .output(.object(output)) }
            var changes = DataSourceChanges()
            changes.deleted = disable
            _ = try await dataSources.update(id: id, changes: changes, actorId: caller, now: now, completing: completion())
        case .addUsers:
            try await dataSources.setMembers(try Self.members(in: payload["update"]).map { ($0.profileId, $0.state) }, dataSourceId: id, actorId: caller, now: now,
                                             completing: completion())
        case .tags:
            _ = try await tags.attach(try Self.tagNames(in: payload["update"]).map { try TagName($0) }, to: .dataSource(id), by: caller,
                                      now: now, completing: completion())
        }
        return .recorded
    }

    /// Owners delete: the first delete disables; deleting a disabled source removes it for good. Answers the source
    /// and whether it is gone.
    func delete(_ id: Int64, caller: Principal) async throws -> (DataSource, gone: Bool) {
        let source = try await access.require([.owner], on: id, caller: caller)
        return (source, try await delete(source, actorId: caller.userId))
    }

    private func delete(_ source: DataSource, actorId: Int64) async throws -> Bool {
        if !source.disabled {
            var changes = DataSourceChanges()
            changes.deleted = true
            _ = try await dataSources.update(id: source.id, changes: changes, actorId: actorId, now: clock.now())
            return false
        }
        try await purge(id: source.id)
        return true
    }

    private func purge(id: Int64, completing: JobCompletion? = nil) async throws {
        // Blob files are shared by content; only those no other blob references go, after the delete commits.
        let hashes = try await blobs.contentHashes(dataSourceId: id)
        try await dataSources.hardDelete(id: id, now: clock.now(), completing: completing)
        await signal.wakeAll()  // the view's removal
        await blobContent.removeUnreferenced(hashes, on: metastore)
    }
}
