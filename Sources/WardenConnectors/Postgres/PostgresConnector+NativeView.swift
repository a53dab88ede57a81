import Foundation
import Logging
import PostgresNIO
public import WardenDomain

/// Native views on PostgreSQL and Redshift, which share the wire protocol but not all SQL: Redshift has no advisory
/// locks, `ON CONFLICT`, arrays in binds, `DO` blocks, `to_regclass` or jsonb, and its catalog tables cannot be joined
/// with user tables. Each statement below that differs is chosen by `NativeView.warehouse`.
///
/// Round trips are what a refresh costs, so on PostgreSQL a batch of views takes a fixed number of them however many
/// views it holds (`applyPostgres`); Redshift's views are applied one by one.
extension PostgresConnector {
    public func applyNativeViews(_ views: [(view: NativeView, keys: NativeViewKeys)]) async throws -> [Result<NativeViewOutcome, WardenError>] {
        guard !views.isEmpty else { return [] }
        let settings = settings
        return try await run { connection, logger in
            func failure(_ error: any Error) -> WardenError {
                error as? WardenError ?? PostgresFailure.wardenError(for: error, settings: settings, connecting: false)
            }
            let warehouse = views[0].view.warehouse
            let sql = SQLRunner(connection: connection, logger: logger)
            do {
                return try await sql.transaction {
                    let lacking = try await NativeViewSession.prepare(warehouse, sql: sql)
                    if warehouse == .postgresql {
                        return try await NativeViewSession.applyPostgres(views, systemLacking: lacking, sql: sql)
                    }
                    var outcomes: [Result<NativeViewOutcome, WardenError>] = []
                    for (view, keys) in views {
                        outcomes.append(.success(try await NativeViewSession(view: view, sql: sql).apply(keys: keys, systemLacking: lacking)))
                    }
                    return outcomes
                }
            } catch where views.count > 1 {
                // A statement failed and took the others' transaction with it: each on its own, so only its view fails.
                var outcomes: [Result<NativeViewOutcome, WardenError>] = []
                for (view, keys) in views {
                    do {
                        outcomes.append(try await sql.transaction {
                            let lacking = try await NativeViewSession.prepare(warehouse, sql: sql)
                            if warehouse == .postgresql {
                                return try await NativeViewSession.applyPostgres([(view, keys)], systemLacking: lacking, sql: sql)[0]
                            }
                            return .success(try await NativeViewSession(view: view, sql: sql).apply(keys: keys, systemLacking: lacking))
                        })
                    } catch {
                        outcomes.append(.failure(failure(error)))
                    }
                }
                return outcomes
            } catch {
                return [.failure(failure(error))]
            }
        }
    }

    public func nativeViewDrift(_ view: NativeView) async throws -> [String]? {
        try await run { connection, logger -> [String]? in
            let session = NativeViewSession(view: view, sql: SQLRunner(connection: connection, logger: logger))
            guard let state = try await session.state(), state.record != nil else { return nil }
            return session.drift(state) + (try await session.rawTableReaders())
        }
    }

    public func withdrawNativeViews(dataSourceIds ids: [Int64], warehouse: NativeView.Warehouse, drop: Bool) async throws -> [Int64: NativeViewWithdrawal] {
        guard !ids.isEmpty else { return [:] }
        let settings = settings
        return try await run { connection, logger in
            let sql = SQLRunner(connection: connection, logger: logger)
            do {
                // The grants go in a transaction of their own, so a view that cannot be dropped (a view of someone
                // else's depends on it) is at least unreadable.
                let revoked = try await sql.transaction { try await NativeViewSession.revokeAll(ids, warehouse, sql: sql) }
                let dropped = drop && revoked != nil ? try await sql.transaction { try await NativeViewSession.dropRecorded(ids, warehouse, sql: sql) } : []
                return Dictionary(uniqueKeysWithValues: ids.map { id in
                    (id, NativeViewWithdrawal(view: revoked?[id]?.view, revoked: revoked?[id]?.revoked ?? [], dropped: dropped.contains(id)))
                })
            } catch {
                throw error as? WardenError ?? PostgresFailure.wardenError(for: error, settings: settings, connecting: false)
            }
        }
    }
}

/// Statements and queries on one connection, with their values bound.
private struct SQLRunner {
    let connection: PostgresConnection
    let logger: Logger

    func transaction<T>(_ body: () async throws -> T) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        do {
            let result = try await body()
            try await connection.query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    func execute(_ sql: String, _ values: [any PostgresEncodable & Sendable] = []) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds(values)), logger: logger)
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

    private func binds(_ values: [any PostgresEncodable & Sendable]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { try binds.append(value) }
        return binds
    }
}

