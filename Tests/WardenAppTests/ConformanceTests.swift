import Foundation
import HTTPTypes
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// Documented requests a client written against the specification sends, and the answers it reads.
@Suite struct ConformanceTests {
    func payload(_ warehouse: TestWarehouse, tables: [String] = ["army_records"], dataSource extra: String = "", topLevel: String = "") -> String {
        let base = warehouse.registrationPayload(tables: tables)
        var result = base.replacingOccurrences(of: #""type": "queryable","#, with: #""type": "queryable", \#(extra)"#)
        if !topLevel.isEmpty { result = result.replacingOccurrences(of: #"{"handler": ["#, with: #"{\#(topLevel), "handler": ["#) }
        return result
    }

    @Test(arguments: TestMetastores.kinds)
    func registrationNamesTheSourceAndRefusesMisplacedFields(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let named = try await server.call(.post, "/postgresql/handler",
                                              json: payload(warehouse, dataSource: #""name": "Marketing Orders", "sqlTableName": "mkt_orders","#))
                .expect(.ok).object
            #expect(named["warnings"] == nil, "\(named)")
            let found = try await server.call(.get, "/dataSource/name/Marketing%20Orders").expect(.ok).object
            #expect(found["sqlTableName"] as? String == "mkt_orders")

            let several = try await server.call(.post, "/postgresql/handler",
                                                json: payload(warehouse, tables: ["data", "army_records"], dataSource: #""name": "One Name","#))
                .expect(.badRequest).object
            #expect((several["fields"] as? [[String: Any]])?.first?["field"] as? String == "dataSource.name")

            let misplaced = try await server.call(.post, "/postgresql/handler", json: payload(warehouse, tables: ["data"], topLevel: #""private": true"#))
                .expect(.badRequest).object
            #expect((misplaced["message"] as? String)?.contains("dataSource.private") == true, "\(misplaced)")
            try await server.call(.get, "/dataSource/name/Army%20Data").expect(.notFound)

            let unknown = try await server.call(.post, "/postgresql/handler", json: payload(warehouse, tables: ["data"], topLevel: #""flavour": "mint""#))
                .expect(.ok).object
            #expect((unknown["warnings"] as? String)?.contains("flavour") == true, "\(unknown)")

            let again = try await server.call(.post, "/postgresql/handler", json: payload(warehouse, tables: ["data"])).expect(.conflict).object
            #expect((again["message"] as? String)?.hasPrefix("duplicate tables are specified in the payload.") == true, "\(again)")
        }
    }

    @Test func filtersOfFeaturesStillToComeAre501NotIgnored() async throws {
        try await TestServer.run(.sqlite) { server in
            for filter in ["clusterName", "collectionId", "collectionExclude", "sddTemplateName", "excludeSddTemplateName"] {
                let reply = try await server.call(.get, "/dataSource?\(filter)=x").expect(.notImplemented, code: "dataSource.filter_not_implemented")
                #expect((reply.object["message"] as? String)?.contains(filter) == true)
            }
            // Literal segments, never taken for a data source id.
            #expect(try await server.call(.get, "/dataSource/byPurposes?purposes=Research").expect(.ok).array.isEmpty)
            #expect(try await server.call(.put, "/dataSource/detectRemoteChanges", json: "{}").expect(.ok).object["bulkId"] is String)
            try await server.call(.put, "/trino/bulk", json: #"{"handler": {"metadata": {"hostname": "h"}}, "connectionString": "x"}"#)
                .expect(.notImplemented, code: "connector.not_implemented")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func detailsCarryTheDocumentedFieldsAndTakeBackWhatWasRead(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            let reply = try await server.call(.get, "/dataSource/\(id)").expect(.ok)
            let details = reply.object
            for key in ["policyHandler", "globalPolicies", "statsExpiration", "documentation", "description"] {
                #expect(details.keys.contains(key) && details[key] is NSNull, "\(key) is sent as null")
            }
            // The example registers with `schemaEvolution`, which makes a group.
            #expect(details["schemaEvolutionId"] as? Int != nil)
            #expect(details["columnEvolutionEnabled"] as? Bool == true)
            #expect(details["subscriptionId"] as? Int != nil)
            #expect(((details["statusInfo"] as? [String: Any])?["sql"] as? [String: Any])?["status"] as? String == "notRun")
            let bySQLName = try await server.call(.get, "/dataSource/sqlTableName/army_records").expect(.ok).object
            #expect(bySQLName["approved"] as? Bool == true)
            #expect(bySQLName["requestedState"] as? String == "owner")

            // The body just read goes back unchanged; a real change of a read-only field is refused.
            try await server.call(.put, "/dataSource/\(id)", json: reply.text).expect(.ok)
            var changed = details
            changed["createdBy"] = 999
            let refused = try await server.call(.put, "/dataSource/\(id)", json: String(decoding: try JSONSerialization.data(withJSONObject: changed), as: UTF8.self))
                .expect(.badRequest).object
            #expect((refused["fields"] as? [[String: Any]])?.contains { $0["field"] as? String == "createdBy" } == true, "\(refused)")

            let test = try await server.call(.get, "/dataSource/\(id)/test").expect(.ok).object
            for key in ["fingerprint", "schemaEvolution", "highCardinality"] {
                #expect((test[key] as? [String: Any])?["status"] is String, "\(key) in \(test)")
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func contactsActivitiesAndHandlersHaveTheDocumentedShapes(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["army_records"])["army_records"])
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid": "reader", "profile": {"name": "Rea Der", "email": "rea@example.com"}}"#)
                .expect(.ok)
            let readerId = try #require((try await server.call(.get, "/bim/user?searchText=reader").expect(.ok).object["hits"] as? [[String: Any]])?
                .first?["id"] as? Int)
            try await server.call(.post, "/dataSource/\(id)/access", json: #"{"profileId": \#(readerId), "state": "expert"}"#).expect(.ok)

            let contacts = try await server.call(.get, "/dataSource/\(id)/contacts").expect(.ok).array.compactMap { $0 as? [String: Any] }
            let expert = try #require(contacts.first { $0["state"] as? String == "expert" })
            #expect(expert["type"] as? String == "profile")
            #expect(expert["id"] as? Int == id)
            #expect(expert["profile"] as? Int == readerId)
            #expect(expert["email"] as? String == "rea@example.com")

            let activities = try await server.call(.get, "/dataSource/\(id)/activities").expect(.ok).object["activities"] as? [[String: Any]] ?? []
            let added = try #require(activities.first { $0["notificationType"] as? String == "memberAdded" })
            #expect((added["actionBy"] as? [String: Any])?.keys.contains("email") == true)
            #expect((added["targetUser"] as? [String: Any])?["email"] as? String == "rea@example.com")

            let handler = try await server.call(.get, "/postgresql/handler/\(id)").expect(.ok)
            #expect(handler.object["ca"] is [Any])
            try await server.call(.put, "/postgresql/handler/\(id)", json: handler.text).expect(.ok)
        }
    }
}
