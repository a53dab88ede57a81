import Foundation
import Hummingbird
import WardenDomain

// Request and response bodies of the /bim API, in the specification's field names.

struct APIKeyAuthenticateInput: Decodable {
    var apikey: String?
}

struct PasswordAuthenticateInput: Decodable {
    var username: String
    var password: String
}

struct CreateAPIKeyInput: Decodable {
    var name: String?
    var projectId: Int64?
}

struct CreateUserInput: Decodable {
    var userid: String
    var iamid: String?
    var password: String?
    var profile: UserProfile?
    var permissions: [Permission]?
}

/// A partial profile update: absent fields are kept, `null` clears.
struct ProfileUpdateInput: Decodable {
    var update: ProfileUpdate

    enum CodingKeys: String, CodingKey {
        case name, email, phone, about, location, organization, position, externalUserIds
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        update = ProfileUpdate(
            name: try container.decodePatch(String.self, forKey: .name).asDoubleOptional,
            email: try container.decodePatch(String.self, forKey: .email).asDoubleOptional,
            phone: try container.decodePatch(String.self, forKey: .phone).asDoubleOptional,
            about: try container.decodePatch(String.self, forKey: .about).asDoubleOptional,
            location: try container.decodePatch(String.self, forKey: .location).asDoubleOptional,
            organization: try container.decodePatch(String.self, forKey: .organization).asDoubleOptional,
            position: try container.decodePatch(String.self, forKey: .position).asDoubleOptional,
            externalUserIds: try container.decodeIfPresent([String: String?].self, forKey: .externalUserIds))
    }
}

struct GroupInput: Decodable {
    var iamid: String?
    var changes: GroupChanges

    enum CodingKeys: String, CodingKey {
        case iamid, name, email, description
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iamid = try container.decodeIfPresent(String.self, forKey: .iamid)
        changes = GroupChanges(
            name: try container.decodeIfPresent(String.self, forKey: .name),
            email: try container.decodePatch(String.self, forKey: .email).asDoubleOptional,
            description: try container.decodePatch(String.self, forKey: .description).asDoubleOptional)
    }
}

struct AddMemberInput: Decodable {
    var userid: String
    var iamid: String?
}

struct SuccessPayload: ResponseEncodable {
    var success = true
}

struct TokenPayload: ResponseEncodable {
    var authenticated: Bool
    var token: String
}

struct PasswordTokenPayload: ResponseEncodable {
    var authenticated: Bool
    var token: String
    var tokenExpiration: Date
    var profileId: Int64
}

struct APIKeyCreatedPayload: ResponseEncodable {
    var apikey: String
    var keyid: String
    var name: String?
    var project: Int64?
}

struct APIKeyPayload: ResponseEncodable {
    var keyid: String
    var name: String?
    var project: Int64?
    var createdAt: Date

    init(_ info: APIKeyInfo) {
        keyid = info.id
        name = info.name
        project = info.projectId
        createdAt = info.createdAt
    }
}

/// A user's profile with their id: the profile's fields, every one written (`null` when unset).
struct ProfilePayload: ResponseEncodable {
    var id: Int64
    var profile: UserProfile

    init(_ user: User) {
        id = user.id
        profile = user.profile
    }

    enum CodingKeys: String, CodingKey { case id }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try profile.encode(to: encoder)
    }
}

/// The aggregated view of a user (`GET /bim/iam/bim/user/{userid}`, `GET /bim/rpc/user/current`).
struct UserPayload: ResponseEncodable {
    var id: Int64
    var userid: String
    var iamid: String
    var profile: ProfilePayload
    var permissions: [Permission]
    var groupPermissions: [Permission] = []
    var groups: [Int64]
    var groupNames: [String]
    var bimAuthorizations: AttributeMap
    var iamAuthorizations: AttributeMap = [:]
    var authorizations: AttributeMap
    var disabled: Bool
    var systemGenerated: Bool
    var createdAt: Date
    var updatedAt: Date
    var lastLogin: Date?
    var projectId: Int64?

    init(_ details: UserDetails, projectId: Int64? = nil) {
        let user = details.user
        id = user.id
        userid = user.userid
        iamid = user.iamid
        profile = ProfilePayload(user)
        permissions = user.permissions
        groups = details.groups.map(\.id)
        groupNames = details.groups.map(\.name)
        bimAuthorizations = details.ownAttributes
        authorizations = details.effectiveAttributes
        disabled = user.disabled
        systemGenerated = user.systemGenerated
        createdAt = user.createdAt
        updatedAt = user.updatedAt
        lastLogin = user.lastLogin
        self.projectId = projectId
    }
}

struct CreatedUserPayload: ResponseEncodable {
    var newUser: UserPayload
    var emailSent = false
    var emailFailed = false
}

/// One hit of `GET /bim/user`.
struct UserHitPayload: Encodable {
    var id: Int64
    var userid: String
    var iamid: String
    var name: String?
    var email: String?
    var profile: ProfilePayload
    var permissions: [Permission]
    var authorizations: AttributeMap
    var disabled: Bool
    var systemGenerated: Bool
    var createdAt: Date
    var lastLogin: Date?

    init(_ user: User, authorizations: AttributeMap) {
        id = user.id
        userid = user.userid
        iamid = user.iamid
        name = user.profile.name
        email = user.profile.email
        profile = ProfilePayload(user)
        permissions = user.permissions
        self.authorizations = authorizations
        disabled = user.disabled
        systemGenerated = user.systemGenerated
        createdAt = user.createdAt
        lastLogin = user.lastLogin
    }
}

struct HitsPayload<Hit: Encodable & Sendable>: ResponseEncodable {
    var hits: [Hit]
    var count: Int
}

struct GroupPayload: ResponseEncodable {
    var id: Int64
    var iamid: String
    var name: String
    var email: String?
    var description: String?
    var authorizations: AttributeMap
    var createdAt: Date
    var updatedAt: Date

    init(_ entry: (group: Group, authorizations: AttributeMap)) {
        self.init(entry.group, authorizations: entry.authorizations)
    }

    init(_ group: Group, authorizations: AttributeMap) {
        id = group.id
        iamid = group.iamid
        name = group.name
        email = group.email
        description = group.description
        self.authorizations = authorizations
        createdAt = group.createdAt
        updatedAt = group.updatedAt
    }
}

struct MemberPayload: ResponseEncodable {
    struct Profile: Encodable {
        var id: Int64
        var name: String?
        var email: String?
    }

    /// The `groupUserId` that removes this membership.
    var id: Int64
    var group: Int64
    var userid: String
    var uid: Int64
    var iamid: String
    var profile: Profile
    var disabled: Bool

    init(_ membership: GroupMembership) {
        id = membership.id
        group = membership.groupId
        userid = membership.user.userid
        uid = membership.user.id
        iamid = membership.user.iamid
        profile = Profile(id: membership.user.id, name: membership.user.profile.name, email: membership.user.profile.email)
        disabled = membership.user.disabled
    }
}
