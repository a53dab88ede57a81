import AsyncHTTPClient
import CryptoExtras
import Foundation
import Logging
import NIOCore
import Testing
@testable import WardenConnectors
import WardenDomain
import WardenTestSupport

/// Key-pair sign-in and aborting a query past its time, checked against snowflake-connector-python's own JWT and a
/// scripted Snowflake that records what the client sends (fakesnow accepts any sign-in and never keeps a query running).
@Suite struct SnowflakeKeyPairTests {
    /// The Python connector's verdict on a JWT (`Tests/Peers/snowflake_jwt.py`).
    static func pythonChecks(keyPEM: String, account: String, user: String, token: String) async throws -> [String: Any] {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("warden-key-\(UUID().uuidString).pem")
        try keyPEM.write(to: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/snowflake_jwt.py")
        let output = try await TestProcess.output(of: [try TestFakesnow.python, script.path, keyFile.path, account, user, token])
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    @Test(arguments: ["xy12345.eu-west-1", "myorg-analytics", "myorg-analytics.global"])
    func theJWTIsTheOneSnowflakesDriversMake(account: String) async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let token = try SnowflakeKeyPair.token(privateKeyPEM: key.pemRepresentation, account: account, username: "warden_svc", now: Date())
        let verdict = try await Self.pythonChecks(keyPEM: key.pemRepresentation, account: account, user: "warden_svc", token: token)
        #expect(verdict["verified"] as? Bool == true, "\(verdict)")
        let claims = try #require(verdict["claims"] as? [String: Any])
        let expected = try #require(verdict["expected"] as? [String: String])
        #expect(claims["iss"] as? String == expected["iss"])
        #expect(claims["sub"] as? String == expected["sub"])
        let issued = try #require(claims["iat"] as? Int)
        #expect(claims["exp"] as? Int == issued + 3600)
    }

    @Test func aKeyThatIsNotOneIsRefusedWithoutEchoingIt() {
        #expect {
            _ = try SnowflakeKeyPair.token(privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----",
                                           account: "a", username: "u", now: Date())
        } throws: { error in
            guard let error = error as? WardenError else { return false }
            return error.code == .warehouseAuthenticationFailed && !error.message.contains("c2VjcmV0")
        }
    }

    static let loggedIn = #"{"success": true, "data": {"token": "session-token", "masterToken": "m"}}"#
    static let running = #"{"success": true, "code": "333334", "data": {"queryId": "\#(ScriptedPeer.id)", "getResultUrl": "/queries/\#(ScriptedPeer.id)/result"}}"#

    @Test func signingInWithAKeySendsTheJWTAndAQueryPastItsTimeIsAborted() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let scripted = ScriptedPeer([
            "POST /session/v1/login-request": [(200, Self.loggedIn, [:])],
            "POST /queries/v1/query-request": [(200, Self.running, [:])],
            "GET /queries/ID/result": [(200, Self.running, [:])],
            "POST /queries/v1/abort-request": [(200, #"{"success": true}"#, [:])],
        ])
        try await scripted.serve { port in
            let client = SnowflakeClient(
                settings: .init(hostname: "127.0.0.1", port: port, useTLS: false, account: "xy12345", username: "warden_svc",
                                password: key.pemRepresentation, keyPair: true),
                http: HTTPClient.shared, operationTimeout: .seconds(1), logger: Logger(label: "test"))
            await #expect {
                _ = try await client.query("SELECT SYSTEM$WAIT(60)")
            } throws: { error in
                guard let error = error as? WardenError else { return false }
                return error.code == .warehouseTimeout && !error.message.contains("PRIVATE")
            }
        }
        let sent = await scripted.sent
        let login = try #require(sent.first?.body?["data"] as? [String: Any])
        #expect(login["AUTHENTICATOR"] as? String == "SNOWFLAKE_JWT")
        #expect(login["PASSWORD"] == nil)
        let token = try #require(login["TOKEN"] as? String)
        let verdict = try await Self.pythonChecks(keyPEM: key.pemRepresentation, account: "xy12345", user: "warden_svc", token: token)
        #expect(verdict["verified"] as? Bool == true, "\(verdict)")
        // The abort names the query the client started.
        let query = try #require(sent.first { $0.path == "/queries/v1/query-request" })
        let abort = try #require(sent.last)
        #expect(abort.path == "/queries/v1/abort-request")
        #expect(abort.body?["sqlText"] as? String == "SELECT SYSTEM$WAIT(60)")
        let requestId = try #require(abort.body?["requestId"] as? String)
        #expect(query.query.contains("requestId=\(requestId)"), "\(query.query)")
    }
}
