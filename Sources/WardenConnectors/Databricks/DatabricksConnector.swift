import Foundation
public import WardenDomain

/// The connector for Databricks SQL warehouses, over the Statement Execution API (`DatabricksClient`). A connection's
/// `database` is the Unity Catalog catalog; the catalog is read from `system.information_schema` (the privilege the
/// specification asks the registering credentials to hold), one query per set of tables. Names go into SQL quoted with
/// backticks, values as named parameters. Native views are not built for Databricks yet: those calls answer 501.
public struct DatabricksConnector: Connector {
    let client: DatabricksClient
    let catalogName: String

    init(client: DatabricksClient, catalog: String) {
        self.client = client
        self.catalogName = catalog
    }

    static let notBuilt = WardenError.notImplemented(
        "Native views are not built for Databricks yet: Warden cannot enforce policies in Databricks in this version",
        code: .connectorNotImplemented)

    /// A table as `` `catalog`.`schema`.`table` ``: backticks, a backtick inside doubled.
    func qualified(_ table: TableReference) -> String {
        [catalogName, table.schema, table.table].map(SQLOverHTTP.Dialect.databricks.quoted).joined(separator: ".")
    }

    public func testConnection() async throws {
        _ = try await client.query("SELECT 1")
    }

    /// `:s0`/`:t0` … conditions for `tables`, with their parameters. Unity Catalog keeps names in lower case and
    /// compares them without case, so the comparison ignores case too.
    static func filter(_ tables: [TableReference]) -> (sql: String, parameters: [String: String]) {
        var parameters: [String: String] = [:]
        let sql = tables.enumerated().map { index, table in
            parameters["s\(index)"] = table.schema.lowercased()
            parameters["t\(index)"] = table.table.lowercased()
            return "(lower(table_schema) = :s\(index) AND lower(table_name) = :t\(index))"
        }.joined(separator: " OR ")
        return (sql, parameters)
    }

    /// `information_schema.columns` of the catalog, in column order, for up to 250 tables a query.
    public func describe(_ tables: [TableReference]) async throws -> [TableReference: [RemoteColumn]] {
        var result: [TableReference: [RemoteColumn]] = [:]
        for chunk in try PostgresConnector.validated(tables).chunks(of: 250) {
            let (condition, parameters) = Self.filter(chunk)
            let asked = Dictionary(chunk.map { (Self.folded($0), $0) }, uniquingKeysWith: { first, _ in first })
            for (table, columns) in try await columns(where: condition, parameters: parameters) {
                result[asked[Self.folded(table)] ?? table] = columns
            }
        }
        return result
    }

    static func folded(_ table: TableReference) -> TableReference {
        TableReference(schema: table.schema.lowercased(), table: table.table.lowercased())
    }

    func columns(where condition: String, parameters: [String: String] = [:]) async throws -> [TableReference: [RemoteColumn]] {
        var parameters = parameters
        parameters["catalog"] = catalogName.lowercased()
        var result: [TableReference: [RemoteColumn]] = [:]
        for row in try await client.query("""
            SELECT table_schema, table_name, column_name, data_type, is_nullable, numeric_precision, numeric_scale
            FROM system.information_schema.columns
            WHERE lower(table_catalog) = :catalog AND lower(table_schema) <> 'information_schema' AND (\(condition))
            ORDER BY table_schema, table_name, ordinal_position
            """, parameters: parameters).rows {
            guard row.count == 7, let schema = row[0], let table = row[1], let name = row[2], let type = row[3] else { continue }
            result[TableReference(schema: schema, table: table), default: []]
                .append(Self.column(name: name, type: type, nullable: row[4], precision: row[5], scale: row[6]))
        }
        return result
    }

    /// A column as Databricks names its type (`INT`, `STRING`, `DECIMAL(10,2)`, `ARRAY<STRING>` …). Databricks' FLOAT
    /// is four bytes, so it maps as `real`.
    static func column(name: String, type: String, nullable: String?, precision: String?, scale: String?) -> RemoteColumn {
        var remoteType = type.uppercased()
        if remoteType == "DECIMAL", let precision { remoteType = "DECIMAL(\(precision),\(scale ?? "0"))" }
        let base = String(remoteType.prefix { $0.isLetter || $0 == "_" }).lowercased()
        return RemoteColumn(name: name, remoteType: remoteType, baseType: base == "float" ? "real" : base, nullable: nullable != "NO")
    }

