public import Foundation

/// A set of users who share attributes and, later, access.
public struct Group: Sendable, Equatable {
    public var id: Int64
    public var iamid: String
    public var name: String
    public var email: String?
    public var description: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, iamid: String, name: String, email: String?, description: String?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.iamid = iamid
        self.name = name
        self.email = email
        self.description = description
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Fields of a group to create or change; on update, `nil` keeps the stored value.
public struct GroupChanges: Sendable, Equatable {
    public var name: String?
    public var email: String??
    public var description: String??

    public init(name: String? = nil, email: String?? = .none, description: String?? = .none) {
        self.name = name
        self.email = email
        self.description = description
    }

    public func validate(creating: Bool) throws(WardenError) {
        var validator = Validator()
        if creating { validator.check(name != nil, "name", "is required") }
        if let name { validator.check(Text.isPrintable(name, maxLength: 256), "name", "must be 1 to 256 printable characters") }
        if case .some(.some(let email)) = email { validator.check(Text.looksLikeEmail(email), "email", "must be an e-mail address") }
        if case .some(.some(let description)) = description {
            validator.check(description.count <= 4096, "description", "must be at most 4096 characters")
        }
        try validator.finish()
    }
}

/// A user's membership of a group; `id` is the `groupUserId` the member routes take.
public struct GroupMembership: Sendable, Equatable {
    public var id: Int64
    public var groupId: Int64
    public var user: User

    public init(id: Int64, groupId: Int64, user: User) {
        self.id = id
        self.groupId = groupId
        self.user = user
    }
}
