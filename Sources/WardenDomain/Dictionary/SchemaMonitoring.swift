public import Foundation

/// Column detection: how a table's columns in the warehouse differ from its dictionary, and the dictionary after.
public struct ColumnChanges: Sendable, Equatable {
    public var added: [DictionaryColumn] = []
    public var deleted: [String] = []
    /// Columns whose warehouse type changed: name, old remote type, new remote type.
    public var typeChanged: [(name: String, from: String, to: String)] = []
    /// The dictionary with the changes applied: kept columns keep their descriptions and place, deleted ones go, new
    /// ones follow in the warehouse's order.
    public var dictionary: [DictionaryColumn] = []

    public var isEmpty: Bool { added.isEmpty && deleted.isEmpty && typeChanged.isEmpty }

    public init() {}

    public init(dictionary: [DictionaryColumn], remote: [DictionaryColumn]) {
        let remoteByName = Dictionary(remote.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let known = Set(dictionary.map(\.name))
        for column in dictionary {
            guard let now = remoteByName[column.name] else {
                deleted.append(column.name)
                continue
            }
            var kept = column
            if now.remoteType != column.remoteType {
                typeChanged.append((column.name, column.remoteType, now.remoteType))
                kept.remoteType = now.remoteType
                kept.dataType = now.dataType
                kept.nullable = now.nullable
            }
            self.dictionary.append(kept)
        }
        added = remote.filter { !known.contains($0.name) }
        self.dictionary += added
    }

    public static func == (lhs: ColumnChanges, rhs: ColumnChanges) -> Bool {
        lhs.added == rhs.added && lhs.deleted == rhs.deleted && lhs.dictionary == rhs.dictionary
            && lhs.typeChanged.map { [$0.name, $0.from, $0.to] } == rhs.typeChanged.map { [$0.name, $0.from, $0.to] }
    }
}

/// A schema evolution group: the sources one registration with `schemaEvolution` created, and the tables schema
/// detection later registers beside them, named by the group's template.
public struct SchemaEvolution: Sendable, Equatable {
    public var id: Int64
    /// `schemaEvolution.ownerProfileId`, or the registering user.
    public var ownerId: Int64
    public var template: NameTemplate
    public var createdBy: Int64
    public var createdAt: Date

    public init(id: Int64, ownerId: Int64, template: NameTemplate, createdBy: Int64, createdAt: Date) {
        self.id = id
        self.ownerId = ownerId
        self.template = template
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// What `PUT /dataSource/detectRemoteChanges` asks for: which sources, and which detections.
public enum DetectionScope: Sendable, Equatable {
    /// No payload: every source the caller owns.
    case all
    case dataSources([Int64])
    /// Sources whose handler matches every given field.
    case remote(hostname: String?, port: Int?, database: String?, table: String?)
    case schemaEvolution(id: Int64, skipColumnDetection: Bool)

    /// Whether the documented response carries `schemaDetection` and `columnDetection` (for `dataSourceIds` and
    /// `table` payloads) or only `bulkId`.
    public var listsJobs: Bool {
        switch self {
        case .dataSources: true
        case .remote(_, _, _, let table): table != nil
        case .all, .schemaEvolution: false
        }
    }

    public static let keys: Set<String> = ["dataSourceIds", "hostname", "port", "database", "table", "schemaEvolutionId",
                                           "skipColumnDetection", "overrides"]

    /// Parses the payload and enforces the documented exclusions: `dataSourceIds`, the remote fields (`hostname`,
    /// `port`, `database`, `table`) and `schemaEvolutionId` are three ways to choose and cannot be combined;
    /// `skipColumnDetection` goes only with `schemaEvolutionId`.
    public static func parse(_ object: [String: JSONValue]) throws(WardenError) -> DetectionScope {
        var fields = JSONFields(object, path: "")
        let ids = fields.array("dataSourceIds")
        let hostname = fields.string("hostname")
        let port = fields.int("port")
        let database = fields.string("database")
        let table = fields.string("table")
        let evolution = fields.int("schemaEvolutionId")
        let skip = fields.bool("skipColumnDetection")
        var validator = fields.validator
        for key in object.keys.sorted() where !keys.contains(key) {
            validator.add(key, "is not a field of detectRemoteChanges (" + keys.sorted().joined(separator: ", ") + ")")
        }
        var parsedIds: [Int64] = []
        for (index, item) in (ids ?? []).enumerated() {
            if case .int(let id) = item, id > 0 { parsedIds.append(id) } else { validator.add("dataSourceIds[\(index)]", "must be a positive data source id") }
        }
        validator.check((ids?.count ?? 0) <= Limits.bulkDataSources, "dataSourceIds", "must list at most \(Limits.bulkDataSources) data sources")
        if let port { validator.check((1...65535).contains(port), "port", "must be between 1 and 65535") }
        let remote = hostname != nil || port != nil || database != nil || table != nil
        let chosen = [ids.map { !$0.isEmpty } ?? false, remote, evolution != nil].filter { $0 }.count
        if chosen > 1 {
            validator.add(ids != nil && !ids!.isEmpty ? "dataSourceIds" : "schemaEvolutionId",
                          "cannot be combined: choose sources by dataSourceIds, by hostname/port/database/table, or by schemaEvolutionId")
        }
        if skip != nil, evolution == nil { validator.add("skipColumnDetection", "can only be given with schemaEvolutionId") }
        try validator.finish()
        if let evolution { return .schemaEvolution(id: Int64(evolution), skipColumnDetection: skip ?? false) }
        if remote { return .remote(hostname: hostname, port: port, database: database, table: table) }
        if !parsedIds.isEmpty { return .dataSources(parsedIds) }
        return .all
    }

    /// Whether a source's handler is chosen by a `remote` scope.
    public func matches(hostname: String, port: Int, database: String, table: TableReference) -> Bool {
        guard case .remote(let host, let wantedPort, let wantedDatabase, let wantedTable) = self else { return true }
        return (host.map { $0.caseInsensitiveCompare(hostname) == .orderedSame } ?? true) && (wantedPort.map { $0 == port } ?? true)
            && (wantedDatabase.map { $0 == database } ?? true) && (wantedTable.map { $0 == table.table } ?? true)
    }
}
