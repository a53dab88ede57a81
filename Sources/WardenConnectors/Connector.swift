public import WardenDomain

/// What Warden needs from a warehouse. One implementation per wire protocol.
///
/// Every method throws `WardenError`s whose messages say what went wrong (unreachable host, rejected
/// credentials, TLS, timeout) without secrets; a warehouse that hangs is cut off by the connector's timeout.
public protocol Connector: Sendable {
    /// Connects and runs a trivial query.
    func testConnection() async throws

    /// The columns of each table, read from the catalog in one query per set of tables.
    /// Tables that do not exist are absent from the result.
    func describe(_ tables: [TableReference]) async throws -> [TableReference: [RemoteColumn]]

    /// Exact row counts, batched into few queries.
    func rowCounts(_ tables: [TableReference]) async throws -> [TableReference: Int64]

    /// The column with the most distinct values, sampled when the table is large; nil when `columns` is empty.
    func highCardinalityColumn(of table: TableReference, columns: [String], rowCount: Int64?) async throws -> String?

    /// The distinct non-null values of each column as text, at most `limit` per column (more: the column is
    /// reported with `limit + 1` values, so a caller can tell it was cut).
    func distinctValues(of table: TableReference, columns: [String], limit: Int) async throws -> [String: [String]]

    /// For each view: writes the source's `warden_system` rows and, when what the view is generated from changed (or
    /// the view drifted), replaces the view and its grants. All in one transaction, so a failure leaves the previous
    /// views and grants in place; when one view fails, each is applied in its own transaction so the others still
    /// succeed. Roles that do not exist in the warehouse get no grant and are reported. One result per view, in order.
    func applyNativeViews(_ views: [(view: NativeView, keys: NativeViewKeys)]) async throws -> [Result<NativeViewOutcome, WardenError>]

    /// What differs between the warehouse and the view Warden maintains: the view missing or altered, grants added or
    /// missing, subscribed roles that can read the raw table. Empty: no drift; nil: Warden never generated the view.
    func nativeViewDrift(_ view: NativeView) async throws -> [String]?

    /// Takes away what Warden maintains for sources that are disabled or gone: every grant on their views and their
    /// `warden_system` purpose rows, committed first; then, when `drop`, the views themselves and the rest of their
    /// rows. Only the view `warden_system.views` records for a source is touched, and only while it is a view.
    /// Idempotent. One result per source.
    func withdrawNativeViews(dataSourceIds: [Int64], warehouse: NativeView.Warehouse, drop: Bool) async throws -> [Int64: NativeViewWithdrawal]

    /// The databases the connection's role may connect to.
    func listDatabases() async throws -> [String]

    /// The connected database's schemas and every table with its columns and fingerprint, in one catalog query:
    /// partitions folded into their parent, catalog schemas and Warden's own views left out.
    func catalog() async throws -> RemoteCatalog

    /// `catalog` without the columns: what a re-crawl compares first, computed by the warehouse where it can (else
    /// the whole catalog). The fingerprints equal `catalog`'s.
    func catalogFingerprints() async throws -> RemoteCatalog

    func listSchemas() async throws -> [String]
    func listTables(schema: String) async throws -> [String]
}

/// Hands out connectors, reusing one bounded connection pool per distinct warehouse connection.
public protocol ConnectorFactory: Sendable {
    /// Throws `Technology.missingConnector` (501) for technologies without a connector.
    func connector(for settings: ConnectionSettings) throws -> any Connector
}

/// A data source's mask keys, as the warehouse stores them in `warden_system.source_keys`.
public struct NativeViewKeys: Sendable {
    public var salt: [UInt8]
    public var encryptionKey: [UInt8]
    public var macKey: [UInt8]

    public init(salt: [UInt8], encryptionKey: [UInt8], macKey: [UInt8]) {
        self.salt = salt
        self.encryptionKey = encryptionKey
        self.macKey = macKey
    }
}

public struct NativeViewOutcome: Sendable, Equatable {
    /// False when the view was already what the policies make it: no DDL ran.
    public var viewReplaced: Bool
    public var grantees: [String]
    /// Roles of subscribed users that the warehouse does not have.
    public var missingRoles: [String]

    public init(viewReplaced: Bool, grantees: [String], missingRoles: [String]) {
        self.viewReplaced = viewReplaced
        self.grantees = grantees
        self.missingRoles = missingRoles
    }
}

/// What `withdrawNativeViews` took away for one source.
public struct NativeViewWithdrawal: Sendable, Equatable {
    /// The view Warden had recorded for the source (`schema.name`, quoted), nil when none is there.
    public var view: String?
    /// The roles (and `PUBLIC`) whose grant on it was revoked.
    public var revoked: [String]
    public var dropped: Bool

    public init(view: String?, revoked: [String], dropped: Bool) {
        self.view = view
        self.revoked = revoked
        self.dropped = dropped
    }

    /// Nothing was there to take away.
    public static let nothing = NativeViewWithdrawal(view: nil, revoked: [], dropped: false)
}
