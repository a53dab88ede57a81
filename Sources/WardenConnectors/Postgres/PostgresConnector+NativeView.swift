import Foundation
import Logging
import PostgresNIO
public import WardenDomain

/// Native views on PostgreSQL and Redshift, which share the wire protocol but not all SQL: Redshift has no advisory
/// locks, `ON CONFLICT`, arrays in binds, `to_regclass` or jsonb, and its catalog tables cannot be joined with user
/// tables. Each statement below that differs is chosen by `NativeView.warehouse`.
extension PostgresConnector {
    public func applyNativeView(_ view: NativeView, keys: NativeViewKeys) async throws -> NativeViewOutcome {
        for name in [view.viewSchema, view.viewName] {
            if let problem = view.problem(withName: name) {
                throw WardenError(.badRequest, code: .warehouseInvalidIdentifier,
                                  message: "\(String(reflecting: name)) cannot name a view on \(view.warehouse.rawValue): it \(problem)")
            }
        }
        return try await run { connection, logger in
            try await connection.query("BEGIN", logger: logger)
            do {
                let outcome = try await NativeViewSession(view: view, connection: connection, logger: logger).apply(keys: keys)
                try await connection.query("COMMIT", logger: logger)
                return outcome
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func nativeViewDrift(_ view: NativeView) async throws -> [String]? {
        try await run { connection, logger -> [String]? in
            try await NativeViewSession(view: view, connection: connection, logger: logger).drift().map { $0.view + $0.access }
        }
    }
}

/// One connection's work on one source's view.
private struct NativeViewSession {
    var view: NativeView
    let connection: PostgresConnection
    let logger: Logger

    var system: String { NativeView.systemSchema }
    var postgres: Bool { view.warehouse == .postgresql }
    var table: String { SQLIdentifier.quoted(view.table.schema) + "." + SQLIdentifier.quoted(view.table.table) }

    func execute(_ sql: String, _ values: [any PostgresEncodable & Sendable] = []) async throws {
        var binds = PostgresBindings()
        for value in values { try binds.append(value) }
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
    }

    func rows<Row: PostgresDecodable>(_ sql: String, _ values: [any PostgresEncodable & Sendable] = [], as: Row.Type) async throws -> [Row] {
        var found: [Row] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds(values)), logger: logger).decode(Row.self) {
            found.append(row)
        }
        return found
    }

    func rows<each Column: PostgresDecodable>(_ sql: String, _ values: [any PostgresEncodable & Sendable] = [],
                                               as: (repeat each Column).Type) async throws -> [(repeat each Column)] {
        var found: [(repeat each Column)] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds(values)), logger: logger)
            .decode((repeat each Column).self) {
            found.append(row)
        }
        return found
    }

    func strings(_ sql: String, _ values: [any PostgresEncodable & Sendable] = []) async throws -> [String?] {
        try await rows(sql, values, as: String?.self)
    }

    /// `names` as a SQL list of literals: Redshift takes no arrays as binds.
    func list(_ names: [String]) -> String {
        names.isEmpty ? "(NULL)" : "(" + names.map(RedshiftDialect.literal).joined(separator: ", ") + ")"
    }

    /// The kind of the relation `schema.name` (`v` for a view), nil when there is none.
    func relationKind(_ schema: String, _ name: String) async throws -> String? {
        try await strings("""
            SELECT CAST(c.relkind AS text) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
            """, [schema, name]).first ?? nil
    }

    /// The roles among `roles` that exist in the warehouse.
    func existingRoles(_ roles: [String]) async throws -> Set<String> {
        let usable = roles.filter { view.problem(withName: $0) == nil }
        guard !usable.isEmpty else { return [] }
        let sql = postgres ? "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)" : "SELECT usename::text FROM pg_user WHERE usename IN \(list(usable))"
        return Set(try await strings(sql, postgres ? [usable] : []).compactMap { $0 })
    }

    // MARK: Apply

    func apply(keys: NativeViewKeys) async throws -> NativeViewOutcome {
        try await checkPrivileges()
        if postgres {
            // One apply at a time per database: instances refreshing views concurrently would race on the schema and rows.
            try await execute("SELECT pg_advisory_xact_lock(\(NativeView.applyLock))")
        }
        for statement in view.setup { try await execute(statement) }
        if !postgres { try await execute("LOCK \(system).views") }
        try await checkName()

        var view = view
        let existing = try await existingRoles(view.subjects.map(\.role))
        let missing = Set(view.subjects.filter(\.subscribed).map(\.role)).subtracting(existing).sorted()
        view.subjects.removeAll { !existing.contains($0.role) }
        try await writeSubjects(view.subjects, keys: keys)

        let hash = view.definitionHash
        // A view altered, dropped or granted by hand is replaced even when Warden's inputs did not change.
        let drifted = !(try await NativeViewSession(view: view, connection: connection, logger: logger).drift()?.view.isEmpty ?? false)
        var current: (hash: String, schema: String, name: String)?
        for row in try await rows("SELECT definition_hash, view_schema, view_name FROM \(system).views WHERE data_source_id = $1",
                                  [view.dataSourceId], as: (String, String, String).self) where try await relationKind(row.1, row.2) == "v" {
            current = row
        }
        guard drifted || current?.hash != hash || current?.schema != view.viewSchema || current?.name != view.viewName else {
            return NativeViewOutcome(viewReplaced: false, grantees: view.grantees, missingRoles: missing)
        }
        if let current, current.schema != view.viewSchema || current.name != view.viewName {
            try await execute("DROP VIEW IF EXISTS \(SQLIdentifier.quoted(current.schema)).\(SQLIdentifier.quoted(current.name))")
        }
        for statement in view.viewStatements { try await execute(statement) }
        if postgres {
            // The definition as PostgreSQL prints it, so that drift detection can tell a view altered by someone else.
            try await execute("""
                INSERT INTO \(system).views (data_source_id, view_schema, view_name, definition_hash, definition)
                VALUES ($1, $2, $3, $4, pg_get_viewdef($5::regclass))
                ON CONFLICT (data_source_id) DO UPDATE SET view_schema = EXCLUDED.view_schema, view_name = EXCLUDED.view_name,
                    definition_hash = EXCLUDED.definition_hash, definition = EXCLUDED.definition
                """, [view.dataSourceId, view.viewSchema, view.viewName, hash, view.qualifiedView])
        } else {
            try await execute("DELETE FROM \(system).views WHERE data_source_id = $1", [view.dataSourceId])
            try await execute("INSERT INTO \(system).views (data_source_id, view_schema, view_name, definition_hash) VALUES ($1, $2, $3, $4)",
                              [view.dataSourceId, view.viewSchema, view.viewName, hash])
        }
        return NativeViewOutcome(viewReplaced: true, grantees: view.grantees, missingRoles: missing)
    }

    func binds(_ values: [any PostgresEncodable & Sendable]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { try binds.append(value) }
        return binds
    }

    /// Fails with one clear 400 naming every privilege Warden's role lacks for this view, before any DDL.
    func checkPrivileges() async throws {
        // By oid on PostgreSQL (a missing object is NULL, not an error); Redshift's functions take names.
        let schemaCreate = postgres
            ? "(SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = $1)"
            : "CASE WHEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = $1) THEN has_schema_privilege($1, 'CREATE') END"
        let tableSelect = postgres
            ? "(SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $3 AND c.relname = $4)"
            : "CASE WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $3 AND c.relname = $4) "
                + "THEN has_table_privilege(quote_ident($3) || '.' || quote_ident($4), 'SELECT') END"
        let row = try await rows("""
            SELECT CAST(current_user AS text), CAST(current_database() AS text), has_database_privilege(current_database(), 'CREATE'),
                \(schemaCreate), \(schemaCreate.replacingOccurrences(of: "$1", with: "$2")), \(tableSelect),
                \(postgres ? "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto')" : "TRUE")
            """, [view.viewSchema, system, view.table.schema, view.table.table], as: (String, String, Bool, Bool?, Bool?, Bool?, Bool).self)
        guard let (role, database, createInDatabase, createInViewSchema, createInSystem, selectOnTable, pgcrypto) = row.first else { return }
        var lacking: [String] = []
        if selectOnTable == false { lacking.append("SELECT on the table \(view.table)") }
        for (schema, create) in [(view.viewSchema, createInViewSchema), (system, createInSystem)] {
            if create == false { lacking.append("CREATE on the schema \(schema)") }
            if create == nil, !createInDatabase { lacking.append("CREATE on the database \(database) (to create the schema \(schema))") }
        }
        if !pgcrypto, !createInDatabase { lacking.append("CREATE on the database \(database) (to install pgcrypto), or pgcrypto installed there") }
        if selectOnTable == nil {
            throw WardenError(.badRequest, code: .warehouseTableNotFound, message: "The table \(view.table) does not exist in the database \(database)")
        }
        guard lacking.isEmpty else {
            throw WardenError(.badRequest, code: .warehouseMissingPrivileges,
                              message: "Warden's role \(role) lacks privileges to maintain the view \(view.viewSchema).\(view.viewName): "
                                + Array(Set(lacking)).sorted().joined(separator: "; "))
        }
    }

    /// Refuses, before any DDL, a view name that is not Warden's to replace: a table, a view Warden did not make for
    /// this source, or another source's view under a name that differs only in case.
    func checkName() async throws {
        let rows = try await rows("""
            SELECT data_source_id, view_schema, view_name FROM \(system).views
            WHERE lower(view_schema) = lower($1) AND lower(view_name) = lower($2)
            """, [view.viewSchema, view.viewName], as: (Int64, String, String).self)
        let name = "\(view.viewSchema).\(view.viewName)"
        if let other = rows.first(where: { $0.0 != view.dataSourceId }) {
            throw WardenError(.badRequest, code: .warehouseNameTaken,
                              message: "The view \(name) collides with \(other.1).\(other.2), the view of data source \(other.0): "
                                + "names that differ only in case reach the same view")
        }
        let ours = rows.contains { $0.1 == view.viewSchema && $0.2 == view.viewName }
        if let kind = try await relationKind(view.viewSchema, view.viewName), kind != "v" || !ours {
            throw WardenError(.badRequest, code: .warehouseNameTaken,
                              message: "\(name) already exists and is not a view Warden generated for this data source; choose another nativeViewName")
        }
    }

    func writeSubjects(_ subjects: [NativeView.Subject], keys: NativeViewKeys) async throws {
        let id = view.dataSourceId
        if postgres {
            for subject in subjects {
                let attributes = String(decoding: try JSONSerialization.data(withJSONObject: subject.attributes, options: .sortedKeys), as: UTF8.self)
                try await execute("""
                    INSERT INTO \(system).subjects (role_name, username, groups, attributes) VALUES ($1, $2, $3, $4::jsonb)
                    ON CONFLICT (role_name) DO UPDATE SET username = EXCLUDED.username, groups = EXCLUDED.groups, attributes = EXCLUDED.attributes
                    """, [subject.role, subject.username, subject.groups.sorted(), attributes])
            }
            try await execute("""
                INSERT INTO \(system).source_keys (data_source_id, salt, enc_key, mac_key) VALUES ($1, $2, $3, $4)
                ON CONFLICT (data_source_id) DO UPDATE SET salt = EXCLUDED.salt, enc_key = EXCLUDED.enc_key, mac_key = EXCLUDED.mac_key
                """, [id, ByteBuffer(bytes: keys.salt), ByteBuffer(bytes: keys.encryptionKey), ByteBuffer(bytes: keys.macKey)])
        } else {
            for subject in subjects {
                for table in ["subjects", "subject_groups", "subject_attributes"] {
                    try await execute("DELETE FROM \(system).\(table) WHERE role_name = $1", [subject.role])
                }
                try await execute("INSERT INTO \(system).subjects (role_name, username) VALUES ($1, $2)", [subject.role, subject.username])
                for group in Set(subject.groups).sorted() {
                    try await execute("INSERT INTO \(system).subject_groups (role_name, group_name) VALUES ($1, $2)", [subject.role, group])
                }
                for (key, values) in subject.attributes.sorted(by: { $0.key < $1.key }) {
                    for value in Set(values).sorted() {
                        try await execute("INSERT INTO \(system).subject_attributes (role_name, attribute_key, attribute_value) VALUES ($1, $2, $3)",
                                          [subject.role, key, value])
                    }
                }
            }
            try await execute("DELETE FROM \(system).source_keys WHERE data_source_id = $1", [id])
            try await execute("INSERT INTO \(system).source_keys (data_source_id, salt) VALUES ($1, $2)",
                              [id, keys.salt.map { String(format: "%02x", $0) }.joined()])
        }
        try await execute("DELETE FROM \(system).purposes WHERE data_source_id = $1", [id])
        for subject in subjects {
            for purpose in Set(subject.purposes).sorted() {
                try await execute("INSERT INTO \(system).purposes (role_name, data_source_id, purpose) VALUES ($1, $2, $3)", [subject.role, id, purpose])
            }
        }
    }

    // MARK: Drift

    /// `view`: the view missing or altered, or its grants not those of the subscribed roles (a refresh repairs these);
    /// `access`: subscribed roles that can read the raw table (a refresh cannot). Nil: Warden never generated the view.
    /// On Redshift, whose catalog lists no grantees Warden can join, only missing grants are found, not added ones,
    /// and an altered definition is not detected.
    func drift() async throws -> (view: [String], access: [String])? {
        guard try await relationKind(system, "views") != nil,
              let recorded = try await strings("SELECT view_name FROM \(system).views WHERE data_source_id = $1", [view.dataSourceId]).first,
              recorded != nil else {
            return nil
        }
        let name = "\(view.viewSchema).\(view.viewName)"
        guard try await relationKind(view.viewSchema, view.viewName) == "v" else { return (["the view \(name) does not exist"], []) }
        var problems: [String] = []
        let expected = Set(view.grantees)
        if postgres {
            let stored = try await strings("SELECT definition FROM \(system).views WHERE data_source_id = $1", [view.dataSourceId]).first ?? nil
            if try await strings("SELECT pg_get_viewdef($1::regclass)", [view.qualifiedView]).first ?? nil != stored {
                problems.append("the view \(name) was altered outside Warden")
            }
            let granted = Set(try await strings("""
                SELECT grantee::text FROM information_schema.role_table_grants
                WHERE table_schema = $1 AND table_name = $2 AND privilege_type = 'SELECT' AND grantee <> current_user
                """, [view.viewSchema, view.viewName]).compactMap { $0 })
            for role in granted.subtracting(expected).sorted() { problems.append("\(role) may read the view but is not subscribed") }
            for role in expected.subtracting(granted).sorted() { problems.append("\(role) is subscribed but may not read the view") }
            let readers = try await strings("""
                SELECT r.rolname::text FROM pg_roles r WHERE r.rolname = ANY($1) AND has_table_privilege(r.oid, $2, 'SELECT') ORDER BY 1
                """, [expected.sorted(), table]).compactMap { $0 }
            return (problems, readers.map { "\($0) can read the raw table \(view.table), around the view" })
        }
        var readers: [String] = []
        for role in expected.sorted() {
            let literal = RedshiftDialect.literal(role)
            for (view_, raw) in try await rows("""
                SELECT has_table_privilege(\(literal), \(RedshiftDialect.literal(view.qualifiedView)), 'SELECT'),
                       has_table_privilege(\(literal), \(RedshiftDialect.literal(table)), 'SELECT')
                """, as: (Bool, Bool).self) {
                if !view_ { problems.append("\(role) is subscribed but may not read the view") }
                if raw { readers.append("\(role) can read the raw table \(view.table), around the view") }
            }
        }
        return (problems, readers)
    }
}
