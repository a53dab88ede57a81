import Foundation
import Hummingbird
import NIOCore
import WardenDomain
import WardenStore

/// `/{technology}/handler`: register warehouse tables and manage their connection metadata.
struct HandlerRoutes {
    let service: HandlerService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/{technology}/handler", use: create)
        api.get("/{technology}/handler/{handlerId}", use: get)
        api.put("/{technology}/handler/{handlerId}", use: update)
        api.put("/{technology}/bulk", use: bulkUpdate)
        api.put("/{technology}/handler/{handlerId}/triggerHighCardinalityJob", use: triggerHighCardinality)
        api.put("/{technology}/handler/{handlerId}/refreshNativeViewJob", use: refreshNativeView)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> RegistrationPayload {
        let technology = try Self.technology(context.parameters)
        try context.principal.require(.createDataSource)
        let body = try await request.decodeJSON(as: JSONValue.self, context: context)
        let registration = try HandlerService.Registration.parse(body, technology: technology)
        return RegistrationPayload(try await service.register(registration, technology: technology, owner: context.principal),
                                   warnings: registration.warnings)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> HandlerPayload {
        let technology = try Self.technology(context.parameters)
        _ = try QueryReader(request: request).bool("skipCache")
        let (source, handler) = try await service.handler(id: try Self.handlerId(context.parameters), technology: technology,
                                                          caller: context.principal)
        return try HandlerPayload(handler, source: source)
    }

    /// The body is the handler (`{"handler": {"metadata": …}}` as documented, or the handler object itself).
    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> HandlerPayload {
        let technology = try Self.technology(context.parameters)
        let id = try Self.handlerId(context.parameters)
        let (source, stored, columns) = try await service.update(id: id, technology: technology, caller: context.principal) {
            try Self.updatedMetadata(try await request.decodeJSON(as: JSONValue.self, context: context), technology: technology)
        }
        return try HandlerPayload(stored, source: source, columns: columns)
    }

    /// The metadata of an update body, parsed and checked: `handler.metadata`, or `metadata` of the handler object.
    static func updatedMetadata(_ body: JSONValue, technology: Technology) throws -> HandlerMetadata {
        let object = body.objectValue?["handler"]?.objectValue ?? body.objectValue ?? [:]
        guard case .object(var rawMetadata)? = object["metadata"] else {
            throw WardenError.badRequest("`handler.metadata` is required and must be an object", code: .requestValidationFailed,
                                         fields: [FieldError(field: "handler.metadata", message: "is required")])
        }
        // The documented answer shows `ca` beside `metadata`; a client sending back what it read puts it there.
        if rawMetadata["ca"] == nil, let ca = object["ca"] { rawMetadata["ca"] = ca }
        let metadata = try HandlerMetadata.parse(rawMetadata, path: "handler.metadata", technology: technology, passwordRequired: false)
        try metadata.validateGivenNames(path: "handler.metadata")
        return metadata
    }

    @Sendable func bulkUpdate(_ request: Request, context: AuthenticatedContext) async throws -> BulkUpdatePayload {
        let technology = try Self.technology(context.parameters)
        let body = try await request.decodeJSON(as: JSONValue.self, context: context)
        var fields = JSONFields(body.objectValue ?? [:], path: "")
        let connectionString = fields.string("connectionString", required: true)
        let metadata = body.objectValue?["handler"]?.objectValue?["metadata"]?.objectValue
        if metadata == nil { fields.validator.add("handler.metadata", "is required and must be an object") }
        try fields.validator.finish()
        let result = try await service.bulkUpdate(technology: technology, connectionString: connectionString!, patch: metadata!,
                                                  caller: context.principal)
        return BulkUpdatePayload(bulkId: result.bulkId, connectionString: connectionString!, jobsCreated: result.jobs)
    }

    @Sendable func triggerHighCardinality(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await trigger(.highCardinality, context: context)
    }

    @Sendable func refreshNativeView(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await trigger(.nativeViewRefresh, context: context)
    }

    /// The specification answers with the bare job id, so it is sent as text.
    private func trigger(_ type: JobType, context: AuthenticatedContext) async throws -> Response {
        let id = try await service.trigger(type, handlerId: try Self.handlerId(context.parameters),
                                           technology: try Self.technology(context.parameters), caller: context.principal)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: id)))
    }

    static func technology(_ parameters: Parameters) throws -> Technology {
        let raw = try parameters.string("technology")
        guard let technology = Technology(rawValue: raw) else {
            throw WardenError.notFound("Unknown technology \(raw): expected one of "
                                       + Technology.allCases.map(\.rawValue).joined(separator: ", "), code: .technologyNotFound)
        }
        return technology
    }

    static func handlerId(_ parameters: Parameters) throws -> Int64 {
        try parameters.id("handlerId", notFound: HandlerService.handlerNotFound)
    }
}
