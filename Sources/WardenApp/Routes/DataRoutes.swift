import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// The /data API: connections and their hierarchy of data objects. An object path is the connection key and up to
/// three names, one URL segment each, percent-decoded segment by segment (a `/` inside a name is `%2F`).
/// `POST /data/connection` (registering) is Warden's: the specification reads and updates connections only.
struct DataRoutes {
    let service: ConnectionService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/data/connection", use: registerConnection)
        api.get("/data/connection/{connectionKey}", use: connection)
        api.put("/data/connection/{connectionKey}", use: updateConnection)
        api.get("/data/object/**", use: object)
        api.delete("/data/object/**", use: delete)
        api.post("/data/object/search", use: search)
        api.post("/data/object/search/**", use: search)
        api.post("/data/crawl/**", use: crawl)
        api.put("/data/settings/**", use: settings)
    }

    /// `{connectionKey, connection: {technology, hostname, port, database?, authenticationType, username, password},
    /// settings?: {isActive, activateNewChildren, dataOwners, infrastructureAdmins}}` → `{objectPath, bulkId}`.
    @Sendable func registerConnection(_ request: Request, context: AuthenticatedContext) async throws -> CrawlStartedPayload {
        let started = try await service.register(caller: context.principal) {
            let body = try await request.decodeJSON(as: JSONValue.self, context: context)
            guard case .object(let object) = body else { throw WardenError.badRequest("The body must be a JSON object", code: .requestValidationFailed) }
            var fields = JSONFields(object, path: "")
            let key = fields.string("connectionKey", required: true) ?? ""
            var validator = fields.validator
            let settings = DataObjectOverrides.parse(object["settings"], path: "settings", into: &validator)
            for unknown in object.keys.sorted() where !["connectionKey", "connection", "settings"].contains(unknown) {
                validator.add(unknown, "is not a field of a connection registration (connectionKey, connection, settings)")
            }
            try validator.finish()
            return (key, try ConnectionService.ConnectionInput.parse(object["connection"], path: "connection", passwordRequired: true), settings)
        }
        return CrawlStartedPayload(objectPath: started.objectPath.segments, bulkId: started.bulkId)
    }

    @Sendable func connection(_ request: Request, context: AuthenticatedContext) async throws -> ConnectionPayload {
        let key = try Self.segment(context.parameters.string("connectionKey"))
        let (connection, creator, updater) = try await service.connection(key: key, caller: context.principal)
        return ConnectionPayload(connection, creator: creator, updater: updater)
    }

    /// A full update (`{connection: {...}}`); the password may be left out to keep the stored one.
    @Sendable func updateConnection(_ request: Request, context: AuthenticatedContext) async throws -> CrawlStartedPayload {
        let key = try Self.segment(context.parameters.string("connectionKey"))
        let started = try await service.updateConnection(key: key, caller: context.principal) {
            let body = try await request.decodeJSON(as: JSONValue.self, context: context)
            guard case .object(let object) = body else { throw WardenError.badRequest("The body must be a JSON object", code: .requestValidationFailed) }
            return try ConnectionService.ConnectionInput.parse(object["connection"], path: "connection", passwordRequired: false)
        }
        return CrawlStartedPayload(objectPath: started.objectPath.segments, bulkId: started.bulkId)
    }

    @Sendable func object(_ request: Request, context: AuthenticatedContext) async throws -> DataObjectPayload {
        DataObjectPayload(try await service.object(try Self.path(context), caller: context.principal))
    }

    /// Query `sortField` (name, state, createdAt, lastCrawled, technology), `sortOrder` (asc, desc), `offset`,
    /// `limit` (default 100, at most 1,000) and `searchText`, also accepted in a JSON body.
    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> DataObjectSearchPayload {
        let segments = context.parameters.getCatchAll()
        let path = segments.isEmpty ? nil : try Self.path(context)
        let query = QueryReader(request: request)
        let body = try await request.decodeOptionalJSON(as: JSONValue.self, context: context).objectValue ?? [:]
        var fields = JSONFields(body, path: "")
        let sortField = fields.string("sortField") ?? query.string("sortField") ?? "name"
        let sortOrder = fields.string("sortOrder") ?? query.string("sortOrder") ?? "asc"
        let queryOffset = try query.int("offset")
        let queryLimit = try query.int("limit")
        let offset = fields.int("offset") ?? queryOffset ?? 0
        let limit = fields.int("limit") ?? queryLimit ?? 100
        let searchText = fields.string("searchText") ?? query.string("searchText")
        var validator = fields.validator
        validator.check(ConnectionService.Search.sortFields.contains(sortField), "sortField",
                        "must be one of " + ConnectionService.Search.sortFields.sorted().joined(separator: ", "))
        validator.check(["asc", "desc"].contains(sortOrder), "sortOrder", "must be asc or desc")
        validator.check(offset >= 0, "offset", "must not be negative")
        validator.check((1...1000).contains(limit), "limit", "must be between 1 and 1000")
        try validator.finish()
        let result = try await service.search(under: path, .init(searchText: searchText, sortField: sortField, descending: sortOrder == "desc",
                                                                 offset: offset, limit: limit), caller: context.principal)
        return DataObjectSearchPayload(count: result.count, hits: result.hits.map(DataObjectPayload.init))
    }

    /// `forceRecursive` as a query parameter (as documented) or in the JSON body (as the documented example sends it).
    @Sendable func crawl(_ request: Request, context: AuthenticatedContext) async throws -> CrawlStartedPayload {
        let path = try Self.path(context)
        let started = try await service.crawl(path, caller: context.principal) {
            let body = try await request.decodeOptionalJSON(as: JSONValue.self, context: context).objectValue ?? [:]
            var fields = JSONFields(body, path: "")
            let fromQuery = try QueryReader(request: request).bool("forceRecursive")
            let forceRecursive = fields.bool("forceRecursive") ?? fromQuery ?? false
            try fields.validator.finish()
            return forceRecursive
        }
        return CrawlStartedPayload(objectPath: started.objectPath.segments, bulkId: started.bulkId)
    }

    /// `{"overrides": {isActive?, activateNewChildren?, dataOwners?, infrastructureAdmins?}}`.
    @Sendable func settings(_ request: Request, context: AuthenticatedContext) async throws -> DataObjectPayload {
        let path = try Self.path(context)
        let (view, bulkId) = try await service.updateSettings(path, caller: context.principal) {
            let body = try await request.decodeJSON(as: JSONValue.self, context: context)
            guard case .object(let object) = body, let overrides = object["overrides"] else {
                throw WardenError.badRequest("`overrides` is required and must be an object", code: .requestValidationFailed)
            }
            var validator = Validator()
            let parsed = DataObjectOverrides.parse(overrides, path: "overrides", into: &validator)
            try validator.finish()
            return parsed
        }
        var payload = DataObjectPayload(view)
        payload.bulkId = bulkId
        return payload
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> DeletedObjectPayload {
        let (path, childCount) = try await service.delete(try Self.path(context), caller: context.principal)
        return DeletedObjectPayload(objectPath: path.segments, childCount: childCount)
    }

    static func path(_ context: AuthenticatedContext) throws -> DataObjectPath {
        try DataObjectPath.parse(try context.parameters.getCatchAll().map { try segment(String($0)) })
    }

    static func segment(_ raw: String) throws -> String {
        guard let decoded = raw.removingPercentEncoding else {
            throw WardenError.badRequest("An object path segment is not valid percent-encoding: \(raw)", code: .requestValidationFailed)
        }
        return decoded
    }
}

