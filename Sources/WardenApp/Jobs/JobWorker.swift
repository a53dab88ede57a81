import Foundation
import Logging
import ServiceLifecycle
import WardenDomain
import WardenStore

/// Runs persisted jobs inside `warden serve`: `concurrency` loops claim jobs under a lease, renew it while
/// working, and record the outcome. On shutdown they stop claiming and let the running jobs finish.
struct JobWorker: Service {
    let jobs: JobStore
    let runner: JobRunner
    let signal: JobSignal
    let concurrency: Int
    let lease: TimeInterval
    let pollInterval: Duration
    let clock: any WardenClock
    let logger: Logger
    let processId = UUID().uuidString.lowercased()

    func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<concurrency {
                    group.addTask { await loop(workerId: "\(processId)/\(index)", stopping: stopping) }
                }
            }
        } onGracefulShutdown: {
            Task {
                await stopping.stop()
                await signal.close()
            }
        }
    }

    private func loop(workerId: String, stopping: StopFlag) async {
        while await !stopping.isStopped {
            do {
                let now = clock.now()
                if let job = try await jobs.claim(workerId: workerId, now: now, leaseUntil: now.addingTimeInterval(lease)) {
                    await execute(job, workerId: workerId)
                    continue
                }
            } catch {
                let cause = (error as? WardenError)?.cause.map { " (\($0))" } ?? ""
                logger.error("could not claim a job", metadata: ["cause": .string("\(error)\(cause)")])
            }
            await signal.wait(for: pollInterval)
        }
    }

    /// View refreshes claimed together with the first: one warehouse transaction for many sources.
    static let refreshBatch = 100

    private func execute(_ job: Job, workerId: String) async {
        var more: [Job] = []
        if job.type == .nativeViewRefresh {
            let now = clock.now()
            more = (try? await jobs.claim(type: .nativeViewRefresh, limit: Self.refreshBatch - 1, workerId: workerId, now: now,
                                          leaseUntil: now.addingTimeInterval(lease))) ?? []
        }
        let batch = [job] + more
        let renewal = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(lease / 3))
                for job in batch {
                    try await jobs.renewLease(jobId: job.id, workerId: workerId, until: clock.now().addingTimeInterval(lease))
                }
            }
        }
        defer { renewal.cancel() }
        let leases = batch.map { JobLease(job: $0, workerId: workerId) }
        if job.type == .nativeViewRefresh {
            let outcomes = await runner.runViewRefreshes(leases)
            // The successes in one metastore transaction; the rest (failures, a lost lease) one by one.
            var succeeded: [(lease: JobLease, output: JSONValue)] = []
            var others: [(JobLease, Result<JobOutcome, any Error>)] = []
            for lease in leases {
                let outcome = outcomes[lease.job.id] ?? .failure(JobRunner.notRun)
                if case .success(.output(let output)) = outcome { succeeded.append((lease, output)) } else { others.append((lease, outcome)) }
            }
            do {
                let lost = try await jobs.complete(succeeded, now: clock.now())
                for (lease, _) in succeeded where lost.contains(lease.job.id) {
                    logger.warning("job finished after its lease passed to another worker", metadata: ["job_id": .string(lease.job.id)])
                }
            } catch {
                others += succeeded.map { ($0.lease, .success(.output($0.output))) }
            }
            for (lease, outcome) in others { await finish(lease, outcome) }
        } else {
            let claim = leases[0]
            do {
                await finish(claim, .success(try await runner.run(claim)))
            } catch {
                await finish(claim, .failure(error))
            }
        }
    }

    /// Records what running the job under `lease` came to.
    private func finish(_ lease: JobLease, _ result: Result<JobOutcome, any Error>) async {
        let job = lease.job
        var logger = logger
        logger[metadataKey: "job_id"] = .string(job.id)
        logger[metadataKey: "job_type"] = .string(job.type.rawValue)
        do {
            if case .output(let output) = try result.get(), try await !jobs.complete(lease, output: output, now: clock.now()) {
                throw JobStore.leaseLost
            }
            logger.info("job completed", metadata: ["attempt": .stringConvertible(job.attempts)])
        } catch {
            let message = (error as? WardenError)?.message ?? "The job failed unexpectedly"
            switch JobStateMachine.event(after: error) {
            case .wait:
                _ = try? await jobs.postpone(lease, reason: message, now: clock.now())
                logger.debug("job waits for other work", metadata: ["cause": .string(message)])
            case .fail(let permanent):
                let state = try? await jobs.fail(lease, error: message, permanent: permanent, now: clock.now())
                logger.warning("job failed", metadata: ["attempt": .stringConvertible(job.attempts), "next_state": .string(state?.rawValue ?? "unknown"),
                                                        "cause": .string("\(error)")])
            default:
                // Another worker owns the job now; what this one did was rolled back with its completion.
                logger.warning("job finished after its lease passed to another worker")
            }
        }
    }
}

/// Wakes idle workers when this process enqueues a job, so they need not wait for the next poll.
actor JobSignal {
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var closed = false

    func wait(for duration: Duration) async {
        // Closed: a worker that was claiming when shutdown began returns at once, not after a poll interval.
        guard !closed else { return }
        let id = UUID()
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: duration)
            await self?.wake(id)
        }
        await withCheckedContinuation { waiters[id] = $0 }
        timeout.cancel()
    }

    func wakeAll() {
        let all = waiters
        waiters.removeAll()
        for waiter in all.values { waiter.resume() }
    }

    /// Wakes every waiter, and every later `wait` returns at once: the workers are stopping.
    func close() {
        closed = true
        wakeAll()
    }

    private func wake(_ id: UUID) {
        waiters.removeValue(forKey: id)?.resume()
    }
}

actor StopFlag {
    private(set) var isStopped = false
    func stop() { isStopped = true }
}
