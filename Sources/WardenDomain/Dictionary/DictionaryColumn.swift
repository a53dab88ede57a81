public import Foundation

/// One column of a data dictionary, in the API's vocabulary (`dataType`) and the warehouse's (`remoteType`).
public struct DictionaryColumn: Sendable, Equatable, Codable {
    public var name: String
    public var dataType: String
    public var remoteType: String
    public var nullable: Bool?
    public var description: String?

    public init(name: String, dataType: String, remoteType: String, nullable: Bool? = nil, description: String? = nil) {
        self.name = name
        self.dataType = dataType
        self.remoteType = remoteType
        self.nullable = nullable
        self.description = description
    }

    /// Columns from client JSON, every problem reported under `path`; names must be unique.
    public static func parse(_ items: [JSONValue], path: String, into validator: inout Validator) -> [DictionaryColumn] {
        var columns: [DictionaryColumn] = []
        var seen: Set<String> = []
        guard items.count <= Limits.dictionaryColumns else {
            validator.add(path, "must list at most \(Limits.dictionaryColumns) columns")
            return []
        }
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let object = item.objectValue else {
                validator.add(itemPath, "must be an object")
                continue
            }
            var fields = JSONFields(object, path: itemPath, validator: validator)
            let name = fields.string("name", required: true)
            let dataType = fields.string("dataType", required: true)
            let remoteType = fields.string("remoteType") ?? dataType
            let nullable = fields.bool("nullable")
            let description = fields.string("description")
            validator = fields.validator
            guard let name, let dataType, let remoteType else { continue }
            validator.check(name.utf8.count <= 1024 && !name.contains("\0"), "\(itemPath).name", "must be at most 1024 bytes")
            validator.check(seen.insert(name).inserted, "\(itemPath).name", "repeats the column \(name)")
            if let description {
                validator.check(description.utf8.count <= Limits.descriptionBytes, "\(itemPath).description",
                                "must be at most \(Limits.descriptionBytes) bytes")
            }
            columns.append(DictionaryColumn(name: name, dataType: dataType, remoteType: remoteType, nullable: nullable,
                                            description: description))
        }
        return columns
    }
}

/// A data source's dictionary.
public struct DataDictionary: Sendable, Equatable {
    public var id: Int64
    public var dataSourceId: Int64
    public var columns: [DictionaryColumn]
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, dataSourceId: Int64, columns: [DictionaryColumn], createdAt: Date, updatedAt: Date) {
        self.id = id
        self.dataSourceId = dataSourceId
        self.columns = columns
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The distinct data types, in order of first appearance.
    public var types: [String] {
        var seen: Set<String> = []
        return columns.map(\.dataType).filter { seen.insert($0).inserted }
    }
}