/// Bytes as lower-case hex, as `warden_system` receives keys in batches (PostgreSQL) and stores the salt (Redshift).
private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// One connection's work on one source's view.
private struct NativeViewSession {
    var view: NativeView
    let sql: SQLRunner

    static let system = NativeView.systemSchema
    var system: String { Self.system }
    var postgres: Bool { view.warehouse == .postgresql }
    var table: String { SQLIdentifier.quoted(view.table.schema) + "." + SQLIdentifier.quoted(view.table.table) }
    var name: String { "\(view.viewSchema).\(view.viewName)" }

    /// What Warden found in the warehouse for this view.
    struct State {
        var role: String
        var database: String
        var createInDatabase: Bool
        /// Nil: the schema does not exist.
        var createInViewSchema: Bool?
        /// Nil: the table does not exist.
        var selectOnTable: Bool?
        /// The kind of the relation at the view's name (`v`: a view), nil when there is none.
        var kind: String?
        var definition: String?
        /// Nil when not read (Redshift).
        var grantees: Set<String>?
        var existingRoles: Set<String>
        /// This source's row of `warden_system.views`.
        var record: (hash: String, schema: String, name: String, definition: String?)?
        /// Another source whose view has this name up to case.
        var collision: (id: Int64, schema: String, name: String)?
    }

    /// `names` as a SQL list of literals: Redshift takes no arrays as binds.
    static func list(_ names: [String]) -> String {
        names.isEmpty ? "(NULL)" : "(" + names.map(RedshiftDialect.literal).joined(separator: ", ") + ")"
    }

    /// `relation` (`schema.name`) as a `pg_class` join condition on Redshift, where no catalog function takes a name that may not exist.
    static func relation(_ alias: String, schema: String, name: String) -> String {
        "\(alias).relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = \(schema)) AND \(alias).relname = \(name)"
    }

    // MARK: Once per transaction

    /// Takes the lock that serialises Warden's changes in this database and creates `warden_system` when it is missing
    /// (so a refresh of an unchanged source issues no DDL at all). Returns the privileges Warden's role lacks to
    /// create it (then nothing was done), for each view's error to name with its own.
    static func prepare(_ warehouse: NativeView.Warehouse, sql: SQLRunner) async throws -> [String] {
        let postgres = warehouse == .postgresql
        // One apply at a time per database, from before the schema is looked at: instances refreshing views
        // concurrently would race on creating it and on the rows. Redshift has no advisory lock: its lock is taken below.
        if postgres { try await sql.execute("SELECT pg_advisory_xact_lock(\(NativeView.applyLock))") }
        let tables = postgres ? ["subjects", "purposes", "source_keys", "views"]
            : ["subjects", "subject_groups", "subject_attributes", "purposes", "source_keys", "views"]
        let schemaCreate = postgres
            ? "(SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = '\(system)')"
            : "CASE WHEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = '\(system)') THEN has_schema_privilege('\(system)', 'CREATE') END"
        guard let (_, database, createInDatabase, createInSystem, pgcrypto, present) = try await sql.rows("""
            SELECT CAST(current_user AS text), CAST(current_database() AS text), has_database_privilege(current_database(), 'CREATE'), \(schemaCreate),
                \(postgres ? "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto')" : "TRUE"),
                (SELECT CAST(count(*) AS integer) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = '\(system)' AND c.relname IN \(list(tables)))
            """, as: (String, String, Bool, Bool?, Bool, Int32).self).first else { return [] }
        if Int(present) < tables.count || !pgcrypto {
            var lacking: [String] = []
            if createInSystem == false { lacking.append("CREATE on the schema \(system)") }
            if createInSystem == nil, !createInDatabase { lacking.append("CREATE on the database \(database) (to create the schema \(system))") }
            if !pgcrypto, !createInDatabase { lacking.append("CREATE on the database \(database) (to install pgcrypto), or pgcrypto installed there") }
            guard lacking.isEmpty else { return lacking }
            for statement in NativeView.setup(warehouse) { try await sql.execute(statement) }
        }
        if !postgres { try await sql.execute("LOCK \(system).views") }
        return []
    }

    static func missingPrivileges(role: String, what: String, _ lacking: [String]) -> WardenError {
        WardenError(.badRequest, code: .warehouseMissingPrivileges,
                    message: "Warden's role \(role) lacks privileges to maintain \(what): " + Array(Set(lacking)).sorted().joined(separator: "; "))
    }

    // MARK: Withdrawal

