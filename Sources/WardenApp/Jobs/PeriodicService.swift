import Foundation
import Logging
import ServiceLifecycle
import WardenDomain
import WardenStore

/// Runs `body` every `interval` until shutdown; a failed run is logged and the next one runs on time.
struct PeriodicService: Service {
    let name: String
    let interval: TimeInterval
    let logger: Logger
    let body: @Sendable () async throws -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await body()
                } catch {
                    logger.error("periodic task failed", metadata: ["task": .string(name), "cause": .string("\(error)")])
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        }
    }
}

extension PeriodicService {
    /// Enqueues a periodic job (today: subscription expiry) once per period. The job id is derived from the period, so
    /// several Warden instances sharing a metastore enqueue it once between them, and the worker runs it like any job.
    static func scheduling(_ type: JobType, every interval: TimeInterval, jobs: JobStore, signal: JobSignal, clock: any WardenClock,
                           logger: Logger) -> PeriodicService {
        PeriodicService(name: "schedule \(type.rawValue)", interval: interval, logger: logger) {
            let now = clock.now()
            try await jobs.enqueueScheduled(type, period: Int64((now.timeIntervalSince1970 / interval).rounded(.down)), now: now)
            await signal.wakeAll()
        }
    }

    /// Queues native-view refreshes for the data sources changed since their last refresh was queued
    /// (`JobStore.queueViewRefreshes`): many changes to one source make one refresh.
    static func queueingViewRefreshes(every interval: TimeInterval, jobs: JobStore, signal: JobSignal, clock: any WardenClock,
                                      logger: Logger) -> PeriodicService {
        PeriodicService(name: "queue view refreshes", interval: interval, logger: logger) {
            if try await jobs.queueViewRefreshes(now: clock.now()) > 0 { await signal.wakeAll() }
        }
    }
}
