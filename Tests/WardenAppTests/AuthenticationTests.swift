import Foundation
import HTTPTypes
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct AuthenticationTests {
    @Test(arguments: TestMetastores.kinds)
    func firstStartCreatesTheAdminAndSavesItsKeyPrivately(kind: MetastoreKind) async throws {
        try await TestServer.run(kind, configure: { $0.adminAPIKey = nil }) { server in
            let path = server.config.dataDirectory + "/admin-api-key"
            let key = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int

            let current = try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.ok).object

            #expect(mode == 0o600)
            #expect(current["userid"] as? String == "admin")
            #expect(current["iamid"] as? String == "bim")
            #expect(Set(current["permissions"] as? [String] ?? []) == Set(Permission.allCases.map(\.rawValue)))
            let masterKeyMode = try FileManager.default.attributesOfItem(atPath: server.config.dataDirectory + "/master.key")[.posixPermissions] as? Int
            #expect(masterKeyMode == 0o600)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func aSecondStartKeepsTheAdminAndItsKey(kind: MetastoreKind) async throws {
        let directory = try TestMetastores.temporaryDirectory()
        let location = try await TestMetastores.freshLocation(kind)
        var config = AppConfig(port: 0, dataDirectory: directory, metastore: location, passwordRounds: 1000)
        let first = try await buildServer(config: config, logger: TestMetastores.logger)
        await first.metastore.close()
        config.adminAPIKey = "operator-chosen-key-0123456789"

        let second = try await buildServer(config: config, logger: TestMetastores.logger)
        let users = try await IdentityStore(metastore: second.metastore).userCount()
        let viaOperatorKey = try await CredentialStore(metastore: second.metastore).principal(apiKeyHash: Credentials.hash("operator-chosen-key-0123456789"))
        let generatedKey = try String(contentsOfFile: directory + "/admin-api-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let viaGeneratedKey = try await CredentialStore(metastore: second.metastore).principal(apiKeyHash: Credentials.hash(generatedKey))
        await second.metastore.close()

        #expect(first.generatedAdminKey != nil)
        #expect(second.generatedAdminKey == nil)
        #expect(users == 1)
        #expect(viaOperatorKey?.userid == "admin")
        #expect(viaGeneratedKey?.userid == "admin")
    }

    @Test(arguments: TestMetastores.kinds)
    func bearerBareTokenAndRawKeyAllAuthenticate(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let token = try await server.adminToken()

            for auth in ["Bearer \(token)", token, TestServer.adminKey, "Bearer \(TestServer.adminKey)"] {
                let reply = try await server.call(.get, "/bim/rpc/user/current", auth: auth).expect(.ok)
                #expect(reply.object["userid"] as? String == "admin")
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func theKeyMayAlsoComeInTheHeaderOfAuthenticate(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reply = try await server.call(.post, "/bim/apikey/authenticate", auth: "Bearer   \(TestServer.adminKey)").expect(.ok)

            #expect(reply.object["authenticated"] as? Bool == true)
            try await server.call(.get, "/bim/rpc/user/current", auth: try reply.string("token")).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func missingOrUnknownCredentialsAre401(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let missing = try await server.call(.get, "/bim/rpc/user/current", auth: nil).expect(.unauthorized, code: "auth.unauthorized")
            try await server.call(.get, "/bim/rpc/user/current", auth: "Bearer wt_unknown").expect(.unauthorized)
            try await server.call(.get, "/bim/rpc/user/current", auth: "wk_unknown").expect(.unauthorized)
            try await server.call(.get, "/bim/rpc/user/current", auth: "").expect(.unauthorized)
            try await server.call(.post, "/bim/apikey/authenticate", auth: nil, json: #"{"apikey":"nope"}"#)
                .expect(.unauthorized, code: "auth.invalid_apikey")
            try await server.call(.post, "/bim/apikey/authenticate", auth: nil, json: "{}").expect(.badRequest)

            #expect(missing.object["message"] as? String == "A valid Authorization token must be provided")
        }
    }

    /// Every route but the four public ones refuses a caller without credentials, whatever its path parameters.
    @Test func everyRouteButThePublicOnesIsRefusedWithoutCredentials() async throws {
        let public_: Set<String> = ["GET /health", "GET /openapi.json", "POST /bim/apikey/authenticate", "POST /bim/iam/{iamid}/user/authenticate"]
        try await TestServer.run(.sqlite) { server in
            #expect(server.routes.count > 100)
            for route in server.routes where !public_.contains(route) {
                let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
                let path = parts[1].replacingOccurrences(of: #"\{[^}]+\}"#, with: "1", options: .regularExpression)
                    .replacingOccurrences(of: "**", with: "x")
                try await server.call(HTTPRequest.Method(parts[0])!, path, auth: nil, json: "{}").expect(.unauthorized)
            }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func tokensExpireAfterTheirLifetime(kind: MetastoreKind) async throws {
        let clock = TestClock()
        try await TestServer.run(kind, clock: clock, configure: { $0.tokenTTL = 60 }) { server in
            let token = try await server.adminToken()
            try await server.call(.get, "/bim/rpc/user/current", auth: token).expect(.ok)

            clock.advance(seconds: 61)

            try await server.call(.get, "/bim/rpc/user/current", auth: token).expect(.unauthorized)
            try await server.call(.get, "/bim/rpc/user/current", auth: TestServer.adminKey).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func deletingAKeyRevokesItAndItsTokens(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let created = try await server.call(.post, "/bim/apikey", json: #"{"name":"ci","projectId":12}"#).expect(.ok).object
            let key = try #require(created["apikey"] as? String)
            let keyId = try #require(created["keyid"] as? String)
            let token = try await server.call(.post, "/bim/apikey/authenticate", auth: nil, json: #"{"apikey":"\#(key)"}"#).string("token")
            let current = try await server.call(.get, "/bim/rpc/user/current", auth: token).expect(.ok).object
            #expect(current["projectId"] as? Int == 12)
            #expect(created["project"] as? Int == 12)
            #expect(created["name"] as? String == "ci")

            try await server.call(.delete, "/bim/apikey/\(keyId)").expect(.ok)

            try await server.call(.get, "/bim/rpc/user/current", auth: token).expect(.unauthorized)
            try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.unauthorized)
            try await server.call(.delete, "/bim/apikey/\(keyId)").expect(.notFound, code: "apikey.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func othersKeysAreInvisible(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let adminKeyId = try #require((try await server.call(.post, "/bim/apikey", json: "{}").object["keyid"]) as? String)
            let bobKey = try await server.userWithKey("bob")

            try await server.call(.delete, "/bim/apikey/\(adminKeyId)", auth: bobKey).expect(.notFound)
            try await server.call(.get, "/bim/iam/bim/user/admin/apikeys", auth: bobKey).expect(.forbidden)
            let bobKeys = try await server.call(.get, "/bim/iam/bim/user/bob/apikeys", auth: bobKey).expect(.ok).array
            #expect(bobKeys.count == 1)
            #expect(!(String(decoding: try JSONSerialization.data(withJSONObject: bobKeys), as: UTF8.self)).contains(bobKey))
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func passwordSignInIssuesAnExpiringToken(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let created = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"carol","password":"a long enough password"}"#)
                .expect(.ok).object
            let profileId = try #require((created["newUser"] as? [String: Any])?["id"] as? Int)

            let reply = try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil,
                                              json: #"{"username":"carol","password":"a long enough password"}"#).expect(.ok).object

            #expect(reply["authenticated"] as? Bool == true)
            #expect(reply["profileId"] as? Int == profileId)
            #expect((reply["tokenExpiration"] as? String)?.hasSuffix("Z") == true)
            try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil, json: #"{"username":"carol","password":"wrong password!!"}"#)
                .expect(.unauthorized, code: "auth.invalid_credentials")
            try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil, json: #"{"username":"nobody","password":"whatever it is"}"#)
                .expect(.unauthorized, code: "auth.invalid_credentials")
            try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil, json: #"{"username":"admin","password":"no password set"}"#)
                .expect(.unauthorized)
            try await server.call(.post, "/bim/iam/other/user/authenticate", auth: nil, json: #"{"username":"carol","password":"x"}"#)
                .expect(.notFound, code: "iam.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func disablingAUserStopsTheirKeysAndTokensAtOnce(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let bobKey = try await server.userWithKey("bob")
            let bobToken = try await server.call(.post, "/bim/apikey/authenticate", auth: nil, json: #"{"apikey":"\#(bobKey)"}"#).string("token")

            try await server.call(.put, "/bim/iam/bim/user/bob/disable/true").expect(.ok)

            try await server.call(.get, "/bim/rpc/user/current", auth: bobKey).expect(.unauthorized)
            try await server.call(.get, "/bim/rpc/user/current", auth: bobToken).expect(.unauthorized)
            try await server.call(.post, "/bim/iam/bim/user/authenticate", auth: nil, json: #"{"username":"bob","password":"password-of-bob"}"#)
                .expect(.unauthorized)

            try await server.call(.put, "/bim/iam/bim/user/bob/disable/false").expect(.ok)

            try await server.call(.get, "/bim/rpc/user/current", auth: bobKey).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func theShellCanCreateKeysForAnyUser(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"dora"}"#).expect(.ok)

            let key = try await AdminTasks.createAPIKey(config: server.config, userid: "dora", name: nil, logger: TestMetastores.logger)

            let current = try await server.call(.get, "/bim/rpc/user/current", auth: key).expect(.ok).object
            #expect(current["userid"] as? String == "dora")
            await #expect(throws: WardenError.self) {
                _ = try await AdminTasks.createAPIKey(config: server.config, userid: "nobody", name: nil, logger: TestMetastores.logger)
            }
        }
    }
}
