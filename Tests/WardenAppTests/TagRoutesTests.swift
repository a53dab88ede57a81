import Foundation
import HTTPTypes
import SQLKit
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct TagRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func creatingATagCreatesItsAncestorsAndRepeatingChangesNothing(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let body = #"{"tags": [{"name": "PII.Contact.Email"}, {"name": "PII.Contact.Phone"}, {"name": "PII.Contact.Email"}]}"#

            let created = try await server.call(.post, "/tag", json: body).expect(.ok).array as? [[String: Any]] ?? []
            let again = try await server.call(.post, "/tag", json: body).expect(.ok).array as? [[String: Any]] ?? []
            let all = try await server.call(.get, "/tag?searchText=pii").expect(.ok).array as? [[String: Any]] ?? []

            #expect(created.compactMap { $0["name"] as? String } == ["PII.Contact.Email", "PII.Contact.Phone"])
            #expect(again.compactMap { $0["id"] as? Int } == created.compactMap { $0["id"] as? Int })
            let email = try #require(created.first)
            #expect(email["displayName"] as? String == "Email")
            #expect(email["source"] as? String == "curated")
            #expect(email["context"] as? String == "manual")
            #expect(email["systemCreated"] as? Bool == false)
            #expect(email["hasLeafNodes"] as? Bool == false)
            #expect(email["deleted"] as? Bool == false)
            #expect(email["createdBy"] as? Int == 1)
            #expect(all.compactMap { $0["name"] as? String } == ["PII", "PII.Contact", "PII.Contact.Email", "PII.Contact.Phone"])
            let byName = Dictionary(uniqueKeysWithValues: all.map { ($0["name"] as? String ?? "", $0) })
            #expect(byName["PII"]?["parentId"] == nil)
            #expect(byName["PII"]?["hasLeafNodes"] as? Bool == true)
            #expect(byName["PII.Contact"]?["parentId"] as? Int == byName["PII"]?["id"] as? Int)
            #expect(email["parentId"] as? Int == byName["PII.Contact"]?["id"] as? Int)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func creationIsValidatedAndNeedsGovernance(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reader = try await server.userWithKey("reader")
            let governor = try await server.userWithKey("governor", permissions: [.governance])
            let created = try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Quality.Gold"}]}"#).expect(.ok).array
            let goldId = try #require((created.first as? [String: Any])?["id"] as? Int)

            let invalid = try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Fine"}, {"name": "Bad..Name"}]}"#)
                .expect(.badRequest, code: "request.validation_failed")
            let missingName = try await server.call(.post, "/tag", json: #"{"tags": [{"id": 3}]}"#).expect(.badRequest)
            let renamed = try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Quality.Silver", "id": \#(goldId)}]}"#)
                .expect(.badRequest)
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Quality.Gold", "id": \#(goldId)}]}"#).expect(.ok)
            try await server.call(.post, "/tag", json: #"{"tags": []}"#).expect(.badRequest)
            try await server.call(.post, "/tag", auth: reader, json: #"{"tags": [{"name": "X"}]}"#)
                .expect(.forbidden, code: "auth.permission_required")
            try await server.call(.post, "/tag", auth: nil, json: #"{"tags": [{"name": "X"}]}"#).expect(.unauthorized)
            try await server.call(.post, "/tag", auth: governor, json: #"{"tags": [{"name": "Governed.Tag"}]}"#).expect(.ok)

            #expect(invalid.object["fields"] as? [[String: String]] == [["field": "tags[1].name",
                                                                         "message": "must not have an empty segment (leading, trailing or doubled dots)"]])
            #expect((missingName.object["fields"] as? [[String: String]])?.first?["field"] == "tags[0].name")
            #expect((renamed.object["fields"] as? [[String: String]])?.first?["field"] == "tags[0].id")
            let names = try await server.call(.get, "/tag").expect(.ok).array.compactMap { ($0 as? [String: Any])?["name"] as? String }
            #expect(names == ["Governed", "Governed.Tag", "Quality", "Quality.Gold"], "nothing of the refused requests was created")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aRootWithDeleteHierarchyReplacesItsChildren(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let first = try await server.call(.post, "/tag", json: #"{"tags": [{"name": "Root.A"}, {"name": "Root.B.X"}, {"name": "Root.C"}, {"name": "Else"}]}"#)
                .expect(.ok).array as? [[String: Any]] ?? []
            try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "Root.B.X"}, {"name": "Root.A"}]"#).expect(.ok)

            try await server.call(.post, "/tag", json: #"{"rootTag": {"name": "Root", "deleteHierarchy": true}, "tags": [{"name": "Other.A"}]}"#)
                .expect(.badRequest)
            let kept = try await server.call(.post, "/tag", json: #"{"rootTag": {"name": "Root", "deleteHierarchy": false, "source": "curated"}, "tags": [{"name": "Root.E"}]}"#)
                .expect(.ok).array
            let replaced = try await server.call(.post, "/tag",
                                                 json: #"{"rootTag": {"name": "Root", "deleteHierarchy": true}, "tags": [{"name": "Root.A"}, {"name": "Root.D.Y"}]}"#)
                .expect(.ok).array as? [[String: Any]] ?? []

            #expect(kept.count == 1)
            let names = try await server.call(.get, "/tag").expect(.ok).array.compactMap { ($0 as? [String: Any])?["name"] as? String }
            #expect(names == ["Else", "Root", "Root.A", "Root.D", "Root.D.Y"])
            #expect(replaced.compactMap { $0["name"] as? String } == ["Root.A", "Root.D.Y"])
            #expect(replaced.first?["id"] as? Int == first.first { $0["name"] as? String == "Root.A" }?["id"] as? Int, "kept tags keep their ids")
            let tags = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [[String: Any]] ?? []
            #expect(tags.compactMap { $0["name"] as? String } == ["Root.A"], "attachments of replaced tags went with them")
            let activities = try await Self.activityTypes(server, dataSourceId: id)
            #expect(activities.filter { $0 == .tagRemoved }.count == 1)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func searchMatchesSubstringsCaseInsensitivelyForAnyCaller(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reader = try await server.userWithKey("reader")
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "PII.Phone"}, {"name": "Finance.Email_Ledger"}, {"name": "Quality.100%"}]}"#)
                .expect(.ok)

            let email = try await server.call(.get, "/tag?searchText=EMAIL", auth: reader).expect(.ok).array
            let limited = try await server.call(.get, "/tag?limit=2", auth: reader).expect(.ok).array
            let underscore = try await server.call(.get, "/tag?searchText=l_").expect(.ok).array
            let percent = try await server.call(.get, "/tag?searchText=0%25").expect(.ok).array
            let excluded = try await server.call(.get, "/tag?excludedHierarchies=PII&excludedHierarchies=Quality&source=curated").expect(.ok).array
            let otherSource = try await server.call(.get, "/tag?source=catalog").expect(.ok).array

            #expect(Self.names(email) == ["Finance.Email_Ledger", "PII.Email"])
            #expect(Self.names(limited) == ["Finance", "Finance.Email_Ledger"])
            #expect(Self.names(underscore) == ["Finance.Email_Ledger"], "LIKE wildcards in the search text are matched literally")
            #expect(Self.names(percent) == ["Quality.100%"])
            #expect(Self.names(excluded) == ["Finance", "Finance.Email_Ledger"])
            #expect(otherSource.isEmpty)
            try await server.call(.get, "/tag?limit=0").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/tag?limit=1001").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/tag?excludedHierarchies=a..b").expect(.badRequest, code: "request.invalid_query")
            try await server.call(.get, "/tag", auth: nil).expect(.unauthorized)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func tagsAttachToDataSourcesAndColumnsAndShowInTheDictionary(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "Quality.Gold"}, {"name": "Finance.Amount"}]}"#)
                .expect(.ok)

            let onSource = try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "Quality.Gold"}, {"name": "PII"}, {"name": "PII"}]"#)
                .expect(.ok).array as? [[String: Any]] ?? []
            let onColumn = try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII.Email", "source": "curated"}]"#)
                .expect(.ok).array as? [[String: Any]] ?? []
            try await server.call(.post, "/tag/column/\(id)_created_at", json: #"[{"name": "Finance.Amount"}]"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "PII"}]"#).expect(.ok)
            let dictionary = try await server.call(.get, "/dictionary/\(id)").expect(.ok).object
            let all = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [[String: Any]] ?? []
            let blobOnly = try await server.call(.get, "/dataSource/\(id)/tags?blobTagsOnly=true").expect(.ok).object
            let ofBlob = try await server.call(.get, "/dataSource/\(id)/tags?blobId=some%2Fblob").expect(.ok).object

            #expect(onSource.compactMap { $0["name"] as? String } == ["PII", "Quality.Gold"])
            #expect(onSource.allSatisfy { $0["modelType"] as? String == "datasource" && $0["modelId"] as? String == "\(id)" })
            #expect(onSource.first?["addedBy"] as? Int == 1)
            #expect(onSource.first?["hasLeafNodes"] as? Bool == true)
            #expect(onSource.first?["deleted"] as? Bool == false)
            #expect(onColumn.compactMap { $0["name"] as? String } == ["PII.Email"])
            #expect(onColumn.first?["modelType"] as? String == "column")
            #expect(onColumn.first?["modelId"] as? String == "\(id)_email")
            let columns = try #require(dictionary["metadata"] as? [[String: Any]])
            let columnTags = Dictionary(uniqueKeysWithValues: columns.map {
                ($0["name"] as? String ?? "", ($0["tags"] as? [[String: Any]])?.compactMap { $0["name"] as? String })
            })
            #expect(columnTags["email"] == ["PII.Email"])
            #expect(columnTags["created_at"] == ["Finance.Amount"])
            #expect(columnTags["name"] == [], "every column lists its tags, none included")
            #expect(all.compactMap { $0["name"] as? String } == ["PII", "Quality.Gold", "Finance.Amount", "PII.Email"])
            #expect(all.compactMap { $0["modelType"] as? String } == ["datasource", "datasource", "column", "column"])
            #expect(all.allSatisfy { $0["source"] as? String == "curated" && $0["addedBy"] as? Int == 1 && $0["deleted"] as? Bool == false })
            #expect((blobOnly["tags"] as? [Any])?.isEmpty == true)
            #expect((ofBlob["tags"] as? [Any])?.isEmpty == true)
            try await server.call(.get, "/dataSource/\(id)/tags?blobTagsOnly=maybe").expect(.badRequest, code: "request.invalid_query")
            let activities = try await Self.activityTypes(server, dataSourceId: id)
            #expect(activities.filter { $0 == .tagAdded }.count == 4, "one per new attachment; attaching PII again added nothing")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func detachingRemovesOneTagAndAnswersTheRest(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "Cost Center/EU.Gold"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "PII"}, {"name": "Cost Center/EU.Gold"}]"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII.Email"}, {"name": "PII"}]"#).expect(.ok)

            let remaining = try await server.call(.delete, "/tag/datasource/\(id)/Cost%20Center%2FEU.Gold").expect(.ok).array
            try await server.call(.delete, "/tag/datasource/\(id)/Cost%20Center%2FEU.Gold").expect(.notFound, code: "tag.not_attached")
            try await server.call(.delete, "/tag/datasource/\(id)/PII.Email").expect(.notFound, code: "tag.not_attached")
            try await server.call(.delete, "/tag/datasource/\(id)/No.Such").expect(.notFound, code: "tag.not_attached")
            let columnRemaining = try await server.call(.delete, "/tag/column/\(id)_email/PII").expect(.ok).array

            #expect(Self.names(remaining) == ["PII"])
            #expect(Self.names(columnRemaining) == ["PII.Email"])
            let all = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [[String: Any]] ?? []
            #expect(all.compactMap { $0["name"] as? String } == ["PII", "PII.Email"])
            let activities = try await Self.activityTypes(server, dataSourceId: id)
            #expect(activities.filter { $0 == .tagRemoved }.count == 2)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func oneUnknownTagMeansNothingIsAttached(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}]}"#).expect(.ok)

            let unknown = try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "PII"}, {"name": "Nope.One"}, {"name": "Nope.Two"}]"#)
                .expect(.badRequest, code: "tag.unknown")
            let invalid = try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII"}, {"name": "Bad..Name"}]"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.call(.post, "/tag/datasource/\(id)", json: #"{"name": "PII"}"#).expect(.badRequest, code: "request.invalid_json")
            try await server.call(.post, "/tag/datasource/\(id)", json: "[]").expect(.badRequest)

            #expect((unknown.object["fields"] as? [[String: String]])?.compactMap { $0["field"] } == ["[1].name", "[2].name"])
            #expect((unknown.object["message"] as? String)?.contains("Nope.One, Nope.Two") == true)
            #expect((invalid.object["fields"] as? [[String: String]])?.compactMap { $0["field"] } == ["[1].name"])
            let tags = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [Any]
            #expect(tags?.isEmpty == true)
            #expect(try await Self.activityTypes(server, dataSourceId: id).contains(.tagAdded) == false)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func onlyOwnersTagAndPrivateSourcesStayInvisible(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let publicId = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let privateId = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(privateId)", json: #"[{"name": "PII"}]"#).expect(.ok)
            let reader = try await server.userWithKey("reader", permissions: [.governance])

            let forbidden = try await server.call(.post, "/tag/datasource/\(publicId)", auth: reader, json: #"[{"name": "PII"}]"#).expect(.forbidden)
            try await server.call(.post, "/tag/column/\(publicId)_email", auth: reader, json: #"[{"name": "PII"}]"#).expect(.forbidden)
            try await server.call(.delete, "/tag/datasource/\(publicId)/PII", auth: reader).expect(.forbidden)
            let invisible = try await server.call(.post, "/tag/datasource/\(privateId)", auth: reader, json: #"[{"name": "PII"}]"#)
                .expect(.notFound, code: "dataSource.not_found")
            try await server.call(.delete, "/tag/datasource/\(privateId)/PII", auth: reader).expect(.notFound, code: "dataSource.not_found")
            try await server.call(.get, "/dataSource/\(privateId)/tags", auth: reader).expect(.notFound, code: "dataSource.not_found")
            try await server.call(.get, "/dataSource/\(publicId)/tags", auth: reader).expect(.ok)
            try await server.call(.get, "/dataSource/987654/tags").expect(.notFound, code: "dataSource.not_found")
            try await server.call(.get, "/dataSource/\(publicId)/tags", auth: nil).expect(.unauthorized)
            try await server.call(.post, "/tag/datasource/987654", json: #"[{"name": "PII"}]"#).expect(.notFound, code: "dataSource.not_found")
            try await server.call(.post, "/tag/column/\(publicId)_no_such_column", json: #"[{"name": "PII"}]"#)
                .expect(.notFound, code: "column.not_found")
            try await server.call(.post, "/tag/column/\(publicId)", json: #"[{"name": "PII"}]"#).expect(.notFound, code: "column.not_found")
            try await server.call(.post, "/tag/widget/\(publicId)", json: #"[{"name": "PII"}]"#).expect(.notFound, code: "tag.model_type_not_found")
            try await server.call(.post, "/tag/project/1", json: #"[{"name": "PII"}]"#)
                .expect(.notImplemented, code: "tag.model_type_not_implemented")
            try await server.call(.post, "/tag/datasource/\(publicId)", auth: nil, json: #"[{"name": "PII"}]"#).expect(.unauthorized)

            #expect(forbidden.object["code"] as? String == "dataSource.role_required")
            #expect(invisible.object["message"] as? String == "Data source not found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func deletingATagTakesItsDescendantsAndAttachmentsAlong(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let reader = try await server.userWithKey("reader")
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Contact Info.Email"}, {"name": "PII.Name"}, {"name": "Other"}]}"#)
                .expect(.ok)
            try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "PII.Contact Info"}, {"name": "Other"}]"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII.Contact Info.Email"}, {"name": "PII.Name"}]"#).expect(.ok)

            try await server.call(.delete, "/tag/PII.Contact%20Info", auth: reader).expect(.forbidden, code: "auth.permission_required")
            let deleted = try await server.call(.delete, "/tag/PII.Contact%20Info").expect(.ok).object
            try await server.call(.delete, "/tag/PII.Contact%20Info").expect(.notFound, code: "tag.not_found")
            try await server.call(.delete, "/tag/a..b").expect(.notFound, code: "tag.not_found")

            #expect(deleted["name"] as? String == "PII.Contact Info")
            #expect(deleted["displayName"] as? String == "Contact Info")
            #expect(deleted["deleted"] as? Bool == true)
            let names = try await server.call(.get, "/tag").expect(.ok).array.compactMap { ($0 as? [String: Any])?["name"] as? String }
            #expect(names == ["Other", "PII", "PII.Name"])
            let tags = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [[String: Any]] ?? []
            #expect(tags.compactMap { $0["name"] as? String } == ["Other", "PII.Name"])
            let activities = try await Self.activityTypes(server, dataSourceId: id)
            #expect(activities.filter { $0 == .tagRemoved }.count == 2)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func columnTagsFollowTheDictionaryAndEverythingGoesWithTheDataSource(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "Quality"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(id)", json: #"[{"name": "Quality"}]"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII.Email"}]"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(id)_name", json: #"[{"name": "PII"}]"#).expect(.ok)

            let replaced = try await server.call(.put, "/dictionary/\(id)", json: #"{"metadata": [{"name": "name", "dataType": "text"}]}"#)
                .expect(.ok).object

            let columns = try #require(replaced["metadata"] as? [[String: Any]])
            #expect((columns.first?["tags"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["PII"])
            let tags = try await server.call(.get, "/dataSource/\(id)/tags").expect(.ok).object["tags"] as? [[String: Any]] ?? []
            #expect(tags.compactMap { $0["name"] as? String } == ["Quality", "PII"], "the tag of the removed column is gone")
            try await server.call(.post, "/tag/column/\(id)_email", json: #"[{"name": "PII.Email"}]"#).expect(.notFound, code: "column.not_found")

            try await server.metastore.write { db in try await db.raw("DELETE FROM data_sources WHERE id = \(bind: id)").run() }

            let left = try await server.metastore.read { db in
                try await db.raw("""
                    SELECT (SELECT COUNT(*) FROM data_source_tags) + (SELECT COUNT(*) FROM column_tags) AS n
                    """).first()!.decode(column: "n", as: Int.self)
            }
            #expect(left == 0)
            try await server.call(.get, "/tag?searchText=PII").expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func theSearchFilterMatchesTagsAndTheirDescendants(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            let records = try #require(ids["army_records"])
            let data = try #require(ids["data"])
            try await server.call(.post, "/tag", json: #"{"tags": [{"name": "PII.Email"}, {"name": "PIIX"}, {"name": "Quality"}]}"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(records)", json: #"[{"name": "PII.Email"}]"#).expect(.ok)
            try await server.call(.post, "/tag/datasource/\(data)", json: #"[{"name": "PIIX"}, {"name": "Quality"}]"#).expect(.ok)
            try await server.call(.post, "/tag/column/\(data)_email", json: #"[{"name": "PII"}]"#).expect(.ok)

            func tagged(_ names: [String], includingColumns: Bool = false) async throws -> [Int] {
                try await server.metastore.read { db in
                    try await db.raw("""
                        SELECT id FROM data_sources WHERE id IN (\(TagStore.dataSourceIdsTagged(names, includingColumns: includingColumns))) ORDER BY id
                        """).all().map { try $0.decode(column: "id", as: Int.self) }
                }
            }

            #expect(try await tagged(["PII"]) == [records])
            #expect(try await tagged(["PII"], includingColumns: true) == [records, data].sorted())
            #expect(try await tagged(["PII.Email", "Quality"]) == [records, data].sorted())
            #expect(try await tagged(["pii"]).isEmpty, "names are case-sensitive")
            #expect(try await tagged([]).isEmpty)
            let names = try await TagStore(metastore: server.metastore).tagNames(ofDataSources: [Int64(records), Int64(data)])
            #expect(names == [Int64(records): ["PII.Email"], Int64(data): ["PIIX", "Quality"]])
        }
    }

    // MARK: Helpers

    static func names(_ array: [Any]) -> [String] {
        array.compactMap { ($0 as? [String: Any])?["name"] as? String }
    }

    static func activityTypes(_ server: TestServer, dataSourceId: Int) async throws -> [ActivityType] {
        try await ActivityStore(metastore: server.metastore).activities(dataSourceId: Int64(dataSourceId), paging: Paging(size: 1000, offset: 0))
            .items.map(\.type)
    }
}
