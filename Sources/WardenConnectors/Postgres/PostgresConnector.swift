import Crypto
import Foundation
import Logging
import PostgresNIO
public import WardenDomain

/// The connector for warehouses that speak the PostgreSQL wire protocol: Redshift and PostgreSQL.
///
/// Obtained from `WarehouseConnectors`, which owns the connection pools; each call uses the pool cached
/// for these exact settings (a replaced pool, after a failure or eviction, is picked up transparently).
public struct PostgresConnector: Connector {
    public let settings: ConnectionSettings
    private let pools: WarehouseConnectors

    init(settings: ConnectionSettings, pools: WarehouseConnectors) {
        self.settings = settings
        self.pools = pools
    }

    public func testConnection() async throws {
        _ = try await run { connection, logger in
            try await connection.query("SELECT 1", logger: logger).collect().count
        }
    }

    public func describe(_ tables: [TableReference]) async throws -> [TableReference: [RemoteColumn]] {
        let tables = try Self.validated(tables)
        var result: [TableReference: [RemoteColumn]] = [:]
        for chunk in tables.chunks(of: PostgresCatalogSQL.tablesPerCatalogQuery) {
            let query = PostgresCatalogSQL.describe(chunk)
            let columns = try await run { connection, logger in
                var columns: [TableReference: [RemoteColumn]] = [:]
                let rows = try await connection.query(query, logger: logger)
                for try await (schema, table, name, remoteType, baseType, nullable)
                    in rows.decode((String, String, String, String, String, Bool).self) {
                    columns[TableReference(schema: schema, table: table), default: []].append(
                        RemoteColumn(name: name, remoteType: remoteType, baseType: baseType, nullable: nullable))
                }
                return columns
            }
            result.merge(columns) { _, new in new }
        }
        return result
    }

    public func rowCounts(_ tables: [TableReference]) async throws -> [TableReference: Int64] {
        let tables = try Self.validated(tables)
        // Counting a missing table would fail the whole batch; like `describe`, leave such tables out.
        var existing: [TableReference] = []
        for chunk in tables.chunks(of: PostgresCatalogSQL.tablesPerCatalogQuery) {
            let query = PostgresCatalogSQL.existing(chunk)
            let found = try await run { connection, logger in
                var found: Set<TableReference> = []
                for try await (schema, table) in try await connection.query(query, logger: logger).decode((String, String).self) {
                    found.insert(TableReference(schema: schema, table: table))
                }
                return found
            }
            existing += chunk.filter(found.contains)
        }

        var result: [TableReference: Int64] = [:]
        for chunk in existing.chunks(of: PostgresCatalogSQL.tablesPerCountQuery) {
            let query = PostgresCatalogSQL.rowCounts(chunk)
            let counts = try await run { connection, logger in
                var counts: [Int: Int64] = [:]
                for try await (index, count) in try await connection.query(query, logger: logger).decode((Int, Int64).self) {
                    counts[index] = count
                }
                return counts
            }
            for (index, count) in counts where chunk.indices.contains(index) {
                result[chunk[index]] = count
            }
        }
        return result
    }

    public func highCardinalityColumn(of table: TableReference, columns: [String], rowCount: Int64?) async throws -> String? {
        guard !columns.isEmpty else { return nil }
        let table = try Self.validated([table])[0]
        for column in columns where !SQLIdentifier.isAcceptable(column) {
            throw WarehouseError.invalidIdentifier(column)
        }
        let rows: Int64
        if let rowCount {
            rows = rowCount
        } else {
            rows = try await rowCounts([table])[table] ?? 0
        }

        let query = PostgresCatalogSQL.distinctCounts(of: table, columns: columns, rowCount: rows)
        let counts = try await run { connection, logger in
            var counts: [Int64] = []
            for try await row in try await connection.query(query, logger: logger) {
                counts = try row.map { try $0.decode(Int64.self) }
            }
            return counts
        }
        // The first column with the highest count wins, so ties go to the earlier column.
        var best: (column: String, count: Int64)?
        for (column, count) in zip(columns, counts) where best == nil || count > best!.count {
            best = (column, count)
        }
        return best?.column
    }

    public func distinctValues(of table: TableReference, columns: [String], limit: Int) async throws -> [String: [String]] {
        let table = try Self.validated([table])[0]
        for column in columns where !SQLIdentifier.isAcceptable(column) {
            throw WarehouseError.invalidIdentifier(column)
        }
        var values: [String: [String]] = [:]
        for column in Set(columns).sorted() {
            let query = PostgresCatalogSQL.distinctValues(of: table, column: column, limit: limit + 1)
            values[column] = try await run { connection, logger in
                var found: [String] = []
                for try await value in try await connection.query(query, logger: logger).decode(String.self) { found.append(value) }
                return found
            }
        }
        return values
    }

    public func listDatabases() async throws -> [String] {
        try await run { connection, logger in
            var names: [String] = []
            for try await name in try await connection.query(PostgresCatalogSQL.listDatabases, logger: logger).decode(String.self) {
                names.append(name)
            }
            return names
        }
    }

    public func catalog() async throws -> RemoteCatalog {
        try await readCatalog(columns: true)
    }

