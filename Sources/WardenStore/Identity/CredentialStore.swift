public import Foundation
import SQLKit
public import WardenDomain

/// API keys and session tokens, stored only as hashes.
public struct CredentialStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let apiKeyNotFound = WardenError.notFound("API key not found", code: .apikeyNotFound)

    public func createAPIKey(id: String, userId: Int64, keyHash: String, name: String?, projectId: Int64?, now: Date) async throws -> APIKeyInfo {
        try await metastore.write { db in
            try await db.raw("""
                INSERT INTO api_keys (id, user_id, key_hash, name, project_id, created_at)
                VALUES (\(bind: id), \(bind: userId), \(bind: keyHash), \(bind: name), \(bind: projectId), \(bind: now.millis))
                """).run()
        }
        return APIKeyInfo(id: id, userId: userId, name: name, projectId: projectId, createdAt: now)
    }

    /// Registers a key given by the operator (`WARDEN_ADMIN_API_KEY`) unless it is already there.
    public func ensureAPIKey(id: String, userId: Int64, keyHash: String, name: String, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("""
                INSERT INTO api_keys (id, user_id, key_hash, name, project_id, created_at)
                VALUES (\(bind: id), \(bind: userId), \(bind: keyHash), \(bind: name), \(bind: Int64?.none), \(bind: now.millis))
                ON CONFLICT DO NOTHING
                """).run()
        }
    }

    public func apiKey(id: String) async throws -> APIKeyInfo? {
        try await metastore.read { db in
            try await db.raw("SELECT id, user_id, name, project_id, created_at FROM api_keys WHERE id = \(bind: id)")
                .first().map(Self.apiKey(from:))
        }
    }

    public func apiKeys(userId: Int64) async throws -> [APIKeyInfo] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT id, user_id, name, project_id, created_at FROM api_keys WHERE user_id = \(bind: userId) ORDER BY created_at, id
                """).all().map(Self.apiKey(from:))
        }
    }

    /// Deletes the key and, with it, every token issued from it.
    public func deleteAPIKey(id: String) async throws {
        try await metastore.write { db in
            try await db.raw("DELETE FROM access_tokens WHERE api_key_id = \(bind: id)").run()
            let deleted = try await db.raw("DELETE FROM api_keys WHERE id = \(bind: id) RETURNING id").all()
            guard !deleted.isEmpty else { throw Self.apiKeyNotFound }
        }
    }

    public func createToken(id: String, tokenHash: String, userId: Int64, apiKeyId: String?, projectId: Int64?,
                            now: Date, expiresAt: Date) async throws {
        try await metastore.write { db in
            // Expired tokens of this user are useless; dropping them here keeps the table from growing without bound.
            try await db.raw("DELETE FROM access_tokens WHERE user_id = \(bind: userId) AND expires_at <= \(bind: now.millis)").run()
            try await db.raw("""
                INSERT INTO access_tokens (id, token_hash, user_id, api_key_id, project_id, created_at, expires_at)
                VALUES (\(bind: id), \(bind: tokenHash), \(bind: userId), \(bind: apiKeyId), \(bind: projectId),
                        \(bind: now.millis), \(bind: expiresAt.millis))
                """).run()
        }
    }

    /// The caller behind a token, if it exists, has not expired, and its user is enabled.
    public func principal(tokenHash: String, now: Date) async throws -> Principal? {
        try await metastore.read { db in
            guard let row = try await db.raw("""
                SELECT t.id AS credential_id, t.api_key_id, t.project_id, t.expires_at, u.id, u.userid, u.permissions, u.disabled
                FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = \(bind: tokenHash)
                """).first() else { return nil }
            guard try row.int64("expires_at") > now.millis else { return nil }
            return try Self.principal(from: row, credential: .token(id: try row.string("credential_id"),
                                                                    apiKeyId: try row.optionalString("api_key_id")))
        }
    }

    /// The caller behind a raw API key, if the key exists and its user is enabled.
    public func principal(apiKeyHash: String) async throws -> Principal? {
        try await metastore.read { db in
            guard let row = try await db.raw("""
                SELECT k.id AS credential_id, k.project_id, u.id, u.userid, u.permissions, u.disabled
                FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = \(bind: apiKeyHash)
                """).first() else { return nil }
            return try Self.principal(from: row, credential: .apiKey(id: try row.string("credential_id")))
        }
    }

    private static func principal(from row: any SQLRow, credential: Principal.Credential) throws -> Principal? {
        guard try !row.bool("disabled") else { return nil }
        return Principal(
            userId: try row.int64("id"), userid: try row.string("userid"),
            permissions: Set(try JSONColumn.decode([Permission].self, from: try row.string("permissions"))),
            projectId: try row.decode(column: "project_id", as: Int64?.self), credential: credential)
    }

    private static func apiKey(from row: any SQLRow) throws -> APIKeyInfo {
        APIKeyInfo(id: try row.string("id"), userId: try row.int64("user_id"), name: try row.optionalString("name"),
                   projectId: try row.decode(column: "project_id", as: Int64?.self), createdAt: try row.date("created_at"))
    }
}
