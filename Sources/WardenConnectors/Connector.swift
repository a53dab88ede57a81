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

    func listSchemas() async throws -> [String]
    func listTables(schema: String) async throws -> [String]
}

/// Hands out connectors, reusing one bounded connection pool per distinct warehouse connection.
public protocol ConnectorFactory: Sendable {
    /// Throws `Technology.missingConnector` (501) for technologies without a connector.
    func connector(for settings: ConnectionSettings) throws -> any Connector
}
