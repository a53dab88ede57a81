import Foundation

/// Everything Warden writes into a PostgreSQL or Redshift database to enforce one data source's policies: the
/// `warden_system` schema (users, purposes, keys, view hashes), and the source's view over its table, granted to the
/// roles of its subscribed users only. The view holds no key, salt or user data: it reads them from `warden_system`
/// with its owner's rights, for the querying role (`current_user`), at query time. Each warehouse has its dialect;
/// the rules the view applies are one (`NativeViewSQL`).
public struct NativeView: Sendable {
    public enum Warehouse: String, Sendable {
        case postgresql, redshift

        public init?(_ technology: Technology) {
            switch technology {
            case .postgresql: self = .postgresql
            case .redshift: self = .redshift
            case .snowflake, .databricks, .trino, .asa: return nil
            }
        }

        /// Why the view returns NULL where `method` masks, when this warehouse cannot compute it (it fails closed).
        public func failsClosed(_ method: MaskingMethod) -> String? {
            switch (self, method) {
            case (.redshift, .reversible): "Redshift cannot compute Reversible tokens (it has no AES): its view returns NULL"
            case (.redshift, .regex(_, _, false, _)):
                "Redshift's REGEXP_REPLACE replaces every match, not only the first: its view returns NULL"
            default: nil
            }
        }

        /// The longest identifier, in bytes (PostgreSQL: NAMEDATALEN - 1).
        public var maxIdentifierBytes: Int { self == .postgresql ? 63 : 127 }
    }

    /// A Warden user as the view sees them, under their warehouse role.
    public struct Subject: Sendable, Equatable {
        public var role: String
        public var username: String
        public var groups: [String]
        public var attributes: AttributeMap
        /// The purposes that count for this source.
        public var purposes: [String]
        public var subscribed: Bool

        public init(role: String, username: String, groups: [String], attributes: AttributeMap, purposes: [String], subscribed: Bool) {
            self.role = role
            self.username = username
            self.groups = groups
            self.attributes = attributes
            self.purposes = purposes
            self.subscribed = subscribed
        }
    }

    public static let systemSchema = "warden_system"
    /// The transaction-level advisory lock that serialises Warden's changes in one database.
    public static let applyLock: Int64 = 7_283_910_452
    public var warehouse: Warehouse
    public var dataSourceId: Int64
    public var table: TableReference
    public var viewSchema: String
    public var viewName: String
    public var target: PolicyTarget
    public var policies: [DataPolicy]
    public var subjects: [Subject]

    public init(warehouse: Warehouse = .postgresql, dataSourceId: Int64, table: TableReference, viewSchema: String, viewName: String, target: PolicyTarget,
                policies: [DataPolicy], subjects: [Subject]) {
        self.warehouse = warehouse
        self.dataSourceId = dataSourceId
        self.table = table
        self.viewSchema = viewSchema
        self.viewName = viewName
        self.target = target
        self.policies = policies
        self.subjects = subjects
    }

    /// Why a name cannot be used in the warehouse's DDL, or nil: too long (it would be cut, and could then name
    /// something else), empty, or holding NUL.
    public func problem(withName name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > warehouse.maxIdentifierBytes { return "is longer than \(warehouse.maxIdentifierBytes) bytes" }
        if name.unicodeScalars.contains("\0") { return "holds a NUL character" }
        return nil
    }

    /// A view's schema and name as the warehouse compares them. Redshift folds even quoted names to lower case; on
    /// PostgreSQL names differing only in case are distinct, but whoever types them unquoted reaches the same one,
    /// so two sources' views may not differ only in case either.
    public static func folded(_ schema: String, _ name: String) -> String {
        schema.lowercased() + "." + name.lowercased()
    }

    /// The roles that may read the view.
    public var grantees: [String] { Array(Set(subjects.filter(\.subscribed).map(\.role))).sorted() }

    /// Idempotent: creates the system schema and its tables when missing. Only the owner (Warden's role) reads them.
    public var setup: [String] { Self.setup(warehouse) }

    public static func setup(_ warehouse: Warehouse) -> [String] { warehouse == .postgresql ? postgresSetup : redshiftSetup }

