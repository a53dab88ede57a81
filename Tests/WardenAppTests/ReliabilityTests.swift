import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// What one server left for the next, in a test that restarts.
final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var values: (config: AppConfig?, bulkId: String, ids: [String: Int]) = (nil, "", [:])
    var config: AppConfig? { lock.withLock { values.config } }
    var bulkId: String { lock.withLock { values.bulkId } }
    var ids: [String: Int] { lock.withLock { values.ids } }

    func set(config: AppConfig, bulkId: String, ids: [String: Int]) {
        lock.withLock { values = (config, bulkId, ids) }
    }
}

/// What must hold when jobs are re-run and when clients race, on one instance and on two sharing a metastore.
@Suite struct ReliabilityTests {
    struct Person {
        let key: String
        let id: Int
    }

    func person(_ server: TestServer, _ userid: String) async throws -> Person {
        let key = try await server.userWithKey(userid, permissions: [.createDataSource])
        return Person(key: key, id: try #require(try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.ok).object["id"] as? Int))
    }

    /// A bulk delete of an enabled source disables it, even when its job runs only after something else disabled it
    /// (as when the first run's effect committed and the process died before recording the job): the job does what
    /// the caller saw, never a purge nobody asked for.
    @Test(arguments: TestMetastores.kinds)
    func aBulkDeleteDoesWhatItsCallerSaw(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let first = Captured()
        try await TestServer.run(kind, configure: { $0.jobConcurrency = 0 }) { server in
            let ids = try await server.registerArmy(warehouse)
            let bulk = try await server.call(.put, "/dataSource/bulk/delete", json: #"{"ids": [\#(ids["army_records"]!), \#(ids["data"]!)]}"#)
                .expect(.ok).object
            // The state the first, lost run would have left: disabled.
            try await server.call(.put, "/dataSource/\(ids["army_records"]!)", json: #"{"deleted": true}"#).expect(.ok)
            first.set(config: server.config, bulkId: try #require(bulk["bulkId"] as? String), ids: ids)
        }
        var config = try #require(first.config)
        config.jobConcurrency = 1
        let (bulkId, ids) = (first.bulkId, first.ids)
        try await TestServer.run(config: config) { server in
            let listed = try await server.call(.get, "/jobs?bulkId=\(bulkId)").expect(.ok).array.compactMap { ($0 as? [String: Any])?["id"] as? String }
            let states = try await server.waitForJobs(listed)

            #expect(listed.count == 2)
            #expect(states.values.allSatisfy { $0["state"] as? String == "completed" }, "\(states)")
            for table in ["army_records", "data"] {
                let source = try await server.call(.get, "/dataSource/\(ids[table]!)").expect(.ok).object
                #expect(source["deleted"] as? Bool == true, "\(table) is disabled, not gone: \(source)")
            }
            // A second bulk delete, of what is now disabled, purges: that is what its caller saw.
            let purge = try await server.call(.put, "/dataSource/bulk/delete", json: #"{"ids": [\#(ids["data"]!)]}"#).expect(.ok).object
            let purgeJobs = try await server.call(.get, "/jobs?bulkId=\(purge["bulkId"] as? String ?? "")").expect(.ok).array
                .compactMap { ($0 as? [String: Any])?["id"] as? String }
            let purged = try await server.waitForJobs(purgeJobs)
            #expect(purgeJobs.count == 1)
            #expect(purged.values.first?["state"] as? String == "completed", "\(purged)")
            try await server.call(.get, "/dataSource/\(ids["data"]!)").expect(.notFound)
            #expect(try await server.call(.get, "/jobs?bulkId=\(purge["bulkId"] as? String ?? "")").expect(.ok).array.count == 1,
                    "the purge job stays listed")
        }
    }

    typealias Call = @Sendable (HTTPRequest.Method, String, String, String?) async throws -> Reply

    /// Runs `body` with one server and a way to race it: a second connection to the same server, or a second server
    /// sharing its metastore.
    func onInstances(_ count: Int, _ kind: MetastoreKind, _ body: @Sendable @escaping (TestServer, Call) async throws -> Void) async throws {
        if count == 1 {
            try await TestServer.run(kind) { server in
                try await body(server) { method, path, auth, json in try await server.callOnNewConnection(method, path, auth: auth, json: json) }
            }
        } else {
            try await TestServer.runPair(kind) { first, second in
                try await body(first) { method, path, auth, json in try await second.call(method, path, auth: auth, json: json) }
            }
        }
    }

    static let instanceCounts = [1, 2]

    @Test(arguments: TestMetastores.kinds, instanceCounts)
    func parallelUpdatesOfDifferentFieldsBothHold(kind: MetastoreKind, instances: Int) async throws {
        let warehouse = try await TestWarehouse.army()
        try await onInstances(instances, kind) { first, second in
            let id = try #require(try await first.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            var lost = 0
            for round in 0..<25 {
                async let description = first.call(.put, "/dataSource/\(id)", json: #"{"description": "description \#(round)"}"#)
                async let category = second(.put, "/dataSource/\(id)", TestServer.adminKey, #"{"category": "category \#(round)"}"#)
                try await description.expect(.ok)
                try await category.expect(.ok)
                let source = try await first.call(.get, "/dataSource/\(id)").expect(.ok).object
                if source["description"] as? String != "description \(round)" || source["category"] as? String != "category \(round)" { lost += 1 }
            }
            #expect(lost == 0, "\(lost) of 25 rounds lost an update")
        }
    }

    @Test(arguments: TestMetastores.kinds, instanceCounts)
    func ownersDemotingEachOtherLeaveOneOwner(kind: MetastoreKind, instances: Int) async throws {
        let warehouse = try await TestWarehouse.army()
        try await onInstances(instances, kind) { first, second in
            let alice = try await person(first, "alice")
            let bob = try await person(first, "bob")
            let id = try #require(try await first.registerArmy(warehouse, tables: ["army_records"], auth: alice.key)["army_records"])
            let bobRow = try #require(try await first.call(.post, "/dataSource/\(id)/access", auth: alice.key,
                                                           json: #"{"profileId": \#(bob.id), "state": "owner"}"#).expect(.ok).object["id"] as? Int)
            let owners = try await first.call(.get, "/dataSource/\(id)/access?states=owner", auth: alice.key).expect(.ok).object
            let aliceRow = try #require((owners["users"] as? [[String: Any]])?.first { $0["profile"] as? Int == alice.id }?["subscriptionId"] as? Int)
            var violations = 0
            for _ in 0..<12 {
                async let aliceDemotesBob = first.call(.put, "/dataSource/\(id)/access/\(bobRow)", auth: alice.key, json: #"{"state": "expert"}"#)
                async let bobDemotesAlice = second(.put, "/dataSource/\(id)/access/\(aliceRow)", bob.key, #"{"state": "expert"}"#)
                let outcomes = [try await aliceDemotesBob.status.code, try await bobDemotesAlice.status.code].sorted()
                let remaining = try await first.call(.get, "/dataSource/\(id)/access?states=owner").expect(.ok).object
                let ownerIds = (remaining["users"] as? [[String: Any]] ?? []).compactMap { $0["profile"] as? Int }
                // One wins; the other is refused: 409 when it ran alongside, 403 when it ran after and found itself demoted.
                if outcomes.first != 200 || ![403, 409].contains(outcomes.last) || ownerIds.count != 1 { violations += 1 }
                // The owner left makes the other one an owner again for the next round.
                guard let survivor = ownerIds.first else { break }
                let (key, row) = survivor == alice.id ? (alice.key, bobRow) : (bob.key, aliceRow)
                try await first.call(.put, "/dataSource/\(id)/access/\(row)", auth: key, json: #"{"state": "owner"}"#).expect(.ok)
            }
            #expect(violations == 0, "\(violations) of 12 rounds did not end with exactly one winner and one owner")
        }
    }
}
