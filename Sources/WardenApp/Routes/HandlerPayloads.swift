import Foundation
import Hummingbird
import WardenDomain
import WardenStore

// Bodies of the /{technology}/handler API, in the specification's field names.

extension HandlerService.Registration {
    /// Parses a registration body: `handler` (an array, or one object), `dataSource`, `schemaEvolution`.
    static func parse(_ body: JSONValue, technology: Technology) throws -> HandlerService.Registration {
        guard case .object(let object) = body else { throw WardenError.badRequest("Request body must be an object", code: .requestInvalidJson) }
        var problems = Validator()
        let entries: [JSONValue]
        switch object["handler"] {
        case .array(let items)?:
            entries = items
            problems.check(!items.isEmpty, "handler", "must not be empty")
        case .object?:
            entries = [object["handler"]!]
        default:
            problems.add("handler", "is required: an array of objects with a `metadata` object")
            entries = []
        }
        for key in ["dataSource", "schemaEvolution"] {
            if let value = object[key], value.objectValue == nil, value != .null { problems.add(key, "must be an object") }
        }
        var evolution: HandlerService.Evolution?
        if case .object(let group)? = object["schemaEvolution"] {
            var fields = JSONFields(group, path: "schemaEvolution", validator: problems)
            let owner = fields.int("ownerProfileId")
            problems = fields.validator
            if let owner, owner <= 0 { problems.add("schemaEvolution.ownerProfileId", "must be a positive profile id") }
            evolution = HandlerService.Evolution(ownerId: owner.map(Int64.init), template: nameTemplate(object))
        }
        var handlers: [HandlerMetadata] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let handler) = entry, case .object(let metadata)? = handler["metadata"] else {
                problems.add("handler[\(index)].metadata", "is required and must be an object")
                continue
            }
            do {
                handlers.append(try HandlerMetadata.parse(metadata, path: "handler[\(index)].metadata", technology: technology,
                                                          passwordRequired: true))
            } catch {
                problems.append(error.fields, prefix: "")
            }
        }
        var settings = DataSourceSettings()
        var fields = JSONFields(object["dataSource"]?.objectValue ?? [:], path: "dataSource", validator: problems)
        let name = fields.string("name").flatMap { $0.isEmpty ? nil : $0 }
        let sqlTableName = fields.string("sqlTableName").flatMap { $0.isEmpty ? nil : $0 }
        problems = fields.validator
        if entries.count > 1 {
            // Names are unique, so one name cannot name several data sources.
            for (key, value) in [("name", name), ("sqlTableName", sqlTableName)] where value != nil {
                problems.add("dataSource.\(key)", "names one data source; with several handler entries, name each in its metadata "
                             + "(`dataSourceName`, `bodataTableName`) or through `schemaEvolution.config.nameTemplate`")
            }
        }
        if case .object(let dataSource)? = object["dataSource"] {
            do { settings = try DataSourceSettings.parse(dataSource, path: "dataSource") } catch { problems.append(error.fields, prefix: "") }
        }
        // A known field in the wrong place is refused rather than dropped: a top-level `private: true` would
        // otherwise leave the data source public. Keys nobody knows are said back as warnings.
        var unknown: [String] = []
        for key in object.keys.sorted() where !topLevelKeys.contains(key) {
            if DataSourceSettings.keys.contains(key) {
                problems.add(key, "belongs inside `dataSource` (`dataSource.\(key)`)")
            } else if HandlerMetadata.knownKeys.contains(key) {
                problems.add(key, "belongs inside each handler entry's metadata (`handler[].metadata.\(key)`)")
            } else {
                unknown.append(key)
            }
        }
        try problems.finish()
        return HandlerService.Registration(
            handlers: handlers, settings: settings, template: nameTemplate(object), evolution: evolution, name: name, sqlTableName: sqlTableName,
            warnings: unknown.isEmpty ? [] : ["Unknown fields were ignored: " + unknown.joined(separator: ", ")])
    }

    static let topLevelKeys: Set<String> = ["handler", "dataSource", "schemaEvolution"]

    /// `schemaEvolution.config.nameTemplate`, with the specification's example as the default.
    private static func nameTemplate(_ object: [String: JSONValue]) -> NameTemplate {
        guard case .object(let evolution)? = object["schemaEvolution"], case .object(let config)? = evolution["config"],
              case .object(let template)? = config["nameTemplate"] else { return NameTemplate() }
        var result = NameTemplate()
        if let format = template["nameFormat"]?.stringValue, !format.isEmpty { result.nameFormat = format }
        if let format = template["tableFormat"]?.stringValue, !format.isEmpty { result.tableFormat = format }
        if let format = template["sqlSchemaNameFormat"]?.stringValue, !format.isEmpty { result.sqlSchemaNameFormat = format }
        if let format = template["schemaProjectNameFormat"]?.stringValue, !format.isEmpty { result.schemaProjectNameFormat = format }
        return result
    }
}

