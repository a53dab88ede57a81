import Foundation

/// The `metadata` of a handler: how to reach the table, what to call it, and, on updates, its columns.
///
/// Fields Warden does not interpret (`staleDataTolerance`, `nativeViewName`, …) are kept in `stored`
/// and returned as given; the password never is.
public struct HandlerMetadata: Sendable, Equatable {
    public var hostname: String
    public var port: Int
    public var database: String
    public var username: String
    /// Absent on updates that keep the stored password.
    public var password: String?
    public var ssl: Bool
    public var trustedCertificates: [String]
    public var table: TableReference
    public var dataSourceName: String?
    public var sqlTableName: String?
    public var sqlSchemaName: String?
    public var schemaProjectName: String?
    /// A replacement dictionary, when given.
    public var columns: [DictionaryColumn]?
    /// Everything the client sent except the password and the columns.
    public var stored: [String: JSONValue]

    /// Keys a handler's metadata has in some technology, for telling a misplaced one from an unknown one.
    public static let knownKeys: Set<String> = [
        "hostname", "port", "database", "username", "password", "schema", "table", "ssl", "ca", "userFiles", "dataSourceName",
        "bodataTableName", "bodataSchemaName", "schemaProjectName", "columns", "nativeViewName", "nativeSchemaName",
        "staleDataTolerance", "authenticationMethod", "authenticationType", "warehouse", "httpPath", "token", "role", "privateKey",
        "connectionStringOptions", "catalog",
    ]

    /// Keys Warden keeps out of the stored metadata: secrets, and the dictionary (stored on its own).
    public static let unstoredKeys: Set<String> = ["password", "token", "privateKey", "columns"]

    /// The names given for what Warden creates must be plain SQL names. Checked on what clients send, not on stored
    /// metadata, which was checked when it was sent.
    public func validateGivenNames(path: String) throws(WardenError) {
        var validator = Validator()
        for (name, value) in [("bodataTableName", sqlTableName), ("bodataSchemaName", sqlSchemaName)] {
            if let value { validator.check(SQLIdentifier.isPlain(value), "\(path).\(name)", SQLIdentifier.plainRule) }
        }
        try validator.finish()
    }

