import Foundation
import WardenDomain
import WardenStore

/// The state of background work. Callers see the jobs they started; application admins see all.
struct JobService: Sendable {
    let jobs: JobStore

    /// A long poll never holds a connection longer than this.
    static let longestWait = 300

    func jobs(bulkId: String, caller: Principal) async throws -> [Job] {
        try await jobs.jobs(bulkId: bulkId).filter { Self.visible($0, to: caller) }
    }

    /// The named jobs the caller may see, once every one is final or `wait` seconds (-1: the longest wait) have
    /// passed, polling every `pollInterval` seconds.
    func statuses(of ids: [String], wait: Int?, pollInterval: Int?, caller: Principal) async throws -> [Job] {
        let wait = wait.map { $0 < 0 ? Self.longestWait : min($0, Self.longestWait) } ?? 0
        let interval = Duration.seconds(max(1, pollInterval ?? 1))
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let found = try await jobs.jobs(ids: ids).filter { Self.visible($0, to: caller) }
            if found.allSatisfy(\.state.isFinal) || ContinuousClock.now + interval > deadline { return found }
            try await Task.sleep(for: interval)
        }
    }

    static func visible(_ job: Job, to principal: Principal) -> Bool {
        job.createdBy == principal.userId || principal.has(.applicationAdmin)
    }
}
