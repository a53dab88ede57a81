import Foundation
import Hummingbird
import WardenDomain
import WardenStore

// Bodies of the /dataSource API, in the specification's field names. Features that do not exist yet
// (data policies, projects) are shown as the specification shows their absence.

/// One data source in full (`GET /dataSource/{id}`, `PUT /dataSource/{id}`).
struct DataSourcePayload: ResponseEncodable {
    struct BlobHandler: Encodable {
        struct CA: Encodable, Sendable { var name: String }
        var url: String
        /// The handler's certificates are at `GET /{technology}/handler/{id}` (`ca`); here, as documented, only named.
        var ca: Nullable<CA> = nil
        var manualDictionary = false
    }

    var id: Int64
    var name: String
    var recordFormat: String
    var description: Nullable<String>
    var documentation: Nullable<String>
    /// No data policies exist yet: the documents show their absence as `null`.
    var policyHandler: Nullable<String> = nil
    var globalPolicies: Nullable<String> = nil
    /// The group of a registration with `schemaEvolution`, else null.
    var schemaEvolutionId: Nullable<Int64>
    var columnEvolutionEnabled: Bool
    /// Warden keeps no statistics that expire.
    var statsExpiration: Nullable<Date> = nil
    var expiration: Nullable<Date> = nil
    var catalogMetadata: Nullable<String> = nil
    var workspace: Nullable<String> = nil
    var seeded = false
    var filterId: Nullable<Int64> = nil
    var acknowledgeRequired = false
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
    var statusInfo: JSONValue
    var subscriptionStatus: String
    /// The caller's own membership: its id, whether they hold it as a user (not only through a group), the state
    /// it asks for or has, whether it was approved, and its expiration.
    var subscriptionId: Nullable<Int64>
    var subscribedAsUser: Bool
    var requestedState: Nullable<String>
    var approved: Bool
    var subscriptionExpiration: Nullable<Date>
    var tags: [String]
    var createdAt: Date
    var updatedAt: Date

    /// `statusInfo` before the first health check says so for each documented check, rather than being absent.
    static let healthCheckNotRun: JSONValue = {
        let notRun = JSONValue.object(["status": .string("notRun"), "lastAttempted": .null,
                                       "message": .string("No health check has run yet: GET /dataSource/{id}/test runs one")])
        var info = Dictionary(uniqueKeysWithValues: DataSourceService.healthChecks.map { ($0, notRun) })
        info["lastAttempt"] = .null
        return .object(info)
    }()

    init(_ view: DataSourceView, tags: [String]) {
        let source = view.dataSource
        id = source.id
        name = source.name
        recordFormat = source.recordFormat ?? "Not Provided"
        description = Nullable(source.description)
        documentation = Nullable(source.documentation)
        columnEvolutionEnabled = source.columnEvolutionEnabled
        schemaEvolutionId = Nullable(source.schemaEvolutionId)
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
        statusInfo = source.statusInfo ?? Self.healthCheckNotRun
        subscriptionStatus = view.subscriptionStatus
        subscriptionId = Nullable(view.subscriptionId)
        subscribedAsUser = view.subscriptionId != nil
        requestedState = Nullable(view.memberState?.rawValue)
        approved = view.memberState.map { $0 != .pending } ?? false
        subscriptionExpiration = Nullable(view.subscriptionExpiration)
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
        var description: Nullable<String>
        var schemaEvolutionId: Nullable<Int64>
        /// Documented as null where a feature Warden lacks would fill them (native access, workspaces, domains).
        var native: Nullable<String> = nil
        var workspace: Nullable<String> = nil
        var domainId: Nullable<String> = nil
        var domainName: Nullable<String> = nil
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
                          description: Nullable(source.description), schemaEvolutionId: Nullable(source.schemaEvolutionId),
                          createdAt: source.createdAt, recordCount: source.rowCount ?? 0,
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
    /// Documented; Warden's deletion of a handler cannot fail apart from the data source.
    var handlerDeleteErrorMessage: Nullable<String> = nil
    var schemaEvolutionId: Nullable<Int64>
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

/// An owner or expert, as documented: `id` is the data source's, `profile` the user's (`userid` is Warden's extra).
struct ContactPayload: Encodable, Sendable {
    var type = "profile"
    var id: Int64
    var profile: Int64
    var userid: String
    var name: Nullable<String>
    var email: Nullable<String>
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
    /// Whether data policies need a hash phrase on this technology; Warden's need none (salts are per source).
    var requiresHashPhraseForDP = false
    /// Warden extension: whether this build can connect to such warehouses (the others answer 501).
    var connectorAvailable: Bool
}

struct ActivitiesPayload: ResponseEncodable {
    struct Person: Encodable { var id: Int64; var userid: String?; var name: Nullable<String>; var email: Nullable<String> }
    struct Item: Encodable {
        var id: Int64
        var modelType = "datasource"
        var modelId: String
        var notificationType: String
        var metadata: JSONValue
        var read = false
        var actionBy: Person?
        var targetUser: Nullable<Person>
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

/// `GET /dataSource/{id}/test`, and the `statusInfo` it records: each check `{status, message, lastAttempted}`
/// (a null `lastAttempted` for checks not run), `lastAttempt.date`, and the overall `status`.
struct HealthReportPayload: ResponseEncodable, Sendable {
    struct Check: Encodable, Sendable {
        var status: HealthReport.Check.Status
        var message: String
        var lastAttempted: Nullable<Date>

        init(_ check: HealthReport.Check) {
            status = check.status
            message = check.message
            lastAttempted = Nullable(check.lastAttempted)
        }
    }

    struct Attempt: Encodable, Sendable { var date: Date }

    var sql, stats, columnEvolution, fingerprint, schemaEvolution, globalPolicy, highCardinality, nativeView: Check
    var lastAttempt: Attempt
    /// Absent from the stored `statusInfo`, whose status is the source's own `status`.
    var status: String?

    init(_ report: HealthReport, withStatus: Bool = true) {
        sql = Check(report.sql)
        stats = Check(report.stats)
        columnEvolution = Check(report.columnEvolution)
        fingerprint = Check(report.fingerprint)
        schemaEvolution = Check(report.schemaEvolution)
        globalPolicy = Check(report.globalPolicy)
        highCardinality = Check(report.highCardinality)
        nativeView = Check(report.nativeView)
        lastAttempt = Attempt(date: report.attemptedAt)
        status = withStatus ? (report.passed ? "passed" : "failed") : nil
    }
}
