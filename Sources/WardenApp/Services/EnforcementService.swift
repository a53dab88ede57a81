import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Enforcement in the warehouse: a data source's native view, generated from the policies in force on it and
/// granted to the warehouse roles of its subscribed users (`externalUserIds.postgresUser` or `redshiftUser` in their
/// profile), on PostgreSQL and Redshift.
struct EnforcementService: Sendable {
    let policies: PolicyStore
    let dataSources: DataSourceStore
    let identity: IdentityStore
    let projects: ProjectStore
    let keys: DataSourceKeyStore
    let jobs: JobStore
    let connectors: any ConnectorFactory
    let clock: any WardenClock

    /// The profile key that names a user's role in a warehouse of `technology`.
    static func roleKey(_ technology: Technology) -> String {
        switch technology {
        case .postgresql: "postgresUser"
        case .redshift: "redshiftUser"
        case .snowflake: "snowflakeUser"
        case .databricks: "databricksUser"
        case .trino: "trinoUser"
        case .asa: "asaUser"
        }
    }

    /// Brings each source's view and `warden_system` rows up to date (the view's DDL runs only when what it is
    /// generated from changed); those on one warehouse connection in one transaction. A result per source.
    /// A disabled source's view is kept, granted to nobody (`withdraw`).
    func refresh(_ items: [(source: DataSource, handler: StoredHandler)]) async -> [Int64: Result<JSONValue, any Error>] {
        var results: [Int64: Result<JSONValue, any Error>] = [:]
        results.merge(await withdraw(items.filter(\.source.disabled))) { first, _ in first }
        let items = items.filter { !$0.source.disabled }
        var groups: [ConnectionSettings: (connector: any Connector, entries: [(source: DataSource, view: NativeView, keys: NativeViewKeys)])] = [:]
        let shared: Shared
        do {
            shared = try await self.shared(items.map(\.source))
        } catch {
            return Dictionary(items.map { ($0.source.id, .failure(error)) }, uniquingKeysWith: { first, _ in first })
        }
        // What is left to read per source (a subscriber's purposes) is read concurrently.
        let planned = await withTaskGroup(of: (Int, Result<(ConnectionSettings, any Connector, NativeView, NativeViewKeys), any Error>).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask {
                    do {
                        let (settings, connector, view) = try await plan(item.source, handler: item.handler, shared: shared)
                        guard let sourceKeys = shared.keys[item.source.id] else { throw DataSourceStore.notFound }
                        return (index, .success((settings, connector, view, NativeViewKeys(salt: Array(sourceKeys.salt), encryptionKey: Array(sourceKeys.encryptionKey),
                                                                                           macKey: Array(sourceKeys.macKey)))))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var planned: [Int: Result<(ConnectionSettings, any Connector, NativeView, NativeViewKeys), any Error>] = [:]
            for await (index, result) in group { planned[index] = result }
            return planned
        }
        for (index, item) in items.enumerated() {
            switch planned[index] {
            case .success(let (settings, connector, view, viewKeys)):
                groups[settings, default: (connector, [])].entries.append((item.source, view, viewKeys))
            case .failure(let error):
                results[item.source.id] = .failure(error)
            case nil:
                results[item.source.id] = .failure(DataSourceStore.notFound)
            }
        }
        for group in groups.values {
            let outcomes: [Result<NativeViewOutcome, WardenError>]
            do {
                outcomes = try await group.connector.applyNativeViews(group.entries.map { ($0.view, $0.keys) })
            } catch {
                outcomes = group.entries.map { _ in .failure(error as? WardenError ?? WardenError(.internalError, code: .warehouseQueryFailed,
                                                                                                   message: "The views could not be applied")) }
            }
            for (entry, outcome) in zip(group.entries, outcomes) {
                let (source, view) = (entry.source, entry.view)
                switch outcome {
                case .success(let outcome):
                    do {
                        try await record(source, passed: true, "The view \(view.viewSchema).\(view.viewName) matches its policies and grants")
                        results[source.id] = .success(.object([
                            "refreshed": .bool(true), "viewReplaced": .bool(outcome.viewReplaced), "view": .string("\(view.viewSchema).\(view.viewName)"),
                            "grantees": .array(outcome.grantees.map(JSONValue.string)), "missingRoles": .array(outcome.missingRoles.map(JSONValue.string))]))
                    } catch {
                        results[source.id] = .failure(error)
                    }
                case .failure(let error):
                    // The previous view stays in place (the apply is one transaction); the source says why it is not current.
                    try? await record(source, passed: false, "The view \(view.viewSchema).\(view.viewName) could not be updated: \(error.message)")
                    results[source.id] = .failure(error)
                }
            }
        }
        return results
    }

    /// Takes every grant on disabled sources' views away, and their purpose rows; the views and keys stay for a
    /// restore. The sources on one warehouse connection in one batch.
    private func withdraw(_ items: [(source: DataSource, handler: StoredHandler)]) async -> [Int64: Result<JSONValue, any Error>] {
        var results: [Int64: Result<JSONValue, any Error>] = [:]
        var groups: [ConnectionSettings: (connector: any Connector, warehouse: NativeView.Warehouse, sources: [DataSource])] = [:]
        for (source, handler) in items {
            do {
                guard let warehouse = NativeView.Warehouse(source.technology) else { throw Self.notBuilt(source.technology) }
                let (settings, connector) = try connector(source.technology, metadata: handler.metadata, password: try dataSources.openPassword(of: handler))
                groups[settings, default: (connector, warehouse, [])].sources.append(source)
            } catch {
                results[source.id] = .failure(error)
            }
        }
        for group in groups.values {
            do {
                let withdrawals = try await group.connector.withdrawNativeViews(dataSourceIds: group.sources.map(\.id), warehouse: group.warehouse, drop: false)
                for source in group.sources {
                    let withdrawal = withdrawals[source.id] ?? .nothing
                    if let view = withdrawal.view { try await record(source, passed: true, "The data source is disabled: nobody may read its view \(view)") }
                    results[source.id] = .success(Self.payload(withdrawal))
                }
            } catch {
                for source in group.sources where results[source.id] == nil { results[source.id] = .failure(error) }
            }
        }
        return results
    }

    /// A `nativeViewRemoval` job: drops the view of a source deleted for good, with the connection its handler had.
    /// Waits (a retryable error) while a refresh that read the source before it went still runs, so the view it may
    /// still write is the one dropped.
    func remove(_ job: Job) async throws -> JSONValue {
        guard let id = job.dataSourceId, case .object(let payload) = job.payload,
              let technology = payload["technology"]?.stringValue.flatMap(Technology.init(rawValue:)), let warehouse = NativeView.Warehouse(technology),
              case .object(let metadata)? = payload["metadata"], let sealed = payload["sealedPassword"]?.stringValue else {
            throw WardenError.badRequest("The job payload is not a native view removal", code: .jobInvalidPayload)
        }
        if try await jobs.isRunning(.nativeViewRefresh, dataSourceId: id, now: clock.now()) {
            throw WardenError(.unavailable, code: .jobBusy, message: "A refresh of data source \(id)'s view is still running")
        }
        let (_, connector) = try connector(technology, metadata: metadata, password: try dataSources.openPassword(sealed, dataSourceId: id))
        let withdrawals = try await connector.withdrawNativeViews(dataSourceIds: [id], warehouse: warehouse, drop: true)
        return Self.payload(withdrawals[id] ?? .nothing)
    }

    static func payload(_ withdrawal: NativeViewWithdrawal) -> JSONValue {
        .object(["view": withdrawal.view.map(JSONValue.string) ?? .null, "revoked": .array(withdrawal.revoked.map(JSONValue.string)),
                 "dropped": .bool(withdrawal.dropped)])
    }

    static func notBuilt(_ technology: Technology) -> WardenError {
        WardenError.notImplemented("Native views are generated for PostgreSQL and Redshift sources; the \(technology.blobHandlerType) dialect is not built yet",
                                   code: .featureNotImplemented)
    }

    /// The warehouse connection a handler's stored metadata and password describe.
    private func connector(_ technology: Technology, metadata: [String: JSONValue], password: String) throws -> (ConnectionSettings, any Connector) {
        let settings = try HandlerMetadata.parse(metadata, path: "stored", technology: technology, passwordRequired: false)
            .settings(technology: technology, storedPassword: password)
        return (settings, try connectors.connector(for: settings))
    }

    /// The `nativeView` check of the source's `statusInfo`, written only when its status or message changes.
    private func record(_ source: DataSource, passed: Bool, _ message: String) async throws {
        let status = passed ? "passed" : "failed"
        if case .object(let info)? = source.statusInfo, case .object(let check)? = info["nativeView"],
           check["status"] == .string(status), check["message"] == .string(message) {
            return
        }
        let check = JSONValue.object(["status": .string(status), "message": .string(message), "lastAttempted": .string(ISODate.format(clock.now()))])
        try await dataSources.recordCheck(id: source.id, name: "nativeView", check: check, notRun: DataSourcePayload.healthCheckNotRun)
    }

    /// What differs in the warehouse from the view Warden maintains (empty: nothing; nil: not generated yet); nil for
    /// a technology whose views Warden does not generate yet.
    func drift(_ source: DataSource, handler: StoredHandler) async throws -> (view: String, problems: [String]?)? {
        guard NativeView.Warehouse(source.technology) != nil else { return nil }
        let (_, connector, view) = try await plan(source, handler: handler)
        return ("\(view.viewSchema).\(view.viewName)", try await connector.nativeViewDrift(view))
    }

    /// What the plans of a batch of refreshes read: in a handful of queries for the whole batch, not a few per source.
    private struct Shared {
        var globals: PolicyIndex
        var targets: [Int64: PolicyTarget]
        var locals: [Int64: DataPolicy]
        var members: [Int64: [(userId: Int64, state: MemberState)]]
        /// The subscribers', once each however many of the sources they are subscribed to.
        var users: [Int64: UserDetails]
        var keys: [Int64: DataSourceKeys]
    }

    /// `keys`: whether to read (and, for sources without them yet, make) the sources' mask keys: a refresh needs them,
    /// a drift check must not write.
    private func shared(_ sources: [DataSource], keys withKeys: Bool = true) async throws -> Shared {
        let ids = sources.map(\.id)
        let now = clock.now()
        let targets = try await policies.targets(ids: ids)
        let members = try await dataSources.members(dataSourceIds: ids, now: now)
        var users: [Int64: UserDetails] = [:]
        for userId in Set(members.values.flatMap { $0.filter(\.state.isMember).map(\.userId) }) {
            users[userId] = try await identity.details(userId: userId)
        }
        return Shared(globals: PolicyIndex(try await policies.allGlobals().map(\.policy)),
                      targets: Dictionary(targets.map { ($0.dataSourceId, $0) }, uniquingKeysWith: { first, _ in first }),
                      locals: try await policies.locals(ids: ids).mapValues(\.policy), members: members, users: users,
                      keys: withKeys ? try await keys.keys(dataSourceIds: ids, now: now) : [:])
    }

    private func plan(_ source: DataSource, handler: StoredHandler, shared: Shared? = nil) async throws -> (ConnectionSettings, any Connector, NativeView) {
        guard let warehouse = NativeView.Warehouse(source.technology) else { throw Self.notBuilt(source.technology) }
        let (settings, connector) = try connector(source.technology, metadata: handler.metadata, password: try dataSources.openPassword(of: handler))
        let now = clock.now()
        let shared = if let shared { shared } else { try await self.shared([source], keys: false) }
        guard let target = shared.targets[source.id] else { throw DataSourceStore.notFound }
        let inForce = PolicyEvaluator.inForce(local: shared.locals[source.id], globals: shared.globals, target: target, now: now)
        var subjects: [NativeView.Subject] = []
        let roleKey = Self.roleKey(source.technology)
        // A disabled source's view is granted to nobody.
        for member in shared.members[source.id] ?? [] where member.state.isMember && !source.disabled {
            guard let details = shared.users[member.userId],
                  let role = details.user.profile.externalUserIds[roleKey], !role.isEmpty else { continue }
            let purposes = try await projects.context(userId: member.userId, dataSourceId: source.id, projectId: nil)?.purposes(at: now) ?? []
            subjects.append(.init(role: role, username: details.user.userid, groups: details.groups.map(\.name),
                                  attributes: details.effectiveAttributes, purposes: purposes, subscribed: true))
        }
        let stored = handler.metadata
        let view = NativeView(warehouse: warehouse, dataSourceId: source.id, table: source.remoteTable,
                                      viewSchema: stored["nativeSchemaName"]?.stringValue ?? "warden",
                                      viewName: stored["nativeViewName"]?.stringValue ?? source.sqlTableName,
                                      target: target, policies: inForce, subjects: subjects)
        return (settings, connector, view)
    }
}
