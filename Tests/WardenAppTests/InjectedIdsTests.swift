import Foundation
import HTTPTypes
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

/// The ids Warden hands out come from the generator `buildServer` is given, like the time from its clock.
@Suite struct InjectedIdsTests {
    @Test(arguments: TestMetastores.kinds)
    func apiKeysTakeTheirIdsFromTheInjectedGenerator(kind: MetastoreKind) async throws {
        try await TestServer.run(kind, ids: SequentialIds()) { server in
            let first = try await server.call(.post, "/bim/apikey", json: "{}").expect(.ok).string("keyid")
            let second = try await server.call(.post, "/bim/apikey", json: "{}").expect(.ok).string("keyid")
            let prefix = "00000000-0000-0000-0000-0000000000"
            #expect(first.hasPrefix(prefix) && second.hasPrefix(prefix), "\(first), \(second)")
            let (a, b) = (try #require(Int(first.dropFirst(prefix.count), radix: 16)), try #require(Int(second.dropFirst(prefix.count), radix: 16)))
            #expect(b == a + 1)
        }
    }
}