    public func catalogFingerprints() async throws -> RemoteCatalog {
        // Redshift has no versions to compare: it reads the whole catalog and digests the columns.
        try await readCatalog(columns: settings.technology == .redshift)
    }

    private func readCatalog(columns: Bool) async throws -> RemoteCatalog {
        let postgres = settings.technology == .postgresql
        return try await run { connection, logger in
            var own: Set<TableReference> = []
            var hasViews = false
            for try await count in try await connection.query(PostgresCatalogSQL.hasWardenViews, logger: logger).decode(Int64.self) { hasViews = count > 0 }
            if hasViews {
                for try await (schema, name) in try await connection.query(PostgresCatalogSQL.wardenViews, logger: logger)
                    .decode((String, String).self) {
                    own.insert(TableReference(schema: schema, table: name))
                }
            }
            var schemas: [String] = []
            for try await schema in try await connection.query(PostgresCatalogSQL.listSchemas, logger: logger).decode(String.self) {
                schemas.append(schema)
            }
            var catalog = RemoteCatalog(schemas: schemas, fingerprints: [:], tables: [:])
            guard columns else {
                for try await (schema, table, classVersion, attributeVersion, count)
                    in try await connection.query(PostgresCatalogSQL.versions, logger: logger).decode((String, String, String, Int64, Int64).self) {
                    let reference = TableReference(schema: schema, table: table)
                    if !own.contains(reference) { catalog.fingerprints[reference] = "\(classVersion).\(attributeVersion).\(count)" }
                }
                return catalog
            }
            var versions: [TableReference: (row: String, newest: Int64, count: Int64)] = [:]
            for try await row in try await connection.query(PostgresCatalogSQL.catalog(postgres: postgres), logger: logger) {
                let cells: (String, String, String?, String?, String?, Bool?)
                var dropped = false
                if postgres {
                    let all = try row.decode((String, String, String?, String?, String?, Bool?, String, Int64?, Bool?).self)
                    cells = (all.0, all.1, all.2, all.3, all.4, all.5)
                    let reference = TableReference(schema: all.0, table: all.1)
                    var version = versions[reference] ?? (all.6, 0, 0)
                    if let attributeVersion = all.7 {
                        version.newest = max(version.newest, attributeVersion)
                        version.count += 1
                    }
                    versions[reference] = version
                    dropped = all.8 ?? false
                } else {
                    cells = try row.decode((String, String, String?, String?, String?, Bool?).self)
                }
                let reference = TableReference(schema: cells.0, table: cells.1)
                if own.contains(reference) { continue }
                catalog.tables[reference] = catalog.tables[reference] ?? []
                guard !dropped, let name = cells.2, let remoteType = cells.3, let baseType = cells.4 else { continue }
                catalog.tables[reference]!.append(RemoteColumn(name: name, remoteType: remoteType, baseType: baseType, nullable: cells.5 ?? true))
            }
            catalog.fingerprints = postgres ? versions.filter { catalog.tables[$0.key] != nil }.mapValues { "\($0.row).\($0.newest).\($0.count)" }
                : catalog.tables.mapValues(Self.digest)
            return catalog
        }
    }

    /// Redshift's fingerprint: MD5 (hex) of the columns' names, types, base types and nullability. A digest to notice
    /// changes, not a secret.
    static func digest(_ columns: [RemoteColumn]) -> String {
        let text = columns.map { [$0.name, $0.remoteType, $0.baseType, $0.nullable ? "y" : "n"].joined(separator: "\u{1F}") }
            .joined(separator: "\u{1E}")
        return Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public func listSchemas() async throws -> [String] {
        try await run { connection, logger in
            var schemas: [String] = []
            for try await schema in try await connection.query(PostgresCatalogSQL.listSchemas, logger: logger).decode(String.self) {
                schemas.append(schema)
            }
            return schemas
        }
    }

    public func listTables(schema: String) async throws -> [String] {
        guard SQLIdentifier.isAcceptable(schema) else { throw WarehouseError.invalidIdentifier(schema) }
        let query = PostgresCatalogSQL.listTables(schema: schema)
        return try await run { connection, logger in
            var tables: [String] = []
            for try await table in try await connection.query(query, logger: logger).decode(String.self) {
                tables.append(table)
            }
            return tables
        }
    }

    /// Runs `body` on a connection of this warehouse's pool. If the pool was retired while the call was
    /// under way (evicted, or replaced after a failure), the call is tried once more on the current pool.
    func run<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let pool = try pools.pool(for: settings)
        do {
            return try await pool.withConnection(body)
        } catch is WardenError where pool.wasEvicted {
            return try await pools.pool(for: settings).withConnection(body)
        }
    }

    /// The tables, each once, in the order given; throws `warehouse.invalid_identifier` for an unusable name.
    static func validated(_ tables: [TableReference]) throws(WardenError) -> [TableReference] {
        var seen: Set<TableReference> = []
        var unique: [TableReference] = []
        for table in tables where seen.insert(table).inserted {
            for name in [table.schema, table.table] where !SQLIdentifier.isAcceptable(name) {
                throw WarehouseError.invalidIdentifier(name)
            }
            unique.append(table)
        }
        return unique
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements, as arrays.
    func chunks(of size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
