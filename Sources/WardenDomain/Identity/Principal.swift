public import Foundation

/// The authenticated caller of a request, as resolved from its credential.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case apiKey(id: String)
        case token(id: String, apiKeyId: String?)
    }

    public var userId: Int64
    public var userid: String
    public var permissions: Set<Permission>
    public var projectId: Int64?
    public var credential: Credential

    public init(userId: Int64, userid: String, permissions: Set<Permission>, projectId: Int64?, credential: Credential) {
        self.userId = userId
        self.userid = userid
        self.permissions = permissions
        self.projectId = projectId
        self.credential = credential
    }

    public func has(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// Throws a 403 naming the permission when the caller lacks it.
    public func require(_ permission: Permission) throws(WardenError) {
        guard has(permission) else { throw .missingPermission(permission) }
    }
}

/// Metadata of an API key; the key itself is shown once, at creation, and stored only as a hash.
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var userId: Int64
    public var name: String?
    public var projectId: Int64?
    public var createdAt: Date

    public init(id: String, userId: Int64, name: String?, projectId: Int64?, createdAt: Date) {
        self.id = id
        self.userId = userId
        self.name = name
        self.projectId = projectId
        self.createdAt = createdAt
    }
}
