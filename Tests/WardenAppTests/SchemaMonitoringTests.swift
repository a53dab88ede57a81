import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// `PUT /dataSource/detectRemoteChanges` against a real PostgreSQL: column and schema detection, tasks, masking of new
/// columns until review, and the documented payload forms.
@Suite struct SchemaMonitoringTests {
    func run(_ server: TestServer, _ body: String) async throws -> (reply: [String: Any], jobs: [String: [String: Any]]) {
        let reply = try await server.call(.put, "/dataSource/detectRemoteChanges", json: body).expect(.ok).object
        let bulkId = try #require(reply["bulkId"] as? String)
        let ids = try await server.call(.get, "/jobs?bulkId=\(bulkId)").expect(.ok).array.compactMap { ($0 as? [String: Any])?["id"] as? String }
        let jobs = try await server.waitForJobs(ids)
        #expect(jobs.values.allSatisfy { $0["state"] as? String == "completed" }, "\(jobs)")
        return (reply, jobs)
    }

    func columns(_ server: TestServer, _ id: Int) async throws -> [String: String] {
        let dictionary = try await server.call(.get, "/dictionary/\(id)").expect(.ok).object
        return Dictionary(uniqueKeysWithValues: (dictionary["metadata"] as? [[String: Any]] ?? []).compactMap { column in
            (column["name"] as? String).map { ($0, column["remoteType"] as? String ?? "") }
        })
    }

