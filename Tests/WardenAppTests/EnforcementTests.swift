import Foundation
import HTTPTypes
import Testing
import SQLKit
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// Enforcement in a real PostgreSQL: warehouse login roles read the native view that Warden generates, and see
/// exactly what the policies allow them.
@Suite struct EnforcementTests {
    static let policy = #"""
        {"jsonPolicies": [
          {"type": "masking", "rules": [{"type": "masking",
            "exceptions": {"operator": "or", "conditions": [{"type": "groups", "group": {"name": "HQ"}}]},
            "config": {"fields": ["contact_email"], "maskingConfig": {"type": "Consistent Value", "metadata": {}}}}]},
          {"type": "masking", "rules": [{"type": "masking", "exceptions": null,
            "config": {"fields": ["first_name"], "maskingConfig": {"type": "Reversible", "metadata": {}}}}]},
          {"type": "rowOrObjectRestriction", "rules": [{"type": "visibility", "exceptions": null,
            "config": {"qualifications": {"operator": "or", "conditions": [{"type": "authorizations", "authorization": {"auth": "State"}, "field": "state"}]}}}]}]}
        """#

    @Test(arguments: TestMetastores.kinds)
    func warehouseRolesReadExactlyWhatThePoliciesAllow(kind: MetastoreKind) async throws {
        // A warehouse of this case's own: the view and warden_system rows are the metastore's.
        let warehouse = try await TestWarehouse.army()
        let roles = try await warehouse.loginRoles("alice", "bob")
        let (alice, bob) = (roles[0], roles[1])
        let states = try await warehouse.rows("SELECT DISTINCT state::text FROM army.army_records WHERE state IS NOT NULL ORDER BY 1").compactMap { $0[0] }
        try #require(states.count >= 2)
        @Sendable func expectedCount(_ allowed: [String]) async throws -> Int {
            let list = allowed.map { "'\($0)'" }.joined(separator: ", ")
            return Int(try await warehouse.rows("SELECT count(*)::text FROM army.army_records WHERE state IN (\(list))").first?[0] ?? "0") ?? 0
        }

        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            var apiKeys: [String: String] = [:]
            for (userid, role) in [("alice", alice.name), ("bob", bob.name)] {
                apiKeys[userid] = try await server.userWithKey(userid)
                try await server.call(.put, "/bim/iam/bim/user/\(userid)/profile", json: #"{"externalUserIds": {"postgresUser": "\#(role)"}}"#).expect(.ok)
            }
            let aliceId = try #require(try await server.call(.get, "/bim/user?userid=alice").expect(.ok).object["hits"] as? [[String: Any]])
                .first { $0["userid"] as? String == "alice" }?["id"] as? Int
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(try #require(aliceId)), "state": "subscribed"}"#).expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/State/\(states[0])").expect(.ok)
            try await server.call(.post, "/policy/handler/\(id)", json: Self.policy).expect(.ok)

            func refresh() async throws -> [String: Any] {
                let job = try await server.refreshView(id)
                #expect(job["state"] as? String == "completed", "\(job)")
                return job["output"] as? [String: Any] ?? [:]
            }
            // The policy change already queued a refresh; this one finds the view up to date.
            let first = try await refresh()
            #expect(first["grantees"] as? [String] == [alice.name], "\(first)")
            #expect(first["view"] as? String == "army_immuta.army_records_immuta")
            let view = "army_immuta.army_records_immuta"

            // Alice: only her state's rows, the email hashed, the first name a Reversible token that Warden reverses.
            var rows = try await warehouse.rows("SELECT state::text, contact_email::text, first_name::text FROM \(view)", as: alice)
            let aliceCount = try await expectedCount([states[0]])
            #expect(rows.count == aliceCount)
            #expect(rows.allSatisfy { $0[0] == states[0] })
            #expect(rows.allSatisfy { $0[1].map { $0.count == 64 && $0.allSatisfy(\.isHexDigit) } ?? true })
            let raw = try await warehouse.rows("SELECT first_name::text FROM army.army_records WHERE state = '\(states[0])' AND first_name IS NOT NULL LIMIT 1")
            let tokenRow = try #require(rows.first { $0[2] != nil })
            let token = try #require(tokenRow[2])
            let keys = DataSourceKeyStore(metastore: server.metastore, secrets: try SecretBox(masterKey: try server.config.resolveMasterKey()))
            let sourceKeys = try await keys.keys(dataSourceId: Int64(id), now: Date())
            let opened = sourceKeys.reversible.decrypt(token, column: "first_name")
            #expect(opened != nil && raw.first?[0] != nil)
            // The round trip: Alice asks for the token she read to be unmasked, and the owner she names reads the original.
            let adminId = try #require(try await server.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
            let task = try await server.call(.post, "/dataSource/\(id)/reverseMask", auth: try #require(apiKeys["alice"]), json: """
                {"column": "first_name", "values": ["\(token)"], "unmaskReasoning": "Follow-up", "unmaskingUsers": [\(adminId)]}
                """).expect(.ok).object
            let taskId = try #require(task["id"] as? String ?? (task["id"] as? Int).map(String.init))
            let revealed = try await server.call(.get, "/dataSource/tasks/\(taskId)").expect(.ok).object
            let pairs = try #require((revealed["result"] as? [String: Any])?["unmaskPairs"] as? [[String: Any]])
            let original = try #require(pairs.first?["unmasked"] as? String)
            #expect(original == opened && pairs.first?["masked"] as? String == token)
            let matching = try await warehouse.rows("SELECT count(*)::text FROM army.army_records WHERE first_name = '\(original.replacingOccurrences(of: "'", with: "''"))'")
            #expect(matching.first?[0] != "0", "the unmasked value is a first name of the table")
            // A WHERE on a masked column sees the masked values: the originals cannot be probed.
            #expect(try await warehouse.rows("SELECT count(*)::text FROM \(view) WHERE contact_email LIKE '%@%'", as: alice).first?[0] == "0")
            // No key, salt or secret in the view's text.
            let definition = try await warehouse.rows("SELECT definition FROM pg_views WHERE schemaname = 'army_immuta' AND viewname = 'army_records_immuta'")
            let text = try #require(definition.first?[0] ?? nil)
            func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
            for secret in [sourceKeys.salt, sourceKeys.encryptionKey, sourceKeys.macKey] { #expect(!text.contains(hex(secret))) }
            #expect(text.contains("warden_system.source_keys") && !text.contains("alice"))

            // Bob is not subscribed, and nobody reads the raw table or warden_system directly.
            await #expect(throws: (any Error).self) { _ = try await warehouse.rows("SELECT count(*)::text FROM \(view)", as: bob) }
            await #expect(throws: (any Error).self) { _ = try await warehouse.rows("SELECT count(*)::text FROM army.army_records", as: alice) }
            await #expect(throws: (any Error).self) { _ = try await warehouse.rows("SELECT count(*)::text FROM warden_system.source_keys", as: alice) }

            // Drift: the health check reports a grant added by hand, a role that can read the raw table, an altered or
            // dropped view; a refresh repairs the view and its grants.
            func nativeView() async throws -> (status: String, message: String) {
                let check = try await server.call(.get, "/dataSource/\(id)/test").expect(.ok).object["nativeView"] as? [String: Any] ?? [:]
                return (check["status"] as? String ?? "", check["message"] as? String ?? "")
            }
            try await server.viewRefreshesSettled(id)
            #expect(try await nativeView().status == "passed")
            try await warehouse.execute("GRANT SELECT ON \(view) TO \(bob.name)")
            try await warehouse.execute("GRANT USAGE ON SCHEMA army TO \(alice.name)")
            try await warehouse.execute("GRANT SELECT ON army.army_records TO \(alice.name)")
            var drift = try await nativeView()
            #expect(drift.status == "failed" && drift.message.contains("\(bob.name) may read the view but is not subscribed"), "\(drift)")
            #expect(drift.message.contains("\(alice.name) can read the raw table"), "\(drift)")
            try await warehouse.execute("REVOKE SELECT ON army.army_records FROM \(alice.name)")
            try await warehouse.execute("""
                DO $$ BEGIN EXECUTE 'CREATE OR REPLACE VIEW \(view) AS SELECT * FROM ('
                    || rtrim(pg_get_viewdef('\(view)'::regclass), ';') || ') x LIMIT 1'; END $$
                """)
            drift = try await nativeView()
            #expect(drift.status == "failed", "\(drift)")
            _ = try await refresh()
            #expect(try await nativeView().status == "passed")
            #expect(!(try await warehouse.rows("SELECT pg_get_viewdef('\(view)'::regclass)").first?[0] ?? "LIMIT").contains("LIMIT"))
            await #expect(throws: (any Error).self) { _ = try await warehouse.rows("SELECT count(*)::text FROM \(view)", as: bob) }
            try await warehouse.execute("DROP VIEW \(view)")
            #expect(try await nativeView().message.contains("does not exist"))
            _ = try await refresh()
            #expect(try await nativeView().status == "passed")

            // A group and an attribute change take effect through warden_system rows, with no new view.
            let group = try #require(try await server.call(.post, "/bim/group", json: #"{"name": "HQ"}"#).expect(.ok).object["id"] as? Int)
            try await server.call(.post, "/bim/group/\(group)/user", json: #"{"userid": "alice"}"#).expect(.ok)
            try await server.call(.put, "/bim/iam/bim/user/alice/authorizations/State/\(states[1])").expect(.ok)
            let second = try await refresh()
            #expect(second["viewReplaced"] as? Bool == false, "\(second)")
            rows = try await warehouse.rows("SELECT state::text, contact_email::text FROM \(view)", as: alice)
            let bothCount = try await expectedCount([states[0], states[1]])
            #expect(rows.count == bothCount)
            #expect(rows.contains { $0[1]?.contains("@") == true })

            // Subscribing Bob and unsubscribing Alice move the grants by themselves: the changes mark the view, and the
            // view scheduler queues its refresh within seconds.
            let bobId = try #require(try await server.call(.get, "/bim/user?userid=bob").expect(.ok).object["hits"] as? [[String: Any]])
                .first { $0["userid"] as? String == "bob" }?["id"] as? Int
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(try #require(bobId)), "state": "subscribed"}"#).expect(.ok)
            try await server.call(.delete, "/dataSource/\(id)/unsubscribe", auth: try #require(apiKeys["alice"])).expect(.ok)
            var revoked = false
            for _ in 0..<600 where !revoked {
                let aliceReads = (try? await warehouse.rows("SELECT 1::text FROM \(view) LIMIT 1", as: alice)) != nil
                let bobReads = (try? await warehouse.rows("SELECT 1::text FROM \(view) LIMIT 1", as: bob)) != nil
                revoked = !aliceReads && bobReads
                if !revoked { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(revoked, "Alice's grant was not taken away, or Bob's not given, within a minute")
            let third = try await refresh()
            #expect(third["grantees"] as? [String] == [bob.name], "\(third)")
            #expect(try await warehouse.rows("SELECT count(*)::text FROM \(view)", as: bob).first?[0] == "0", "Bob has no State attribute")
            await #expect(throws: (any Error).self) { _ = try await warehouse.rows("SELECT count(*)::text FROM \(view)", as: alice) }
        }
        await warehouse.drop(roles)
    }
}

extension EnforcementTests {
    static let hashSoldiers = #"""
        {"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking", "exceptions": null,
         "config": {"fields": ["soldier_id"], "maskingConfig": {"type": "Consistent Value", "metadata": {}}}}]}]}
        """#

    /// A hashed column joins within its source (equal values stay equal) and not across two sources (each has its own
    /// salt); an expired membership loses its grant without anyone refreshing.
    @Test(arguments: TestMetastores.kinds)
    func hashedColumnsJoinOnlyWithinTheirSourceAndExpiredMembershipsLoseTheirGrant(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let carol = try await warehouse.loginRoles("carol")[0]
        let clock = TestClock()
        try await TestServer.run(kind, clock: clock, configure: { $0.subscriptionExpiryInterval = 1 }) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "records_view"])
            let (records, active) = (try #require(ids["army_records"]), try #require(ids["records_view"]))
            _ = try await server.userWithKey("carol")
            try await server.call(.put, "/bim/iam/bim/user/carol/profile", json: #"{"externalUserIds": {"postgresUser": "\#(carol.name)"}}"#).expect(.ok)
            let carolId = try #require((try await server.call(.get, "/bim/user?userid=carol").expect(.ok).object["hits"] as? [[String: Any]])?
                .first { $0["userid"] as? String == "carol" }?["id"] as? Int)
            let expiration = ISODate.format(clock.now().addingTimeInterval(3_600))
            for source in [records, active] {
                try await server.call(.post, "/dataSource/\(source)/access",
                                      json: #"{"profileId": \#(carolId), "state": "subscribed", "expiration": "\#(expiration)"}"#).expect(.ok)
                try await server.call(.post, "/policy/handler/\(source)", json: Self.hashSoldiers).expect(.ok)
            }
            let views = ["army_immuta.army_records_immuta", "army_immuta.records_view_immuta"]
            func readable(_ view: String) async -> Bool { (try? await warehouse.rows("SELECT 1::text FROM \(view) LIMIT 1", as: carol)) != nil }
            var ready = false
            for _ in 0..<600 where !ready {
                var both = true
                for view in views where !(await readable(view)) { both = false }
                ready = both
                if !ready { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(ready, "the views were not generated and granted within a minute")

            // Within one source, equal values hash equally; across the two sources (the same soldiers) none match.
            let within = try await warehouse.rows("""
                SELECT count(*)::text FROM \(views[0]) a JOIN \(views[0]) b ON a.soldier_id = b.soldier_id
                """, as: carol)
            let raw = try await warehouse.rows("SELECT count(*)::text FROM army.army_records a JOIN army.army_records b ON a.soldier_id = b.soldier_id")
            #expect(within.first?[0] == raw.first?[0] && within.first?[0] != "0")
            let across = try await warehouse.rows("""
                SELECT count(*)::text FROM \(views[0]) a JOIN \(views[1]) b ON a.soldier_id::text = b.soldier_id::text
                """, as: carol)
            let rawAcross = try await warehouse.rows("""
                SELECT count(*)::text FROM army.army_records a JOIN army.records_view b ON a.soldier_id::text = b.soldier_id::text
                """)
            #expect(rawAcross.first?[0] != "0", "the tables share soldier ids, so only the salts keep the join apart")
            #expect(across.first?[0] == "0")

            // Past the expiration the memberships end, and the grants go with them.
            clock.advance(seconds: 7_200)
            var revoked = false
            for _ in 0..<600 where !revoked {
                let first = await readable(views[0])
                let second = await readable(views[1])
                revoked = !first && !second
                if !revoked { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(revoked, "expired memberships kept their grants for a minute")
        }
        await warehouse.drop([carol])
    }

    /// A disabled source's view is readable by nobody (a grant added by hand neither), a restored one by its subscribers
    /// again; a source deleted for good, on its own or with its connection's object, takes its view and its
    /// `warden_system` rows with it.
    @Test(arguments: TestMetastores.kinds)
    func disabledSourcesAreReadByNobodyAndDeletedOnesLeaveNoView(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let roles = try await warehouse.loginRoles("carol", "dave")
        let (carol, dave) = (roles[0], roles[1])
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data"])
            let (id, other) = (try #require(ids["army_records"]), try #require(ids["data"]))
            _ = try await server.userWithKey("carol")
            try await server.call(.put, "/bim/iam/bim/user/carol/profile", json: #"{"externalUserIds": {"postgresUser": "\#(carol.name)"}}"#).expect(.ok)
            let carolId = try #require((try await server.call(.get, "/bim/user?userid=carol").expect(.ok).object["hits"] as? [[String: Any]])?
                .first { $0["userid"] as? String == "carol" }?["id"] as? Int)
            for source in [id, other] {
                try await server.call(.post, "/dataSource/\(source)/access", json: #"{"profileId": \#(carolId), "state": "subscribed"}"#).expect(.ok)
            }
            let (view, otherView) = ("army_immuta.army_records_immuta", "army_immuta.data_immuta")
            func readable(_ role: TestWarehouse.Role, _ view: String = view) async -> Bool {
                (try? await warehouse.rows("SELECT 1::text FROM \(view) LIMIT 1", as: role)) != nil
            }
            func exists(_ view: String) async throws -> Bool {
                try await warehouse.rows("""
                    SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind = 'v' AND n.nspname || '.' || c.relname = '\(view.replacingOccurrences(of: "'", with: "''"))'
                    """).first?[0] == "1"
            }
            func rows(_ id: Int) async throws -> String? {
                try await warehouse.rows("""
                    SELECT ((SELECT count(*) FROM warden_system.views WHERE data_source_id = \(id))
                        + (SELECT count(*) FROM warden_system.source_keys WHERE data_source_id = \(id))
                        + (SELECT count(*) FROM warden_system.purposes WHERE data_source_id = \(id)))::text
                    """).first?[0] ?? nil
            }
            /// The source's jobs as the metastore holds them: what a failed wait for the warehouse names.
            func jobs(_ id: Int) async throws -> String {
                try await server.metastore.read { db in
                    try await db.raw("""
                        SELECT type, state, attempts, run_after, output FROM jobs WHERE data_source_id = \(bind: id) ORDER BY created_at
                        """).all().map { row in
                        "\(try row.decode(column: "type", as: String.self)) \(try row.decode(column: "state", as: String.self))"
                            + " attempts \(try row.decode(column: "attempts", as: Int.self)) run_after \(try row.decode(column: "run_after", as: Int64.self))"
                            + " \(try row.decode(column: "output", as: String?.self) ?? "")"
                    }.joined(separator: "; ")
                }
            }
            /// Whether `condition` holds within a minute (the view scheduler and the job worker run every few seconds).
            /// The server's clock moves with the wait, so that a job waiting to run again (a removal waiting for a
            /// refresh, say) comes due.
            func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
                for _ in 0..<600 {
                    if try await condition() { return true }
                    try await Task.sleep(for: .milliseconds(100))
                    server.clock.advance(seconds: 0.1)
                }
                return false
            }
            try #require(try await eventually {
                let (first, second) = (await readable(carol), await readable(carol, otherView))
                return first && second
            }, "the views were not granted to their subscriber within a minute")
            try await warehouse.execute("GRANT SELECT ON \(view) TO \(dave.name)")

            // DELETE on an enabled source disables it; the two sources' views are withdrawn together.
            for source in [id, other] { try await server.call(.delete, "/dataSource/\(source)").expect(.ok) }
            #expect(try await eventually {
                let (carolReads, daveReads, otherReads) = (await readable(carol), await readable(dave), await readable(carol, otherView))
                return !carolReads && !daveReads && !otherReads
            }, "a disabled source's view stayed readable")
            #expect(try await exists(view), "the view stays for a restore")
            try await server.call(.put, "/dataSource/\(id)", json: #"{"deleted": false}"#).expect(.ok)
            #expect(try await eventually { await readable(carol) }, "a restored source's view was not granted again")
            let (daveReads, otherReads) = (await readable(dave), await readable(carol, otherView))
            #expect(!daveReads, "a grant added by hand came back with the restore")
            #expect(!otherReads, "a source still disabled was granted again with another's restore")

            // A second DELETE, of the disabled source, deletes it for good: here while a refresh of it runs elsewhere
            // (its lease 3 s of the server's time), which the removal waits for, as that refresh may still write.
            try await server.call(.delete, "/dataSource/\(id)").expect(.ok)
            let now = Int64(server.clock.now().timeIntervalSince1970 * 1000)
            try await server.metastore.write { db in
                try await db.raw("""
                    INSERT INTO jobs (id, type, state, payload, attempts, max_attempts, data_source_id, created_by, run_after, locked_by,
                                      locked_until, created_at, updated_at)
                    VALUES (\(bind: UUID().uuidString.lowercased()), 'nativeViewRefresh', 'active', '{}', 1, 5, \(bind: id), 0, \(bind: now),
                            'elsewhere', \(bind: now + 3_000), \(bind: now), \(bind: now))
                    """).run()
            }
            try await server.call(.delete, "/dataSource/\(id)").expect(.ok)
            try await server.call(.get, "/dataSource/\(id)").expect(.notFound)
            var waiting = false
            for _ in 0..<300 where !waiting {
                try await Task.sleep(for: .milliseconds(100))
                waiting = try await server.metastore.read { db in
                    try await db.raw("SELECT state FROM jobs WHERE data_source_id = \(bind: id) AND type = 'nativeViewRemoval'").first()?
                        .decode(column: "state", as: String.self)
                } == "retry"
            }
            let waited = waiting ? "" : try await jobs(id)
            #expect(waiting, "the removal did not wait for the running refresh: \(waited)")
            #expect(try await exists(view), "the view was dropped while a refresh of it ran")
            let dropped = try await eventually { try await !exists(view) }
            let removal = dropped ? "" : try await jobs(id)
            #expect(dropped, "the view of a deleted source is still there: \(removal)")
            #expect(try await rows(id) == "0")

            // A connection's object deleted: the views of the sources it made go too.
            let connection = DataRoutesTests.connectionBody(warehouse, key: "views")
            _ = try await DataRoutesTests.crawled(server, try await server.call(.post, "/data/connection", json: connection).expect(.ok))
            let made = try #require(try await server.call(.get, "/data/object/views/\(warehouse.database)/army/army_records").expect(.ok)
                .object["dataSourceId"] as? Int)
            let refreshed = try await server.refreshView(made)
            let madeView = try #require((refreshed["output"] as? [String: Any])?["view"] as? String, "\(refreshed)")
            #expect(try await exists(madeView))
            try await server.call(.delete, "/data/object/views").expect(.ok)
            let madeDropped = try await eventually { try await !exists(madeView) }
            let madeRemoval = madeDropped ? "" : try await jobs(made)
            #expect(madeDropped, "the view of a source deleted with its connection is still there: \(madeRemoval)")
            #expect(try await rows(made) == "0")
        }
        await warehouse.drop(roles)
    }

    /// A regenerated view is replaced in place: what a warehouse user built on it keeps working, and the view keeps its
    /// identity. Only a change PostgreSQL cannot replace in place (a column's type) drops and makes it again, and
    /// when something depends on it that fails cleanly, the previous view staying in place.
    @Test(arguments: TestMetastores.kinds)
    func viewsAreReplacedInPlaceSoThatWhatDependsOnThemStays(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let first = try await server.refreshView(id)
            let view = try #require((first["output"] as? [String: Any])?["view"] as? String, "\(first)")
            let quoted = view.split(separator: ".").map { "\"\($0)\"" }.joined(separator: ".")
            func oid() async throws -> String? { try await warehouse.rows("SELECT to_regclass('\(quoted)')::oid::text").first?[0] ?? nil }
            let before = try await oid()
            try await warehouse.execute("CREATE VIEW army.on_top AS SELECT soldier_id, contact_email FROM \(quoted)")

            // A change that keeps every column's type (a row rule): replaced in place, and the view on top follows it.
            func definition() async throws -> String { try await warehouse.rows("SELECT pg_get_viewdef('\(quoted)'::regclass)").first?[0] ?? "" }
            try await server.call(.post, "/policy/handler/\(id)", json: #"""
                {"jsonPolicies": [{"type": "rowOrObjectRestriction", "rules": [{"type": "where", "exceptions": null,
                  "config": {"predicate": "rank < 3"}}]}]}
                """#).expect(.ok)
            let filtered = try await server.refreshView(id)
            #expect(filtered["state"] as? String == "completed", "\(filtered)")
            #expect(try await oid() == before)
            let filteredDefinition = try await definition()
            #expect(filteredDefinition.contains("< 3"), "\(filteredDefinition)")
            _ = try await warehouse.rows("SELECT count(*) FROM army.on_top")

            // A mask that changes a column's type cannot be replaced in place, and the view on top holds the old one.
            try await server.call(.post, "/policy/handler/\(id)", json: #"""
                {"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking", "exceptions": null,
                  "config": {"fields": ["service_number"], "maskingConfig": {"type": "Consistent Value", "metadata": {}}}}]}]}
                """#).expect(.ok)
            let blocked = try await server.refreshView(id)
            #expect(blocked["state"] as? String == "failed", "\(blocked)")
            let why = (blocked["output"] as? [String: Any])?["error"] as? String ?? ""
            #expect(why.contains("on_top"), "\(why)")
            #expect(try await oid() == before, "the previous view stays")
            #expect(try await definition() == filteredDefinition)

            // Without the view on top, it is made again.
            try await warehouse.execute("DROP VIEW army.on_top")
            let remade = try await server.refreshView(id)
            #expect(remade["state"] as? String == "completed", "\(remade)")
            #expect(try await oid() != before)
            let types = try await warehouse.rows("SELECT data_type FROM information_schema.columns WHERE table_schema || '.' || table_name = '\(view)' AND column_name = 'service_number'")
            #expect(types.first?[0] == "text")
        }
    }

    /// Views Warden cannot maintain fail before any DDL with a clear 400 that the job and the source's `statusInfo`
    /// carry: a handler role without the privileges (each named), a view name that differs from another source's
    /// only in case, and a name that belongs to a table.
    @Test(arguments: TestMetastores.kinds)
    func viewsWardenCannotMaintainFailClearlyBeforeAnyDDL(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let limited = "w_limited_\(UUID().uuidString.prefix(8).lowercased())"
        try await warehouse.execute("CREATE ROLE \(limited) LOGIN PASSWORD 'pw-limited'")
        try await warehouse.execute("GRANT USAGE ON SCHEMA army TO \(limited)")
        try await warehouse.execute("GRANT SELECT ON ALL TABLES IN SCHEMA army TO \(limited)")
        try await TestServer.run(kind) { server in
            func refresh(_ id: Int) async throws -> [String: Any] { try await server.refreshView(id) }
            func failure(_ job: [String: Any]) -> String { (job["output"] as? [String: Any])?["error"] as? String ?? "" }

            // The handler's role may read the table but create nothing.
            let payload = warehouse.registrationPayload(tables: ["army_records"])
                .replacingOccurrences(of: #""username": "\#(warehouse.username)""#, with: #""username": "\#(limited)""#)
                .replacingOccurrences(of: #""password": "\#(warehouse.password)""#, with: #""password": "pw-limited""#)
            let registered = try await server.call(.post, "/postgresql/handler", json: payload).expect(.ok).object
            let weak = try #require((registered["dataSources"] as? [[String: Any]])?.first?["dataSourceId"] as? Int)
            let job = try await refresh(weak)
            #expect(job["state"] as? String == "failed")
            #expect(failure(job).contains("Warden's role \(limited) lacks privileges"), "\(job)")
            #expect(failure(job).contains("CREATE on the database \(warehouse.database) (to create the schema army_immuta)"), "\(job)")
            #expect(failure(job).contains("(to create the schema warden_system)"), "\(job)")
            let source = try await server.call(.get, "/dataSource/\(weak)").expect(.ok).object
            let check = try #require((source["statusInfo"] as? [String: Any])?["nativeView"] as? [String: Any])
            #expect(check["status"] as? String == "failed")
            #expect((check["message"] as? String ?? "").contains("lacks privileges"), "\(check)")
            #expect(source["status"] as? String == "failed")
            #expect(try await warehouse.rows("SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('army_immuta', 'warden_system')").first?[0] == "0")

            // With the administrator's credentials: one view made, one that differs from it only in case, one that is a table.
            try await warehouse.execute("CREATE TABLE army.extra (id int)")
            let names = warehouse.registrationPayload(tables: ["records_view", "extra"])
                .replacingOccurrences(of: #""nativeViewName": "records_view_immuta""#, with: #""nativeViewName": "Data_Immuta""#)
                .replacingOccurrences(of: #""nativeViewName": "extra_immuta", "nativeSchemaName": "army_immuta""#,
                                      with: #""nativeViewName": "army_records", "nativeSchemaName": "army""#)
            let good = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let sources = try #require(try await server.call(.post, "/postgresql/handler", json: names).expect(.ok).object["dataSources"] as? [[String: Any]])
            let (caseOnly, table) = (try #require(sources[0]["dataSourceId"] as? Int), try #require(sources[1]["dataSourceId"] as? Int))
            #expect(try await refresh(good)["state"] as? String == "completed")
            let collided = try await refresh(caseOnly)
            #expect(collided["state"] as? String == "failed")
            #expect(failure(collided).contains("collides with army_immuta.data_immuta, the view of data source \(good)"), "\(collided)")
            let taken = try await refresh(table)
            #expect(taken["state"] as? String == "failed")
            #expect(failure(taken).contains("army.army_records already exists and is not a view Warden generated"), "\(taken)")
            #expect(try await warehouse.rows("SELECT relkind::text FROM pg_class WHERE oid = 'army.army_records'::regclass").first?[0] == "r")
            let repaired = try await server.call(.get, "/dataSource/\(good)").expect(.ok).object
            #expect(((repaired["statusInfo"] as? [String: Any])?["nativeView"] as? [String: Any])?["status"] as? String == "passed")
        }
        try? await warehouse.execute("DROP OWNED BY \(limited)")
        try? await warehouse.execute("DROP ROLE \(limited)")
    }
}
