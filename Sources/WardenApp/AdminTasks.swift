import Foundation
public import Logging
import WardenDomain
import WardenStore

/// What the `warden` executable does besides serving, for operators at a shell.
public enum AdminTasks {
    /// Applies pending migrations and returns their names.
    public static func migrate(config: AppConfig, logger: Logger) async throws -> [String] {
        try await withMetastore(config, logger: logger) { metastore in try await metastore.migrate() }
    }

    /// Creates an API key for an existing user and returns it; the key is not stored in readable form.
    public static func createAPIKey(config: AppConfig, userid: String, name: String?, logger: Logger) async throws -> String {
        try await withMetastore(config, logger: logger) { metastore in
            try await metastore.migrate()
            let identity = IdentityStore(metastore: metastore)
            guard let user = try await identity.user(userid: userid) else {
                throw WardenError.notFound("No user with userid \(userid)", code: .userNotFound)
            }
            let auth = AuthService(identity: identity, credentials: CredentialStore(metastore: metastore),
                                   hasher: PasswordHasher(), clock: SystemClock(), idGenerator: RandomIdGenerator(),
                                   tokenTTL: config.tokenTTL)
            return try await auth.createAPIKey(userId: user.id, name: name ?? "cli", projectId: nil).key
        }
    }

    private static func withMetastore<T: Sendable>(_ config: AppConfig, logger: Logger,
                                                   _ body: (Metastore) async throws -> T) async throws -> T {
        let metastore = try await Metastore.open(config.metastore, logger: logger)
        do {
            let result = try await body(metastore)
            await metastore.close()
            return result
        } catch {
            await metastore.close()
            throw error
        }
    }
}
