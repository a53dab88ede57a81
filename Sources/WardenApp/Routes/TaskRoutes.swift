import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// Tasks: access requests, query help (and later unmasking and schema changes), addressed to a data source's owners.
struct TaskRoutes {
    let service: AccessService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/dataSource/tasks/pending", use: pending)
        api.get("/dataSource/tasks/{taskId}", use: handle)
        api.delete("/dataSource/tasks/{taskId}", use: delete)
        api.get("/dataSource/{dataSourceId}/tasks", use: forDataSource)
        api.post("/dataSource/{dataSourceId}/queryDebug", use: queryDebug)
    }

    static func query(_ reader: QueryReader, defaultOrder: WardenDomain.SortOrder) throws -> TaskQuery {
        var query = TaskQuery()
        query.types = try reader.listOf("types", TaskType.self)
        query.states = try reader.listOf("states", TaskState.self)
        query.searchText = reader.string("searchText")
        query.targetProfileId = try reader.int("targetProfileId").map(Int64.init)
        query.requestingUserProfileId = try reader.int("requestingUserProfileId").map(Int64.init)
        query.profileId = try reader.int("profileId").map(Int64.init)
        query.paging = try Paging.parse(size: try reader.int("size"), offset: try reader.int("offset"), defaultSize: 100)
        query.sortField = try reader.oneOf("sortField", TaskQuery.SortField.self) ?? .createdAt
        query.sortOrder = try reader.oneOf("sortOrder", WardenDomain.SortOrder.self) ?? defaultOrder
        if let model = reader.string("searchModel"), model != "dataSource" {
            throw WardenError.notImplemented("Tasks can only be searched by data source: schema evolution is not built yet",
                                             code: .taskSchemaEvolutionNotImplemented)
        }
        return query
    }

    /// `{outgoing, incoming}`: pending tasks the caller created, and pending tasks waiting for them. `countOnly`
    /// answers the two counts; `countByDataSource` and `groupByDataSource` group each side by data source.
    @Sendable func pending(_ request: Request, context: AuthenticatedContext) async throws -> PendingTasksPayload {
        let reader = QueryReader(request: request)
        if try reader.bool("countBySchemaEvolution") == true || reader.string("schemaEvolutionConnectionString") != nil {
            throw WardenError.notImplemented("Grouping tasks by schema evolution needs schema evolution, which Warden does not have yet",
                                             code: .taskSchemaEvolutionNotImplemented)
        }
        var query = try Self.query(reader, defaultOrder: .desc)
        let countOnly = try reader.bool("countOnly") ?? false
        let countByDataSource = try reader.bool("countByDataSource") ?? false
        let groupByDataSource = try reader.bool("groupByDataSource") ?? false
        if countByDataSource || groupByDataSource { query.paging = Paging(size: Paging.maxSize, offset: 0) }
        let result = try await service.pendingTasks(for: context.principal, query: query)
        func side(_ page: Page<AccessTask>) -> PendingTasksPayload.Side {
            if countOnly { return .count(page.count) }
            guard countByDataSource || groupByDataSource else { return .tasks(TaskPayload.page(page)) }
            var order: [Int64] = []
            var groups: [Int64: [AccessTask]] = [:]
            for task in page.items {
                if groups[task.dataSourceId] == nil { order.append(task.dataSourceId) }
                groups[task.dataSourceId, default: []].append(task)
            }
            return countByDataSource
                ? .counts(order.map { .init(dataSourceId: $0, dataSourceName: groups[$0]![0].dataSourceName, count: groups[$0]!.count) })
                : .groups(order.map { id in .init(dataSourceId: id, rows: groups[id]!.map { TaskPayload($0, fullCount: groups[id]!.count) }) })
        }
        return PendingTasksPayload(outgoing: side(result.outgoing), incoming: side(result.incoming))
    }

    @Sendable func forDataSource(_ request: Request, context: AuthenticatedContext) async throws -> TaskHitsPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let reader = QueryReader(request: request)
        let page = try await service.tasks(of: id, query: try Self.query(reader, defaultOrder: .desc), caller: context.principal)
        if try reader.bool("countOnly") == true { return TaskHitsPayload(count: page.count) }
        return TaskHitsPayload(hits: TaskPayload.page(page), count: page.count)
    }

    /// Handles the task and answers `{"result": …}`: for query help, the query and what was asked; for unmasking,
    /// `{unmaskPairs: [{masked, unmasked}], column}`, where a value that is not a ciphertext of the column has
    /// `unmasked: null` and an `error`.
    @Sendable func handle(_ request: Request, context: AuthenticatedContext) async throws -> HandledTaskPayload {
        switch try await service.handle(taskId: try context.parameters.id("taskId", notFound: TaskStore.notFound), caller: context.principal) {
        case .task(let task):
            // The metadata is the task's own (free-form by type), with the task's fields beside it.
            var result = task.metadata?.objectValue ?? [:]
            result["taskId"] = .int(task.id)
            result["type"] = .string(task.type.rawValue)
            result["state"] = .string(task.state.rawValue)
            result["reason"] = task.reason.map(JSONValue.string) ?? .null
            return HandledTaskPayload(result: .details(.object(result)))
        case .unmasked(let column, let pairs):
            return HandledTaskPayload(result: .unmasked(UnmaskResultPayload(column: column, pairs: pairs)))
        }
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> TaskPayload {
        let task = try await service.deleteTask(try context.parameters.id("taskId", notFound: TaskStore.notFound), caller: context.principal)
        return TaskPayload(task, fullCount: 1, includeMetadata: true)
    }

    /// Warden's route for asking the owners for help with a query: `{"query": "SELECT …", "reason": "…"}`.
    @Sendable func queryDebug(_ request: Request, context: AuthenticatedContext) async throws -> TaskPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
        let query = fields.string("query", required: true)
        let reason = fields.string("reason", required: true)
        var validator = fields.validator
        if let query { validator.check(query.utf8.count <= 100_000, "query", "must be at most 100 KB") }
        if let reason { validator.check(Text.isPrintable(reason, maxLength: 2000), "reason", "must be 1 to 2000 printable characters") }
        try validator.finish()
        let task = try await service.requestQueryHelp(on: id, query: query!, reason: reason!, caller: context.principal)
        return TaskPayload(task, fullCount: 1, includeMetadata: true)
    }
}
