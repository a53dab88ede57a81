import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// Unmasking: `POST /dataSource/{id}/reverseMask` asks for Reversible values to be revealed (the task is handled with
/// `GET /dataSource/tasks/{taskId}`), and `GET /dataSource/{id}/{columnName}/unmaskUsers` lists who can reveal them.
struct UnmaskRoutes {
    let service: UnmaskService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/dataSource/{dataSourceId}/reverseMask", use: reverseMask)
        api.get("/dataSource/{dataSourceId}/{columnName}/unmaskUsers", use: unmaskUsers)
    }

    @Sendable func reverseMask(_ request: Request, context: AuthenticatedContext) async throws -> UnmaskTaskPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        return UnmaskTaskPayload(try await service.request(on: id, caller: context.principal) {
            try Self.unmaskRequest(try await request.decodeJSON(as: [String: JSONValue].self, context: context), dataSourceId: id)
        })
    }

    @Sendable func unmaskUsers(_ request: Request, context: AuthenticatedContext) async throws -> [UnmaskUserPayload] {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let column = try context.parameters.require("columnName")
        return try await service.unmaskers(of: id, column: column, caller: context.principal).map(UnmaskUserPayload.init)
    }

    /// The documented payload: `column`, `values` (1 to 100 tokens), the reason as `unmaskReasoning` (the example) or
    /// `unmaskingReason` (the table), `unmaskingUsers`; `dataSourceId`, when sent, must be the path's.
    static func unmaskRequest(_ body: [String: JSONValue], dataSourceId: Int64) throws -> UnmaskRequest {
        var fields = JSONFields(body, path: "")
        let column = fields.string("column", required: true)
        let values = fields.array("values")
        let reason = fields.string("unmaskReasoning") ?? fields.string("unmaskingReason")
        let unmaskers = fields.array("unmaskingUsers")
        let bodySourceId = fields.int("dataSourceId")
        var validator = fields.validator
        validator.check(reason.map { Text.isPrintable($0, maxLength: 2000) } ?? false, "unmaskReasoning",
                        "is required (or `unmaskingReason`): 1 to 2000 printable characters")
        if let bodySourceId { validator.check(Int64(bodySourceId) == dataSourceId, "dataSourceId", "must be the data source of the path") }
        if body["projectId"].map({ $0 != .null }) ?? false {
            validator.add("projectId", "is not supported yet: projects are not built")
        }
        var tokens: [String] = []
        if let values {
            validator.check((1...UnmaskRequest.maxValues).contains(values.count), "values", "must have 1 to \(UnmaskRequest.maxValues) values")
            for (index, value) in values.enumerated() {
                guard let token = value.stringValue, !token.isEmpty, token.utf8.count <= 4096 else {
                    validator.add("values[\(index)]", "must be a masked value as read: a string of 1 to 4096 bytes")
                    continue
                }
                tokens.append(token)
            }
        } else {
            validator.add("values", "is required")
        }
        var users: [Int64] = []
        if let unmaskers {
            validator.check(!unmaskers.isEmpty && unmaskers.count <= 100, "unmaskingUsers", "must name 1 to 100 users")
            for (index, user) in unmaskers.enumerated() {
                guard let userId = user.int64Value else {
                    validator.add("unmaskingUsers[\(index)]", "must be a profile id")
                    continue
                }
                users.append(userId)
            }
        } else {
            validator.add("unmaskingUsers", "is required")
        }
        try validator.finish()
        return UnmaskRequest(column: column!, values: tokens, reason: reason!, unmaskers: users)
    }
}

/// The documented answer of `reverseMask`: the task, with the request in `metadata`.
struct UnmaskTaskPayload: ResponseEncodable {
    var id: Int64
    var requestingUserProfile: Int64
    var dataSourceId: Int64
    var reason: Nullable<String>
    var metadata: JSONValue
    var type: TaskType
    var state: TaskState
    var createdAt: Date
    var updatedAt: Date

    init(_ task: AccessTask) {
        id = task.id
        requestingUserProfile = task.requester.id
        dataSourceId = task.dataSourceId
        reason = Nullable(task.reason)
        metadata = task.metadata ?? .object([:])
        type = task.type
        state = task.state
        createdAt = task.createdAt
        updatedAt = task.updatedAt
    }
}

/// `{name, profileId, iamid}`, as documented.
struct UnmaskUserPayload: ResponseEncodable {
    var name: Nullable<String>
    var profileId: Int64
    var iamid: String

    init(_ user: User) {
        name = Nullable(user.profile.name)
        profileId = user.id
        iamid = user.iamid
    }
}

/// `{unmaskPairs: [{masked, unmasked}], column}`; a value that is not a token of the column has `unmasked: null` and
/// an `error`.
struct UnmaskResultPayload: Encodable {
    struct Pair: Encodable {
        let masked: String
        let unmasked: Nullable<String>
        let error: String?
    }

    let unmaskPairs: [Pair]
    let column: String

    init(column: String, pairs: [UnmaskPair]) {
        self.column = column
        unmaskPairs = pairs.map { pair in
            Pair(masked: pair.masked, unmasked: Nullable(pair.unmasked),
                 error: pair.unmasked == nil ? "not a valid ciphertext of column `\(column)`" : nil)
        }
    }
}
