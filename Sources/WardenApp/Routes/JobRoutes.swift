import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/jobs`: the state of background work. Callers see the jobs they started; application admins see all.
struct JobRoutes {
    let jobs: JobStore

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/jobs", use: list)
        api.post("/jobs/statuses", use: statuses)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> [JobStatusPayload] {
        guard let bulkId = QueryReader(request: request).string("bulkId") else {
            throw WardenError.badRequest("Query parameter `bulkId` is required", code: .requestInvalidQuery,
                                         fields: [FieldError(field: "bulkId", message: "is required")])
        }
        return try await jobs.jobs(bulkId: bulkId).filter { Self.visible($0, to: context.principal) }.map(JobStatusPayload.init)
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
        let wait = input.wait.map { $0 < 0 ? Self.longestWait : min($0, Self.longestWait) } ?? 0
        let interval = Duration.seconds(max(1, input.pollInterval ?? 1))
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let found = try await jobs.jobs(ids: input.jobIds).filter { Self.visible($0, to: context.principal) }
            if found.allSatisfy(\.state.isFinal) || ContinuousClock.now + interval > deadline {
                return Dictionary(found.map { ($0.id, JobStatusPayload($0)) }, uniquingKeysWith: { first, _ in first })
            }
            try await Task.sleep(for: interval)
        }
    }

    /// A long poll never holds a connection longer than this.
    static let longestWait = 300

    static func visible(_ job: Job, to principal: Principal) -> Bool {
        job.createdBy == principal.userId || principal.has(.applicationAdmin)
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