struct CreatedDataSourcePayload: Encodable {
    var id: Int64
    var handlerId: Int64
    var dataSourceId: Int64
    var name: String
    var sqlTableName: String
    var warnings: String?
}

/// The answer to `POST /{technology}/handler`. With one handler, its fields also stand at the top level.
struct RegistrationPayload: ResponseEncodable {
    var connectionString: String
    var dataSources: [CreatedDataSourcePayload]
    var id: Int64?
    var dataSourceId: Int64?
    var warnings: String?

    /// `warnings` are about the request as a whole; they lead the top-level `warnings`.
    init(_ created: [HandlerService.Created], warnings requestWarnings: [String] = []) {
        connectionString = created.first?.dataSource.connectionString ?? ""
        dataSources = created.map { item in
            CreatedDataSourcePayload(id: item.dataSource.id, handlerId: item.dataSource.id, dataSourceId: item.dataSource.id,
                                     name: item.dataSource.name, sqlTableName: item.dataSource.sqlTableName,
                                     warnings: item.warnings.isEmpty ? nil : item.warnings.joined(separator: "; "))
        }
        var overall = requestWarnings
        if created.count == 1 {
            id = dataSources[0].id
            dataSourceId = dataSources[0].dataSourceId
            overall += created[0].warnings
        }
        warnings = overall.isEmpty ? nil : overall.joined(separator: "; ")
    }
}

/// A handler as `GET /{technology}/handler/{id}` shows it: never with its password.
struct HandlerPayload: ResponseEncodable {
    struct DBMS: Encodable { var name: String }

    var id: Int64
    var dataSourceId: Int64
    /// The trusted CA certificates, beside `metadata` as the documented answer shows them (also kept in it).
    var ca: [String]
    var metadata: [String: JSONValue]
    var type = "odbcHandler"
    var connectionString: String
    var createdAt: Date
    var updatedAt: Date
    var dbms: DBMS

    init(_ handler: StoredHandler, source: DataSource, columns: [DictionaryColumn]? = nil) throws {
        id = handler.dataSourceId
        dataSourceId = handler.dataSourceId
        var metadata = handler.metadata
        metadata["dataSourceName"] = .string(source.name)
        if let columns {
            metadata["columns"] = try JSONValue.encoded(columns.map { DictionaryColumnPayload($0) }, encoder: WardenJSON.makeEncoder())
        }
        self.metadata = metadata
        if case .array(let certificates)? = metadata["ca"] { ca = certificates.compactMap(\.stringValue) } else { ca = [] }
        connectionString = handler.connectionString
        createdAt = handler.createdAt
        updatedAt = handler.updatedAt
        dbms = DBMS(name: handler.technology.rawValue)
    }
}

struct BulkUpdatePayload: ResponseEncodable {
    var bulkId: String
    var connectionString: String
    var jobsCreated: Int
}

/// The Dictionary object.
struct DictionaryPayload: ResponseEncodable {
    var id: Int64
    var dataSource: Int64
    var metadata: [DictionaryColumnPayload]
    var types: [String]
    var createdAt: Date
    var updatedAt: Date

    /// With `columnTags`, every column carries its `tags` (an empty list when it has none).
    init(_ dictionary: DataDictionary, columnTags: [String: [TagAttachment]]? = nil) {
        id = dictionary.id
        dataSource = dictionary.dataSourceId
        metadata = dictionary.columns.map { column in DictionaryColumnPayload(column, tags: columnTags.map { $0[column.name] ?? [] }) }
        types = dictionary.types
        createdAt = dictionary.createdAt
        updatedAt = dictionary.updatedAt
    }
}

/// One column of a dictionary; with tags asked for, its `tags` (an empty list when it has none).
struct DictionaryColumnPayload: Encodable, Sendable {
    var name: String
    var dataType: String
    var remoteType: String
    var nullable: Bool?
    var description: String?
    var tags: [TagAttachmentPayload]?

    init(_ column: DictionaryColumn, tags: [TagAttachment]? = nil) {
        name = column.name
        dataType = column.dataType
        remoteType = column.remoteType
        nullable = column.nullable
        description = column.description
        self.tags = tags?.map(TagAttachmentPayload.init)
    }
}
