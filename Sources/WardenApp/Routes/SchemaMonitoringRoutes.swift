import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `PUT /dataSource/detectRemoteChanges`: schema monitoring on demand.
struct SchemaMonitoringRoutes {
    let service: SchemaMonitoringService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.put("/dataSource/detectRemoteChanges", use: detect)
    }

    /// Every documented payload form; an empty body runs on every source the caller owns. Answers `{bulkId}`, or
    /// with `schemaDetection` and `columnDetection` job lists for `dataSourceIds` and `table` payloads.
    @Sendable func detect(_ request: Request, context: AuthenticatedContext) async throws -> DetectionPayload {
        let body = try await request.decodeOptionalJSON(as: JSONValue.self, context: context)
        guard case .object(let object) = body else { throw WardenError.badRequest("The body must be a JSON object", code: .requestValidationFailed) }
        let started = try await service.detect(try DetectionScope.parse(object), caller: context.principal)
        return DetectionPayload(bulkId: started.bulkId,
                                schemaDetection: started.listsJobs ? .init(jobs: started.schemaJobs) : nil,
                                columnDetection: started.listsJobs ? .init(jobs: started.columnJobs) : nil)
    }
}

struct DetectionPayload: ResponseEncodable, Sendable {
    struct Jobs: Encodable, Sendable {
        var jobs: [String]
    }

    var bulkId: String
    var schemaDetection: Jobs?
    var columnDetection: Jobs?
}