    /// Takes the lock `prepare` takes; false when `warden_system` does not exist (Warden never made a view here).
    static func lockExisting(_ warehouse: NativeView.Warehouse, sql: SQLRunner) async throws -> Bool {
        if warehouse == .postgresql {
            try await sql.execute("SELECT pg_advisory_xact_lock(\(NativeView.applyLock))")
            return try await sql.rows("SELECT to_regclass('\(system).views') IS NOT NULL", as: Bool.self).first ?? false
        }
        let exists = "SELECT EXISTS (SELECT 1 FROM pg_class c WHERE \(relation("c", schema: "'\(system)'", name: "'views'")))"
        guard try await sql.rows(exists, as: Bool.self).first == true else { return false }
        try await sql.execute("LOCK \(system).views")
        return true
    }

    /// `ids` as a SQL list: numbers, safe to inline, and Redshift takes no arrays as binds.
    static func list(_ ids: [Int64]) -> String { "(" + ids.map(String.init).joined(separator: ", ") + ")" }

    /// The views `warden_system.views` records for these sources that still are views, by source.
    static func recordedViews(_ ids: [Int64], _ warehouse: NativeView.Warehouse, sql: SQLRunner) async throws -> [Int64: String] {
        var views: [Int64: String] = [:]
        if warehouse == .postgresql {
            for (id, schema, name) in try await sql.rows("""
                SELECT v.data_source_id, v.view_schema, v.view_name FROM \(system).views v
                JOIN pg_class c ON c.oid = to_regclass(quote_ident(v.view_schema) || '.' || quote_ident(v.view_name)) AND c.relkind = 'v'
                WHERE v.data_source_id IN \(list(ids))
                """, as: (Int64, String, String).self) {
                views[id] = SQLIdentifier.quoted(schema) + "." + SQLIdentifier.quoted(name)
            }
            return views
        }
        // Redshift: no catalog function may meet a name that does not exist, so each is looked up by its parts.
        for (id, schema, name) in try await sql.rows("SELECT data_source_id, view_schema, view_name FROM \(system).views WHERE data_source_id IN \(list(ids))",
                                                     as: (Int64, String, String).self)
            where try await sql.rows("SELECT EXISTS (SELECT 1 FROM pg_class c WHERE \(relation("c", schema: "$1", name: "$2")) AND c.relkind = 'v')",
                                     [schema, name], as: Bool.self).first == true {
            views[id] = SQLIdentifier.quoted(schema) + "." + SQLIdentifier.quoted(name)
        }
        return views
    }

    /// Revokes every grant on the sources' recorded views and deletes their purpose rows; answers each view (quoted)
    /// with the roles revoked. Nil when there is no `warden_system`. On PostgreSQL a fixed number of queries for the
    /// batch, besides the REVOKEs.
    static func revokeAll(_ ids: [Int64], _ warehouse: NativeView.Warehouse, sql: SQLRunner) async throws
        -> [Int64: (view: String, revoked: [String])]? {
        guard try await lockExisting(warehouse, sql: sql) else { return nil }
        try await sql.execute("DELETE FROM \(system).purposes WHERE data_source_id IN \(list(ids))")
        // The next refresh (a restore) then applies the view and its grants whatever its hash, also on Redshift, whose
        // grants a refresh cannot read to see that they are gone.
        try await sql.execute("UPDATE \(system).views SET definition_hash = '' WHERE data_source_id IN \(list(ids))")
        let views = try await recordedViews(ids, warehouse, sql: sql)
        var grantees: [Int64: [String]] = [:]
        if warehouse == .postgresql {
            for (id, role) in try await sql.rows("""
                SELECT DISTINCT v.data_source_id, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE CAST(pg_get_userbyid(a.grantee) AS text) END
                FROM \(system).views v
                JOIN pg_class c ON c.oid = to_regclass(quote_ident(v.view_schema) || '.' || quote_ident(v.view_name)) AND c.relkind = 'v'
                CROSS JOIN LATERAL aclexplode(c.relacl) a
                WHERE v.data_source_id IN \(list(ids)) AND a.grantee <> c.relowner ORDER BY 1, 2
                """, as: (Int64, String).self) {
                grantees[id, default: []].append(role)
            }
        } else {
            // Redshift has no aclexplode: every user who may select, and PUBLIC.
            for (id, view) in views {
                grantees[id] = ["PUBLIC"] + (try await sql.rows("""
                    SELECT CAST(usename AS text) FROM pg_user
                    WHERE usename <> current_user AND has_table_privilege(usename, \(RedshiftDialect.literal(view)), 'SELECT') ORDER BY 1
                    """, as: String.self))
            }
        }
        var revoked: [Int64: (view: String, revoked: [String])] = [:]
        for (id, view) in views {
            for role in grantees[id] ?? [] {
                try await sql.execute("REVOKE ALL ON \(view) FROM \(role == "PUBLIC" ? "PUBLIC" : SQLIdentifier.quoted(role))")
            }
            revoked[id] = (view, grantees[id] ?? [])
        }
        return revoked
    }

