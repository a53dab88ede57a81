import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// Input that once reached a 500, or was stored when it should not be, now gets a 400 that names the field.
@Suite struct HostileInputTests {
    /// A NUL in a body string, a query or a path: 400 on both metastores, with or without credentials.
    @Test(arguments: TestMetastores.kinds)
    func aNulCharacterIsRefusedEverywhere(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil, json: #"{"username": "adm\u0000in", "password": "x"}"#)
                .expect(.badRequest, code: "request.nul_character")
            let named = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid": "eve", "profile": {"name": "E\u0000ve"}}"#)
                .expect(.badRequest, code: "request.nul_character").object
            #expect((named["fields"] as? [[String: Any]])?.first?["field"] as? String == "profile.name")
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "A\u0000B"}]}"#).expect(.badRequest, code: "request.nul_character")
            try await server.call(.get, "/dataSource?searchText=fin%00ance").expect(.badRequest, code: "request.nul_character")
            try await server.call(.get, "/dataSource/name/x%00y").expect(.badRequest, code: "request.nul_character")
            try await server.call(.get, "/bim/user?searchText=%00", auth: nil).expect(.badRequest, code: "request.nul_character")
            // An escaped backslash followed by "u0000" is six ordinary characters, not a NUL.
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid": "literal", "profile": {"name": "back\\u0000slash"}}"#)
                .expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func sizesHaveDocumentedLimits(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let long = String(repeating: "d", count: Limits.descriptionBytes + 1)
            let description = try await server.call(.put, "/dataSource/\(id)", json: #"{"description": "\#(long)"}"#)
                .expect(.badRequest, code: "request.validation_failed").object
            #expect((description["message"] as? String)?.contains("\(Limits.descriptionBytes) bytes") == true)
            try await server.call(.put, "/dataSource/\(id)", json: #"{"description": "\#(long.dropLast())"}"#).expect(.ok)

            let columns = (0...Limits.dictionaryColumns).map { #"{"name": "c\#($0)", "dataType": "text"}"# }.joined(separator: ",")
            let dictionary = try await server.call(.put, "/dictionary/\(id)", json: #"{"metadata": [\#(columns)]}"#).expect(.badRequest).object
            #expect((dictionary["message"] as? String)?.contains("at most \(Limits.dictionaryColumns) columns") == true, "\(dictionary)")

            let tags = (0...Limits.tagsPerRequest).map { #"{"name": "T\#($0)"}"# }.joined(separator: ",")
            let attached = try await server.call(.post, "/tag/datasource/\(id)", json: "[\(tags)]").expect(.badRequest).object
            #expect((attached["message"] as? String)?.contains("at most \(Limits.tagsPerRequest) tags") == true, "\(attached)")

            let registration = warehouse.registrationPayload(tables: ["data"]).replacingOccurrences(
                of: #""type": "queryable","#, with: #""type": "queryable", "description": "\#(long)","#)
            try await server.call(.post, "/postgresql/handler", json: registration).expect(.badRequest)
        }
    }

    static let hostileNames = [#"orders"); DROP TABLE army.data;--"#, "\u{FEFF}orders", "orders\u{202E}txt", "1orders", "or ders",
                               String(repeating: "n", count: 64), ""]

    @Test(arguments: TestMetastores.kinds)
    func namesWardenWillCreateMustBePlainIdentifiers(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            for name in Self.hostileNames {
                let json = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
                try await server.call(.put, "/dataSource/\(id)", json: #"{"sqlTableName": \#(json)}"#).expect(.badRequest)
                for field in ["bodataTableName", "bodataSchemaName"] {
                    let payload = warehouse.registrationPayload(tables: ["data"])
                        .replacingOccurrences(of: #""table": "data","#, with: #""table": "data", "\#(field)": \#(json),"#)
                    let refused = try await server.call(.post, "/postgresql/handler", json: payload).expect(.badRequest).object
                    #expect((refused["fields"] as? [[String: Any]])?.first?["field"] as? String == "handler[0].metadata.\(field)", "\(refused)")
                }
            }
            // Plain names in any script are fine, and names derived from odd table names are made plain.
            try await server.call(.put, "/dataSource/\(id)", json: #"{"sqlTableName": "données_2024"}"#).expect(.ok)
            try await warehouse.execute(#"CREATE TABLE army."odd name.v2" (id integer)"#)
            let created = try await server.call(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["odd name.v2"]))
                .expect(.ok).object
            let oddId = try #require((created["dataSources"] as? [[String: Any]])?.first?["dataSourceId"] as? Int)
            #expect(try await server.call(.get, "/dataSource/\(oddId)").expect(.ok).object["sqlTableName"] as? String == "odd_name_v2")
        }
    }

    @Test func blobsAreServedAsDownloadsThatAreNeverSniffed() async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(.sqlite) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            try await server.persist(id, query: "blobId=page", body: "<script>alert(1)</script>", headers: [.contentType: "text/html"]).expect(.ok)
            let served = try await server.call(.get, "/dataSource/\(id)/blob/page").expect(.ok)

            #expect(served.headers[.xContentTypeOptions] == "nosniff")
            #expect(served.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            #expect(served.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
        }
    }

    @Test func theSQLiteMetastoreIsReadableByItsOwnerOnly() async throws {
        try await TestServer.run(.sqlite) { server in
            guard case .sqlite(let path) = server.config.metastore else { Issue.record("not SQLite"); return }
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid": "someone"}"#).expect(.ok)
            for file in [path, path + "-wal", path + "-shm"] {
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
            }
        }
    }

    /// An instance whose master key is not the metastore's refuses to start, saying why.
    @Test(arguments: TestMetastores.kinds)
    func anInstanceWithAnotherMasterKeyRefusesToStart(kind: MetastoreKind) async throws {
        let location = try await TestMetastores.freshLocation(kind)
        let first = try TestMetastores.temporaryDirectory()
        let original = try WardenProcess(dataDirectory: first, metastore: location)
        try await original.waitUntilReady()
        original.kill()

        let other = try WardenProcess(dataDirectory: try TestMetastores.temporaryDirectory(), metastore: location,
                                      environment: ["WARDEN_MASTER_KEY": SecretBox.generateMasterKey().base64EncodedString()])
        defer { other.kill() }
        await #expect(throws: WardenError.self) { try await other.waitUntilReady() }
        let output = (try? String(contentsOfFile: other.log, encoding: .utf8)) ?? ""
        #expect(output.contains("master key is not the one this metastore"), "\(output)")

        let again = try WardenProcess(dataDirectory: first, metastore: location)
        defer { again.kill() }
        try await again.waitUntilReady()
    }
}
