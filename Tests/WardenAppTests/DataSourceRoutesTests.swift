import Foundation
import HTTPTypes
import SQLKit
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct DataSourceRoutesTests {
    /// Registers army_records and data (public) and records_view (private), all owned by the admin.
    func fixture(_ server: TestServer, _ warehouse: TestWarehouse) async throws -> (records: Int, data: Int, view: Int) {
        let ids = try await server.registerArmy(warehouse, tables: ["army_records", "data"])
        let view = try await server.registerArmy(warehouse, tables: ["records_view"], isPrivate: true)
        return (ids["army_records"]!, ids["data"]!, view["records_view"]!)
    }

    func names(_ reply: Reply) -> [String] {
        (reply.object["hits"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test(arguments: TestMetastores.kinds)
    func searchFiltersSortsAndHidesPrivateSources(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let reader = try await server.userWithKey("reader")

            let all = try await server.call(.get, "/dataSource?sortField=name").expect(.ok)
            let readers = try await server.call(.get, "/dataSource", auth: reader).expect(.ok)
            let text = try await server.call(.get, "/dataSource?searchText=RECORD&nameOnly=true").expect(.ok)
            let column = try await server.call(.get, "/dataSource?column=soldier_id").expect(.ok)
            let byIds = try await server.call(.get, "/dataSource?dataSourceIds=\(ids.data),\(ids.records)&sortField=createdAt&sortOrder=desc").expect(.ok)
            let repeated = try await server.call(.get, "/dataSource?dataSourceIds=\(ids.data)&dataSourceIds=\(ids.records)").expect(.ok)
            let paged = try await server.call(.get, "/dataSource?size=1&offset=1&sortField=name").expect(.ok)
            let owned = try await server.call(.get, "/dataSource?subscription=owner", auth: reader).expect(.ok)
            let notSubscribed = try await server.call(.get, "/dataSource?subscription=not_subscribed", auth: reader).expect(.ok)
            let technology = try await server.call(.get, "/dataSource?blobHandlerType=PostgreSQL&schema=army").expect(.ok)
            let other = try await server.call(.get, "/dataSource?blobHandlerType=Snowflake").expect(.ok)
            let connection = "\(warehouse.username)@\(warehouse.host):\(warehouse.port)/\(warehouse.database)"
            let byConnection = try await server.call(.get, "/dataSource?connectionString=\(connection)&hostname=\(warehouse.host)").expect(.ok)
            let idOnly = try await server.call(.get, "/dataSource?idOnly=true&size=1").expect(.ok)
            let short = try await server.call(.get, "/dataSource?searchText=ar&nameOnly=true").expect(.ok)
            let quoted = try await server.call(.get, "/dataSource?searchText=%22army").expect(.ok)
            let wildcard = try await server.call(.get, "/dataSource?searchText=%25").expect(.ok)
            let pastTheEnd = try await server.call(.get, "/dataSource?searchText=army&offset=10").expect(.ok)
            let described = try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"description": "Quarterly rosters"}"#).expect(.ok)
            let byDescription = try await server.call(.get, "/dataSource?searchText=ROSTER").expect(.ok)
            let nameOnly = try await server.call(.get, "/dataSource?searchText=roster&nameOnly=true").expect(.ok)

            #expect(names(all) == ["Army Army Records", "Army Data", "Army Records View"])
            #expect(all.object["count"] as? Int == 3)
            #expect(names(readers) == ["Army Army Records", "Army Data"], "the private source is absent, not refused")
            #expect(names(text) == ["Army Army Records", "Army Records View"])
            #expect(names(column) == ["Army Army Records", "Army Records View"])
            #expect(names(byIds) == ["Army Data", "Army Army Records"])
            #expect(repeated.object["count"] as? Int == 2)
            #expect(names(paged) == ["Army Data"])
            #expect(paged.object["count"] as? Int == 3)
            #expect(owned.object["count"] as? Int == 0)
            #expect(notSubscribed.object["count"] as? Int == 2)
            #expect(technology.object["count"] as? Int == 3)
            #expect(other.object["count"] as? Int == 0)
            #expect(byConnection.object["count"] as? Int == 3)
            let hit = try #require((all.object["hits"] as? [[String: Any]])?.first)
            #expect(hit["subscriptionStatus"] as? String == "owner")
            #expect(hit["recordCount"] as? Int == 25)
            #expect(hit["blobHandlerType"] as? String == "PostgreSQL")
            #expect(hit["connectionString"] as? String == connection)
            #expect(hit["status"] as? String == "passed")
            #expect(short.object["count"] as? Int == 3)
            #expect(quoted.object["count"] as? Int == 0)
            #expect(wildcard.object["count"] as? Int == 0)
            #expect(pastTheEnd.object["count"] as? Int == 3)
            #expect((pastTheEnd.object["hits"] as? [Any])?.isEmpty == true)
            #expect(described.object["description"] as? String == "Quarterly rosters")
            #expect(names(byDescription) == ["Army Data"])
            #expect(nameOnly.object["count"] as? Int == 0)
            let brief = try #require((idOnly.object["hits"] as? [[String: Any]])?.first)
            #expect(Set(brief.keys) == ["id", "subscriptionStatus"])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func searchModesAndBadParameters(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            _ = try await fixture(server, warehouse)

            let count = try await server.call(.get, "/dataSource?mode=1").expect(.ok).object
            let statuses = try await server.call(.get, "/dataSource?mode=6").expect(.ok).object
            let range = try await server.call(.get, "/dataSource?mode=5").expect(.ok).object
            let none = try await server.call(.get, "/dataSource?ephemeral=true").expect(.ok).object

            #expect(count["count"] as? Int == 3)
            #expect((count["hits"] as? [Any])?.isEmpty == true)
            #expect(statuses["statuses"] as? [String: Int] == ["passed": 3])
            #expect((range["max"] as? [String: Any])?["recordCount"] as? Int == 25)
            #expect(none["count"] as? Int == 0)
            for bad in ["sortField=size", "sortOrder=up", "mode=2", "subscription=maybe", "status=ok", "size=-1", "dataSourceIds=a",
                        "blobHandlerType=Oracle", "selectFields=everything", "nameOnly=perhaps"] {
                let reply = try await server.call(.get, "/dataSource?\(bad)").expect(.badRequest)
                #expect((reply.object["message"] as? String)?.contains(String(bad.split(separator: "=")[0])) == true, "\(bad)")
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func tagFiltersMatchChildTagsAndTagModeCountsThem(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "Finance"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(ids.records)", json: #"[{"name": "PII.Email"}]"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(ids.data)", json: #"[{"name": "Finance"}]"#).expect(.ok)

            let parent = try await server.call(.get, "/dataSource?tag=PII").expect(.ok)
            let either = try await server.call(.get, "/dataSource?tag=PII.Email,Finance").expect(.ok)
            let wrongCase = try await server.call(.get, "/dataSource?tag=pii").expect(.ok)
            let counts = try await server.call(.get, "/dataSource?mode=4").expect(.ok).object
            let status = try await server.call(.get, "/dataSource?status=failed").expect(.ok)

            #expect(names(parent) == ["Army Army Records"])
            #expect((parent.object["hits"] as? [[String: Any]])?.first?["tags"] as? [String] == ["PII.Email"])
            #expect(either.object["count"] as? Int == 2)
            #expect(wrongCase.object["count"] as? Int == 0, "tag names are case-sensitive")
            let tagCounts = (counts["tags"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["count"] ?? "")" }
            #expect(tagCounts == ["Finance=1", "PII.Email=1"])
            #expect(status.object["count"] as? Int == 0)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func detailsByIdNameAndSQLTableName(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let reader = try await server.userWithKey("reader")

            let byId = try await server.call(.get, "/dataSource/\(ids.data)").expect(.ok).object
            let byName = try await server.call(.get, "/dataSource/name/Army%20Data", auth: reader).expect(.ok).object
            let bySQLName = try await server.call(.get, "/dataSource/sqlTableName/data").expect(.ok).object

            #expect(byId["name"] as? String == "Army Data")
            #expect(byId["sqlTableName"] as? String == "data")
            #expect(byId["sqlSchemaName"] as? String == "army")
            #expect(byId["rowCount"] as? Int == 7)
            #expect(byId["createdBy"] as? Int == 1)
            #expect(byId["deleted"] as? Bool == false)
            #expect(byId["subscriptionStatus"] as? String == "owner")
            #expect(byName["id"] as? Int == ids.data)
            #expect(byName["subscriptionStatus"] as? String == "not_subscribed")
            #expect(bySQLName["id"] as? Int == ids.data)
            try await server.call(.get, "/dataSource/\(ids.view)", auth: reader).expect(.notFound, code: "dataSource.not_found")
            try await server.call(.get, "/dataSource/name/Army%20Records%20View", auth: reader).expect(.notFound)
            try await server.call(.get, "/dataSource/sqlTableName/records_view", auth: reader).expect(.notFound)
            try await server.call(.get, "/dataSource/424242").expect(.notFound)
            try await server.call(.get, "/dataSource/abc").expect(.notFound)
            try await server.call(.get, "/dataSource/\(ids.data)", auth: nil).expect(.unauthorized)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func updatesAcceptDocumentedFieldsAndRefuseTheRest(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let reader = try await server.userWithKey("reader")

            let updated = try await server.call(.put, "/dataSource/\(ids.data)",
                                                json: ##"{"documentation": "# Army data\nRosters.", "description": "Rosters", "category": "HR"}"##)
                .expect(.ok).object
            let massAssignment = try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"id": 99, "createdBy": 5, "name": "X"}"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"name": "Army Army Records"}"#).expect(.conflict)
            try await server.call(.put, "/dataSource/\(ids.data)", auth: reader, json: #"{"description": "mine now"}"#)
                .expect(.forbidden, code: "dataSource.role_required")
            try await server.call(.put, "/dataSource/\(ids.view)", auth: reader, json: #"{"description": "x"}"#).expect(.notFound)
            try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"hasExamples": "yes"}"#).expect(.badRequest)

            #expect(updated["documentation"] as? String == "# Army data\nRosters.")
            #expect(updated["description"] as? String == "Rosters")
            #expect(updated["category"] as? String == "HR")
            #expect(Set((massAssignment.object["fields"] as? [[String: String]])?.compactMap { $0["field"] } ?? []) == ["id", "createdBy"])
            #expect(try await server.call(.get, "/dataSource/\(ids.data)").object["name"] as? String == "Army Data", "nothing applied")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func deletingDisablesFirstAndRemovesForGoodSecond(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let reader = try await server.userWithKey("reader")

            let first = try await server.call(.delete, "/dataSource/\(ids.data)").expect(.ok).object
            try await server.call(.get, "/dataSource/\(ids.data)", auth: reader).expect(.notFound)
            let disabled = try await server.call(.get, "/dataSource/\(ids.data)").expect(.ok).object
            let restored = try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"deleted": false}"#).expect(.ok).object
            try await server.call(.get, "/dataSource/\(ids.data)", auth: reader).expect(.ok)
            try await server.call(.delete, "/dataSource/\(ids.data)").expect(.ok)
            let second = try await server.call(.delete, "/dataSource/\(ids.data)").expect(.ok).object

            #expect(first["success"] as? Bool == true)
            #expect(first["disabled"] as? Bool == true)
            #expect(first["deleted"] as? Bool == false)
            #expect(disabled["deleted"] as? Bool == true)
            #expect(restored["deleted"] as? Bool == false)
            #expect(second["deleted"] as? Bool == true)
            try await server.call(.get, "/dataSource/\(ids.data)").expect(.notFound)
            try await server.call(.get, "/dictionary/\(ids.data)").expect(.notFound)
            try await server.call(.delete, "/dataSource/\(ids.data)").expect(.notFound)
            let leftovers = try await server.metastore.read { db in
                try await db.raw("""
                    SELECT (SELECT COUNT(*) FROM dictionaries WHERE data_source_id = \(bind: ids.data))
                         + (SELECT COUNT(*) FROM jobs WHERE data_source_id = \(bind: ids.data) AND type <> 'nativeViewRemoval'
                                AND NOT (type = 'nativeViewRefresh' AND state IN ('active', 'completed', 'retry', 'failed')))
                         + (SELECT COUNT(*) FROM activities WHERE data_source_id = \(bind: ids.data))
                         + (SELECT COUNT(*) FROM data_source_members WHERE data_source_id = \(bind: ids.data))
                         + (SELECT COUNT(*) FROM data_source_handlers WHERE data_source_id = \(bind: ids.data)) AS n
                    """).first()!.decode(column: "n", as: Int.self)
            }
            #expect(leftovers == 0)
            // In their place, the removal of the source's native view, with the handler's password still sealed.
            let removals = try await server.metastore.read { db in
                try await db.raw("SELECT payload FROM jobs WHERE data_source_id = \(bind: ids.data) AND type = 'nativeViewRemoval'").all()
                    .map { try $0.decode(column: "payload", as: String.self) }
            }
            #expect(removals.count == 1)
            for removal in removals {
                let payload = try #require(try JSONSerialization.jsonObject(with: Data(removal.utf8)) as? [String: Any])
                // Once the job ends (here it may have: no view was made), its payload keeps no sealed password either.
                if let sealed = payload["sealedPassword"] as? String { #expect(sealed != warehouse.password && sealed.count > 2 * warehouse.password.count) }
                #expect((payload["metadata"] as? [String: Any])?["password"] == nil && payload["technology"] as? String == "postgresql", "\(removal)")
            }
            #expect(try await server.call(.get, "/dataSource").object["count"] as? Int == 2)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func bulkActionsRunOneJobPerSourceAndFailAlone(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let readerKey = try await server.userWithKey("reader")
            let readerId = try #require(try await server.call(.get, "/bim/rpc/user/current", auth: readerKey).object["id"] as? Int)

            let addUsers = try await server.call(.put, "/dataSource/bulk/add-users",
                                                 json: #"{"ids": [\#(ids.data), \#(ids.view)], "update": [{"id": \#(readerId), "state": "subscribed"}]}"#)
                .expect(.ok).object
            let disable = try await server.call(.put, "/dataSource/bulk/disable", json: #"{"ids": [\#(ids.records), 999999]}"#).expect(.ok).object
            let disableJobs = try await server.call(.get, "/jobs?bulkId=\(disable["bulkId"] as? String ?? "")").expect(.ok).array
                .compactMap { ($0 as? [String: Any])?["id"] as? String }
            let addJobs = try await server.call(.get, "/jobs?bulkId=\(addUsers["bulkId"] as? String ?? "")").expect(.ok).array
                .compactMap { ($0 as? [String: Any])?["id"] as? String }
            let states = try await server.waitForJobs(disableJobs + addJobs)

            #expect(addUsers["jobsCreated"] as? Int == 2)
            #expect(disable["jobsCreated"] as? Int == 2)
            #expect(states.values.filter { $0["state"] as? String == "completed" }.count == 3)
            #expect(states.values.filter { $0["state"] as? String == "failed" }.count == 1, "the unknown id fails alone")
            #expect(try await server.call(.get, "/dataSource/\(ids.records)").object["deleted"] as? Bool == true)
            let mine = try await server.call(.get, "/dataSource/rpc/mine", auth: readerKey).expect(.ok).array
            #expect(Set(mine.compactMap { ($0 as? [String: Any])?["id"] as? Int }) == [ids.data, ids.view])
            #expect(try await server.call(.get, "/dataSource/\(ids.view)", auth: readerKey).expect(.ok).object["subscriptionStatus"] as? String == "subscribed")
            try await server.call(.put, "/dataSource/bulk/explode", json: #"{"ids": [1]}"#).expect(.notFound)
            try await server.call(.put, "/dataSource/bulk/add-users", json: #"{"ids": [1], "update": [{"state": "boss"}]}"#).expect(.badRequest)
            try await server.call(.put, "/dataSource/bulk/disable", json: #"{"ids": []}"#).expect(.badRequest)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func healthChecksReportWhatFailedInA200(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind, configure: { $0.warehouseConnectTimeout = .seconds(3) }) { server in
            let ids = try await fixture(server, warehouse)

            let healthy = try await server.call(.get, "/dataSource/\(ids.data)/test").expect(.ok).object
            try await warehouse.execute("ALTER TABLE army.data DROP COLUMN \(try await firstColumn(server, ids.data))")
            let drifted = try await server.call(.get, "/dataSource/\(ids.data)/test").expect(.ok).object
            try await server.metastore.write { db in
                try await db.raw("""
                    UPDATE data_source_handlers SET metadata = REPLACE(metadata, \(bind: "\"port\":\(warehouse.port)"), \(bind: "\"port\":1"))
                    WHERE data_source_id = \(bind: ids.records)
                    """).run()
            }
            let unreachable = try await server.call(.get, "/dataSource/\(ids.records)/test").expect(.ok).object
            let recorded = try await server.call(.get, "/dataSource/\(ids.records)").object

            #expect(healthy["status"] as? String == "passed")
            #expect((healthy["sql"] as? [String: Any])?["status"] as? String == "passed")
            #expect(drifted["status"] as? String == "failed")
            let evolution = try #require(drifted["columnEvolution"] as? [String: Any])
            #expect(evolution["status"] as? String == "failed")
            #expect((evolution["message"] as? String)?.contains("no longer has") == true)
            #expect(unreachable["status"] as? String == "failed")
            #expect(((unreachable["sql"] as? [String: Any])?["message"] as? String)?.contains(":1") == true)
            #expect(recorded["status"] as? String == "failed")
            #expect((recorded["statusInfo"] as? [String: Any])?["sql"] != nil)
        }
    }

    func firstColumn(_ server: TestServer, _ id: Int) async throws -> String {
        let columns = try await server.call(.get, "/dictionary/\(id)").object["metadata"] as? [[String: Any]]
        return try #require(columns?.first?["name"] as? String)
    }

    @Test(arguments: TestMetastores.kinds)
    func contactsActivitiesHandlerTypesAndViewRefresh(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await fixture(server, warehouse)
            let reader = try await server.userWithKey("reader")
            try await server.call(.put, "/dataSource/\(ids.data)", json: #"{"description": "changed"}"#).expect(.ok)

            let contacts = try await server.call(.get, "/dataSource/\(ids.data)/contacts", auth: reader).expect(.ok).array
            let activities = try await server.call(.get, "/dataSource/\(ids.data)/activities?size=10").expect(.ok).object
            let types = try await server.call(.get, "/dataSource/blobHandlerTypes").expect(.ok).array
            let refresh = try await server.call(.post, "/dataSource/bulkRefreshViews", json: #"{"dataSourceIds": [\#(ids.data), \#(ids.records)]}"#)
                .expect(.ok).object

            #expect((contacts.first as? [String: Any])?["userid"] as? String == "admin")
            #expect((contacts.first as? [String: Any])?["state"] as? String == "owner")
            let kinds = (activities["activities"] as? [[String: Any]] ?? []).compactMap { $0["notificationType"] as? String }
            #expect(kinds.first == "updated")
            #expect(kinds.contains("created"))
            #expect(((activities["activities"] as? [[String: Any]])?.first?["actionBy"] as? [String: Any])?["userid"] as? String == "admin")
            #expect(types.count == Technology.allCases.count)
            let available = types.compactMap { $0 as? [String: Any] }.filter { $0["connectorAvailable"] as? Bool == true }.compactMap { $0["name"] as? String }
            #expect(available == ["Redshift", "Snowflake", "Databricks", "PostgreSQL"])
            #expect(refresh["jobsCreated"] as? Int == 2)
            try await server.call(.get, "/dataSource/\(ids.data)/activities", auth: reader).expect(.forbidden)
            try await server.call(.post, "/dataSource/bulkRefreshViews", auth: reader, json: #"{"dataSourceIds": [\#(ids.data)]}"#).expect(.forbidden)
            try await server.call(.post, "/dataSource/bulkRefreshViews", auth: reader, json: #"{"dataSourceIds": [\#(ids.view)]}"#).expect(.notFound)
        }
    }
}
