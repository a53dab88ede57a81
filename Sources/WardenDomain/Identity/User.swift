public import Foundation

/// The built-in identity manager's id; the only IAM Warden has so far.
public let builtInIAM = "bim"

/// A person or system account known to Warden. `id` is the numeric profile id the data source API uses.
public struct User: Sendable, Equatable {
    public var id: Int64
    public var userid: String
    public var iamid: String
    public var profile: UserProfile
    public var permissions: [Permission]
    public var disabled: Bool
    public var systemGenerated: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public var lastLogin: Date?

    public init(id: Int64, userid: String, iamid: String, profile: UserProfile, permissions: [Permission],
                disabled: Bool, systemGenerated: Bool, createdAt: Date, updatedAt: Date, lastLogin: Date?) {
        self.id = id
        self.userid = userid
        self.iamid = iamid
        self.profile = profile
        self.permissions = permissions
        self.disabled = disabled
        self.systemGenerated = systemGenerated
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastLogin = lastLogin
    }

    public func has(_ permission: Permission) -> Bool { permissions.contains(permission) }
}

/// Descriptive fields of a user, plus the accounts that stand for them in each warehouse.
public struct UserProfile: Sendable, Equatable, Codable {
    public var name: String?
    public var email: String?
    public var phone: String?
    public var about: String?
    public var location: String?
    public var organization: String?
    public var position: String?
    /// Warehouse account names by technology key, e.g. `redshiftUser`.
    public var externalUserIds: [String: String]

    public init(name: String? = nil, email: String? = nil, phone: String? = nil, about: String? = nil,
                location: String? = nil, organization: String? = nil, position: String? = nil,
                externalUserIds: [String: String] = [:]) {
        self.name = name
        self.email = email
        self.phone = phone
        self.about = about
        self.location = location
        self.organization = organization
        self.position = position
        self.externalUserIds = externalUserIds
    }

    enum CodingKeys: String, CodingKey {
        case name, email, phone, about, location, organization, position, externalUserIds
    }

    /// Every field may be absent (an empty `externalUserIds`); the stored form and the API's input are this.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decodeIfPresent(String.self, forKey: .name),
                  email: try container.decodeIfPresent(String.self, forKey: .email),
                  phone: try container.decodeIfPresent(String.self, forKey: .phone),
                  about: try container.decodeIfPresent(String.self, forKey: .about),
                  location: try container.decodeIfPresent(String.self, forKey: .location),
                  organization: try container.decodeIfPresent(String.self, forKey: .organization),
                  position: try container.decodeIfPresent(String.self, forKey: .position),
                  externalUserIds: try container.decodeIfPresent([String: String].self, forKey: .externalUserIds) ?? [:])
    }

    /// Writes every field, an unset one as an explicit `null`, so that readers see the whole profile.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(email, forKey: .email)
        try container.encode(phone, forKey: .phone)
        try container.encode(about, forKey: .about)
        try container.encode(location, forKey: .location)
        try container.encode(organization, forKey: .organization)
        try container.encode(position, forKey: .position)
        try container.encode(externalUserIds, forKey: .externalUserIds)
    }

    /// The warehouse account keys Warden maps; unknown keys are rejected so typos do not silently drop a mapping.
    public static let externalUserIdKeys: [String] = [
        "asaUser", "bigqueryUser", "databricksUser", "hdfsUser", "postgresUser", "prestoUser",
        "redshiftUser", "snowflakeUser", "teradataUser", "trinoUser",
    ]
}

/// A partial profile update: absent fields keep their value, `null` clears an optional one.
public struct ProfileUpdate: Sendable, Equatable {
    public var name: String??
    public var email: String??
    public var phone: String??
    public var about: String??
    public var location: String??
    public var organization: String??
    public var position: String??
    /// Keys given replace their mapping; a `nil` value removes it.
    public var externalUserIds: [String: String?]?

    public init(name: String?? = .none, email: String?? = .none, phone: String?? = .none, about: String?? = .none,
                location: String?? = .none, organization: String?? = .none, position: String?? = .none,
                externalUserIds: [String: String?]? = nil) {
        self.name = name
        self.email = email
        self.phone = phone
        self.about = about
        self.location = location
        self.organization = organization
        self.position = position
        self.externalUserIds = externalUserIds
    }