    public func rowCounts(_ tables: [TableReference]) async throws -> [TableReference: Int64] {
        let tables = try PostgresConnector.validated(tables)
        // Counting a missing table would fail the whole batch: the tables that exist first.
        var existing: Set<TableReference> = []
        for chunk in tables.chunks(of: 250) {
            let (condition, parameters) = Self.filter(chunk)
            let found = try await client.query("""
                SELECT table_schema, table_name FROM system.information_schema.tables WHERE lower(table_catalog) = :catalog AND (\(condition))
                """, parameters: parameters.merging(["catalog": catalogName.lowercased()]) { $1 }).rows
            let present = Set(found.compactMap { row in row.count == 2 ? row[0].flatMap { s in row[1].map { TableReference(schema: s, table: $0) } } : nil }
                .map(Self.folded))
            existing.formUnion(chunk.filter { present.contains(Self.folded($0)) })
        }
        var result: [TableReference: Int64] = [:]
        for chunk in tables.filter(existing.contains).chunks(of: 200) {
            result.merge(SQLOverHTTP.counts(try await client.query(SQLOverHTTP.countQuery(chunk, spelled: qualified)).rows, of: chunk)) { _, new in new }
        }
        return result
    }

    public func highCardinalityColumn(of table: TableReference, columns: [String], rowCount: Int64?) async throws -> String? {
        guard !columns.isEmpty else { return nil }
        let table = try PostgresConnector.validated([table])[0]
        let sql = try SQLOverHTTP.cardinalityQuery(qualified(table), columns: columns, rowCount: rowCount, in: .databricks)
        return SQLOverHTTP.mostDistinct(columns, counts: try await client.query(sql).rows.first ?? [])
    }

    public func distinctValues(of table: TableReference, columns: [String], limit: Int) async throws -> [String: [String]] {
        let table = try PostgresConnector.validated([table])[0]
        var values: [String: [String]] = [:]
        for column in Set(columns).sorted() {
            let sql = try SQLOverHTTP.distinctQuery(qualified(table), column: column, limit: limit, in: .databricks)
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

    /// The catalogs the credentials may use (`system` and the metastore's own left out).
    public func listDatabases() async throws -> [String] {
        try await client.query("""
            SELECT DISTINCT catalog_name FROM system.information_schema.schemata
            WHERE lower(catalog_name) NOT IN ('system', 'information_schema') ORDER BY catalog_name
            """).rows.compactMap { $0.first ?? nil }
    }

    public func catalog() async throws -> RemoteCatalog {
        let schemas = try await listSchemas()
        let tables = try await columns(where: "TRUE")
        return RemoteCatalog(schemas: schemas, fingerprints: tables.mapValues(PostgresConnector.digest), tables: tables)
    }

    /// Databricks has no catalog-row versions to compare: the whole catalog, digested.
    public func catalogFingerprints() async throws -> RemoteCatalog {
        try await catalog()
    }

    public func listSchemas() async throws -> [String] {
        try await client.query("""
            SELECT schema_name FROM system.information_schema.schemata
            WHERE lower(catalog_name) = :catalog AND lower(schema_name) <> 'information_schema' ORDER BY schema_name
            """, parameters: ["catalog": catalogName.lowercased()]).rows.compactMap { $0.first ?? nil }
    }

    public func listTables(schema: String) async throws -> [String] {
        guard SQLIdentifier.isAcceptable(schema) else { throw WarehouseError.invalidIdentifier(schema) }
        return try await client.query("""
            SELECT table_name FROM system.information_schema.tables WHERE lower(table_catalog) = :catalog AND lower(table_schema) = :schema
            ORDER BY table_name
            """, parameters: ["catalog": catalogName.lowercased(), "schema": schema.lowercased()]).rows.compactMap { $0.first ?? nil }
    }
}
