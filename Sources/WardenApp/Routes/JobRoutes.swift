import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/jobs`: the state of background work.
struct JobRoutes {
    let service: JobService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/jobs", use: list)
        api.post("/jobs/statuses", use: statuses)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> [JobStatusPayload] {
        guard let bulkId = QueryReader(request: request).string("bulkId") else {
            throw WardenError.badRequest("Query parameter `bulkId` is required", code: .requestInvalidQuery,
                                         fields: [FieldError(field: "bulkId", message: "is required")])
        }
        return try await service.jobs(bulkId: bulkId, caller: context.principal).map(JobStatusPayload.init)
    }

    struct StatusesInput: Decodable {
        var jobIds: [String]
        var wait: Int?
        var pollInterval: Int?
    }

    /// Waits up to `wait` seconds (-1: as long as allowed) for every named job to reach a final state.
    @Sendable func statuses(_ request: Request, context: AuthenticatedContext) async throws -> [String: JobStatusPayload] {
        let input = try await request.decodeJSON(as: StatusesInput.self, context: context)
        var validator = Validator()
        validator.check(input.jobIds.count <= 1000, "jobIds", "must name at most 1000 jobs")
        if let wait = input.wait { validator.check(wait >= -1, "wait", "must be -1 or a number of seconds") }
        if let interval = input.pollInterval { validator.check(interval >= 1, "pollInterval", "must be at least 1 second") }
        try validator.finish()
        let found = try await service.statuses(of: input.jobIds, wait: input.wait, pollInterval: input.pollInterval, caller: context.principal)
        return Dictionary(found.map { ($0.id, JobStatusPayload($0)) }, uniquingKeysWith: { first, _ in first })
    }
}

struct JobStatusPayload: Encodable, Sendable {
    var id: String
    var state: String
    var output: JSONValue?

    init(_ job: Job) {
        id = job.id
        state = job.state.rawValue
        output = job.output
    }
}
