import Foundation
public import Hummingbird
import WardenDomain
import WardenStore

/// `/dataSource`: search, details, changes, deletion, health and bulk actions.
struct DataSourceRoutes {
    let service: DataSourceService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/dataSource", use: search)
        api.get("/dataSource/rpc/mine", use: mine)
        api.get("/dataSource/blobHandlerTypes", use: blobHandlerTypes)
        api.get("/dataSource/name/{dataSourceName}", use: byName)
        api.get("/dataSource/sqlTableName/{shortName}", use: bySQLTableName)
        api.put("/dataSource/bulk/{type}", use: bulk)
        api.post("/dataSource/bulkRefreshViews", use: refreshViews)
        api.get("/dataSource/{dataSourceId}", use: get)
        api.put("/dataSource/{dataSourceId}", use: update)
        api.delete("/dataSource/{dataSourceId}", use: delete)
        api.get("/dataSource/{dataSourceId}/contacts", use: contacts)
        api.get("/dataSource/{dataSourceId}/activities", use: listActivities)
        api.get("/dataSource/{dataSourceId}/test", use: test)
    }

    // MARK: Search and details

    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> SearchPayload {
        let query = try Self.parseQuery(QueryReader(request: request))
        let (result, tags) = try await service.search(query, caller: context.principal)
        switch query.mode {
        case .full:
            return SearchPayload(count: result.count,
                                 hits: result.hits.map { SearchHitPayload($0, query: query, tags: tags[$0.dataSource.id] ?? []) })
        case .count:
            return SearchPayload(count: result.count, hits: [])
        case .tag:
            return SearchPayload(count: result.count, tags: result.tagCounts.map { .init(name: $0.name, count: $0.count) })
        case .minMax:
            return SearchPayload(count: result.count,
                                 min: .init(recordCount: result.recordCountRange.min, createdAt: result.createdAtRange.min),
                                 max: .init(recordCount: result.recordCountRange.max, createdAt: result.createdAtRange.max))
        case .status:
            return SearchPayload(count: result.count, statuses: result.statusCounts)
        }
    }

    /// Filters of features Warden does not have yet, with the feature's name. Ignoring one would answer more than
    /// was asked for (`globalPolicy=x` would list every source), so each is a 501 naming it.
    static let unsupportedFilters: [(name: String, feature: String)] = [
        ("clusterName", "clusters"), ("collectionId", "collections"), ("collectionExclude", "collections"),
        ("sddTemplateName", "sensitive data discovery"), ("excludeSddTemplateName", "sensitive data discovery"),
    ]

    static func parseQuery(_ reader: QueryReader) throws -> DataSourceQuery {
        if let filter = unsupportedFilters.first(where: { reader.string($0.name) != nil }) {
            throw WardenError.notImplemented("The `\(filter.name)` filter is not supported yet: Warden has no \(filter.feature) yet",
                                             code: .dataSourceFilterNotImplemented)
        }
        var query = DataSourceQuery()
        func list(_ name: String) -> [String] { reader.list(name) }
        func invalid(_ name: String, _ message: String) -> WardenError {
            .badRequest("Query parameter `\(name)` \(message)", code: .requestInvalidQuery, fields: [FieldError(field: name, message: message)])
        }
        func ids(_ name: String) throws -> [Int64] {
            try list(name).map { guard let id = Int64($0) else { throw invalid(name, "must list integers") }; return id }
        }
        func oneOf<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws -> [T] where T.RawValue == String {
            try list(name).map {
                guard let value = T(rawValue: $0) else { throw invalid(name, "must be one of: " + T.allCases.map(\.rawValue).joined(separator: ", ")) }
                return value
            }
        }
        let handlerTypes = Technology.allCases.map(\.blobHandlerType)
        query.blobHandlerTypes = list("blobHandlerType")
        if let unknown = query.blobHandlerTypes.first(where: { type in !handlerTypes.contains { $0.lowercased() == type.lowercased() } }) {
            throw invalid("blobHandlerType", "has an unknown value \(unknown): expected one of \(handlerTypes.joined(separator: ", "))")
        }
        query.subscriptions = try oneOf("subscription", DataSourceQuery.Subscription.self)
        query.statuses = list("status")
        if query.statuses.contains(where: { !DataSourceQuery.statusValues.contains($0) }) {
            throw invalid("status", "must be passed or failed")
        }
        query.tags = list("tag")
        query.searchText = reader.string("searchText")
        query.nameOnly = try reader.bool("nameOnly") ?? false
        query.columns = list("column")
        query.connectionStrings = list("connectionString")
        query.schema = reader.string("schema")
        query.idOnly = try reader.bool("idOnly") ?? false
        query.dataSourceIds = try ids("dataSourceIds")
        query.selectFields = try oneOf("selectFields", DataSourceQuery.SelectField.self)
        query.excludedProjects = try ids("excludedProjects")
        query.globalPolicy = reader.string("globalPolicy")
        // The documentation spells it `determinePolicyContflicts`; both spellings are read.
        query.policyConflicts = try reader.bool("determinePolicyConflicts") ?? reader.bool("determinePolicyContflicts") ?? false
        query.ephemeral = try reader.bool("ephemeral")
        query.hostname = reader.string("hostname")
        if let mode = try reader.int("mode") {
            guard let parsed = DataSourceQuery.Mode(rawValue: mode) else { throw invalid("mode", "must be 0 (FULL), 1 (COUNT), 4 (TAG), 5 (MIN_MAX) or 6 (STATUS)") }
            query.mode = parsed
        }
        query.sortField = try reader.oneOf("sortField", DataSourceQuery.SortField.self) ?? .name
        query.sortOrder = try reader.oneOf("sortOrder", SortOrder.self) ?? .asc
        query.paging = try Paging.parse(size: try reader.int("size"), offset: try reader.int("offset"), defaultSize: 10)
        return query
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> DataSourcePayload {
        try await details(.id(try Self.id(context.parameters)), context: context)
    }

    @Sendable func byName(_ request: Request, context: AuthenticatedContext) async throws -> DataSourcePayload {
        try await details(.name(try context.parameters.string("dataSourceName")), context: context)
    }

    @Sendable func bySQLTableName(_ request: Request, context: AuthenticatedContext) async throws -> DataSourcePayload {
        try await details(.sqlTableName(try context.parameters.string("shortName")), context: context)
    }

    private func details(_ lookup: DataSourceStore.Lookup, context: AuthenticatedContext) async throws -> DataSourcePayload {
        let (view, tags) = try await service.details(lookup, caller: context.principal)
        return DataSourcePayload(view, tags: tags)
    }

    @Sendable func mine(_ request: Request, context: AuthenticatedContext) async throws -> [MineHitPayload] {
        try await service.mine(context.principal).map {
            MineHitPayload(id: $0.id, name: $0.name, type: $0.type, sqlTableName: $0.sqlTableName, sqlSchemaName: $0.sqlSchemaName,
                           blobHandlerType: $0.technology.blobHandlerType)
        }
    }

    @Sendable func blobHandlerTypes(_ request: Request, context: AuthenticatedContext) async throws -> [BlobHandlerTypePayload] {
        let host = request.head.authority.map { "http://\($0)" } ?? ""
        return Technology.allCases.enumerated().map { index, technology in
            BlobHandlerTypePayload(name: technology.blobHandlerType, clientUrl: "/\(technology.rawValue)",
                                   baseUrl: "\(host)/\(technology.rawValue)", config: .init(port: technology.defaultPort),
                                   displayOrder: index + 1, driver: technology.blobHandlerType, connectorAvailable: technology.hasConnector)
        }
    }

    @Sendable func contacts(_ request: Request, context: AuthenticatedContext) async throws -> [ContactPayload] {
        let id = try Self.id(context.parameters)
        return try await service.contacts(of: id, caller: context.principal).map {
            ContactPayload(id: id, profile: $0.user.id, userid: $0.user.userid, name: Nullable($0.user.profile.name),
                           email: Nullable($0.user.profile.email), state: $0.state.rawValue)
        }
    }

    @Sendable func listActivities(_ request: Request, context: AuthenticatedContext) async throws -> ActivitiesPayload {
        let id = try Self.id(context.parameters)
        let reader = QueryReader(request: request)
        let paging = try Paging.parse(size: try reader.int("size"), offset: try reader.int("offset"), defaultSize: 20)
        let (source, page) = try await service.activities(of: id, paging: paging, caller: context.principal)
        return ActivitiesPayload(count: page.count, activities: page.items.map { activity in
            var metadata = activity.details.objectValue ?? [:]
            metadata["dataSourceName"] = .string(source.name)
            return .init(id: activity.id, modelId: String(id), notificationType: activity.type.rawValue, metadata: .object(metadata),
                         actionBy: activity.actorId.map { .init(id: $0, userid: activity.actorUserid, name: Nullable(activity.actorName),
                                                                email: Nullable(activity.actorEmail)) },
                         targetUser: Nullable(activity.target.map { .init(id: $0.id, name: Nullable($0.name), email: Nullable($0.email)) }),
                         createdAt: activity.createdAt, updatedAt: activity.createdAt)
        })
    }

    // MARK: Changes

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> DataSourcePayload {
        let id = try Self.id(context.parameters)
        let body = try await request.decodeJSON(as: JSONValue.self, context: context)
        guard case .object(var object) = body else { throw WardenError.badRequest("Request body must be an object", code: .requestInvalidJson) }
        // A client sends back the body it read: read-only fields whose value is unchanged are accepted (and ignored);
        // only a real attempt to change one is refused.
        let readOnly = object.keys.filter { !DataSourceChanges.changeable.contains($0) }
        if !readOnly.isEmpty {
            let current = try JSONValue.encoded(try await details(.id(id), context: context), encoder: WardenJSON.makeEncoder())
            for key in readOnly where current.objectValue?[key] == object[key] { object.removeValue(forKey: key) }
        }
        try await service.update(id, fields: object, caller: context.principal)
        return try await details(.id(id), context: context)
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> DeletionPayload {
        let id = try Self.id(context.parameters)
        let (source, gone) = try await service.delete(id, caller: context.principal)
        return DeletionPayload(id: id, name: source.name, disabled: true, deleted: gone, schemaEvolutionId: Nullable(source.schemaEvolutionId))
    }

    struct BulkInput: Decodable {
        var ids: [Int64]
        var update: JSONValue?
    }

    @Sendable func bulk(_ request: Request, context: AuthenticatedContext) async throws -> BulkPayload {
        let raw = try context.parameters.string("type")
        guard let action = BulkAction(rawValue: raw) else {
            throw WardenError.notFound("Unknown bulk action \(raw): expected one of " + BulkAction.allCases.map(\.rawValue).joined(separator: ", "),
                                       code: .bulkUnknownAction)
        }
        let input = try await request.decodeJSON(as: BulkInput.self, context: context)
        guard !input.ids.isEmpty, input.ids.count <= 10_000, input.ids.allSatisfy({ $0 > 0 }) else {
            throw WardenError.badRequest("`ids` must list 1 to 10000 positive data source ids", code: .requestValidationFailed)
        }
        let change = try DataSourceService.change(action, update: input.update)
        let (bulkId, jobs) = try await service.bulk(change, ids: input.ids, caller: context.principal)
        return BulkPayload(bulkId: bulkId, jobsCreated: jobs)
    }

    struct RefreshInput: Decodable {
        var dataSourceIds: [Int64]
    }

    @Sendable func refreshViews(_ request: Request, context: AuthenticatedContext) async throws -> BulkPayload {
        let input = try await request.decodeJSON(as: RefreshInput.self, context: context)
        let (bulkId, jobs) = try await service.refreshViews(ids: input.dataSourceIds, caller: context.principal)
        return BulkPayload(bulkId: bulkId, jobsCreated: jobs)
    }

    @Sendable func test(_ request: Request, context: AuthenticatedContext) async throws -> HealthReportPayload {
        HealthReportPayload(try await service.healthCheck(of: try Self.id(context.parameters), caller: context.principal))
    }

    static func id(_ parameters: Parameters) throws -> Int64 {
        try parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
    }
}

extension JSONValue: ResponseEncodable {}
