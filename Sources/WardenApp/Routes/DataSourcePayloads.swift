import Foundation
import Hummingbird
import WardenDomain
import WardenStore

// Bodies of the /dataSource API, in the specification's field names. Features that do not exist yet
// (data policies, projects) are shown as the specification shows their absence.

/// One data source in full (`GET /dataSource/{id}`, `PUT /dataSource/{id}`).
struct DataSourcePayload: ResponseEncodable {
    struct BlobHandler: Encodable {
        var url: String
        var manualDictionary = false
    }

    var id: Int64
    var name: String
    var recordFormat: String
    var description: String?
    var documentation: String?
    var sqlSchemaName: String
    var sqlTableName: String
    var schemaProjectName: String?
    var blobHandler: BlobHandler
    var blobHandlerType: String
    var createdBy: Int64
    var deleted: Bool
    var disabled: Bool
    var type: String
    var recordCount: Int64
    var rowCount: Int64?
    var organization: String?
    var category: String?
    var hasExamples: Bool
    var `private`: Bool
    var connectionString: String
    var remoteSchema: String
    var remoteTable: String
    var highCardinalityColumn: String?
    var policyHandlerType = "None"
    var subscriptionType: String
    var subscriptionPolicy: JSONValue
    var status: String
    var statusInfo: JSONValue?
    var subscriptionStatus: String
    var tags: [String]
    var createdAt: Date
    var updatedAt: Date

    init(_ view: DataSourceView, tags: [String]) {
        let source = view.dataSource
        id = source.id
        name = source.name
        recordFormat = source.recordFormat ?? "Not Provided"
        description = source.description
        documentation = source.documentation
        sqlSchemaName = source.sqlSchemaName
        sqlTableName = source.sqlTableName
        schemaProjectName = source.schemaProjectName
        blobHandler = BlobHandler(url: "/\(source.technology.rawValue)/handler/\(source.id)")
        blobHandlerType = source.technology.blobHandlerType
        createdBy = source.createdBy
        deleted = source.disabled
        disabled = source.disabled
        type = source.type
        recordCount = source.rowCount ?? 0
        rowCount = source.rowCount
        organization = source.organization
        category = source.category
        hasExamples = source.hasExamples
        self.private = source.isPrivate
        connectionString = source.connectionString
        remoteSchema = source.remoteTable.schema
        remoteTable = source.remoteTable.table
        highCardinalityColumn = source.highCardinalityColumn
        subscriptionType = source.subscriptionPolicy.type.rawValue
        subscriptionPolicy = source.subscriptionPolicy.json
        status = source.status
        statusInfo = source.statusInfo
        subscriptionStatus = view.subscriptionStatus
        self.tags = tags
        createdAt = source.createdAt
        updatedAt = source.updatedAt
    }
}

/// One hit of `GET /dataSource`: the documented search fields, or only the id (and name) when asked.
enum SearchHitPayload: Encodable, Sendable {
    struct Full: Encodable, Sendable {
        var id: Int64
        var name: String
        var recordFormat: String
        var deleted: Bool
        var description: String?
        var createdAt: Date
        var recordCount: Int64
        var status: String
        var subscriptionStatus: String
        var blobHandlerType: String
        var subscriptionType: String
        var subscriptionPolicy: JSONValue
        var connectionString: String
        var sqlSchemaName: String
        var sqlTableName: String
        var remoteSchema: String
        var remoteTable: String
        var policy = "None"
        var policyHandlerType = "None"
        var tags: [String]
    }

    struct Brief: Encodable, Sendable {
        var id: Int64
        var name: String?
        var subscriptionStatus: String
    }

    case full(Full)
    case brief(Brief)

    init(_ view: DataSourceView, query: DataSourceQuery, tags: [String]) {
        let source = view.dataSource
        let select = Set(query.selectFields)
        if query.idOnly || (!select.isEmpty && select.isSubset(of: [.id, .name])) {
            self = .brief(Brief(id: source.id, name: select.contains(.name) ? source.name : nil,
                                subscriptionStatus: view.subscriptionStatus))
            return
        }
        self = .full(Full(id: source.id, name: source.name, recordFormat: source.recordFormat ?? "Not Provided", deleted: source.disabled,
                          description: source.description, createdAt: source.createdAt, recordCount: source.rowCount ?? 0,
                          status: source.status, subscriptionStatus: view.subscriptionStatus,
                          blobHandlerType: source.technology.blobHandlerType, subscriptionType: source.subscriptionPolicy.type.rawValue,
                          subscriptionPolicy: source.subscriptionPolicy.json, connectionString: source.connectionString,
                          sqlSchemaName: source.sqlSchemaName, sqlTableName: source.sqlTableName,
                          remoteSchema: source.remoteTable.schema, remoteTable: source.remoteTable.table, tags: tags))
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .full(let hit): try hit.encode(to: encoder)
        case .brief(let hit): try hit.encode(to: encoder)
        }
    }
}

/// The answer to `GET /dataSource`, by `mode`: hits (FULL), only the count (COUNT), tag counts (TAG),
/// record count and creation ranges (MIN_MAX), or counts by status (STATUS).
struct SearchPayload: ResponseEncodable {
    struct TagCount: Encodable { var name: String; var count: Int }
    struct Bound: Encodable { var recordCount: Int64?; var createdAt: Date? }

    var count: Int
    var hits: [SearchHitPayload]?
    var tags: [TagCount]?
    var min: Bound?
    var max: Bound?
    var statuses: [String: Int]?
}

struct DeletionPayload: ResponseEncodable {
    var success = true
    var id: Int64
    var name: String
    var disabled: Bool
    var deleted: Bool
}

struct MineHitPayload: Encodable, Sendable {
    var id: Int64
    var name: String
    var type: String
    var sqlTableName: String
    var sqlSchemaName: String
    var blobHandlerType: String
    var sparkUseJDBC = false
}

struct ContactPayload: Encodable, Sendable {
    var id: Int64
    var userid: String
    var name: String?
    var email: String?
    var state: String
}

struct BlobHandlerTypePayload: Encodable, Sendable {
    struct Config: Encodable, Sendable { var port: Int; var allowSSLToggle = true }
    var name: String
    var pluginType = "odbcHandler"
    var clientUrl: String
    var baseUrl: String
    var config: Config
    var displayOrder: Int
    var driver: String
    /// Warden extension: whether this build can connect to such warehouses (the others answer 501).
    var connectorAvailable: Bool
}

struct ActivitiesPayload: ResponseEncodable {
    struct Person: Encodable { var id: Int64; var userid: String?; var name: String? }
    struct Item: Encodable {
        var id: Int64
        var modelType = "datasource"
        var modelId: String
        var notificationType: String
        var metadata: JSONValue
        var read = false
        var actionBy: Person?
        var createdAt: Date
        var updatedAt: Date
    }

    var count: Int
    var activities: [Item]
}

struct BulkPayload: ResponseEncodable {
    var bulkId: String
    var jobsCreated: Int
}
