/// An application-wide permission held by a user (never by a group in Warden; see docs/compatibility.md).
public enum Permission: String, Sendable, Codable, CaseIterable, Comparable {
    case applicationAdmin = "APPLICATION_ADMIN"
    case audit = "AUDIT"
    case governance = "GOVERNANCE"
    case createDataSource = "CREATE_DATA_SOURCE"
    case createDataSourceInProject = "CREATE_DATA_SOURCE_IN_PROJECT"
    case createProject = "CREATE_PROJECT"
    case userAdmin = "USER_ADMIN"
    case infrastructureAdmin = "INFRASTRUCTURE_ADMIN"
    case fetchPolicyInfo = "FETCH_POLICY_INFO"
    case impersonateUser = "IMPERSONATE_USER"

    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.rawValue < rhs.rawValue }

    public static let allNames = allCases.map(\.rawValue).joined(separator: ", ")

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Permission(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of: \(Permission.allNames)")
        }
        self = value
    }
}
