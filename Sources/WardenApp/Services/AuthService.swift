public import Foundation
import NIOPosix
import WardenDomain
import WardenStore

/// Turns credentials into callers and issues API keys and tokens.
public struct AuthService: Sendable {
    let identity: IdentityStore
    let credentials: CredentialStore
    let hasher: PasswordHasher
    let clock: any WardenClock
    let idGenerator: any IdGenerator
    let tokenTTL: Int

    public struct IssuedToken: Sendable {
        public var token: String
        public var expiresAt: Date
        public var userId: Int64
    }

    static let invalidAPIKey = WardenError.unauthorized("The API key is invalid", code: .authInvalidApikey)
    static let invalidPassword = WardenError.unauthorized("Invalid username or password", code: .authInvalidCredentials)

    /// The caller named by an `Authorization` value: `Bearer <token>`, a bare token, or a raw API key.
    func principal(authorization: String) async throws -> Principal? {
        guard let value = Self.credential(fromAuthorization: authorization) else { return nil }
        let hash = Credentials.hash(value)
        if value.hasPrefix(Credentials.tokenPrefix), let principal = try await credentials.principal(tokenHash: hash, now: clock.now()) {
            return principal
        }
        return try await credentials.principal(apiKeyHash: hash)
    }

    /// The secret in an `Authorization` value, with or without the `Bearer` scheme.
    static func credential(fromAuthorization header: String) -> String? {
        var value = header.trimmingCharacters(in: .whitespaces)
        if value.lowercased().hasPrefix("bearer ") {
            value = String(value.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        }
        return value.isEmpty || value.count > 512 ? nil : value
    }

    func authenticate(apiKey: String) async throws -> IssuedToken {
        guard let principal = try await credentials.principal(apiKeyHash: Credentials.hash(apiKey)),
              case .apiKey(let keyId) = principal.credential else { throw Self.invalidAPIKey }
        return try await issueToken(userId: principal.userId, apiKeyId: keyId, projectId: principal.projectId)
    }

    func authenticate(username: String, password: String) async throws -> IssuedToken {
        let found = try await identity.credentials(userid: username)
        let hasher = self.hasher
        guard let found, let stored = found.passwordHash, !found.user.disabled else {
            // Same work as a real check, so a caller cannot tell unknown users from wrong passwords by timing.
            try await NIOThreadPool.singleton.runIfActive { hasher.burnVerification() }
            throw Self.invalidPassword
        }
        let matches = try await NIOThreadPool.singleton.runIfActive { hasher.verify(password, against: stored) }
        guard matches else { throw Self.invalidPassword }
        return try await issueToken(userId: found.user.id, apiKeyId: nil, projectId: nil)
    }

    private func issueToken(userId: Int64, apiKeyId: String?, projectId: Int64?) async throws -> IssuedToken {
        let now = clock.now()
        let token = Credentials.newToken()
        let expiresAt = now.addingTimeInterval(TimeInterval(tokenTTL))
        try await credentials.createToken(id: idGenerator.id(), tokenHash: Credentials.hash(token), userId: userId,
                                          apiKeyId: apiKeyId, projectId: projectId, now: now, expiresAt: expiresAt)
        try await identity.recordLogin(userId: userId, now: now)
        return IssuedToken(token: token, expiresAt: expiresAt, userId: userId)
    }

    /// A new key for `userId`; the key itself is returned only here.
    func createAPIKey(userId: Int64, name: String?, projectId: Int64?) async throws -> (key: String, info: APIKeyInfo) {
        let key = Credentials.newAPIKey()
        let info = try await credentials.createAPIKey(id: idGenerator.id(), userId: userId,
                                                      keyHash: Credentials.hash(key), name: name, projectId: projectId, now: clock.now())
        return (key, info)
    }

    /// Deletes a key of the caller's, or anyone's for a user administrator. Others' keys are reported
    /// as not found, so their existence is not revealed.
    func deleteAPIKey(id: String, by principal: Principal) async throws {
        guard let key = try await credentials.apiKey(id: id),
              key.userId == principal.userId || principal.has(.userAdmin) else { throw CredentialStore.apiKeyNotFound }
        try await credentials.deleteAPIKey(id: id)
    }

    func hashPassword(_ password: String) async throws -> String {
        let hasher = self.hasher
        return try await NIOThreadPool.singleton.runIfActive { try hasher.hash(password) }
    }
}
