/// The filters of `GET /dataSource`, parsed and validated.
public struct DataSourceQuery: Sendable, Equatable {
    /// The caller's standing, as the `subscription` filter names it.
    public enum Subscription: String, Sendable, CaseIterable {
        case pending, owner, subscribed, expert, ingest
        case notSubscribed = "not_subscribed"
    }

    public enum SortField: String, Sendable, CaseIterable {
        case createdAt, name, blobHandlerType, subscriptionStatus, recordCount, status, policy, editable
    }

    /// `mode`: what the search answers with.
    public enum Mode: Int, Sendable, CaseIterable {
        case full = 0, count = 1, tag = 4, minMax = 5, status = 6
    }

    public enum SelectField: String, Sendable, CaseIterable {
        case id, name, columnEvolutionEnabled
    }

    public var blobHandlerTypes: [String] = []
    public var subscriptions: [Subscription] = []
    public var statuses: [String] = []
    public var tags: [String] = []
    public var searchText: String?
    public var nameOnly = false
    public var columns: [String] = []
    public var connectionStrings: [String] = []
    public var schema: String?
    public var idOnly = false
    public var dataSourceIds: [Int64] = []
    public var selectFields: [SelectField] = []
    public var excludedProjects: [Int64] = []
    /// Only sources this global policy (by name) is in force on.
    public var globalPolicy: String?
    /// Only sources where two policies mask one column.
    public var policyConflicts = false
    /// Set by the service from `globalPolicy` and `policyConflicts`: only these sources (empty: none).
    public var onlyIds: [Int64]?
    public var ephemeral: Bool?
    public var hostname: String?
    public var mode: Mode = .full
    public var sortField: SortField = .name
    public var sortOrder: SortOrder = .asc
    public var paging = Paging(size: 10, offset: 0)

    public init() {}

    public static let statusValues = ["passed", "failed"]
}

/// The fields `PUT /dataSource/{id}` may change. Anything else in the body is refused, not ignored:
/// read-only fields (`id`, `createdBy`, …) sent by a client must not look as if they were applied.
public struct DataSourceChanges: Sendable, Equatable {
    public var name: String?
    public var sqlTableName: String?
    public var recordFormat: String??
    public var organization: String??
    public var category: String??
    public var description: String??
    public var documentation: String??
    public var hasExamples: Bool?
    public var isPrivate: Bool?
    /// `false` restores a disabled data source; `true` disables it.
    public var deleted: Bool?
    public var subscriptionPolicy: SubscriptionPolicy?

    public init() {}

    /// Keys accepted because clients send back what they read: `type` and `blobHandlerType` must equal the current
    /// values; `blobHandler` is ignored (its URL is derived from the handler).
    public static let acceptedUnchanged: Set<String> = ["blobHandler", "blobHandlerType", "type"]
    public static let changeable: Set<String> = [
        "name", "sqlTableName", "recordFormat", "organization", "category", "description", "documentation", "hasExamples",
        "private", "deleted", "subscriptionPolicy", "subscriptionType",
    ]

    public static func parse(_ object: [String: JSONValue], current: DataSource) throws(WardenError) -> DataSourceChanges {
        var fields = JSONFields(object, path: "")
        let refused = object.keys.filter { !changeable.contains($0) && !acceptedUnchanged.contains($0) }.sorted()
        for key in refused { fields.validator.add(key, "cannot be changed through this route") }
        var changes = DataSourceChanges()
        changes.name = fields.string("name")
        changes.sqlTableName = fields.string("sqlTableName")
        for key in ["recordFormat", "organization", "category", "description", "documentation"] where object[key] != nil {
            let value: String?? = object[key] == .null ? .some(nil) : fields.string(key).map { .some($0) }
            switch key {
            case "recordFormat": changes.recordFormat = value
            case "organization": changes.organization = value
            case "category": changes.category = value
            case "description": changes.description = value
            default: changes.documentation = value
            }
        }
        changes.hasExamples = fields.bool("hasExamples")
        changes.isPrivate = fields.bool("private")
        changes.deleted = fields.bool("deleted")
        var validator = fields.validator
        if let name = changes.name { validator.check(Text.isPrintable(name, maxLength: 256), "name", "must be 1 to 256 printable characters") }
        if let sqlTableName = changes.sqlTableName {
            validator.check(SQLIdentifier.isPlain(sqlTableName), "sqlTableName", SQLIdentifier.plainRule)
        }
        if let type = object["type"] { validator.check(type == .string(current.type), "type", "cannot be changed") }
        if let handlerType = object["blobHandlerType"] {
            validator.check(handlerType == .string(current.technology.blobHandlerType), "blobHandlerType", "cannot be changed")
        }
        if case .some(.some(let documentation)) = changes.documentation {
            validator.check(documentation.utf8.count <= Limits.documentationBytes, "documentation",
                            "must be at most \(Limits.documentationBytes) bytes")
        }
        if case .some(.some(let description)) = changes.description {
            validator.check(description.utf8.count <= Limits.descriptionBytes, "description", "must be at most \(Limits.descriptionBytes) bytes")
        }
        try validator.finish()
        if case .object(var policy)? = object["subscriptionPolicy"] {
            // Clients often send the policy back as they read it, with its type beside it rather than inside.
            if policy["subscriptionType"] == nil, let type = object["subscriptionType"] { policy["subscriptionType"] = type }
            changes.subscriptionPolicy = try SubscriptionPolicy.parse(.object(policy), path: "subscriptionPolicy")
        } else if let policy = object["subscriptionPolicy"] {
            changes.subscriptionPolicy = try SubscriptionPolicy.parse(policy, path: "subscriptionPolicy")
        }
        if let type = object["subscriptionType"] {
            let effective = (changes.subscriptionPolicy ?? current.subscriptionPolicy).type
            var typeCheck = Validator()
            typeCheck.check(type == .string(effective.rawValue), "subscriptionType",
                            "must match the subscription policy (\(effective.rawValue)); change it inside `subscriptionPolicy`")
            try typeCheck.finish()
        }
        return changes
    }
}
