import Foundation

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
    /// Snowflake's virtual warehouse and role for the session, when the handler names them.
    public var warehouse: String?
    public var role: String?
    /// Databricks: the SQL warehouse's HTTP path (`/sql/1.0/warehouses/<id>`), and how to sign in: a personal access
    /// token (`password`, the default) or OAuth machine to machine (`oAuthM2M`: `username` is the service principal's
    /// client id, `password` its secret).
    public var httpPath: String?
    public var authenticationType: String?

    public init(technology: Technology, hostname: String, port: Int, database: String, username: String, password: String,
                ssl: Bool, trustedCertificates: [String] = [], warehouse: String? = nil, role: String? = nil,
                httpPath: String? = nil, authenticationType: String? = nil) {
        self.warehouse = warehouse
        self.role = role
        self.httpPath = httpPath
        self.authenticationType = authenticationType
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
public struct RemoteColumn: Sendable, Equatable, Codable {
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

    public static let plainRule = "must be a plain SQL name: a letter or _, then letters, digits, _ or $, at most 63 bytes"

    /// Longest name Warden itself creates in a warehouse (PostgreSQL truncates beyond 63 bytes).
    public static let maxCreatedLength = 63

    /// Whether `name` may name something Warden creates (a view or its schema): a letter or `_`, then letters,
    /// digits, `_` or `$`, at most 63 bytes. Quoting would make more safe, but a name that needs quoting (quotes,
    /// semicolons, spaces, invisible or bidirectional-override characters) only misleads whoever reads it.
    public static func isPlain(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= maxCreatedLength,
              first == "_" || first.properties.isAlphabetic && !first.properties.isNoncharacterCodePoint else { return false }
        return name.unicodeScalars.allSatisfy(isPlainScalar)
    }

    private static func isPlainScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" || scalar == "$" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber,
             .nonspacingMark, .spacingMark:
            return true
        default:
            return false
        }
    }

    /// `name` made plain: every other character becomes `_`, a leading digit gets a `_` before it, and the result
    /// is cut to 63 bytes. Names derived from warehouse tables (which may hold spaces or dots) pass through it.
    public static func plain(_ name: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            result.append(isPlainScalar(scalar) ? scalar : "_")
        }
        var text = String(result)
        if let first = text.unicodeScalars.first, first.properties.generalCategory == .decimalNumber
            || first.properties.generalCategory == .nonspacingMark || first.properties.generalCategory == .spacingMark || first == "$" {
            text = "_" + text
        }
        if text.isEmpty { text = "_" }
        while text.utf8.count > maxCreatedLength { text.unicodeScalars.removeLast() }
        return text
    }

    /// `"name"` with embedded quotes doubled, as ANSI SQL quotes identifiers.
    public static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func qualified(_ table: TableReference) -> String {
        quoted(table.schema) + "." + quoted(table.table)
    }
}
