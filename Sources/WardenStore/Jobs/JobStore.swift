import Crypto
public import Foundation
import SQLKit
public import WardenDomain

/// A job as claimed by one worker: the worker may record its outcome only while it still holds it.
public struct JobLease: Sendable {
    public let job: Job
    public let workerId: String

    public init(job: Job, workerId: String) {
        self.job = job
        self.workerId = workerId
    }
}

/// A job's completion, handed to the store call that carries out the job's effect so both commit in one transaction.
public struct JobCompletion: Sendable {
    public let lease: JobLease
    public let output: JSONValue
    public let now: Date

    public init(_ lease: JobLease, output: JSONValue, now: Date) {
        self.lease = lease
        self.output = output
        self.now = now
    }

    func record(on db: any SQLDatabase) async throws {
        try await JobStore.recordCompletion(self, on: db)
    }
}

/// The persisted job queue. Workers claim jobs under a lease they renew; a job whose lease ran out
/// (its worker died) is claimed again, so every job runs at least once.
public struct JobStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    static let columns = """
        id, bulk_id, type, state, payload, output, attempts, max_attempts, data_source_id, created_by, run_after, created_at, updated_at
        """

    public func enqueue(_ jobs: [NewJob], createdBy: Int64, now: Date) async throws -> [Job] {
        try await metastore.write { db in try await Self.enqueue(jobs, createdBy: createdBy, now: now, on: db) }
    }

    /// Enqueues inside a caller's transaction, so a job exists exactly when the change that needs it commits.
    @discardableResult
    static func enqueue(_ jobs: [NewJob], createdBy: Int64, now: Date, on db: any SQLDatabase) async throws -> [Job] {
        let created = jobs.map { job in
            Job(id: job.id, bulkId: job.bulkId, type: job.type, state: .created, payload: job.payload,
                output: nil, attempts: 0, maxAttempts: job.maxAttempts, dataSourceId: job.dataSourceId, createdBy: createdBy,
                runAfter: now, createdAt: now, updatedAt: now)
        }
        let rows: [[SQLBindable]] = try created.map { job in
            [job.id, job.bulkId, job.type.rawValue, job.state.rawValue, try JSONColumn.encode(job.payload), String?.none,
             job.attempts, job.maxAttempts, job.dataSourceId, job.createdBy, job.runAfter.millis, job.createdAt.millis,
             job.updatedAt.millis]
        }
        try await SQLBatch.insert(into: "jobs", columns: ["id", "bulk_id", "type", "state", "payload", "output", "attempts",
                                                          "max_attempts", "data_source_id", "created_by", "run_after",
                                                          "created_at", "updated_at"], rows: rows, chunk: 200, on: db)
        return created
    }

    /// Enqueues the periodic job `type` for the period `period` once, however many instances ask: its id is derived
    /// from both, so a second insert is a no-op. Finished runs older than `keepFinished` are pruned at the same time.
    public func enqueueScheduled(_ type: JobType, period: Int64, now: Date, keepFinished: TimeInterval = 86_400) async throws {
        let id = Self.nameBasedId("warden.scheduled:\(type.rawValue):\(period)")
        try await metastore.write { db in
            try await db.raw("""
                INSERT INTO jobs (id, bulk_id, type, state, payload, output, attempts, max_attempts, data_source_id, created_by, run_after,
                                  created_at, updated_at)
                VALUES (\(bind: id), \(bind: String?.none), \(bind: type.rawValue), \(bind: JobState.created.rawValue),
                        \(bind: try JSONColumn.encode(JSONValue.object(["period": .int(period)]))), \(bind: String?.none), 0, 3,
                        \(bind: Int64?.none), 0, \(bind: now.millis), \(bind: now.millis), \(bind: now.millis))
                ON CONFLICT (id) DO NOTHING
                """).run()
            try await db.raw("""
                DELETE FROM jobs WHERE type = \(bind: type.rawValue) AND state IN ('completed', 'failed')
                AND updated_at < \(bind: now.addingTimeInterval(-keepFinished).millis)
                """).run()
        }
    }

    /// Queues one native-view refresh per enforced source (PostgreSQL; a disabled one too, whose refresh takes its
    /// grants away) changed since its last refresh was queued. The job id is derived from the source and its change
    /// count, so instances sharing a metastore queue each refresh once between them. The sources stay locked until the
    /// jobs are in, so a source deleted meanwhile is either skipped or deleted with its new job. Returns how many were queued.
    @discardableResult
    public func queueViewRefreshes(now: Date) async throws -> Int {
        try await metastore.write { db in
            let due = try await db.raw("""
                SELECT ds.id, ds.view_changes FROM data_sources ds
                WHERE ds.view_changes > ds.view_changes_queued
                  AND EXISTS (SELECT 1 FROM data_source_handlers h WHERE h.data_source_id = ds.id AND h.technology = \(bind: Technology.postgresql.rawValue))
                ORDER BY ds.id\(SQLLock.forUpdate(db))
                """).all().map { (try $0.int64("id"), try $0.int64("view_changes")) }
            for (id, changes) in due {
                try await db.raw("""
                    INSERT INTO jobs (id, bulk_id, type, state, payload, output, attempts, max_attempts, data_source_id, created_by, run_after,
                                      created_at, updated_at)
                    VALUES (\(bind: Self.nameBasedId("warden.view:\(id):\(changes)")), \(bind: String?.none), \(bind: JobType.nativeViewRefresh.rawValue),
                            \(bind: JobState.created.rawValue), \(bind: try JSONColumn.encode(JSONValue.object(["changes": .int(changes)]))),
                            \(bind: String?.none), 0, 5, \(bind: id), 0, \(bind: now.millis), \(bind: now.millis), \(bind: now.millis))
                    ON CONFLICT (id) DO NOTHING
                    """).run()
                try await db.raw("""
                    UPDATE data_sources SET view_changes_queued = \(bind: changes) WHERE id = \(bind: id) AND view_changes_queued < \(bind: changes)
                    """).run()
            }
            return due.count
        }
    }

    /// Whether a job of `type` on the source is held by a live worker lease at `now`.
    public func isRunning(_ type: JobType, dataSourceId: Int64, now: Date) async throws -> Bool {
        try await metastore.read { db in
            try await db.raw("""
                SELECT 1 AS held FROM jobs WHERE type = \(bind: type.rawValue) AND data_source_id = \(bind: dataSourceId)
                AND state = 'active' AND locked_until >= \(bind: now.millis) LIMIT 1
                """).first() != nil
        }
    }

    /// A name-based (version 5 style) UUID: the same name gives the same id on every instance.
    static func nameBasedId(_ name: String) -> String {
        var bytes = Array(SHA256.hash(data: Data(name.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])).uuidString.lowercased()
    }

    /// Claims the oldest runnable job for `workerId` until `leaseUntil`: a created or retrying job that is due,
    /// or an active one whose lease expired. Exactly one worker gets each claim.
    public func claim(workerId: String, now: Date, leaseUntil: Date) async throws -> Job? {
        try await claim(type: nil, limit: 1, workerId: workerId, now: now, leaseUntil: leaseUntil).first
    }

    /// Claims up to `limit` runnable jobs (of `type`, when given), oldest first, as `claim` does: for work that is
    /// cheaper done together (view refreshes share one warehouse transaction). Each is still its own job.
    public func claim(type: JobType?, limit: Int, workerId: String, now: Date, leaseUntil: Date) async throws -> [Job] {
        guard limit > 0 else { return [] }
        let ofType: SQLQueryString = type.map { "type = \(bind: $0.rawValue) AND " } ?? ""
        let runnable: SQLQueryString = """
            \(ofType)((state IN ('created', 'retry') AND run_after <= \(bind: now.millis)) OR (state = 'active' AND locked_until < \(bind: now.millis)))
            """
        // On PostgreSQL, SKIP LOCKED lets concurrent workers in several processes pass over each other's claims; the
        // SQLite writer is already exclusive for the whole transaction.
        let lock: SQLQueryString = metastore.kind == .postgresql ? " FOR UPDATE SKIP LOCKED" : ""
        return try await metastore.write { db in
            var claimed: [Job] = []
            for row in try await db.raw("SELECT id FROM jobs WHERE \(runnable) ORDER BY created_at, id LIMIT \(bind: limit)\(lock)").all() {
                if let job = try await db.raw("""
                    UPDATE jobs SET state = 'active', attempts = attempts + 1, locked_by = \(bind: workerId),
                        locked_until = \(bind: leaseUntil.millis), updated_at = \(bind: now.millis)
                    WHERE id = \(bind: try row.string("id")) RETURNING \(unsafeRaw: Self.columns)
                    """).first().map(Self.job(from:)) {
                    claimed.append(job)
                }
            }
            return claimed
        }
    }

    /// Extends the lease of a job `workerId` still holds; false when the job was taken over.
    @discardableResult
    public func renewLease(jobId: String, workerId: String, until: Date) async throws -> Bool {
        try await metastore.write { db in
            !(try await db.raw("""
                UPDATE jobs SET locked_until = \(bind: until.millis)
                WHERE id = \(bind: jobId) AND locked_by = \(bind: workerId) AND state = 'active' RETURNING id
                """).all().isEmpty)
        }
    }

    /// Shows how far a running job got in its `output` (a crawl's tables seen so far), while the lease is held.
    public func progress(_ lease: JobLease, output: JSONValue, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("""
                UPDATE jobs SET output = \(bind: try JSONColumn.encode(output)), updated_at = \(bind: now.millis)
                WHERE id = \(bind: lease.job.id) AND locked_by = \(bind: lease.workerId) AND state = 'active'
                """).run()
        }
    }

    /// Records success, unless another worker took the job over meanwhile.
    @discardableResult
    public func complete(_ lease: JobLease, output: JSONValue, now: Date) async throws -> Bool {
        try await metastore.write { db in
            try await Self.finish(lease, state: .completed, output: output, runAfter: nil, now: now, on: db)
        }
    }

    /// Records the success of several jobs in one transaction; the ids of those another worker took over meanwhile.
    public func complete(_ results: [(lease: JobLease, output: JSONValue)], now: Date) async throws -> Set<String> {
        try await metastore.write { db in
            var lost: Set<String> = []
            for (lease, output) in results where !(try await Self.finish(lease, state: .completed, output: output, runAfter: nil, now: now, on: db)) {
                lost.insert(lease.job.id)
            }
            return lost
        }
    }

    /// Records a failure: the job is retried after a backoff while attempts remain, else it has failed.
    /// A `permanent` failure (the data source is gone, the starter may not do this) fails at once.
    @discardableResult
    public func fail(_ lease: JobLease, error message: String, permanent: Bool = false, now: Date) async throws -> JobState {
        try await record(lease, .fail(permanent: permanent), message: message, now: now)
    }

    /// Records that the run found its work held by other work: the job runs again shortly, the attempt not counted.
    @discardableResult
    public func postpone(_ lease: JobLease, reason message: String, now: Date) async throws -> JobState {
        try await record(lease, .wait, message: message, now: now)
    }

    private func record(_ lease: JobLease, _ event: JobStateMachine.Event, message: String, now: Date) async throws -> JobState {
        let output = JSONValue.object(["error": .string(message)])
        let job = lease.job
        guard let next = JobStateMachine.transition(from: job.state, on: event, attempts: job.attempts,
                                                    maxAttempts: job.maxAttempts, now: now) else { throw Self.leaseLost }
        _ = try await metastore.write { db in
            try await Self.finish(lease, state: next.state, output: output, runAfter: next.runAfter, attempts: next.attempts, now: now, on: db)
        }
        return next.state
    }

    public static let leaseLost = WardenError(.conflict, code: .jobLeaseLost,
                                              message: "The job was taken over by another worker before it finished")

    /// Records a job's completion inside the transaction of its effect, so the two commit together: a job is never
    /// done in effect but not recorded (and so run again), and a worker that lost its lease commits nothing.
    static func recordCompletion(_ completion: JobCompletion, on db: any SQLDatabase) async throws {
        guard try await finish(completion.lease, state: .completed, output: completion.output, runAfter: nil, now: completion.now,
                               on: db) else { throw leaseLost }
    }

    /// Moves a job its worker still holds to `state`, with `attempts` when the move changes them (a wait does not
    /// count its attempt). Once a job has ended, its payload keeps no secrets.
    private static func finish(_ lease: JobLease, state: JobState, output: JSONValue, runAfter: Date?, attempts: Int? = nil, now: Date,
                               on db: any SQLDatabase) async throws -> Bool {
        var reschedule: SQLQueryString = runAfter.map { ", run_after = \(bind: $0.millis)" } ?? ""
        if let attempts, attempts != lease.job.attempts { reschedule += ", attempts = \(bind: attempts)" }
        let payload: SQLQueryString = state.isFinal ? ", payload = \(bind: try JSONColumn.encode(lease.job.payloadWithoutSecrets))" : ""
        return !(try await db.raw("""
            UPDATE jobs SET state = \(bind: state.rawValue), output = \(bind: try JSONColumn.encode(output)), locked_by = NULL,
                locked_until = NULL, updated_at = \(bind: now.millis)\(reschedule)\(payload)
            WHERE id = \(bind: lease.job.id) AND locked_by = \(bind: lease.workerId) AND state = 'active' RETURNING id
            """).all().isEmpty)
    }

    public func job(id: String) async throws -> Job? {
        try await metastore.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE id = \(bind: id)").first().map(Self.job(from:))
        }
    }

    public func jobs(bulkId: String) async throws -> [Job] {
        try await metastore.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE bulk_id = \(bind: bulkId) ORDER BY created_at, id")
                .all().map(Self.job(from:))
        }
    }

    public func jobs(ids: [String]) async throws -> [Job] {
        let ids = Array(Set(ids))
        guard !ids.isEmpty else { return [] }
        return try await metastore.read { db in
            var result: [Job] = []
            for chunk in SQLBatch.chunks(ids) {
                let binds: [SQLBindable] = chunk
                result += try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM jobs WHERE id IN (\(binds: binds))").all().map(Self.job(from:))
            }
            return result
        }
    }

    static func job(from row: any SQLRow) throws -> Job {
        guard let type = JobType(rawValue: try row.string("type")), let state = JobState(rawValue: try row.string("state")) else {
            throw WardenError(.internalError, code: .metastoreCorrupt, message: "A job in the metastore has an unknown type or state")
        }
        return Job(
            id: try row.string("id"), bulkId: try row.optionalString("bulk_id"), type: type, state: state,
            payload: try JSONColumn.decode(JSONValue.self, from: try row.string("payload")),
            output: try row.optionalString("output").map { try JSONColumn.decode(JSONValue.self, from: $0) },
            attempts: try row.decode(column: "attempts", as: Int.self), maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            dataSourceId: try row.decode(column: "data_source_id", as: Int64?.self), createdBy: try row.int64("created_by"),
            runAfter: try row.date("run_after"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}
