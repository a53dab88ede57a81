import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct JobStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func admin(_ metastore: Metastore) async throws -> Int64 {
        try await IdentityStore(metastore: metastore).createUser(NewUser(userid: "owner"), passwordHash: nil, now: now).id
    }

    @Test(arguments: TestMetastores.kinds)
    func eachJobIsClaimedByExactlyOneWorker(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let created = try await store.enqueue((0..<20).map { _ in NewJob(id: UUID().uuidString.lowercased(), type: .nativeViewRefresh, dataSourceId: 1) },
                                                  createdBy: try await admin(metastore), now: now)
            let now = self.now

            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var mine: [String] = []
                        while let job = try await store.claim(workerId: "w\(worker)", now: now, leaseUntil: now.addingTimeInterval(60)) {
                            mine.append(job.id)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }

            #expect(claimed.count == 20)
            #expect(Set(claimed) == Set(created.map(\.id)))
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aDeadWorkersJobIsRetakenAfterItsLease(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let job = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .highCardinality, dataSourceId: 1)], createdBy: try await admin(metastore), now: now)[0]
            let dead = JobLease(job: try #require(try await store.claim(workerId: "dead", now: now, leaseUntil: now.addingTimeInterval(30))),
                                workerId: "dead")

            let tooEarly = try await store.claim(workerId: "alive", now: now.addingTimeInterval(29), leaseUntil: now.addingTimeInterval(90))
            let retaken = try #require(try await store.claim(workerId: "alive", now: now.addingTimeInterval(31), leaseUntil: now.addingTimeInterval(91)))
            let lateCompletion = try await store.complete(dead, output: .null, now: now.addingTimeInterval(32))
            let completion = try await store.complete(JobLease(job: retaken, workerId: "alive"), output: .object(["ok": .bool(true)]),
                                                      now: now.addingTimeInterval(33))

            #expect(tooEarly == nil)
            #expect(retaken.id == job.id)
            #expect(retaken.attempts == 2)
            #expect(!lateCompletion)
            #expect(completion)
            #expect(try await store.job(id: job.id)?.state == .completed)
            #expect(try await store.job(id: job.id)?.output == .object(["ok": .bool(true)]))
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func failuresRetryWithBackoffThenFail(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let job = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .highCardinality, dataSourceId: 1, maxAttempts: 2)],
                                              createdBy: try await admin(metastore), now: now)[0]

            let first = try #require(try await store.claim(workerId: "w", now: now, leaseUntil: now.addingTimeInterval(60)))
            let afterFirst = try await store.fail(JobLease(job: first, workerId: "w"), error: "warehouse down", now: now)
            let notYetDue = try await store.claim(workerId: "w", now: now.addingTimeInterval(1), leaseUntil: now.addingTimeInterval(61))
            let second = try #require(try await store.claim(workerId: "w", now: now.addingTimeInterval(Job.backoff(afterAttempt: 1)),
                                                            leaseUntil: now.addingTimeInterval(120)))
            let afterSecond = try await store.fail(JobLease(job: second, workerId: "w"), error: "still down", now: now.addingTimeInterval(3))

            #expect(afterFirst == .retry)
            #expect(notYetDue == nil)
            #expect(afterSecond == .failed)
            let final = try #require(try await store.job(id: job.id))
            #expect(final.state == .failed)
            #expect(final.output == .object(["error": .string("still down")]))
            #expect(try await store.claim(workerId: "w", now: now.addingTimeInterval(1000), leaseUntil: now.addingTimeInterval(2000)) == nil)
        }
    }

    /// A run that found its work busy spends no attempt and runs again after the short wait, not a failure's backoff:
    /// a job of one attempt waits as often as it must.
    @Test(arguments: TestMetastores.kinds)
    func aBusyJobWaitsWithoutSpendingItsAttempts(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let job = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .nativeViewRemoval, dataSourceId: 1, maxAttempts: 1)],
                                              createdBy: try await admin(metastore), now: now)[0]
            var at = now
            for _ in 0..<3 {
                let run = try #require(try await store.claim(workerId: "w", now: at, leaseUntil: at.addingTimeInterval(60)))
                #expect(run.attempts == 1)
                #expect(try await store.postpone(JobLease(job: run, workerId: "w"), reason: "a refresh runs", now: at) == .retry)
                #expect(try await store.claim(workerId: "w", now: at.addingTimeInterval(Job.busyRetryDelay / 2), leaseUntil: at.addingTimeInterval(60)) == nil)
                at = at.addingTimeInterval(Job.busyRetryDelay)
            }
            let waited = try #require(try await store.job(id: job.id))
            #expect(waited.state == .retry && waited.attempts == 0 && waited.output == .object(["error": .string("a refresh runs")]))
            let last = try #require(try await store.claim(workerId: "w", now: at, leaseUntil: at.addingTimeInterval(60)))
            #expect(try await store.fail(JobLease(job: last, workerId: "w"), error: "warehouse down", now: at) == .failed)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func bulkJobsAreFoundByBulkId(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let owner = try await admin(metastore)
            _ = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .handlerUpdate, dataSourceId: 1, bulkId: "b1"),
                                         NewJob(id: UUID().uuidString.lowercased(), type: .handlerUpdate, dataSourceId: 2, bulkId: "b1"),
                                         NewJob(id: UUID().uuidString.lowercased(), type: .handlerUpdate, dataSourceId: 3, bulkId: "b2")], createdBy: owner, now: now)

            let bulk = try await store.jobs(bulkId: "b1")

            #expect(Set(bulk.compactMap(\.dataSourceId)) == [1, 2])
            #expect(bulk.allSatisfy { $0.state == .created && $0.attempts == 0 })
            #expect(try await store.jobs(ids: bulk.map(\.id) + ["unknown"]).count == 2)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func anEndedJobKeepsNoSecretsInItsPayload(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = JobStore(metastore: metastore)
            let payload = JSONValue.object(["patch": .object(["sealedPassword": .string("sealed-secret"), "hostname": .string("h")])])
            let owner = try await admin(metastore)
            _ = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .handlerUpdate, payload: payload, dataSourceId: 1, maxAttempts: 2)], createdBy: owner, now: now)
            _ = try await store.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .handlerUpdate, payload: payload, dataSourceId: 2, maxAttempts: 2)], createdBy: owner,
                                        now: now.addingTimeInterval(0.5))

            let first = JobLease(job: try #require(try await store.claim(workerId: "w", now: now.addingTimeInterval(1),
                                                                         leaseUntil: now.addingTimeInterval(60))), workerId: "w")
            #expect(first.job.dataSourceId == 1)
            #expect(try await store.fail(first, error: "warehouse down", now: now.addingTimeInterval(1)) == .retry)
            let retrying = try #require(try await store.job(id: first.job.id))
            let second = JobLease(job: try #require(try await store.claim(workerId: "w", now: now.addingTimeInterval(1),
                                                                          leaseUntil: now.addingTimeInterval(60))), workerId: "w")
            #expect(second.job.dataSourceId == 2)
            #expect(try await store.fail(second, error: "refused", permanent: true, now: now.addingTimeInterval(1)) == .failed)
            let again = JobLease(job: try #require(try await store.claim(workerId: "w", now: now.addingTimeInterval(10),
                                                                         leaseUntil: now.addingTimeInterval(70))), workerId: "w")
            #expect(try await store.complete(again, output: .null, now: now.addingTimeInterval(11)))

            // A retry still needs the secret; a failed or completed job does not keep it.
            #expect(retrying.payload == payload)
            let stripped = JSONValue.object(["patch": .object(["hostname": .string("h")])])
            #expect(try await store.job(id: second.job.id)?.payload == stripped)
            #expect(try await store.job(id: again.job.id)?.payload == stripped)
        }
    }

    @Test func backoffDoublesAndIsCapped() {
        #expect(Job.backoff(afterAttempt: 1) == 2)
        #expect(Job.backoff(afterAttempt: 3) == 8)
        #expect(Job.backoff(afterAttempt: 20) == 300)
    }
}