    /// Parses and validates `object`, reporting every problem under `path` (e.g. `handler[0].metadata`).
    public static func parse(_ object: [String: JSONValue], path: String, technology: Technology,
                             passwordRequired: Bool) throws(WardenError) -> HandlerMetadata {
        var fields = JSONFields(object, path: path)
        let hostname = fields.string("hostname", required: true) ?? ""
        let port = fields.int("port") ?? technology.defaultPort
        let database = fields.string("database", required: true) ?? ""
        // Databricks signs in with a token: `username` is conventionally `token`, and the token may come as `token`.
        let databricks = technology == .databricks
        let username = fields.string("username", required: !databricks) ?? (databricks ? "token" : "")
        let secretKey = databricks && object["token"] != nil ? "token" : technology == .snowflake && object["privateKey"] != nil ? "privateKey" : "password"
        let password = fields.string(secretKey, required: passwordRequired)
        let httpPath = fields.string("httpPath", required: databricks)
        let authenticationType = fields.string("authenticationType")
        // Snowflake and Databricks are HTTPS services: TLS unless `ssl: false` asks for plain HTTP.
        let ssl = fields.bool("ssl") ?? (technology == .snowflake || technology == .databricks)
        let schema = fields.string("schema", required: true) ?? ""
        let table = fields.string("table", required: true) ?? ""
        let dataSourceName = fields.string("dataSourceName")
        let sqlTableName = fields.string("bodataTableName")
        let sqlSchemaName = fields.string("bodataSchemaName")
        let schemaProjectName = fields.string("schemaProjectName")
        var certificates: [String] = []
        for (index, item) in (fields.array("ca") ?? []).enumerated() {
            if let pem = item.stringValue { certificates.append(pem) } else { fields.validator.add("\(path).ca[\(index)]", "must be a PEM string") }
        }
        for (index, item) in (fields.array("userFiles") ?? []).enumerated() {
            guard let file = item.objectValue else {
                fields.validator.add("\(path).userFiles[\(index)]", "must be an object")
                continue
            }
            // Warden extension: a user file may carry a PEM certificate inline (there is no separate upload route).
            // Only certificates: metadata is stored in the clear, so keys and other secrets are refused.
            switch file["content"] {
            case .none, .some(.null): break
            case .some(.string(let content)) where content.contains("-----BEGIN CERTIFICATE-----") && !content.contains("PRIVATE KEY"):
                certificates.append(content)
            default:
                fields.validator.add("\(path).userFiles[\(index)].content", "must be a PEM certificate; keys and other secrets are not accepted")
            }
        }
        var columns: [DictionaryColumn]?
        if let rawColumns = fields.array("columns") {
            columns = DictionaryColumn.parse(rawColumns, path: "\(path).columns", into: &fields.validator)
        }
        var validator = fields.validator
        if !hostname.isEmpty {
            validator.check(Text.isPrintable(hostname, maxLength: 253) && !hostname.contains(" ") && !hostname.contains("/"),
                            "\(path).hostname", "must be a host name or address")
        }
        validator.check((1...65535).contains(port), "\(path).port", "must be between 1 and 65535")
        for (name, value) in [("schema", schema), ("table", table), ("database", database)] where !value.isEmpty {
            validator.check(SQLIdentifier.isAcceptable(value), "\(path).\(name)",
                            "must be at most \(SQLIdentifier.maxLength) bytes without control characters")
        }
        for (name, value) in [("bodataTableName", sqlTableName), ("bodataSchemaName", sqlSchemaName)] {
            if let value { validator.check(SQLIdentifier.isAcceptable(value), "\(path).\(name)", "must be a valid SQL name") }
        }
        if databricks {
            if let httpPath { validator.check(DatabricksPath.warehouseId(httpPath) != nil, "\(path).httpPath", DatabricksPath.rule) }
            validator.check(authenticationType.map(DatabricksPath.authenticationTypes.contains) ?? true, "\(path).authenticationType",
                            "must be one of " + DatabricksPath.authenticationTypes.sorted().joined(separator: ", "))
        }
        try validator.finish()
        return HandlerMetadata(
            hostname: hostname, port: port, database: database, username: username, password: password, ssl: ssl,
            trustedCertificates: certificates, table: TableReference(schema: schema, table: table),
            dataSourceName: dataSourceName, sqlTableName: sqlTableName, sqlSchemaName: sqlSchemaName,
            schemaProjectName: schemaProjectName, columns: columns,
            stored: object.filter { !unstoredKeys.contains($0.key) }.merging(secretKey == "privateKey" ? ["authenticationType": .string("keyPair")] : [:]) { $1 })
    }

    public func connectionString() -> String { "\(username)@\(hostname):\(port)/\(database)" }

    /// Connection settings, with `password` standing in when the metadata has none (kept from storage).
    public func settings(technology: Technology, storedPassword: String?) -> ConnectionSettings {
        ConnectionSettings(technology: technology, hostname: hostname, port: port, database: database, username: username,
                           password: password ?? storedPassword ?? "", ssl: ssl, trustedCertificates: trustedCertificates,
                           warehouse: stored["warehouse"]?.stringValue, role: stored["role"]?.stringValue,
                           httpPath: stored["httpPath"]?.stringValue,
                           authenticationType: stored["authenticationType"]?.stringValue)
    }

    /// Identifies the remote table across data sources: two registrations of it are one too many.
    public func remoteKey(technology: Technology) -> String {
        [technology.rawValue, hostname.lowercased(), String(port), database, table.schema, table.table]
            .map { $0.replacingOccurrences(of: "|", with: "||") }.joined(separator: "|")
    }
}

/// Derives data source names from a table's schema and name, as `schemaEvolution.config.nameTemplate` asks.
public struct NameTemplate: Sendable, Equatable, Codable {
    public var nameFormat: String
    public var tableFormat: String
    public var sqlSchemaNameFormat: String
    public var schemaProjectNameFormat: String

    public init(nameFormat: String = "<Schema> <Tablename>", tableFormat: String = "<tablename>",
                sqlSchemaNameFormat: String = "<schema>", schemaProjectNameFormat: String = "<Schema>") {
        self.nameFormat = nameFormat
        self.tableFormat = tableFormat
        self.sqlSchemaNameFormat = sqlSchemaNameFormat
        self.schemaProjectNameFormat = schemaProjectNameFormat
    }

