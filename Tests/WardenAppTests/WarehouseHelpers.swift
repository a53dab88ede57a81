import Foundation
import HTTPTypes
import SQLKit
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

extension TestWarehouse {
    typealias Role = (name: String, password: String)

    /// Login roles `w_<name>_<suffix>` with the password `pw-<name>`, the suffix unique to this call: roles belong to
    /// the whole server, and tests run in parallel.
    func loginRoles(_ names: String...) async throws -> [Role] {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let roles = names.map { (name: "w_\($0)_\(suffix)", password: "pw-\($0)") }
        for role in roles { try await execute("CREATE ROLE \(role.name) LOGIN PASSWORD '\(role.password)'") }
        return roles
    }

    /// Drops the roles with what they own and were granted; a cleanup, so failures are ignored.
    func drop(_ roles: [Role]) async {
        for role in roles {
            try? await execute("DROP OWNED BY \(role.name)")
            try? await execute("DROP ROLE \(role.name)")
        }
    }

    /// The specification's Redshift example, pointed at this warehouse.
    func registrationPayload(tables: [String] = ["army_records", "data"], password: String? = nil, port: Int? = nil, ssl: Bool = false,
                             ca: [String] = [], isPrivate: Bool = false, schema: String = "army") -> String {
        let handlers = tables.map { table in
            """
            {"metadata": {"ssl": \(ssl), "userFiles": [], "port": \(port ?? self.port), "hostname": "\(host)", "database": "\(database)",
              "username": "\(username)", "password": "\(password ?? self.password)", "schemaProjectName": "Army", "staleDataTolerance": 86400,
              "table": "\(table)", "schema": "\(schema)", "nativeViewName": "\(table)_immuta", "nativeSchemaName": "army_immuta",
              "ca": \(String(decoding: try! JSONEncoder().encode(ca), as: UTF8.self))}}
            """
        }.joined(separator: ",")
        return """
            {"handler": [\(handlers)],
             "dataSource": {"blobHandler": {"scheme": "https", "url": ""}, "blobHandlerType": "PostgreSQL", "recordFormat": "",
                            "type": "queryable", "schemaEvolutionId": null, "columnEvolutionEnabled": true, "private": \(isPrivate)},
             "schemaEvolution": {"ownerProfileId": 2, "config": {"nameTemplate": {"nameFormat": "<Schema> <Tablename>",
                 "tableFormat": "<tablename>", "sqlSchemaNameFormat": "<schema>", "schemaProjectNameFormat": "<Schema>"}}, "schemas": []}}
            """
    }

    /// Reads the catalog through information_schema, independently of the connector under test.
    func informationSchemaColumns(_ table: String) async throws -> [(name: String, nullable: Bool)] {
        let metastore = try await Metastore.open(.postgresql(PostgresSettings(host: host, port: port, username: username,
                                                                               password: password, database: database)),
                                                 logger: TestMetastores.logger)
        defer { Task { await metastore.close() } }
        let rows = try await metastore.read { db in
            try await db.raw("""
                SELECT column_name, is_nullable FROM information_schema.columns
                WHERE table_schema = 'army' AND table_name = \(bind: table) ORDER BY ordinal_position
                """).all()
        }
        return try rows.map { (try $0.decode(column: "column_name", as: String.self), try $0.decode(column: "is_nullable", as: String.self) == "YES") }
    }
}

extension TestServer {
    /// Registers the army example and returns the ids of the data sources, by table.
    @discardableResult
    func registerArmy(_ warehouse: TestWarehouse, tables: [String] = ["army_records", "data"], auth: String = TestServer.adminKey,
                      isPrivate: Bool = false) async throws -> [String: Int] {
        let reply = try await call(.post, "/postgresql/handler", auth: auth,
                                   json: warehouse.registrationPayload(tables: tables, isPrivate: isPrivate)).expect(.ok).object
        let created = try #require(reply["dataSources"] as? [[String: Any]])
        var ids: [String: Int] = [:]
        for (table, source) in zip(tables, created) { ids[table] = source["dataSourceId"] as? Int }
        return ids
    }

    /// Waits (up to a minute) until no native-view refresh of the source is left to queue, queued or running: a test
    /// that then alters the warehouse by hand sees its drift, not an automatic refresh repairing it first.
    func viewRefreshesSettled(_ id: Int) async throws {
        for _ in 0..<600 {
            let pending = try await metastore.read { db in
                try await db.raw("""
                    SELECT (SELECT COUNT(*) FROM data_sources WHERE id = \(bind: id) AND view_changes > view_changes_queued)
                         + (SELECT COUNT(*) FROM jobs WHERE data_source_id = \(bind: id) AND type = \(bind: JobType.nativeViewRefresh.rawValue)
                            AND state IN ('created', 'retry', 'active')) AS n
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
            }
            if pending == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the view refreshes of data source \(id) did not settle within a minute")
    }

    /// Refreshes one source's native view through `bulkRefreshViews` and returns its job, final.
    func refreshView(_ id: Int) async throws -> [String: Any] {
        let reply = try await call(.post, "/dataSource/bulkRefreshViews", json: #"{"dataSourceIds": [\#(id)]}"#).expect(.ok).object
        let jobs = try await call(.get, "/jobs?bulkId=\(try #require(reply["bulkId"] as? String))").expect(.ok).array
            .compactMap { ($0 as? [String: Any])?["id"] as? String }
        return try #require(try await waitForJobs(jobs).values.first)
    }

    /// Waits (server side, in rounds shorter than a request's deadline) until every job is final, for up to three
    /// minutes since two loaded cores can stretch a job far past its usual second, and returns their states and outputs by id.
    func waitForJobs(_ ids: [String], auth: String = TestServer.adminKey) async throws -> [String: [String: Any]] {
        let list = ids.map { "\"\($0)\"" }.joined(separator: ",")
        var found: [String: [String: Any]] = [:]
        for _ in 0..<6 {
            let reply = try await call(.post, "/jobs/statuses", auth: auth, json: #"{"jobIds":[\#(list)],"wait":30,"pollInterval":1}"#).expect(.ok)
            found = reply.object as? [String: [String: Any]] ?? [:]
            if found.values.allSatisfy({ JobState(rawValue: $0["state"] as? String ?? "")?.isFinal == true }) { break }
        }
        return found
    }
}
