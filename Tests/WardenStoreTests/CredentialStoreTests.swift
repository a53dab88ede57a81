import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct CredentialStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: TestMetastores.kinds)
    func tokensExpire(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let user = try await IdentityStore(metastore: metastore).createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let store = CredentialStore(metastore: metastore)
            try await store.createToken(id: "t1", tokenHash: Credentials.hash("wt_x"), userId: user.id, apiKeyId: nil, projectId: nil,
                                        now: now, expiresAt: now.addingTimeInterval(60))

            let before = try await store.principal(tokenHash: Credentials.hash("wt_x"), now: now.addingTimeInterval(59))
            let after = try await store.principal(tokenHash: Credentials.hash("wt_x"), now: now.addingTimeInterval(60))

            #expect(before?.userid == "alice")
            #expect(after == nil)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func deletingAKeyRevokesItsTokens(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let user = try await IdentityStore(metastore: metastore).createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let store = CredentialStore(metastore: metastore)
            _ = try await store.createAPIKey(id: "k1", userId: user.id, keyHash: Credentials.hash("wk_k"), name: nil, projectId: 7, now: now)
            try await store.createToken(id: "t1", tokenHash: Credentials.hash("wt_t"), userId: user.id, apiKeyId: "k1", projectId: 7,
                                        now: now, expiresAt: now.addingTimeInterval(3600))
            #expect(try await store.principal(apiKeyHash: Credentials.hash("wk_k"))?.projectId == 7)

            try await store.deleteAPIKey(id: "k1")

            #expect(try await store.principal(apiKeyHash: Credentials.hash("wk_k")) == nil)
            #expect(try await store.principal(tokenHash: Credentials.hash("wt_t"), now: now) == nil)
            await #expect(throws: WardenError.self) { try await store.deleteAPIKey(id: "k1") }
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func disabledUsersHaveNoPrincipal(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let identity = IdentityStore(metastore: metastore)
            let user = try await identity.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let store = CredentialStore(metastore: metastore)
            _ = try await store.createAPIKey(id: "k1", userId: user.id, keyHash: Credentials.hash("wk_k"), name: nil, projectId: nil, now: now)

            _ = try await identity.setDisabled(userid: "alice", true, now: now)

            #expect(try await store.principal(apiKeyHash: Credentials.hash("wk_k")) == nil)
        }
    }

    @Test func storedCredentialsAreNotTheSecret() {
        let key = Credentials.newAPIKey()

        #expect(key.hasPrefix(Credentials.apiKeyPrefix))
        #expect(Credentials.hash(key) != key)
        #expect(Credentials.hash(key).count == 64)
        #expect(Credentials.newToken() != Credentials.newToken())
    }
}

@Suite struct SecretBoxTests {
    let box = try! SecretBox(masterKey: SecretBox.generateMasterKey())

    @Test func sealedSecretsOpenForTheirRecord() throws {
        let sealed = try box.seal("s3cret-password", recordId: "handler-1")

        #expect(!sealed.contains("s3cret"))
        #expect(try box.open(sealed, recordId: "handler-1") == "s3cret-password")
        #expect(try box.seal("same", recordId: "r") != box.seal("same", recordId: "r"))
    }

    @Test func tamperingFailsLoudly() throws {
        let sealed = try box.seal("s3cret-password", recordId: "handler-1")
        var bytes = Array(Data(base64Encoded: String(sealed.dropFirst(3)))!)
        bytes[bytes.count / 2] ^= 0x01
        let tampered = "v1:" + Data(bytes).base64EncodedString()

        #expect(throws: WardenError.self) { try box.open(tampered, recordId: "handler-1") }
        #expect(throws: WardenError.self) { try box.open(sealed, recordId: "handler-2") }
        #expect(throws: WardenError.self) { try SecretBox(masterKey: SecretBox.generateMasterKey()).open(sealed, recordId: "handler-1") }
        #expect(throws: WardenError.self) { try box.open("garbage", recordId: "handler-1") }
    }

    @Test func masterKeysMustBe32Bytes() {
        #expect(throws: WardenError.self) { try SecretBox(masterKey: Data(count: 16)) }
    }
}

@Suite struct PasswordHasherTests {
    @Test func verifiesOnlyTheRightPassword() throws {
        let hasher = PasswordHasher(rounds: 1000)
        let hash = try hasher.hash("correct horse battery")

        #expect(hash.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(hasher.verify("correct horse battery", against: hash))
        #expect(!hasher.verify("correct horse battery!", against: hash))
        #expect(!hasher.verify("x", against: "not-a-hash"))
        #expect(try hasher.hash("same") != hasher.hash("same"))
    }

    @Test func defaultCostIsCurrent() {
        #expect(PasswordHasher().rounds >= 600_000)
    }
}

@Suite struct MetastoreLocationTests {
    @Test func parsesEveryAcceptedForm() throws {
        #expect(try MetastoreLocation.parse("/tmp/w.sqlite") == .sqlite(path: "/tmp/w.sqlite"))
        #expect(try MetastoreLocation.parse("sqlite:///tmp/w.sqlite") == .sqlite(path: "/tmp/w.sqlite"))
        let postgres = try MetastoreLocation.parse("postgres://u:p%40ss@db.example:6543/warden?sslmode=require")
        #expect(postgres == .postgresql(PostgresSettings(host: "db.example", port: 6543, username: "u", password: "p@ss",
                                                         database: "warden", tls: .require)))
    }

    @Test(arguments: ["postgres://host/db", "postgres://u@host", "mysql://u@h/db", "postgres://u@h/db?sslmode=maybe", ""])
    func rejectsIncompleteURLs(text: String) {
        #expect(throws: WardenError.self) { try MetastoreLocation.parse(text) }
    }
}