    /// Drops the sources' recorded views (those still views) and deletes their `warden_system` rows. Answers the
    /// sources whose view was dropped.
    static func dropRecorded(_ ids: [Int64], _ warehouse: NativeView.Warehouse, sql: SQLRunner) async throws -> Set<Int64> {
        guard try await lockExisting(warehouse, sql: sql) else { return [] }
        let views = try await recordedViews(ids, warehouse, sql: sql)
        for view in views.values { try await sql.execute("DROP VIEW \(view)") }
        for table in ["views", "source_keys", "purposes"] {
            try await sql.execute("DELETE FROM \(system).\(table) WHERE data_source_id IN \(list(ids))")
        }
        return Set(views.keys)
    }

    // MARK: One view

    /// Everything the view's refresh and drift check decide on. Nil when `warden_system` does not exist.
    func state() async throws -> State? {
        if postgres {
            let exists = try await sql.rows("SELECT to_regclass('\(system).views') IS NOT NULL", as: Bool.self).first ?? false
            return try await Self.postgresStates([view], systemExists: exists, sql: sql).first
        }
        // Redshift: its functions take names, and no catalog function may meet a name that does not exist.
        let subjects = view.subjects.map(\.role).filter { view.problem(withName: $0) == nil }
        let schemaCreate = "CASE WHEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = $1) THEN has_schema_privilege($1, 'CREATE') END"
        let tableSelect = "CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE \(Self.relation("c", schema: "$3", name: "$4"))) "
            + "THEN has_table_privilege(quote_ident($3) || '.' || quote_ident($4), 'SELECT') END"
        guard let row = try await sql.rows("""
            SELECT CAST(current_user AS text), CAST(current_database() AS text), has_database_privilege(current_database(), 'CREATE'),
                \(schemaCreate), \(tableSelect), (SELECT CAST(c.relkind AS text) FROM pg_class c WHERE \(Self.relation("c", schema: "$1", name: "$2"))),
                EXISTS (SELECT 1 FROM pg_class c WHERE \(Self.relation("c", schema: "'\(system)'", name: "'views'")))
            """, [view.viewSchema, view.viewName, view.table.schema, view.table.table], as: (String, String, Bool, Bool?, Bool?, String?, Bool).self)
            .first else { return nil }
        let existing = subjects.isEmpty ? [] : try await sql.rows("SELECT CAST(usename AS text) FROM pg_user WHERE usename IN \(Self.list(subjects))",
                                                               as: String.self)
        var state = State(role: row.0, database: row.1, createInDatabase: row.2, createInViewSchema: row.3, selectOnTable: row.4, kind: row.5,
                          definition: nil, grantees: nil, existingRoles: Set(existing))
        guard row.6 else { return state }
        for record in try await sql.rows("""
            SELECT data_source_id, definition_hash, view_schema, view_name, CAST(NULL AS VARCHAR) FROM \(system).views
            WHERE data_source_id = $1 OR (lower(view_schema) = lower($2) AND lower(view_name) = lower($3))
            """, [view.dataSourceId, view.viewSchema, view.viewName], as: (Int64, String, String, String, String?).self) {
            if record.0 == view.dataSourceId {
                state.record = (record.1, record.2, record.3, record.4)
            } else {
                state.collision = (record.0, record.2, record.3)
            }
        }
        return state
    }

    /// What differs from the view Warden maintains, that a refresh repairs.
    func drift(_ state: State) -> [String] { Self.drift(of: view, state) }

    static func drift(of view: NativeView, _ state: State) -> [String] {
        let name = "\(view.viewSchema).\(view.viewName)"
        guard state.kind == "v", let record = state.record, record.schema == view.viewSchema, record.name == view.viewName else {
            return ["the view \(name) does not exist"]
        }
        var problems: [String] = []
        if view.warehouse == .postgresql, state.definition != record.definition { problems.append("the view \(name) was altered outside Warden") }
        let expected = Set(view.grantees).intersection(state.existingRoles)
        if let granted = state.grantees {
            for role in granted.subtracting(expected).sorted() { problems.append("\(role) may read the view but is not subscribed") }
            for role in expected.subtracting(granted).sorted() { problems.append("\(role) is subscribed but may not read the view") }
        }
        return problems
    }