    func masked(_ server: TestServer, _ id: Int) async throws -> [String] {
        let adminId = try #require(try await server.call(.get, "/bim/rpc/user/current").expect(.ok).object["id"] as? Int)
        let info = try await server.call(.get, "/dataSource/\(id)/users/\(adminId)/policyInfo").expect(.ok).object
        return (info["masked"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test(arguments: TestMetastores.kinds)
    func columnDetectionFollowsTheTableAndMasksNewColumnsUntilReviewed(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let reader = try await warehouse.loginRoles("reader")[0]
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            let data = try #require(ids["data"])
            _ = try await server.userWithKey("reader")
            try await server.call(.put, "/bim/iam/bim/user/reader/profile", json: #"{"externalUserIds": {"postgresUser": "\#(reader.name)"}}"#).expect(.ok)
            let readerId = try #require((try await server.call(.get, "/bim/user?userid=reader").expect(.ok).object["hits"] as? [[String: Any]])?
                .first { $0["userid"] as? String == "reader" }?["id"] as? Int)
            try await server.call(.post, "/dataSource/\(data)/access", json: #"{"profileId": \#(readerId), "state": "subscribed"}"#).expect(.ok)
            let before = try await columns(server, data)
            let dropped = try #require(before.keys.sorted().first)
            try await warehouse.execute("ALTER TABLE army.data ADD COLUMN secret text DEFAULT 'classified'")
            try await warehouse.execute("ALTER TABLE army.data DROP COLUMN \(SQLIdentifier.quoted(dropped))")
            func secrets() async throws -> Set<String?> {
                #expect(try await server.refreshView(data)["state"] as? String == "completed")
                return Set(try await warehouse.rows("SELECT secret FROM army_immuta.data_immuta", as: reader).map { $0[0] })
            }

            let (reply, jobs) = try await run(server, #"{"dataSourceIds": [\#(data)]}"#)
            #expect((reply["schemaDetection"] as? [String: Any])?["jobs"] as? [String] != nil)
            #expect(((reply["columnDetection"] as? [String: Any])?["jobs"] as? [String])?.count == 1)
            let detected = try #require(jobs.values.compactMap { $0["output"] as? [String: Any] }.first { $0["columnsAdded"] != nil })
            #expect(detected["columnsAdded"] as? [String] == ["secret"])
            #expect(detected["columnsDeleted"] as? [String] == [dropped])
            #expect(detected["maskedUntilReviewed"] as? Bool == true)

            let after = try await columns(server, data)
            #expect(after["secret"] == "text" && after[dropped] == nil && after.count == before.count)
            // The new column is masked for everyone, the admin who owns the source included, until an owner reviews it.
            #expect(try await masked(server, data) == ["secret"])
            #expect(try await secrets() == [nil], "the new column reads NULL through the view before the review")
            let tasks = try await server.call(.get, "/dataSource/\(data)/tasks").expect(.ok).object["hits"] as? [[String: Any]] ?? []
            let added = try #require(tasks.first { $0["type"] as? String == "columnAdded" })
            #expect(tasks.contains { $0["type"] as? String == "columnDeleted" })
            try await server.call(.get, "/dataSource/tasks/\(try #require(added["id"] as? Int))").expect(.ok)
            #expect(try await masked(server, data).isEmpty)
            #expect(try await secrets() == ["classified"])

            // A type change, and nothing else: one task, no new mask. PostgreSQL refuses to change the type of a column
            // a view reads, so the DBA drops Warden's view first; the next refresh makes it again.
            try await warehouse.execute("DROP VIEW army_immuta.data_immuta")
            try await warehouse.execute("ALTER TABLE army.data ALTER COLUMN secret TYPE varchar(40)")
            _ = try await run(server, #"{"database": "\#(warehouse.database)", "table": "data"}"#)
            #expect(try await columns(server, data)["secret"] == "character varying(40)")
            #expect(try await masked(server, data).isEmpty)
            #expect(try await secrets() == ["classified"])
            let types = try await server.call(.get, "/dataSource/\(data)/tasks").expect(.ok).object["hits"] as? [[String: Any]] ?? []
            #expect(types.filter { $0["type"] as? String == "columnTypeChanged" }.count == 1)
        }
        await warehouse.drop([reader])
    }

    @Test(arguments: TestMetastores.kinds)
    func schemaDetectionRegistersNewTablesAndDisablesVanishedOnes(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            try await warehouse.execute("CREATE TABLE army.recruits (id integer, name text)")
            try await warehouse.execute("DROP TABLE army.data")
            let (reply, jobs) = try await run(server, #"{"hostname": "\#(warehouse.host)"}"#)
            #expect(reply.keys.sorted() == ["bulkId"])
            let missing = jobs.values.compactMap { $0["output"] as? [String: Any] }.first { $0["tableMissing"] as? Bool == true }
            #expect(missing?["dataSourceId"] as? Int == ids["data"])
            let schema = try #require(jobs.values.compactMap { $0["output"] as? [String: Any] }.first { $0["schema"] != nil })
            #expect(schema["dataSourcesDisabled"] as? [Int] == [try #require(ids["data"])])
            // The new table, and the view of the schema, which no one had registered.
            var names: [String: Int] = [:]
            for id in schema["dataSourcesCreated"] as? [Int] ?? [] {
                names[try await server.call(.get, "/dataSource/\(id)").expect(.ok).object["name"] as? String ?? ""] = id
            }
            #expect(names.keys.sorted() == ["Army Records View", "Army Recruits"])
            #expect(try await columns(server, try #require(names["Army Recruits"])).keys.sorted() == ["id", "name"])
            #expect(try await server.call(.get, "/dataSource/\(try #require(ids["data"]))").expect(.ok).object["disabled"] as? Bool == true)
            // Running it again changes nothing.
            let (_, again) = try await run(server, "{}")
            let second = try #require(again.values.compactMap { $0["output"] as? [String: Any] }.first { $0["schema"] != nil })
            #expect((second["dataSourcesCreated"] as? [Int])?.isEmpty == true)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aSchemaEvolutionGroupNamesItsNewTablesByItsTemplate(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let payload = warehouse.registrationPayload().replacingOccurrences(of: #""nameFormat": "<Schema> <Tablename>""#,
                                                                               with: #""nameFormat": "Evolved <Tablename>""#)
            let created = try await server.call(.post, "/postgresql/handler", json: payload).expect(.ok).object["dataSources"] as? [[String: Any]] ?? []
            var groups: Set<Int> = []
            for source in created {
                let id = try #require(source["dataSourceId"] as? Int)
                groups.insert(try #require(try await server.call(.get, "/dataSource/\(id)").expect(.ok).object["schemaEvolutionId"] as? Int))
            }
            #expect(groups.count == 1, "one registration, one group")
            let group = try #require(groups.first)

            // filterBySchemaEvolution: those with the level asked for on every source of the group.
            let records = try #require(created.first?["dataSourceId"] as? Int), data = try #require(created.last?["dataSourceId"] as? Int)
            _ = try await server.userWithKey("reader")
            let readerId = try #require((try await server.call(.get, "/bim/user?userid=reader").expect(.ok).object["hits"] as? [[String: Any]])?
                .first { $0["userid"] as? String == "reader" }?["id"] as? Int)
            try await server.call(.post, "/dataSource/\(records)/access", json: #"{"profileId": \#(readerId), "state": "subscribed"}"#).expect(.ok)
            func members(_ query: String) async throws -> Set<String> {
                let users = try await server.call(.get, "/dataSource/\(records)/access?\(query)").expect(.ok).object["users"] as? [[String: Any]] ?? []
                return Set(users.compactMap { $0["userid"] as? String })
            }
            #expect(try await members("states=subscribed").contains("reader"))
            #expect(try await members("states=subscribed&filterBySchemaEvolution=true").isEmpty, "reader is not subscribed to data")
            #expect(try await members("filterBySchemaEvolution=true").contains("reader") == false)
            try await server.call(.post, "/dataSource/\(data)/access", json: #"{"profileId": \#(readerId), "state": "subscribed"}"#).expect(.ok)
            #expect(try await members("states=subscribed&filterBySchemaEvolution=true") == ["reader"])
            #expect(try await members("states=owner&filterBySchemaEvolution=true").count == 1, "the registrant owns both")

            try await warehouse.execute("CREATE TABLE army.recruits (id integer, name text)")

            // Only the group's owner and its sources' owners see it.
            let stranger = try await server.userWithKey("stranger")
            try await server.call(.put, "/dataSource/detectRemoteChanges", auth: stranger, json: #"{"schemaEvolutionId": \#(group)}"#)
                .expect(.notFound)
            let (reply, jobs) = try await run(server, #"{"schemaEvolutionId": \#(group), "skipColumnDetection": true}"#)
            #expect(reply.keys.sorted() == ["bulkId"])
            // One schema detection job (its output names the schema), no column detection.
            #expect(jobs.count == 1, "\(jobs)")
            let output = try #require(jobs.values.first?["output"] as? [String: Any])
            #expect(output["schema"] as? String == "army")
            var names: [String: Int] = [:]
            for id in output["dataSourcesCreated"] as? [Int] ?? [] {
                let details = try await server.call(.get, "/dataSource/\(id)").expect(.ok).object
                #expect(details["schemaEvolutionId"] as? Int == group)
                names[details["name"] as? String ?? ""] = id
            }
            #expect(names.keys.sorted() == ["Evolved Records View", "Evolved Recruits"])

            // Without skipColumnDetection, each of the group's sources, old and new, gets column detection too.
            let (_, again) = try await run(server, #"{"schemaEvolutionId": \#(group)}"#)
            let columnJobs = again.values.compactMap { $0["output"] as? [String: Any] }.filter { $0["columnsAdded"] != nil }
            #expect(columnJobs.count == created.count + names.count)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func theScheduleBringsEveryDictionaryUpToDate(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let clock = TestClock()
        try await TestServer.run(kind, clock: clock, configure: { $0.schemaMonitoringInterval = 1 }) { server in
            let data = try #require(try await server.registerArmy(warehouse)["data"])
            try await warehouse.execute("ALTER TABLE army.data ADD COLUMN nightly text")
            var seen = false
            for _ in 0..<300 where !seen {
                // The schedule queues one run per period of the (test) clock.
                clock.advance(seconds: 1)
                seen = try await columns(server, data)["nightly"] != nil
                if !seen { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(seen, "the scheduled run did not detect the new column within 30 s")
            #expect(try await masked(server, data) == ["nightly"])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func thePayloadFormsAndTheirExclusions(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            for body in [#"{"dataSourceIds": [1], "hostname": "h"}"#, #"{"schemaEvolutionId": 1, "table": "t"}"#,
                         #"{"skipColumnDetection": true}"#, #"{"dataSourceIds": [0]}"#, #"{"port": "x"}"#, #"{"colour": 1}"#, "[]"] {
                try await server.call(.put, "/dataSource/detectRemoteChanges", json: body).expect(.badRequest)
            }
            try await server.call(.put, "/dataSource/detectRemoteChanges", json: #"{"schemaEvolutionId": 999999, "skipColumnDetection": true}"#)
                .expect(.notFound)
            try await server.call(.put, "/dataSource/detectRemoteChanges", json: #"{"dataSourceIds": [999999]}"#).expect(.notFound)
            let stranger = try await server.userWithKey("stranger")
            try await server.call(.put, "/dataSource/detectRemoteChanges", auth: stranger, json: #"{"dataSourceIds": [\#(try #require(ids["data"]))]}"#)
                .expect(.forbidden)
            // Without a payload: every source the caller owns, which for a stranger is none.
            let none = try await server.call(.put, "/dataSource/detectRemoteChanges", auth: stranger).expect(.ok).object
            #expect(none.keys.sorted() == ["bulkId"])
            let empty = try await server.call(.get, "/jobs?bulkId=\(try #require(none["bulkId"] as? String))", auth: stranger).expect(.ok).array
            #expect(empty.isEmpty)
            // The database form answers the bulk id only.
            let database = try await server.call(.put, "/dataSource/detectRemoteChanges", json: #"{"database": "\#(warehouse.database)"}"#)
                .expect(.ok).object
            #expect(database.keys.sorted() == ["bulkId"])
        }
    }
}