    /// An update that sets every field of `profile`.
    public init(replacingWith profile: UserProfile) {
        self.init(name: .some(profile.name), email: .some(profile.email), phone: .some(profile.phone), about: .some(profile.about),
                  location: .some(profile.location), organization: .some(profile.organization), position: .some(profile.position),
                  externalUserIds: profile.externalUserIds.mapValues { $0 })
    }

    public func validate() throws(WardenError) {
        var validator = Validator()
        validator.append(problems(), prefix: "")
        try validator.finish()
    }

    func problems() -> [FieldError] {
        var validator = Validator()
        if case .some(.some(let name)) = name {
            validator.check(Text.isPrintable(name, maxLength: 256), "name", "must be 1 to 256 printable characters")
        }
        if case .some(.some(let email)) = email { validator.check(Text.looksLikeEmail(email), "email", "must be an e-mail address") }
        for (field, value) in [("phone", phone), ("about", about), ("location", location),
                               ("organization", organization), ("position", position)] {
            if case .some(.some(let text)) = value {
                validator.check(text.count <= 1024 && !text.contains("\0"), field, "must be at most 1024 characters")
            }
        }
        for (key, value) in externalUserIds ?? [:] {
            validator.check(UserProfile.externalUserIdKeys.contains(key), "externalUserIds.\(key)",
                            "is not a known warehouse account key (\(UserProfile.externalUserIdKeys.joined(separator: ", ")))")
            if let value {
                validator.check(Text.isPrintable(value, maxLength: 128), "externalUserIds.\(key)",
                                "must be 1 to 128 printable characters")
            }
        }
        return validator.problems
    }

    public func applied(to profile: UserProfile) -> UserProfile {
        var result = profile
        if let name { result.name = name }
        if let email { result.email = email }
        if let phone { result.phone = phone }
        if let about { result.about = about }
        if let location { result.location = location }
        if let organization { result.organization = organization }
        if let position { result.position = position }
        for (key, value) in externalUserIds ?? [:] { result.externalUserIds[key] = value }
        return result
    }
}

/// A request to create a user, validated as a whole.
public struct NewUser: Sendable, Equatable {
    public var userid: String
    public var password: String?
    public var profile: UserProfile
    public var permissions: [Permission]
    public var systemGenerated: Bool

    public init(userid: String, password: String? = nil, profile: UserProfile = UserProfile(),
                permissions: [Permission] = [], systemGenerated: Bool = false) {
        self.userid = userid
        self.password = password
        self.profile = profile
        self.permissions = Array(Set(permissions)).sorted()
        self.systemGenerated = systemGenerated
    }

    public func validate() throws(WardenError) {
        var validator = Validator()
        validator.check(Users.isValidUserid(userid), "userid", Users.useridRule)
        if let password { validator.check(Users.isAcceptablePassword(password), "password", Users.passwordRule) }
        validator.append(ProfileUpdate(replacingWith: profile).problems(), prefix: "profile.")
        try validator.finish()
    }
}

public enum Users {
    public static let useridRule = "must be 1 to 255 printable characters without spaces or slashes, and not \"authenticate\""
    public static let passwordRule = "must be 12 to 1024 characters"

    /// Userids appear in paths, so slashes are refused; spaces are refused because warehouses refuse them.
    public static func isValidUserid(_ userid: String) -> Bool {
        // `authenticate` is a route name under /bim/iam/bim/user, so such a user could not be read by path.
        Text.isPrintable(userid, maxLength: 255) && !userid.contains(" ") && !userid.contains("/") && userid != "authenticate"
    }

    public static func isAcceptablePassword(_ password: String) -> Bool {
        (12...1024).contains(password.count)
    }
}

/// A user with their groups and attributes, as the identity API shows them.
public struct UserDetails: Sendable {
    public var user: User
    public var groups: [Group]
    /// Attributes set on the user directly.
    public var ownAttributes: AttributeMap
    /// Own attributes merged with those of every group the user belongs to.
    public var effectiveAttributes: AttributeMap

    public init(user: User, groups: [Group], ownAttributes: AttributeMap, effectiveAttributes: AttributeMap) {
        self.user = user
        self.groups = groups
        self.ownAttributes = ownAttributes
        self.effectiveAttributes = effectiveAttributes
    }
}