    /// Subscribed roles that can read the raw table around the view: the warehouse administrator's to take away.
    func rawTableReaders() async throws -> [String] {
        let expected = view.grantees.filter { view.problem(withName: $0) == nil }
        guard !expected.isEmpty else { return [] }
        let readers: [String]
        if postgres {
            readers = try await sql.rows("""
                SELECT CAST(r.rolname AS text) FROM pg_roles r WHERE r.rolname = ANY($1) AND has_table_privilege(r.oid, $2, 'SELECT') ORDER BY 1
                """, [expected, table], as: String.self)
        } else {
            var found: [String] = []
            for role in expected where try await sql.rows("SELECT has_table_privilege(\(RedshiftDialect.literal(role)), \(RedshiftDialect.literal(table)), 'SELECT')",
                                                          as: Bool.self).first == true {
                found.append(role)
            }
            readers = found
        }
        return readers.map { "\($0) can read the raw table \(view.table), around the view" }
    }

    /// What a refresh does to one view.
    struct Plan {
        /// The view, its subjects narrowed to the roles that exist.
        var view: NativeView
        var keys: NativeViewKeys
        var hash: String
        /// Empty: the view is current, no DDL.
        var statements: [String]
        var outcome: NativeViewOutcome
    }

    /// Decides, from what the warehouse holds, whether and how the view is replaced; throws (before any DDL) when
    /// Warden's role lacks a privilege or the view's name is not Warden's to use.
    static func decide(_ view: NativeView, keys: NativeViewKeys, state: State, systemLacking: [String]) throws(WardenError) -> Plan {
        let name = "\(view.viewSchema).\(view.viewName)"
        guard let selectOnTable = state.selectOnTable else {
            throw WardenError(.badRequest, code: .warehouseTableNotFound, message: "The table \(view.table) does not exist in the database \(state.database)")
        }
        var lacking = systemLacking
        if !selectOnTable { lacking.append("SELECT on the table \(view.table)") }
        if state.createInViewSchema == false { lacking.append("CREATE on the schema \(view.viewSchema)") }
        if state.createInViewSchema == nil, !state.createInDatabase {
            lacking.append("CREATE on the database \(state.database) (to create the schema \(view.viewSchema))")
        }
        guard lacking.isEmpty else { throw missingPrivileges(role: state.role, what: "the view \(name)", lacking) }
        if let other = state.collision {
            throw WardenError(.badRequest, code: .warehouseNameTaken,
                              message: "The view \(name) collides with \(other.schema).\(other.name), the view of data source \(other.id): "
                                + "names that differ only in case reach the same view")
        }
        let ours = state.record.map { $0.schema == view.viewSchema && $0.name == view.viewName } ?? false
        if let kind = state.kind, kind != "v" || !ours {
            throw WardenError(.badRequest, code: .warehouseNameTaken,
                              message: "\(name) already exists and is not a view Warden generated for this data source; choose another nativeViewName")
        }
        var view = view
        let missing = Set(view.subjects.filter(\.subscribed).map(\.role)).subtracting(state.existingRoles).sorted()
        view.subjects.removeAll { !state.existingRoles.contains($0.role) }
        let hash = view.definitionHash
        // A view altered, dropped or granted by hand is replaced even when Warden's inputs did not change.
        let drifted = !drift(of: view, state).isEmpty
        var statements: [String] = []
        if drifted || state.record?.hash != hash {
            if let record = state.record, record.schema != view.viewSchema || record.name != view.viewName {
                statements.append("DROP VIEW IF EXISTS \(SQLIdentifier.quoted(record.schema)).\(SQLIdentifier.quoted(record.name))")
            }
            statements += view.viewStatements
        }
        return Plan(view: view, keys: keys, hash: hash, statements: statements,
                    outcome: NativeViewOutcome(viewReplaced: !statements.isEmpty, grantees: view.grantees, missingRoles: missing))
    }

    /// One view at a time (Redshift).
    func apply(keys: NativeViewKeys, systemLacking: [String]) async throws -> NativeViewOutcome {
        guard let state = try await state() else { throw WardenError(.internalError, code: .warehouseQueryFailed, message: "The catalog answered nothing") }
        let plan = try Self.decide(view, keys: keys, state: state, systemLacking: systemLacking)
        let view = plan.view
        try await NativeViewSession(view: view, sql: sql).writeRows(keys: keys)
        guard !plan.statements.isEmpty else { return plan.outcome }
        for statement in plan.statements { try await sql.execute(statement) }
        try await sql.execute("DELETE FROM \(system).views WHERE data_source_id = $1", [view.dataSourceId])
        try await sql.execute("INSERT INTO \(system).views (data_source_id, view_schema, view_name, definition_hash) VALUES ($1, $2, $3, $4)",
                          [view.dataSourceId, view.viewSchema, view.viewName, plan.hash])
        return plan.outcome
    }

