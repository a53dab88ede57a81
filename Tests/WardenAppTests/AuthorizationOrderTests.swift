import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

/// A caller who may not act on a data source is refused before their input is read: a malformed body earns them
/// the 403 (or, for a source they may not see, the 404), never a 400 that would show the route went further.
@Suite struct AuthorizationOrderTests {
    static let malformed = #"{"not": "what any of these routes expect""#

    @Test(arguments: TestMetastores.kinds)
    func refusedCallersAreRefusedBeforeTheirInputIsRead(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let visible = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            let reader = try await server.userWithKey("reader")
            let routes: [(HTTPRequest.Method, (Int) -> String)] = [
                (.put, { "/postgresql/handler/\($0)" }),
                (.post, { "/dictionary/\($0)" }),
                (.put, { "/dictionary/\($0)" }),
                (.post, { "/tag/datasource/\($0)" }),
                (.post, { "/dataSource/\($0)/lineage/parents" }),
                (.post, { "/dataSource/\($0)/blobs" }),
                (.post, { "/dataSource/\($0)/persistBlob" }),
                (.post, { "/dataSource/\($0)/reverseMask" }),
            ]
            for (method, path) in routes {
                try await server.call(method, path(visible), auth: reader, json: Self.malformed).expect(.forbidden)
                try await server.call(method, path(hidden), auth: reader, json: Self.malformed).expect(.notFound)
            }
        }
    }

    /// The same for purposes and projects: governors' and owners' routes refuse others before reading their input.
    @Test(arguments: TestMetastores.kinds)
    func refusedCallersOfProjectsAndPurposesAreRefusedBeforeTheirInputIsRead(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reader = try await server.userWithKey("reader")
            let purpose = try #require(try await server.call(.post, "/governance/purpose", json: #"{"name": "Audit"}"#).expect(.ok).object["id"] as? Int)
            let project = try #require(try await server.call(.post, "/project", json: #"{"name": "P"}"#).expect(.ok).object["id"] as? Int)
            let member = try #require((try await server.call(.get, "/project/\(project)/members").expect(.ok).object["members"] as? [[String: Any]])?
                .first?["subscriptionId"] as? Int)
            let routes: [(HTTPRequest.Method, String)] = [
                (.post, "/governance/purpose"), (.put, "/governance/purpose/\(purpose)"), (.post, "/project"),
                (.put, "/project/\(project)"), (.post, "/project/\(project)/members"), (.put, "/project/\(project)/members/\(member)"),
                (.post, "/project/\(project)/dataSources"),
            ]
            for (method, path) in routes {
                try await server.call(method, path, auth: reader, json: Self.malformed).expect(.forbidden)
            }
        }
    }
}
