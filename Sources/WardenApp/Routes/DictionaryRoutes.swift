import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/dictionary`: a data source's columns as Warden describes them.
struct DictionaryRoutes {
    let dataSources: DataSourceStore
    let access: DataSourceAccess
    let dictionaries: DictionaryStore
    let tags: TagStore
    let clock: any WardenClock

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/dictionary/columns", use: searchColumns)
        api.get("/dictionary/types", use: types)
        api.get("/dictionary/{dataSourceId}", use: get)
        api.post("/dictionary/{dataSourceId}", use: create)
        api.put("/dictionary/{dataSourceId}", use: replace)
        api.delete("/dictionary/{dataSourceId}", use: delete)
    }

    struct ColumnHit: Encodable, Sendable {
        var columnName: String
    }

    @Sendable func searchColumns(_ request: Request, context: AuthenticatedContext) async throws -> [ColumnHit] {
        let query = QueryReader(request: request)
        guard let limit = Int(query.string("limit") ?? "10"), (1...1000).contains(limit) else {
            throw Self.badRequest("`limit` must be an integer between 1 and 1000")
        }
        return try await dictionaries.searchColumnNames(containing: query.string("searchText"), limit: limit,
                                                        visibleTo: context.principal.userId, now: clock.now()).map(ColumnHit.init)
    }

    @Sendable func types(_ request: Request, context: AuthenticatedContext) async throws -> [String] {
        try await dictionaries.types(containing: QueryReader(request: request).string("query"))
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        let id = try await authorize(context, action: nil)
        guard let dictionary = try await dictionaries.dictionary(dataSourceId: id) else { throw DictionaryStore.notFound }
        return DictionaryPayload(dictionary, columnTags: try await tags.columnTags(dataSourceId: id))
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        let id = try await authorize(context, action: "create")
        let columns = try await Self.columns(request, context: context)
        let dictionary = try await dictionaries.create(dataSourceId: id, columns: columns, actorId: context.principal.userId, now: clock.now())
        return DictionaryPayload(dictionary, columnTags: try await tags.columnTags(dataSourceId: id))
    }

    @Sendable func replace(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        let id = try await authorize(context, action: "update")
        let columns = try await Self.columns(request, context: context)
        let dictionary = try await dictionaries.replace(dataSourceId: id, columns: columns, actorId: context.principal.userId, now: clock.now())
        return DictionaryPayload(dictionary, columnTags: try await tags.columnTags(dataSourceId: id))
    }

    struct Empty: ResponseEncodable {}

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Empty {
        let id = try await authorize(context, action: "delete")
        guard try await dictionaries.delete(dataSourceId: id, actorId: context.principal.userId, now: clock.now()) else { throw DictionaryStore.notFound }
        return Empty()
    }

    /// Reading needs membership of the data source; changing needs owner or expert. A caller who cannot
    /// see a private source gets 404, as if it did not exist.
    private func authorize(_ context: AuthenticatedContext, action: String?) async throws -> Int64 {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let (_, state) = try await access.visible(id, to: context.principal)
        if let action {
            guard state == .owner || state == .expert else {
                throw WardenError.forbidden("User must have one of the following roles to \(action) dictionary: owner,expert",
                                            code: .dictionaryRoleRequired)
            }
        } else if state?.isMember != true {
            throw WardenError.forbidden("User must be subscribed to the data source to view its dictionary", code: .dictionarySubscriptionRequired)
        }
        return id
    }

    /// `{"metadata": [columns]}`; every problem is a 400 "Bad request: …" as the specification words it.
    static func columns(_ request: Request, context: AuthenticatedContext) async throws -> [DictionaryColumn] {
        do {
            let body = try await request.decodeJSON(as: JSONValue.self, context: context)
            var validator = Validator()
            guard case .array(let items)? = body.objectValue?["metadata"] else {
                throw WardenError.badRequest("`metadata` is required and must be an array of columns", code: .requestValidationFailed,
                                             fields: [FieldError(field: "metadata", message: "is required")])
            }
            let columns = DictionaryColumn.parse(items, path: "metadata", into: &validator)
            try validator.finish()
            return columns
        } catch let error as WardenError where error.kind == .badRequest {
            throw WardenError.badRequest("Bad request: " + error.message, code: error.code, fields: error.fields)
        }
    }

    static func badRequest(_ detail: String) -> WardenError {
        .badRequest("Bad request: " + detail, code: .requestInvalidQuery)
    }
}
