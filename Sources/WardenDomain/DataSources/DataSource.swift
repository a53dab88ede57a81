public import Foundation

/// A registered warehouse table, as Warden governs it.
public struct DataSource: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var sqlTableName: String
    public var sqlSchemaName: String
    public var schemaProjectName: String?
    public var technology: Technology
    public var type: String
    public var recordFormat: String?
    public var isPrivate: Bool
    public var organization: String?
    public var category: String?
    public var description: String?
    public var hasExamples: Bool
    public var connectionString: String
    public var remoteTable: TableReference
    public var rowCount: Int64?
    public var highCardinalityColumn: String?
    public var disabled: Bool
    /// `passed` or `failed`: the outcome of the last health check.
    public var status: String
    /// What the last health check found, check by check.
    public var statusInfo: JSONValue?
    public var documentation: String?
    public var subscriptionPolicy: SubscriptionPolicy
    public var createdBy: Int64
    public var createdAt: Date
    public var updatedAt: Date
    /// Whether column changes in the warehouse are to be detected, as sent at registration.
    public var columnEvolutionEnabled: Bool
    /// When the high cardinality job last stored a column.
    public var highCardinalityCheckedAt: Date?
    /// The schema evolution group the source was registered in (`schemaEvolution` at registration), if any.
    public var schemaEvolutionId: Int64?

    public init(id: Int64, name: String, sqlTableName: String, sqlSchemaName: String, schemaProjectName: String?,
                technology: Technology, type: String, recordFormat: String?, isPrivate: Bool, organization: String?,
                category: String?, description: String?, hasExamples: Bool, connectionString: String,
                remoteTable: TableReference, rowCount: Int64?, highCardinalityColumn: String?, disabled: Bool,
                status: String = "passed", statusInfo: JSONValue? = nil, documentation: String? = nil,
                subscriptionPolicy: SubscriptionPolicy = .default, createdBy: Int64, createdAt: Date, updatedAt: Date,
                columnEvolutionEnabled: Bool = true, highCardinalityCheckedAt: Date? = nil, schemaEvolutionId: Int64? = nil) {
        self.schemaEvolutionId = schemaEvolutionId
        self.columnEvolutionEnabled = columnEvolutionEnabled
        self.highCardinalityCheckedAt = highCardinalityCheckedAt
        self.id = id
        self.name = name
        self.sqlTableName = sqlTableName
        self.sqlSchemaName = sqlSchemaName
        self.schemaProjectName = schemaProjectName
        self.technology = technology
        self.type = type
        self.recordFormat = recordFormat
        self.isPrivate = isPrivate
        self.organization = organization
        self.category = category
        self.description = description
        self.hasExamples = hasExamples
        self.connectionString = connectionString
        self.remoteTable = remoteTable
        self.rowCount = rowCount
        self.highCardinalityColumn = highCardinalityColumn
        self.disabled = disabled
        self.status = status
        self.statusInfo = statusInfo
        self.documentation = documentation
        self.subscriptionPolicy = subscriptionPolicy
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The `dataSource` part of a registration payload: settings shared by every table it registers.
public struct DataSourceSettings: Sendable, Equatable {
    public var isPrivate: Bool
    public var type: String
    public var recordFormat: String?
    public var organization: String?
    public var category: String?
    public var description: String?
    public var hasExamples: Bool
    public var subscriptionPolicy: SubscriptionPolicy
    public var columnEvolutionEnabled: Bool

    /// The keys of a registration's `dataSource` object, for telling a misplaced one from an unknown one.
    public static let keys: Set<String> = [
        "private", "blobHandler", "blobHandlerType", "recordFormat", "type", "name", "sqlTableName", "organization", "category",
        "description", "hasExamples", "subscriptionPolicy", "schemaEvolutionId", "columnEvolutionEnabled",
    ]

    public init(isPrivate: Bool = false, type: String = "queryable", recordFormat: String? = nil, organization: String? = nil,
                category: String? = nil, description: String? = nil, hasExamples: Bool = false,
                subscriptionPolicy: SubscriptionPolicy = .default, columnEvolutionEnabled: Bool = true) {
        self.columnEvolutionEnabled = columnEvolutionEnabled
        self.isPrivate = isPrivate
        self.type = type
        self.recordFormat = recordFormat
        self.organization = organization
        self.category = category
        self.description = description
        self.hasExamples = hasExamples
        self.subscriptionPolicy = subscriptionPolicy
    }

    public static func parse(_ object: [String: JSONValue], path: String) throws(WardenError) -> DataSourceSettings {
        var fields = JSONFields(object, path: path)
        let policy: SubscriptionPolicy = if let value = object["subscriptionPolicy"], value != .null {
            try SubscriptionPolicy.parse(value, path: "\(path).subscriptionPolicy")
        } else {
            .default
        }
        let settings = DataSourceSettings(
            isPrivate: fields.bool("private") ?? false,
            type: fields.string("type") ?? "queryable",
            recordFormat: fields.string("recordFormat").flatMap { $0.isEmpty ? nil : $0 },
            organization: fields.string("organization"),
            category: fields.string("category"),
            description: fields.string("description"),
            hasExamples: fields.bool("hasExamples") ?? false,
            subscriptionPolicy: policy,
            columnEvolutionEnabled: fields.bool("columnEvolutionEnabled") ?? true)
        var validator = fields.validator
        validator.check(settings.type == "queryable", "\(path).type", "must be queryable (the only type Warden registers)")
        if let description = settings.description {
            validator.check(description.utf8.count <= Limits.descriptionBytes, "\(path).description",
                            "must be at most \(Limits.descriptionBytes) bytes")
        }
        try validator.finish()
        return settings
    }
}

/// Everything needed to insert one data source with its handler and dictionary.
public struct DataSourceDraft: Sendable {
    public var names: DataSourceNames
    public var technology: Technology
    public var settings: DataSourceSettings
    public var metadata: HandlerMetadata
    public var columns: [DictionaryColumn]
    public var rowCount: Int64?
    /// Set by the store when the draft is created with a new schema evolution group.
    public var schemaEvolutionId: Int64?

    public init(names: DataSourceNames, technology: Technology, settings: DataSourceSettings, metadata: HandlerMetadata,
                columns: [DictionaryColumn], rowCount: Int64?, schemaEvolutionId: Int64? = nil) {
        self.schemaEvolutionId = schemaEvolutionId
        self.names = names
        self.technology = technology
        self.settings = settings
        self.metadata = metadata
        self.columns = columns
        self.rowCount = rowCount
    }
}

/// A user's standing on a data source. Owners manage it; experts curate its dictionary; ingest users load data.
public enum MemberState: String, Sendable, Codable, CaseIterable {
    case owner, expert, ingest, subscribed, pending

    /// Whether the member has been let in (a pending request has not).
    public var isMember: Bool { self != .pending }

    /// The states an owner may give with `POST /dataSource/{id}/access`.
    public static let grantable: [MemberState] = [.subscribed, .owner, .expert, .ingest]

    /// When a user holds several standings (their own and their groups'), the strongest counts.
    public var rank: Int {
        switch self {
        case .owner: 5
        case .expert: 4
        case .ingest: 3
        case .subscribed: 2
        case .pending: 1
        }
    }
}

extension DataSource {
    /// Whether a caller with `state` may know the source exists: public sources are known to everyone,
    /// private ones only to their members, and disabled (soft-deleted) ones only to their owners.
    /// Others are answered 404, as if it did not exist.
    /// A public source whose policy forbids discovery is known only to those who have asked for it or are admitted
    /// by the policy (`admitted`), besides its members.
    public func isVisible(to state: MemberState?, admitted: Bool = false) -> Bool {
        if disabled { return state == .owner }
        if state?.isMember == true { return true }
        return !isPrivate && (subscriptionPolicy.isDiscoverable || state == .pending || admitted)
    }
}
