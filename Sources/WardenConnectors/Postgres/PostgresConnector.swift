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

    public func applyNativeView(_ view: PostgresNativeView, keys: NativeViewKeys) async throws -> NativeViewOutcome {
        for name in [view.viewSchema, view.viewName] {
            if let problem = PostgresNativeView.problem(withName: name) { throw WarehouseError.invalidIdentifier(name + " (\(problem))") }
        }
        return try await run { connection, logger in
            try await connection.query("BEGIN", logger: logger)
            do {
                let outcome = try await Self.apply(view, keys: keys, on: connection, logger: logger)
                try await connection.query("COMMIT", logger: logger)
                return outcome
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func nativeViewDrift(_ view: PostgresNativeView) async throws -> [String]? {
        try await run { connection, logger -> [String]? in
            try await Self.drift(of: view, on: connection, logger: logger).map { $0.view + $0.access }
        }
    }

    /// `view`: the view missing or altered, or its grants not those of the subscribed roles (a refresh repairs these);
    /// `access`: subscribed roles that can read the raw table (a refresh cannot). Nil: Warden never generated the view.
    private static func drift(of view: PostgresNativeView, on connection: PostgresConnection,
                              logger: Logger) async throws -> (view: [String], access: [String])? {
        func strings(_ sql: String, _ values: [any PostgresEncodable & Sendable] = []) async throws -> [String?] {
            var binds = PostgresBindings()
            for value in values { try binds.append(value) }
            var found: [String?] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(String?.self) {
                found.append(value)
            }
            return found
        }
        let system = PostgresNativeView.systemSchema
        guard try await strings("SELECT to_regclass('\(system).views')::text").first ?? nil != nil,
              let stored = try await strings("SELECT definition FROM \(system).views WHERE data_source_id = $1", [view.dataSourceId]).first else {
            return nil
        }
        guard try await strings("SELECT to_regclass($1)::text", [view.qualifiedView]).first ?? nil != nil else {
            return (["the view \(view.viewSchema).\(view.viewName) does not exist"], [])
        }
        var problems: [String] = []
        if try await strings("SELECT pg_get_viewdef($1::regclass)", [view.qualifiedView]).first ?? nil != stored {
            problems.append("the view \(view.viewSchema).\(view.viewName) was altered outside Warden")
        }
        let granted = Set(try await strings("""
            SELECT grantee::text FROM information_schema.role_table_grants
            WHERE table_schema = $1 AND table_name = $2 AND privilege_type = 'SELECT' AND grantee <> current_user
            """, [view.viewSchema, view.viewName]).compactMap { $0 })
        let expected = Set(view.grantees)
        for role in granted.subtracting(expected).sorted() { problems.append("\(role) may read the view but is not subscribed") }
        for role in expected.subtracting(granted).sorted() { problems.append("\(role) is subscribed but may not read the view") }
        let table = SQLIdentifier.quoted(view.table.schema) + "." + SQLIdentifier.quoted(view.table.table)
        let readers = try await strings("""
            SELECT r.rolname::text FROM pg_roles r WHERE r.rolname = ANY($1) AND has_table_privilege(r.oid, $2, 'SELECT') ORDER BY 1
            """, [expected.sorted(), table]).compactMap { $0 }
        return (problems, readers.map { "\($0) can read the raw table \(view.table), around the view" })
    }

    private static func apply(_ view: PostgresNativeView, keys: NativeViewKeys, on connection: PostgresConnection,
                              logger: Logger) async throws -> NativeViewOutcome {
        func execute(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) async throws {
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        }
        // One apply at a time per database: instances refreshing views concurrently would race on the schema and rows.
        try await execute("SELECT pg_advisory_xact_lock(\(PostgresNativeView.applyLock))")
        for statement in PostgresNativeView.setup { try await execute(statement) }
        var view = view
        var roles = PostgresBindings()
        roles.append(view.subjects.map(\.role))
        var existing: Set<String> = []
        for try await role in try await connection.query(PostgresQuery(unsafeSQL: "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)", binds: roles),
                                                         logger: logger).decode(String.self) {
            existing.insert(role)
        }
        let missing = Set(view.subjects.filter(\.subscribed).map(\.role)).subtracting(existing).sorted()
        view.subjects.removeAll { !existing.contains($0.role) }

        let system = PostgresNativeView.systemSchema
        for subject in view.subjects {
            var binds = PostgresBindings()
            binds.append(subject.role)
            binds.append(subject.username)
            binds.append(subject.groups.sorted())
            binds.append(String(decoding: try JSONSerialization.data(withJSONObject: subject.attributes, options: .sortedKeys), as: UTF8.self))
            try await execute("""
                INSERT INTO \(system).subjects (role_name, username, groups, attributes) VALUES ($1, $2, $3, $4::jsonb)
                ON CONFLICT (role_name) DO UPDATE SET username = EXCLUDED.username, groups = EXCLUDED.groups, attributes = EXCLUDED.attributes
                """, binds)
        }
        var source = PostgresBindings()
        source.append(view.dataSourceId)
        try await execute("DELETE FROM \(system).purposes WHERE data_source_id = $1", source)
        for subject in view.subjects {
            for purpose in Set(subject.purposes).sorted() {
                var binds = PostgresBindings()
                binds.append(subject.role)
                binds.append(view.dataSourceId)
                binds.append(purpose)
                try await execute("INSERT INTO \(system).purposes (role_name, data_source_id, purpose) VALUES ($1, $2, $3)", binds)
            }
        }
        var keyBinds = PostgresBindings()
        keyBinds.append(view.dataSourceId)
        keyBinds.append(ByteBuffer(bytes: keys.salt))
        keyBinds.append(ByteBuffer(bytes: keys.encryptionKey))
        keyBinds.append(ByteBuffer(bytes: keys.macKey))
        try await execute("""
            INSERT INTO \(system).source_keys (data_source_id, salt, enc_key, mac_key) VALUES ($1, $2, $3, $4)
            ON CONFLICT (data_source_id) DO UPDATE SET salt = EXCLUDED.salt, enc_key = EXCLUDED.enc_key, mac_key = EXCLUDED.mac_key
            """, keyBinds)

        let hash = view.definitionHash
        // A view altered, dropped or granted by hand is replaced even when Warden's inputs did not change.
        let drifted = !(try await drift(of: view, on: connection, logger: logger)?.view.isEmpty ?? false)
        var current: (hash: String, schema: String, name: String)?
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT v.definition_hash, v.view_schema, v.view_name, to_regclass(quote_ident(v.view_schema) || '.' || quote_ident(v.view_name))::text
            FROM \(system).views v WHERE v.data_source_id = $1
            """, binds: source), logger: logger).decode((String, String, String, String?).self) {
            if row.3 != nil { current = (row.0, row.1, row.2) }
        }
        guard drifted || current?.hash != hash || current?.schema != view.viewSchema || current?.name != view.viewName else {
            return NativeViewOutcome(viewReplaced: false, grantees: view.grantees, missingRoles: missing)
        }
        if let current, current.schema != view.viewSchema || current.name != view.viewName {
            try await execute("DROP VIEW IF EXISTS \(SQLIdentifier.quoted(current.schema)).\(SQLIdentifier.quoted(current.name))")
        }
        for statement in view.viewStatements { try await execute(statement) }
        var record = PostgresBindings()
        record.append(view.dataSourceId)
        record.append(view.viewSchema)
        record.append(view.viewName)
        record.append(hash)
        record.append(view.qualifiedView)
        // The definition as PostgreSQL prints it, so that drift detection can tell a view altered by someone else.
        try await execute("""
            INSERT INTO \(system).views (data_source_id, view_schema, view_name, definition_hash, definition)
            VALUES ($1, $2, $3, $4, pg_get_viewdef($5::regclass))
            ON CONFLICT (data_source_id) DO UPDATE SET view_schema = EXCLUDED.view_schema, view_name = EXCLUDED.view_name,
                definition_hash = EXCLUDED.definition_hash, definition = EXCLUDED.definition
            """, record)
        return NativeViewOutcome(viewReplaced: true, grantees: view.grantees, missingRoles: missing)
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
    private func run<Result: Sendable>(
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
