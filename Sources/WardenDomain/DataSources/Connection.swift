/// How to reach a warehouse: what the handler metadata names, with the secret in the clear (only ever in memory).
public struct ConnectionSettings: Sendable, Hashable {
    public var technology: Technology
    public var hostname: String
    public var port: Int
    public var database: String
    public var username: String
    public var password: String
    public var ssl: Bool
    /// PEM certificates to trust for TLS, in addition to none (when given) or the system roots (when empty).
    public var trustedCertificates: [String]

    public init(technology: Technology, hostname: String, port: Int, database: String, username: String, password: String,
                ssl: Bool, trustedCertificates: [String] = []) {
        self.technology = technology
        self.hostname = hostname
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.ssl = ssl
        self.trustedCertificates = trustedCertificates
    }

    /// `user@host:port/database`, the key the API groups handlers by.
    public var connectionString: String { "\(username)@\(hostname):\(port)/\(database)" }
}

/// A table in a warehouse, by schema and name as the warehouse spells them.
public struct TableReference: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var schema: String
    public var table: String

    public init(schema: String, table: String) {
        self.schema = schema
        self.table = table
    }

    public var description: String { "\(schema).\(table)" }

    public static func < (lhs: TableReference, rhs: TableReference) -> Bool {
        (lhs.schema, lhs.table) < (rhs.schema, rhs.table)
    }
}

/// One column as the warehouse catalog describes it.
public struct RemoteColumn: Sendable, Equatable {
    public var name: String
    /// The type as the warehouse names it, e.g. `character varying(255)`.
    public var remoteType: String
    /// The catalog's base type name, e.g. `varchar`, used to map to the API's vocabulary.
    public var baseType: String
    public var nullable: Bool

    public init(name: String, remoteType: String, baseType: String, nullable: Bool) {
        self.name = name
        self.remoteType = remoteType
        self.baseType = baseType
        self.nullable = nullable
    }
}

/// Identifiers that go into generated SQL: validated first, then always quoted.
public enum SQLIdentifier {
    /// Longest identifier any supported warehouse accepts (Redshift: 127 bytes).
    public static let maxLength = 127

    /// Accepts any printable name up to the limit; quoting makes the rest safe.
    public static func isAcceptable(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxLength
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == "\0" }
    }

    /// `"name"` with embedded quotes doubled, as ANSI SQL quotes identifiers.
    public static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func qualified(_ table: TableReference) -> String {
        quoted(table.schema) + "." + quoted(table.table)
    }
}
