import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// A job's effect in the metastore commits together with its completion, and only by the worker holding its lease.
@Suite struct JobCompletionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    struct Fixture {
        let jobs: JobStore
        let dataSources: DataSourceStore
        let activities: ActivityStore
        let owner: Int64
        let source: DataSource
    }

    func fixture(_ metastore: Metastore) async throws -> Fixture {
        let owner = try await IdentityStore(metastore: metastore).createUser(NewUser(userid: "owner"), passwordHash: nil, now: now).id
        let secrets = try SecretBox(masterKey: SecretBox.generateMasterKey())
        let dataSources = DataSourceStore(metastore: metastore, secrets: secrets)
        let metadata = try HandlerMetadata.parse(["hostname": .string("warehouse.invalid"), "database": .string("db"), "username": .string("u"),
                                                  "password": .string("p"), "schema": .string("s"), "table": .string("t")],
                                                 path: "test", technology: .postgresql, passwordRequired: true)
        let draft = DataSourceDraft(names: DataSourceNames(metadata: metadata, template: NameTemplate()), technology: .postgresql,
                                    settings: DataSourceSettings(), metadata: metadata, columns: [], rowCount: 1)
        let source = try await dataSources.create([draft], owner: owner, jobs: { _ in [] }, now: now)[0]
        return Fixture(jobs: JobStore(metastore: metastore), dataSources: dataSources, activities: ActivityStore(metastore: metastore),
                       owner: owner, source: source)
    }

    func disable() -> DataSourceChanges {
        var changes = DataSourceChanges()
        changes.deleted = true
        return changes
    }

    @Test(arguments: TestMetastores.kinds)
    func aWorkerThatLostItsLeaseCommitsNothing(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let f = try await fixture(metastore)
            _ = try await f.jobs.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .dataSourceBulk, dataSourceId: f.source.id, bulkId: "b")], createdBy: f.owner, now: now)
            let slow = JobLease(job: try #require(try await f.jobs.claim(workerId: "slow", now: now, leaseUntil: now.addingTimeInterval(30))),
                                workerId: "slow")
            let later = now.addingTimeInterval(31)
            let fast = JobLease(job: try #require(try await f.jobs.claim(workerId: "fast", now: later, leaseUntil: later.addingTimeInterval(30))),
                                workerId: "fast")

            _ = try await f.dataSources.update(id: f.source.id, changes: disable(), actorId: f.owner, now: later,
                                               completing: JobCompletion(fast, output: .string("fast"), now: later))
            await #expect(throws: WardenError.self) {
                _ = try await f.dataSources.update(id: f.source.id, changes: disable(), actorId: f.owner, now: later,
                                                   completing: JobCompletion(slow, output: .string("slow"), now: later))
            }

            let job = try #require(try await f.jobs.job(id: fast.job.id))
            #expect(job.state == .completed)
            #expect(job.output == .string("fast"))
            let types = try await f.activities.activities(dataSourceId: f.source.id, paging: Paging(size: 100, offset: 0)).items.map(\.type)
            #expect(types.filter { $0 == .disabled }.count == 1, "\(types)")
            #expect(types.filter { $0 == .updated }.count == 1, "\(types)")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aPurgeKeepsTheJobsOfItsBulk(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let f = try await fixture(metastore)
            _ = try await f.jobs.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .dataSourceBulk, dataSourceId: f.source.id, bulkId: "b")], createdBy: f.owner, now: now)
            _ = try await f.jobs.enqueue([NewJob(id: UUID().uuidString.lowercased(), type: .highCardinality, dataSourceId: f.source.id)], createdBy: f.owner,
                                         now: now.addingTimeInterval(0.5))
            let purge = try await f.jobs.jobs(bulkId: "b")[0]
            let lease = JobLease(job: try #require(try await f.jobs.claim(workerId: "w", now: now, leaseUntil: now.addingTimeInterval(30))),
                                 workerId: "w")
            #expect(lease.job.id == purge.id)

            try await f.dataSources.hardDelete(id: f.source.id, now: now, completing: JobCompletion(lease, output: .string("purged"), now: now))

            #expect(try await f.dataSources.dataSource(id: f.source.id) == nil)
            let listed = try await f.jobs.jobs(bulkId: "b")
            #expect(listed.map(\.id) == [purge.id])
            #expect(listed.first?.state == .completed)
            // The source's other jobs went with it; the removal of its native view was queued in their place.
            let next = try await f.jobs.claim(workerId: "w", now: now.addingTimeInterval(1), leaseUntil: now.addingTimeInterval(60))
            #expect(next?.type == .nativeViewRemoval && next?.dataSourceId == f.source.id, "\(String(describing: next))")
            #expect(try await f.jobs.claim(workerId: "w", now: now.addingTimeInterval(1), leaseUntil: now.addingTimeInterval(60)) == nil)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aMetastoreRefusesAnInstanceWithAnotherMasterKey(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let key = SecretBox.generateMasterKey()
            try await metastore.verifyMasterKey(try SecretBox(masterKey: key), now: now)
            try await metastore.verifyMasterKey(try SecretBox(masterKey: key), now: now)
            await #expect(throws: WardenError.self) {
                try await metastore.verifyMasterKey(try SecretBox(masterKey: SecretBox.generateMasterKey()), now: now)
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aMetastoreFromBeforeTheCheckIsVerifiedAgainstItsSecrets(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            // The fixture seals a handler password with a key of its own and records no check value.
            _ = try await fixture(metastore)
            await #expect(throws: WardenError.self) {
                try await metastore.verifyMasterKey(try SecretBox(masterKey: SecretBox.generateMasterKey()), now: now)
            }
        }
    }
}
