import Foundation
import Logging
import WardenDomain
import WardenStore

/// First-start setup: the `admin` user with every permission, and its API key.
struct Bootstrap {
    let identity: IdentityStore
    let credentials: CredentialStore
    let auth: AuthService
    let clock: any WardenClock
    let logger: Logger

    static let adminUserid = "admin"

    /// Creates the admin on an empty metastore and returns its new API key when one was generated.
    /// An operator-given `WARDEN_ADMIN_API_KEY` is registered on every start, so it can be set later too.
    func run(adminAPIKey: String?, dataDirectory: String) async throws -> String? {
        var generatedKey: String?
        if try await identity.userCount() == 0 {
            let admin = NewUser(userid: Self.adminUserid, profile: UserProfile(name: "Warden Administrator"),
                                permissions: Permission.allCases)
            do {
                let user = try await identity.createUser(admin, passwordHash: nil, now: clock.now())
                logger.notice("created the admin user", metadata: ["userid": .string(user.userid)])
                if adminAPIKey == nil {
                    let key = try await auth.createAPIKey(userId: user.id, name: "bootstrap", projectId: nil).key
                    try SecretFile.write(key + "\n", to: dataDirectory + "/admin-api-key")
                    generatedKey = key
                }
            } catch let error as WardenError where error.kind == .conflict {
                // Another instance sharing the metastore bootstrapped first.
            }
        }
        if let adminAPIKey {
            guard let admin = try await identity.user(userid: Self.adminUserid) else { return generatedKey }
            let hash = Credentials.hash(adminAPIKey)
            try await credentials.ensureAPIKey(id: "env-" + hash.prefix(16), userId: admin.id, keyHash: hash,
                                               name: "WARDEN_ADMIN_API_KEY", now: clock.now())
        }
        return generatedKey
    }
}
