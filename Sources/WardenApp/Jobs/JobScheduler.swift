import Foundation
import Logging
import ServiceLifecycle
import WardenDomain
import WardenStore

/// Enqueues periodic jobs (today: subscription expiry) once per period. The job id is derived from the period, so
/// several Warden instances sharing a metastore enqueue it once between them, and the worker runs it like any job.
struct JobScheduler: Service {
    let jobs: JobStore
    let signal: JobSignal
    let type: JobType
    let interval: TimeInterval
    let clock: any WardenClock
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let now = clock.now()
                    try await jobs.enqueueScheduled(type, period: Int64((now.timeIntervalSince1970 / interval).rounded(.down)), now: now)
                    await signal.wakeAll()
                } catch {
                    logger.error("could not schedule a job", metadata: ["job_type": .string(type.rawValue), "cause": .string("\(error)")])
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
    }
}

/// Queues native-view refreshes for the data sources changed since their last refresh was queued
/// (`JobStore.queueViewRefreshes`), every `interval`: many changes to one source make one refresh.
struct ViewRefreshScheduler: Service {
    let jobs: JobStore
    let signal: JobSignal
    let interval: TimeInterval
    let clock: any WardenClock
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await jobs.queueViewRefreshes(now: clock.now()) > 0 { await signal.wakeAll() }
                } catch {
                    logger.error("could not queue native view refreshes", metadata: ["cause": .string("\(error)")])
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
