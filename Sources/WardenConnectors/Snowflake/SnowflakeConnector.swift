import Foundation
public import WardenDomain

/// The connector for Snowflake, over its connector protocol (`SnowflakeClient`). The catalog is read from the
/// session database's `information_schema`, one query per set of tables; names go into SQL quoted, values bound.
/// Native views are not built for Snowflake yet: those calls answer 501.
public struct SnowflakeConnector: Connector {
    let client: SnowflakeClient
    let database: String

    init(client: SnowflakeClient, database: String) {
        self.client = client
        self.database = database
    }

    static let notBuilt = WardenError.notImplemented(
        "Native views are not built for Snowflake yet: Warden cannot enforce policies in Snowflake in this version",
        code: .connectorNotImplemented)

    public func testConnection() async throws {
        _ = try await client.query("SELECT 1")
    }

    /// `information_schema.columns` in the session's database, in column order, for up to 250 tables a query.
    public func describe(_ tables: [TableReference]) async throws -> [TableReference: [RemoteColumn]] {
        var result: [TableReference: [RemoteColumn]] = [:]
        for chunk in try PostgresConnector.validated(tables).chunks(of: 250) {
            result.merge(try await columns(where: Self.filter(chunk.count), bindings: chunk.flatMap { [$0.schema, $0.table] })) { _, new in new }
        }
        return result
    }

    /// `(table_schema = ? AND table_name = ?) OR …` for `count` tables.
    static func filter(_ count: Int) -> String {
        Array(repeating: "(table_schema = ? AND table_name = ?)", count: count).joined(separator: " OR ")
    }

    /// The columns of the tables `condition` selects from `information_schema.columns`, in column order.
    func columns(where condition: String, bindings: [String] = []) async throws -> [TableReference: [RemoteColumn]] {
        var result: [TableReference: [RemoteColumn]] = [:]
        for row in try await client.query("""
            SELECT table_schema, table_name, column_name, data_type, is_nullable, numeric_precision, numeric_scale, character_maximum_length
            FROM information_schema.columns WHERE \(condition) ORDER BY table_schema, table_name, ordinal_position
            """, bindings: bindings).rows {
            guard row.count == 8, let schema = row[0], let table = row[1], let name = row[2], let type = row[3] else { continue }
            result[TableReference(schema: schema, table: table), default: []].append(Self.column(name: name, type: type, nullable: row[4],
                                                                                                precision: row[5], scale: row[6], length: row[7]))
        }
        return result
    }

    /// A column as Snowflake names its type: `NUMBER(10,2)`, `VARCHAR(40)`, `TIMESTAMP_NTZ` …
    static func column(name: String, type: String, nullable: String?, precision: String?, scale: String?, length: String?) -> RemoteColumn {
        var remoteType = type
        if type == "NUMBER", let precision { remoteType = "NUMBER(\(precision),\(scale ?? "0"))" }
        if type == "TEXT", let length { remoteType = "VARCHAR(\(length))" }
        return RemoteColumn(name: name, remoteType: remoteType, baseType: type.lowercased(), nullable: nullable != "NO")
    }

    public func rowCounts(_ tables: [TableReference]) async throws -> [TableReference: Int64] {
        let tables = try PostgresConnector.validated(tables)
        // Counting a missing table would fail the whole batch: the tables that exist, from the light catalog view.
        var existing: Set<TableReference> = []
        for chunk in tables.chunks(of: 250) {
            for row in try await client.query("SELECT table_schema, table_name FROM information_schema.tables WHERE \(Self.filter(chunk.count))",
                                              bindings: chunk.flatMap { [$0.schema, $0.table] }).rows {
                if row.count == 2, let schema = row[0], let table = row[1] { existing.insert(TableReference(schema: schema, table: table)) }
            }
        }
        var result: [TableReference: Int64] = [:]
        for chunk in tables.filter(existing.contains).chunks(of: 200) {
            result.merge(SQLOverHTTP.counts(try await client.query(SQLOverHTTP.countQuery(chunk, spelled: SQLIdentifier.qualified)).rows, of: chunk)) { _, new in new }
        }
        return result
    }

    public func highCardinalityColumn(of table: TableReference, columns: [String], rowCount: Int64?) async throws -> String? {
        guard !columns.isEmpty else { return nil }
        let table = try PostgresConnector.validated([table])[0]
        let sql = try SQLOverHTTP.cardinalityQuery(SQLIdentifier.qualified(table), columns: columns, rowCount: rowCount, in: .snowflake)
        return SQLOverHTTP.mostDistinct(columns, counts: try await client.query(sql).rows.first ?? [])
    }

    public func distinctValues(of table: TableReference, columns: [String], limit: Int) async throws -> [String: [String]] {
        let table = try PostgresConnector.validated([table])[0]
        var values: [String: [String]] = [:]
        for column in Set(columns).sorted() {
            let sql = try SQLOverHTTP.distinctQuery(SQLIdentifier.qualified(table), column: column, limit: limit, in: .snowflake)
            values[column] = try await client.query(sql).rows.compactMap { $0.first ?? nil }
        }
        return values
    }

    public func applyNativeViews(_ views: [(view: NativeView, keys: NativeViewKeys)]) async throws -> [Result<NativeViewOutcome, WardenError>] {
        views.map { _ in .failure(Self.notBuilt) }
    }

    public func nativeViewDrift(_ view: NativeView) async throws -> [String]? {
        throw Self.notBuilt
    }

    public func withdrawNativeViews(dataSourceIds: [Int64], warehouse: NativeView.Warehouse, drop: Bool) async throws -> [Int64: NativeViewWithdrawal] {
        throw Self.notBuilt
    }

    public func listDatabases() async throws -> [String] {
        try await client.query("SELECT database_name FROM information_schema.databases ORDER BY database_name").rows.compactMap { $0.first ?? nil }
    }

    public func catalog() async throws -> RemoteCatalog {
        let schemas = try await listSchemas()
        let tables = try await columns(where: "table_schema <> 'INFORMATION_SCHEMA'")
        return RemoteCatalog(schemas: schemas, fingerprints: tables.mapValues(PostgresConnector.digest), tables: tables)
    }

    /// Snowflake has no catalog-row versions to compare: the whole catalog, digested.
    public func catalogFingerprints() async throws -> RemoteCatalog {
        try await catalog()
    }

    public func listSchemas() async throws -> [String] {
        try await client.query("""
            SELECT schema_name FROM information_schema.schemata WHERE schema_name <> 'INFORMATION_SCHEMA' ORDER BY schema_name
            """).rows.compactMap { $0.first ?? nil }
    }

    public func listTables(schema: String) async throws -> [String] {
        guard SQLIdentifier.isAcceptable(schema) else { throw WarehouseError.invalidIdentifier(schema) }
        return try await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
                                      bindings: [schema]).rows.compactMap { $0.first ?? nil }
    }
}
