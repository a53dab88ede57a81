import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct SystemRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func healthNamesTheMetastore(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let health = try await server.call(.get, "/health", auth: nil).expect(.ok).object

            #expect(health["status"] as? String == "ok")
            #expect(health["metastore"] as? String == kind.rawValue)
            #expect(health["version"] as? String == WardenVersion.current)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func everyRouteIsDocumentedAndEveryDocumentedRouteExists(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let served = try await server.call(.get, "/openapi.json", auth: nil).expect(.ok).object
            let paths = try #require(served["paths"] as? [String: [String: Any]])
            let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
            let documented = Set(paths.flatMap { path, operations in
                operations.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" }
            })
            // A catch-all segment (`**`: blob ids with slashes, object paths) is documented as one `{blobId}` or `{objectPath}` parameter.
            let registered = Set(server.routes.map {
                $0.replacingOccurrences(of: "/blob/**", with: "/blob/{blobId}").replacingOccurrences(of: "/**", with: "/{objectPath}")
            })

            #expect((served["openapi"] as? String)?.hasPrefix("3.1") == true)
            #expect(registered.subtracting(documented).sorted() == [], "registered but not documented")
            #expect(documented.subtracting(registered).sorted() == [], "documented but not registered")
        }
    }
}