    // MARK: PostgreSQL, many views at once

    /// The views of one PostgreSQL database in a fixed number of round trips, however many: their state in three
    /// queries, their rows in one statement, the DDL of those that changed in one `DO` block, their records in one
    /// statement. A view refused before any DDL fails alone; the others go on in the same transaction.
    static func applyPostgres(_ views: [(view: NativeView, keys: NativeViewKeys)], systemLacking: [String],
                              sql: SQLRunner) async throws -> [Result<NativeViewOutcome, WardenError>] {
        let states = try await postgresStates(views.map(\.view), systemExists: systemLacking.isEmpty, sql: sql)
        var results: [Result<NativeViewOutcome, WardenError>?] = Array(repeating: nil, count: views.count)
        var plans: [(index: Int, plan: Plan, state: State)] = []
        var names: [String: (id: Int64, schema: String, name: String)] = [:]
        for (index, (view, keys)) in views.enumerated() {
            var state = states[index]
            let folded = NativeView.folded(view.viewSchema, view.viewName)
            // Two views of this batch that differ only in case collide as much as one recorded already does.
            if state.collision == nil, let other = names[folded], other.id != view.dataSourceId { state.collision = other }
            do {
                plans.append((index, try decide(view, keys: keys, state: state, systemLacking: systemLacking), state))
                names[folded] = (view.dataSourceId, view.viewSchema, view.viewName)
            } catch {
                results[index] = .failure(error)
            }
        }
        try await writePostgresRows(plans.map(\.plan), sql: sql)
        let replaced = plans.filter { !$0.plan.statements.isEmpty }
        if !replaced.isEmpty {
            // A role is granted a schema once per batch, not once per view: each grant rewrites the schema's catalog row.
            var seen: Set<String> = []
            let steps = replaced.flatMap { postgresSteps($0.plan, state: $0.state) }.filter { !$0.hasPrefix(Self.schemaGrant) || seen.insert($0).inserted }
            try await sql.execute(doBlock(steps: steps))
            // Each definition as PostgreSQL prints it, so that drift detection can tell a view altered by someone else.
            try await sql.execute("""
                INSERT INTO \(system).views (data_source_id, view_schema, view_name, definition_hash, definition)
                SELECT x.id, x.s, x.n, x.h, pg_get_viewdef(to_regclass(quote_ident(x.s) || '.' || quote_ident(x.n)))
                FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x (id, s, n, h)
                ON CONFLICT (data_source_id) DO UPDATE SET view_schema = EXCLUDED.view_schema, view_name = EXCLUDED.view_name,
                    definition_hash = EXCLUDED.definition_hash, definition = EXCLUDED.definition
                """, [replaced.map(\.plan.view.dataSourceId), replaced.map(\.plan.view.viewSchema), replaced.map(\.plan.view.viewName),
                      replaced.map(\.plan.hash)])
        }
        for (index, plan, _) in plans { results[index] = .success(plan.outcome) }
        return results.map { $0 ?? .failure(WardenError(.internalError, code: .warehouseQueryFailed, message: "The view was not applied")) }
    }

