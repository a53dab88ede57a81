import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/dictionary`: a data source's columns as Warden describes them.
struct DictionaryRoutes {
    let service: DictionaryService

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
        return try await service.searchColumns(containing: query.string("searchText"), limit: limit, caller: context.principal)
            .map(ColumnHit.init)
    }

    @Sendable func types(_ request: Request, context: AuthenticatedContext) async throws -> [String] {
        try await service.types(containing: QueryReader(request: request).string("query"))
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        let (dictionary, columnTags) = try await service.dictionary(of: try Self.id(context), caller: context.principal)
        return DictionaryPayload(dictionary, columnTags: columnTags)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        try await save(request, context: context, replacing: false)
    }

    @Sendable func replace(_ request: Request, context: AuthenticatedContext) async throws -> DictionaryPayload {
        try await save(request, context: context, replacing: true)
    }

    private func save(_ request: Request, context: AuthenticatedContext, replacing: Bool) async throws -> DictionaryPayload {
        let id = try Self.id(context)
        let (dictionary, columnTags) = try await service.save(of: id, replacing: replacing, caller: context.principal) {
            try await Self.columns(request, context: context)
        }
        return DictionaryPayload(dictionary, columnTags: columnTags)
    }

    struct Empty: ResponseEncodable {}

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Empty {
        try await service.delete(of: try Self.id(context), caller: context.principal)
        return Empty()
    }

    static func id(_ context: AuthenticatedContext) throws -> Int64 {
        try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
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
