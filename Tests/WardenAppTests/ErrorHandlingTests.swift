import Foundation
import HTTPTypes
import Logging
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct ErrorHandlingTests {
    @Test(arguments: TestMetastores.kinds)
    func badBodiesAre400sNamingTheField(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let malformed = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid": "#).expect(.badRequest, code: "request.malformed_json")
            let wrongType = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"a","profile":{"email":5}}"#)
                .expect(.badRequest, code: "request.validation_failed")
            let missing = try await server.call(.post, "/bim/iam/bim/user", json: #"{"profile":{}}"#).expect(.badRequest)
            let badEnum = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"a","permissions":["AUDIT","ROOT"]}"#).expect(.badRequest)
            let notAnObject = try await server.call(.post, "/bim/iam/bim/user", json: "[1,2]").expect(.badRequest)
            let empty = try await server.call(.post, "/bim/iam/bim/user", json: "").expect(.badRequest, code: "request.body_required")
            let nullField = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":null}"#).expect(.badRequest)
            let invalid = try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"has space","password":"short"}"#).expect(.badRequest)

            #expect(malformed.object["message"] as? String == "Malformed JSON: the request body could not be parsed")
            #expect(wrongType.object["message"] as? String == "`profile.email` must be a string")
            #expect((wrongType.object["fields"] as? [[String: String]])?.first?["field"] == "profile.email")
            #expect(missing.object["message"] as? String == "`userid` is required")
            #expect((badEnum.object["message"] as? String)?.hasPrefix("`permissions[1]` must be one of") == true)
            #expect(notAnObject.object["message"] as? String == "Request body must be an object")
            #expect(empty.object["message"] as? String == "Request body must be a JSON document")
            #expect(nullField.object["message"] as? String == "`userid` must be a string, not null")
            #expect((invalid.object["fields"] as? [[String: String]])?.compactMap { $0["field"] } == ["userid", "password"])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func oversizeBodiesAre413(kind: MetastoreKind) async throws {
        try await TestServer.run(kind, configure: { $0.maxBodySize = 2048 }) { server in
            let big = #"{"userid":"a","profile":{"about":""# + String(repeating: "x", count: 4096) + #""}}"#

            try await server.call(.post, "/bim/iam/bim/user", json: big).expect(.contentTooLarge, code: "request.too_large")

            try await server.call(.post, "/bim/iam/bim/user", json: #"{"userid":"small"}"#).expect(.ok)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func unknownRoutesAre404InTheSameShape(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let reply = try await server.call(.get, "/no/such/route").expect(.notFound, code: "route.not_found")
            try await server.call(.patch, "/bim/user").expect(.notFound)

            #expect(reply.object["message"] as? String == "Route not found: GET /no/such/route")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func requestIdsAreEchoedOrGenerated(kind: MetastoreKind) async throws {
        try await TestServer.run(kind) { server in
            let given = try await server.call(.get, "/health", auth: nil, headers: [HTTPField.Name("X-Request-Id")!: "trace-123"])
            let unsafe = try await server.call(.get, "/health", auth: nil, headers: [HTTPField.Name("X-Request-Id")!: "bad id\u{7}"])
            let error = try await server.call(.get, "/nope", auth: nil, headers: [HTTPField.Name("X-Request-Id")!: "trace-456"])

            #expect(given.headers[HTTPField.Name("X-Request-Id")!] == "trace-123")
            #expect(unsafe.headers[HTTPField.Name("X-Request-Id")!]?.count == 36)
            #expect(error.object["requestId"] as? String == "trace-456")
        }
    }
}

@Suite struct ConfigurationTests {
    @Test func defaultsNeedNoConfiguration() throws {
        let config = try AppConfig.load(environment: [:])

        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8080)
        #expect(config.metastore == .sqlite(path: "./.warden/warden.sqlite"))
        #expect(config.tokenTTL == 3600)
    }

    @Test func flagsOverrideTheEnvironment() throws {
        let config = try AppConfig.load(flags: ConfigFlags(port: "9000", dataDirectory: "/srv/w"),
                                        environment: ["WARDEN_PORT": "7000", "WARDEN_HOST": "0.0.0.0", "WARDEN_LOG_LEVEL": "debug",
                                                      "WARDEN_DATABASE_URL": "postgres://w:p@db:5432/warden"])

        #expect(config.port == 9000)
        #expect(config.host == "0.0.0.0")
        #expect(config.dataDirectory == "/srv/w")
        #expect(config.metastore.kind == .postgresql)
        #expect(config.logLevel == .debug)
    }

    @Test func everyProblemIsListedAtOnce() {
        let error = #expect(throws: ConfigError.self) {
            try AppConfig.load(environment: ["WARDEN_PORT": "http", "WARDEN_TOKEN_TTL": "-1", "WARDEN_MASTER_KEY": "c2hvcnQ=",
                                             "WARDEN_LOG_LEVEL": "loud", "WARDEN_DATABASE_URL": "mysql://x@y/z"])
        }

        #expect(error?.problems.count == 5)
        #expect(error?.description.contains("WARDEN_PORT") == true)
    }

    @Test func theMasterKeyIsGeneratedOnceWithOwnerOnlyAccess() throws {
        let config = AppConfig(dataDirectory: try TestMetastores.temporaryDirectory())

        let first = try config.resolveMasterKey()
        let second = try config.resolveMasterKey()

        #expect(first.count == 32)
        #expect(first == second)
        #expect(try FileManager.default.attributesOfItem(atPath: config.dataDirectory + "/master.key")[.posixPermissions] as? Int == 0o600)
    }
}