    /// The state of each view (in order), from three queries.
    static func postgresStates(_ views: [NativeView], systemExists: Bool, sql: SQLRunner) async throws -> [State] {
        let relation = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = v.vs AND c.relname = v.vn"
        let rows = try await sql.rows("""
            SELECT CAST(current_user AS text), CAST(current_database() AS text), has_database_privilege(current_database(), 'CREATE'),
                (SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = v.vs),
                (SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = v.ts AND c.relname = v.tn),
                (SELECT CAST(c.relkind AS text) \(relation)),
                (SELECT pg_get_viewdef(c.oid) \(relation) AND c.relkind = 'v'),
                ARRAY(SELECT COALESCE(CAST(r.rolname AS text), 'PUBLIC') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                      aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                      WHERE n.nspname = v.vs AND c.relname = v.vn AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner)
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS v (vs, vn, ts, tn, ord) ORDER BY v.ord
            """, [views.map(\.viewSchema), views.map(\.viewName), views.map(\.table.schema), views.map(\.table.table)],
            as: (String, String, Bool, Bool?, Bool?, String?, String?, [String]).self)
        let roles = Array(Set(views.flatMap { view in view.subjects.map(\.role).filter { view.problem(withName: $0) == nil } }))
        var existing: Set<String> = []
        if !roles.isEmpty {
            for role in try await sql.rows("SELECT CAST(rolname AS text) FROM pg_roles WHERE rolname = ANY($1)", [roles], as: String.self) {
                existing.insert(role)
            }
        }
        var states = rows.map { row in
            State(role: row.0, database: row.1, createInDatabase: row.2, createInViewSchema: row.3, selectOnTable: row.4, kind: row.5,
                  definition: row.6, grantees: Set(row.7), existingRoles: existing)
        }
        guard systemExists else { return states }
        let records = try await sql.rows("""
            SELECT data_source_id, definition_hash, view_schema, view_name, definition FROM \(system).views
            WHERE data_source_id = ANY($1) OR (lower(view_schema), lower(view_name)) IN (SELECT lower(x.s), lower(x.n) FROM unnest($2::text[], $3::text[]) AS x (s, n))
            """, [views.map(\.dataSourceId), views.map(\.viewSchema), views.map(\.viewName)], as: (Int64, String, String, String, String?).self)
        for (index, view) in views.enumerated() {
            let folded = NativeView.folded(view.viewSchema, view.viewName)
            for record in records {
                if record.0 == view.dataSourceId {
                    states[index].record = (record.1, record.2, record.3, record.4)
                } else if NativeView.folded(record.2, record.3) == folded {
                    states[index].collision = (record.0, record.2, record.3)
                }
            }
        }
        return states
    }