    static let postgresSetup = [
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "CREATE SCHEMA IF NOT EXISTS \(systemSchema)",
        "REVOKE ALL ON SCHEMA \(systemSchema) FROM PUBLIC",
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).subjects (role_name text PRIMARY KEY, username text NOT NULL, groups text[] NOT NULL,
            attributes jsonb NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).purposes (role_name text NOT NULL, data_source_id bigint NOT NULL, purpose text NOT NULL,
            PRIMARY KEY (role_name, data_source_id, purpose))
        """,
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).source_keys (data_source_id bigint PRIMARY KEY, salt bytea NOT NULL, enc_key bytea NOT NULL,
            mac_key bytea NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).views (data_source_id bigint PRIMARY KEY, view_schema text NOT NULL, view_name text NOT NULL,
            definition_hash text NOT NULL, definition text NOT NULL)
        """,
    ]

    /// Redshift has no arrays or jsonb in views: a user's groups and attributes are rows. The salt is hex text.
    static let redshiftSetup = [
        "CREATE SCHEMA IF NOT EXISTS \(systemSchema)",
        "REVOKE ALL ON SCHEMA \(systemSchema) FROM PUBLIC",
        "CREATE TABLE IF NOT EXISTS \(systemSchema).subjects (role_name VARCHAR(128) NOT NULL, username VARCHAR(65535) NOT NULL)",
        "CREATE TABLE IF NOT EXISTS \(systemSchema).subject_groups (role_name VARCHAR(128) NOT NULL, group_name VARCHAR(65535) NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).subject_attributes (role_name VARCHAR(128) NOT NULL, attribute_key VARCHAR(65535) NOT NULL,
            attribute_value VARCHAR(65535) NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).purposes (role_name VARCHAR(128) NOT NULL, data_source_id BIGINT NOT NULL,
            purpose VARCHAR(65535) NOT NULL)
        """,
        "CREATE TABLE IF NOT EXISTS \(systemSchema).source_keys (data_source_id BIGINT NOT NULL, salt VARCHAR(128) NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS \(systemSchema).views (data_source_id BIGINT NOT NULL, view_schema VARCHAR(128) NOT NULL,
            view_name VARCHAR(128) NOT NULL, definition_hash VARCHAR(64) NOT NULL)
        """,
    ]

    /// The querying user's facts for the view's dialect, read with the view owner's rights; the keys are read where
    /// a mask needs them, never written into the view.
    var dialect: PostgresDialect {
        func key(_ column: String) -> String {
            "(SELECT k.\(column) FROM \(Self.systemSchema).source_keys k WHERE k.data_source_id = \(dataSourceId))"
        }
        return PostgresDialect(user: Self.userRelation, keys: .init(salt: key("salt"), encryptionKey: key("enc_key"), macKey: key("mac_key")))
    }

    /// The common table expression holding the querying role's one `warden_system` row (none: not a Warden user).
    static let userRelation = "warden_user"

    /// The view's query: the table's rows the querying role may see, masked. The user's facts are computed once per
    /// query from `warden_user`; a role without a row sees no rows.
    public var definition: String {
        let table = "\(SQLIdentifier.quoted(table.schema)).\(SQLIdentifier.quoted(table.table)) t"
        guard warehouse == .postgresql else {
            let dialect = RedshiftDialect(dataSourceId: dataSourceId)
            let select = NativeViewSQL(target: target, policies: policies, dialect: dialect)
            return "SELECT \(select.columns().joined(separator: ", ")) FROM \(table) WHERE \(dialect.userKnown) AND \(select.filter())"
        }
        let dialect = dialect
        let select = NativeViewSQL(target: target, policies: policies, dialect: dialect)
        let user = """
            WITH \(Self.userRelation) AS (SELECT s.username, s.groups, s.attributes, ARRAY(SELECT p.purpose FROM \(Self.systemSchema).purposes p
                    WHERE p.role_name = s.role_name AND p.data_source_id = \(dataSourceId) ORDER BY p.purpose) AS purposes
                FROM \(Self.systemSchema).subjects s WHERE s.role_name = current_user)
            """
        return "\(user) SELECT \(select.columns().joined(separator: ", ")) FROM \(table) WHERE \(dialect.userKnown) AND \(select.filter())"
    }

    public var qualifiedView: String {
        SQLIdentifier.quoted(viewSchema) + "." + SQLIdentifier.quoted(viewName)
    }

    /// The DDL that replaces the view and its grants, in order, inside one transaction: dropping and creating (not
    /// `CREATE OR REPLACE`, which cannot change a column's type), so readers see the old view or the new one. On
    /// PostgreSQL the view is a security barrier: no function a reader passes sees rows the filter removes. Redshift
    /// has no security barrier; its view is late-binding, so it survives the table being recreated.
    public var viewStatements: [String] {
        let create = warehouse == .postgresql
            ? "CREATE VIEW \(qualifiedView) WITH (security_barrier) AS \(definition)"
            : "CREATE VIEW \(qualifiedView) AS \(definition) WITH NO SCHEMA BINDING"
        var statements = [
            "CREATE SCHEMA IF NOT EXISTS \(SQLIdentifier.quoted(viewSchema))",
            "DROP VIEW IF EXISTS \(qualifiedView)",
            create,
            "REVOKE ALL ON \(qualifiedView) FROM PUBLIC",
        ]
        for role in grantees {
            statements.append("GRANT USAGE ON SCHEMA \(SQLIdentifier.quoted(viewSchema)) TO \(SQLIdentifier.quoted(role))")
            statements.append("GRANT SELECT ON \(qualifiedView) TO \(SQLIdentifier.quoted(role))")
        }
        return statements
    }

    /// A digest of what the view is generated from (its statements): an unchanged source issues no DDL.
    public var definitionHash: String {
        // FNV-1a, 64 bits, twice with different offsets: a stable fingerprint, not a security boundary.
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x84222325cbf29ce4
        for byte in viewStatements.joined(separator: "\n").utf8 {
            first = (first ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            second = (second ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return String(first, radix: 16) + String(second, radix: 16)
    }
}