struct CrawlStartedPayload: ResponseEncodable, Sendable {
    var objectPath: [String]
    var bulkId: String
}

struct DeletedObjectPayload: ResponseEncodable, Sendable {
    var objectPath: [String]
    var childCount: Int
}

struct DataObjectSearchPayload: ResponseEncodable, Sendable {
    var count: Int
    var hits: [DataObjectPayload]
}

struct DataObjectPayload: ResponseEncodable, Sendable {
    var objectPath: [String]
    var technology: String
    var state: String
    var settings: JSONValue
    var overrides: [String]
    var dataSourceId: Nullable<Int64>
    var createdAt: Date
    var lastCrawled: Nullable<Date>
    var remoteId: Nullable<String>
    var bulkId: String?

    init(_ view: ConnectionService.ObjectView) {
        let object = view.record.object
        objectPath = object.path.segments
        technology = view.record.technology.blobHandlerType
        state = object.active ? "active" : "inactive"
        settings = view.settings.json(overriddenBelow: view.overriddenBelow)
        // The connection's settings are its own, not overrides of anything.
        overrides = object.path.segments.count == 1 ? [] : object.overrides.names
        dataSourceId = object.active ? Nullable(object.dataSourceId) : nil
        createdAt = view.record.createdAt
        lastCrawled = Nullable(view.record.lastCrawled)
        remoteId = Nullable(view.record.remoteId)
    }
}

struct ConnectionPayload: ResponseEncodable, Sendable {
    struct Person: Encodable, Sendable {
        var id: Int64
        var name: Nullable<String>
        var email: Nullable<String>
    }

    var connectionKey: String
    var connection: JSONValue
    var createdAt: Date
    var createdBy: Int64
    var updatedAt: Date
    var updatedBy: Int64
    var creator: Person
    var updater: Person
    var nativeIntegrationId: Nullable<Int64>

    init(_ connection: StoredConnection, creator: User?, updater: User?) {
        connectionKey = connection.connectionKey
        self.connection = .object(connection.connection)
        createdAt = connection.createdAt
        createdBy = connection.createdBy
        updatedAt = connection.updatedAt
        updatedBy = connection.updatedBy
        self.creator = Person(id: connection.createdBy, name: Nullable(creator?.profile.name), email: Nullable(creator?.profile.email))
        self.updater = Person(id: connection.updatedBy, name: Nullable(updater?.profile.name), email: Nullable(updater?.profile.email))
        nativeIntegrationId = nil
    }
}