    /// Replaces `<schema>`, `<tablename>`, `<database>` with the raw lowercased names, and their capitalised
    /// forms (`<Schema>`, `<Tablename>`, `<Database>`) with title case: `army_records` becomes `Army Records`.
    public static func apply(_ format: String, table: TableReference, database: String) -> String {
        var result = format
        for (placeholder, value) in [("schema", table.schema), ("tablename", table.table), ("database", database)] {
            result = result.replacingOccurrences(of: "<\(placeholder)>", with: value.lowercased())
            let capitalised = "<" + placeholder.prefix(1).uppercased() + placeholder.dropFirst() + ">"
            result = result.replacingOccurrences(of: capitalised, with: titleCase(value))
        }
        return result
    }

    static func titleCase(_ name: String) -> String {
        name.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == " " || $0 == "." })
            .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
            .joined(separator: " ")
    }
}

/// The names a new data source gets: given in its metadata, or derived from the template.
public struct DataSourceNames: Sendable, Equatable {
    public var name: String
    public var sqlTableName: String
    public var sqlSchemaName: String
    public var schemaProjectName: String

    /// The handler's own names win; then `name` and `sqlTableName` given beside it (`dataSource.name`); then the template.
    public init(metadata: HandlerMetadata, template: NameTemplate, name givenName: String? = nil, sqlTableName givenTable: String? = nil) {
        let apply = { (format: String) in NameTemplate.apply(format, table: metadata.table, database: metadata.database) }
        name = metadata.dataSourceName ?? givenName ?? apply(template.nameFormat)
        sqlTableName = metadata.sqlTableName ?? givenTable ?? SQLIdentifier.plain(apply(template.tableFormat))
        sqlSchemaName = metadata.sqlSchemaName ?? SQLIdentifier.plain(apply(template.sqlSchemaNameFormat))
        schemaProjectName = metadata.schemaProjectName ?? apply(template.schemaProjectNameFormat)
    }

    /// The drafts with names and SQL table names made unique among themselves and the taken ones: a number is added
    /// (`Name (2)`, `name_2`), the SQL name cut to stay within the identifier limit.
    public static func disambiguated(_ drafts: [DataSourceDraft], takenNames: Set<String>, takenSQLTableNames: Set<String>) -> [DataSourceDraft] {
        var names = takenNames
        var sqlNames = takenSQLTableNames
        func unique(_ base: String, in taken: inout Set<String>, _ numbered: (Int) -> String) -> String {
            var candidate = base
            var number = 2
            while taken.contains(candidate) {
                candidate = numbered(number)
                number += 1
            }
            taken.insert(candidate)
            return candidate
        }
        return drafts.map { draft in
            var draft = draft
            let name = draft.names.name
            draft.names.name = unique(name, in: &names) { "\(name) (\($0))" }
            let sqlName = draft.names.sqlTableName
            draft.names.sqlTableName = unique(sqlName, in: &sqlNames) { number in
                let suffix = "_\(number)"
                var cut = sqlName
                while cut.utf8.count + suffix.utf8.count > SQLIdentifier.maxCreatedLength { cut.removeLast() }
                return cut + suffix
            }
            return draft
        }
    }

    public func validate(path: String) throws(WardenError) {
        var validator = Validator()
        validator.check(Text.isPrintable(name, maxLength: 256), "\(path).dataSourceName", "must be 1 to 256 printable characters")
        validator.check(SQLIdentifier.isPlain(sqlTableName), "\(path).bodataTableName", SQLIdentifier.plainRule)
        validator.check(SQLIdentifier.isPlain(sqlSchemaName), "\(path).bodataSchemaName", SQLIdentifier.plainRule)
        try validator.finish()
    }
}

/// A Databricks SQL warehouse's HTTP path, as its connection details show it.
public enum DatabricksPath {
    public static let rule = "must be a SQL warehouse's HTTP path, such as /sql/1.0/warehouses/1234567890abcdef"

    /// A personal access token (`token`, the default; `userPassword` with the token as the password means the same) or
    /// OAuth machine to machine (`oAuthM2M`).
    public static let authenticationTypes: Set<String> = ["token", "userPassword", "oAuthM2M"]

    /// The warehouse id at the end of `/sql/1.0/warehouses/<id>` (or the older `/sql/1.0/endpoints/<id>`).
    public static func warehouseId(_ httpPath: String) -> String? {
        let parts = httpPath.split(separator: "/")
        guard parts.count >= 2, ["warehouses", "endpoints"].contains(parts[parts.count - 2]) else { return nil }
        let id = parts[parts.count - 1]
        return id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) && id.count <= 64 ? String(id) : nil
    }
}