    /// Every view's users (their groups, attributes and purposes) and keys, in one statement.
    static func writePostgresRows(_ plans: [Plan], sql: SQLRunner) async throws {
        guard !plans.isEmpty else { return }
        var people: [String: [String: Any]] = [:]
        for subject in plans.flatMap(\.view.subjects) {
            people[subject.role] = ["role_name": subject.role, "username": subject.username, "groups": Set(subject.groups).sorted(),
                                    "attributes": subject.attributes]
        }
        let purposes = plans.flatMap { plan in
            plan.view.subjects.flatMap { subject in Set(subject.purposes).sorted().map { (subject.role, plan.view.dataSourceId, $0) } }
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: people.keys.sorted().compactMap { people[$0] }, options: .sortedKeys),
                          as: UTF8.self)
        try await sql.execute("""
            WITH people AS (
                INSERT INTO \(system).subjects (role_name, username, groups, attributes)
                SELECT p.role_name, p.username, p.groups, p.attributes FROM jsonb_to_recordset($1::jsonb) AS p (role_name text, username text,
                    groups text[], attributes jsonb)
                ON CONFLICT (role_name) DO UPDATE SET username = EXCLUDED.username, groups = EXCLUDED.groups, attributes = EXCLUDED.attributes
                RETURNING 1),
            keys AS (
                INSERT INTO \(system).source_keys (data_source_id, salt, enc_key, mac_key)
                SELECT k.id, decode(k.salt, 'hex'), decode(k.enc, 'hex'), decode(k.mac, 'hex')
                FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS k (id, salt, enc, mac)
                ON CONFLICT (data_source_id) DO UPDATE SET salt = EXCLUDED.salt, enc_key = EXCLUDED.enc_key, mac_key = EXCLUDED.mac_key
                RETURNING 1),
            wanted AS (SELECT w.role_name, w.data_source_id, w.purpose FROM unnest($6::text[], $7::bigint[], $8::text[]) AS w (role_name, data_source_id, purpose)),
            gone AS (
                DELETE FROM \(system).purposes p WHERE p.data_source_id = ANY($2)
                    AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.role_name = p.role_name AND w.data_source_id = p.data_source_id AND w.purpose = p.purpose)
                RETURNING 1)
            INSERT INTO \(system).purposes (role_name, data_source_id, purpose) SELECT w.role_name, w.data_source_id, w.purpose FROM wanted w
            ON CONFLICT DO NOTHING
            """, [json, plans.map(\.view.dataSourceId), plans.map { hex($0.keys.salt) }, plans.map { hex($0.keys.encryptionKey) },
                  plans.map { hex($0.keys.macKey) }, purposes.map(\.0), purposes.map(\.1), purposes.map(\.2)])
    }

    static let schemaGrant = "EXECUTE 'GRANT USAGE ON SCHEMA "

    /// The PL/pgSQL steps that bring one view of a batch to its plan. A view that exists is replaced in place
    /// (`CREATE OR REPLACE VIEW`: its grants, its dependants and its catalog rows stay, which is what makes a
    /// regeneration cheap); only when its columns changed in a way PostgreSQL cannot replace (one dropped, renamed or
    /// retyped: `invalid_table_definition`) is it dropped and made again, in the same subtransaction. Grants then follow
    /// the plan: every subscriber's role is granted, every other role's grant revoked.
    static func postgresSteps(_ plan: Plan, state: State) -> [String] {
        let view = plan.view
        let name = view.qualifiedView
        func execute(_ statement: String) -> String { "EXECUTE \(PostgresDialect.literal(statement));" }
        var steps: [String] = []
        if state.createInViewSchema == nil { steps.append(execute("CREATE SCHEMA IF NOT EXISTS \(SQLIdentifier.quoted(view.viewSchema))")) }
        if let record = state.record, record.schema != view.viewSchema || record.name != view.viewName {
            steps.append(execute("DROP VIEW IF EXISTS \(SQLIdentifier.quoted(record.schema)).\(SQLIdentifier.quoted(record.name))"))
        }
        let definition = view.definition
        let create = "CREATE VIEW \(name) WITH (security_barrier) AS \(definition)"
        let hardened = [execute("REVOKE ALL ON \(name) FROM PUBLIC")]
            + view.grantees.map { execute("GRANT SELECT ON \(name) TO \(SQLIdentifier.quoted($0))") }
        if state.kind == "v", let granted = state.grantees {
            // Replaced in place, the view keeps its grants: only the difference is granted or revoked (each grant
            // rewrites the view's catalog row). Made again, it starts from none.
            steps.append("BEGIN \(execute("CREATE OR REPLACE VIEW \(name) WITH (security_barrier) AS \(definition)")) "
                         + "EXCEPTION WHEN invalid_table_definition THEN \(execute("DROP VIEW \(name)")) \(execute(create)) "
                         + hardened.joined(separator: " ") + " END;")
            for role in granted.subtracting(view.grantees).sorted() {
                steps.append(execute("REVOKE ALL ON \(name) FROM \(role == "PUBLIC" ? "PUBLIC" : SQLIdentifier.quoted(role))"))
            }
            for role in Set(view.grantees).subtracting(granted).sorted() {
                steps.append(execute("GRANT SELECT ON \(name) TO \(SQLIdentifier.quoted(role))"))
            }
        } else {
            if state.kind == "v" { steps.append(execute("DROP VIEW \(name)")) }
            steps.append(execute(create))
            steps += hardened
        }
        for role in view.grantees {
            steps.append(execute("GRANT USAGE ON SCHEMA \(SQLIdentifier.quoted(view.viewSchema)) TO \(SQLIdentifier.quoted(role))"))
        }
        return steps
    }

    /// PL/pgSQL `steps` in one round trip: a `DO` block under a dollar quote that none of them contains.
    static func doBlock(steps: [String]) -> String {
        let body = steps.joined(separator: "\n")
        var tag = "$warden$"
        var counter = 0
        while body.contains(tag) {
            counter += 1
            tag = "$warden\(counter)$"
        }
        return "DO \(tag) BEGIN\n\(body)\nEND \(tag)"
    }

    /// The source's users (their groups, attributes and purposes) and keys, on Redshift, row by row.
    func writeRows(keys: NativeViewKeys) async throws {
        let id = view.dataSourceId
        let subjects = view.subjects
        for subject in subjects {
            for table in ["subjects", "subject_groups", "subject_attributes"] {
                try await sql.execute("DELETE FROM \(system).\(table) WHERE role_name = $1", [subject.role])
            }
            try await sql.execute("INSERT INTO \(system).subjects (role_name, username) VALUES ($1, $2)", [subject.role, subject.username])
            for group in Set(subject.groups).sorted() {
                try await sql.execute("INSERT INTO \(system).subject_groups (role_name, group_name) VALUES ($1, $2)", [subject.role, group])
            }
            for (key, values) in subject.attributes.sorted(by: { $0.key < $1.key }) {
                for value in Set(values).sorted() {
                    try await sql.execute("INSERT INTO \(system).subject_attributes (role_name, attribute_key, attribute_value) VALUES ($1, $2, $3)",
                                      [subject.role, key, value])
                }
            }
        }
        try await sql.execute("DELETE FROM \(system).source_keys WHERE data_source_id = $1", [id])
        try await sql.execute("INSERT INTO \(system).source_keys (data_source_id, salt) VALUES ($1, $2)", [id, hex(keys.salt)])
        try await sql.execute("DELETE FROM \(system).purposes WHERE data_source_id = $1", [id])
        for subject in subjects {
            for purpose in Set(subject.purposes).sorted() {
                try await sql.execute("INSERT INTO \(system).purposes (role_name, data_source_id, purpose) VALUES ($1, $2, $3)", [subject.role, id, purpose])
            }
        }
    }
}
