import PostgresNIO
import WardenDomain

/// The SQL the PostgreSQL connector sends, written for the dialect Redshift shares with PostgreSQL 8.0:
/// no `unnest`, no array parameters, no `LATERAL`, no `::regclass` tricks; catalog joins and bound
/// parameters only. Names that must appear in SQL text are validated and quoted by the caller.
enum PostgresCatalogSQL {
    /// Tables per catalog query: two parameters each, far below the protocol's 65,535.
    static let tablesPerCatalogQuery = 500
    /// `COUNT(*)` branches per `UNION ALL` row-count query.
    static let tablesPerCountQuery = 200
    /// Up to this many rows the distinct counts read the whole table; beyond it, a random sample of about this size.
    static let cardinalitySampleRows: Int64 = 100_000

    /// Relation kinds Warden describes: ordinary, views, materialized views, foreign and partitioned tables.
    static let relationKinds = "c.relkind IN ('r', 'v', 'm', 'f', 'p')"

    /// `((n.nspname = $1 AND c.relname = $2) OR …)` with the names bound in order.
    static func tableFilter(_ tables: [TableReference]) -> (sql: String, binds: PostgresBindings) {
        var binds = PostgresBindings(capacity: tables.count * 2)
        var conditions: [String] = []
        conditions.reserveCapacity(tables.count)
        for (index, table) in tables.enumerated() {
            binds.append(table.schema)
            binds.append(table.table)
            conditions.append("(n.nspname = $\(2 * index + 1) AND c.relname = $\(2 * index + 2))")
        }
        return ("(" + conditions.joined(separator: " OR ") + ")", binds)
    }

    /// Every column of the given tables in catalog order: schema, table, column, `format_type` (the
    /// warehouse's own spelling, with typmods), the base type name (a domain's underlying type) and
    /// whether it may be null.
    static func describe(_ tables: [TableReference]) -> PostgresQuery {
        let filter = tableFilter(tables)
        return PostgresQuery(unsafeSQL: """
            SELECT n.nspname, c.relname, a.attname,
                   pg_catalog.format_type(a.atttypid, a.atttypmod),
                   CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,
                   NOT a.attnotnull
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
            WHERE a.attnum > 0 AND NOT a.attisdropped AND \(relationKinds) AND \(filter.sql)
            ORDER BY n.nspname, c.relname, a.attnum
            """, binds: filter.binds)
    }

    /// Which of the given tables exist: schema and table name.
    static func existing(_ tables: [TableReference]) -> PostgresQuery {
        let filter = tableFilter(tables)
        return PostgresQuery(unsafeSQL: """
            SELECT n.nspname, c.relname
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE \(relationKinds) AND \(filter.sql)
            """, binds: filter.binds)
    }

    /// `SELECT 0, COUNT(*) FROM "s"."t" UNION ALL SELECT 1, COUNT(*) FROM …`: one row per table, by position.
    static func rowCounts(_ tables: [TableReference]) -> PostgresQuery {
        let branches = tables.enumerated().map { index, table in
            "SELECT CAST(\(index) AS INTEGER), COUNT(*) FROM \(SQLIdentifier.qualified(table))"
        }
        return PostgresQuery(unsafeSQL: branches.joined(separator: "\nUNION ALL\n"))
    }

    /// One row with `COUNT(DISTINCT CAST("c" AS TEXT))` per column, over a random sample when the table is large.
    static func distinctCounts(of table: TableReference, columns: [String], rowCount: Int64) -> PostgresQuery {
        let counts = columns.map { "COUNT(DISTINCT CAST(\(SQLIdentifier.quoted($0)) AS TEXT))" }.joined(separator: ", ")
        var sql = "SELECT \(counts) FROM \(SQLIdentifier.qualified(table))"
        var binds = PostgresBindings()
        if rowCount > cardinalitySampleRows {
            // RANDOM() < f keeps about f of the rows without sorting; TABLESAMPLE is not in Redshift.
            sql += " WHERE RANDOM() < $1"
            binds.append(Double(cardinalitySampleRows) / Double(rowCount))
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// One column's distinct non-null values as text, at most `limit` of them, in order.
    static func distinctValues(of table: TableReference, column: String, limit: Int) -> PostgresQuery {
        let quoted = SQLIdentifier.quoted(column)
        var binds = PostgresBindings()
        binds.append(limit)
        return PostgresQuery(unsafeSQL: """
            SELECT DISTINCT CAST(\(quoted) AS TEXT) AS value FROM \(SQLIdentifier.qualified(table))
            WHERE \(quoted) IS NOT NULL ORDER BY 1 LIMIT $1
            """, binds: binds)
    }

    /// Schemas that hold user data: not the catalogs, TOAST or temporary schemas.
    static let listSchemas = PostgresQuery(unsafeSQL: "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE \(userSchemas) ORDER BY n.nspname")

    static func listTables(schema: String) -> PostgresQuery {
        var binds = PostgresBindings()
        binds.append(schema)
        return PostgresQuery(unsafeSQL: """
            SELECT c.relname
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE \(relationKinds) AND n.nspname = $1
            ORDER BY c.relname
            """, binds: binds)
    }

    /// Every column of every table, view and foreign table of the connected database, in one query, in catalog order;
    /// a relation without columns comes as one row of NULLs. Catalog schemas are left out, and so are partitions: their
    /// partitioned parent stands for them. On PostgreSQL each row also carries what `versions` is made of (the
    /// transaction ids of the relation's catalog rows), dropped columns included, so the two agree; Redshift, which has
    /// neither partitions nor these system columns, gets the plain query.
    static func catalog(postgres: Bool) -> PostgresQuery {
        PostgresQuery(unsafeSQL: """
            SELECT n.nspname, c.relname, a.attname,
                   pg_catalog.format_type(a.atttypid, a.atttypmod),
                   CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,
                   NOT a.attnotnull\(postgres ? ", c.xmin::text, a.xmin::text::bigint, a.attisdropped" : "")
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0\(postgres ? "" : " AND NOT a.attisdropped")
            LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
            WHERE \(relationKinds) AND \(userSchemas)\(postgres ? " AND NOT c.relispartition" : "")
            ORDER BY n.nspname, c.relname, a.attnum
            """)
    }

    /// One row per table with its version (PostgreSQL only): the transaction ids that last wrote its `pg_class` row and
    /// its newest `pg_attribute` row, and how many of those there are. Every change to a column (added, dropped,
    /// renamed, retyped, made nullable) writes a row here, so an equal version means equal columns.
    static let versions = PostgresQuery(unsafeSQL: """
        SELECT n.nspname, c.relname, c.xmin::text, COALESCE(max(a.xmin::text::bigint), 0), count(a.attnum)
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
        WHERE \(relationKinds) AND \(userSchemas) AND NOT c.relispartition
        GROUP BY n.nspname, c.relname, c.xmin::text
        """)

    /// `n.nspname` is a schema of user data (not the catalogs, TOAST, temporary schemas or Warden's own).
    static let userSchemas = """
        n.nspname NOT IN ('pg_catalog', 'information_schema', 'warden_system') \
        AND n.nspname NOT LIKE 'pg!_toast%' ESCAPE '!' AND n.nspname NOT LIKE 'pg!_temp!_%' ESCAPE '!'
        """

    /// The views Warden maintains in this database: a crawl leaves them out. Read only when `hasWardenViews`.
    static let wardenViews = PostgresQuery(unsafeSQL: "SELECT view_schema, view_name FROM warden_system.views")

    /// Whether `warden_system.views` exists, so that reading it cannot fail.
    static let hasWardenViews = PostgresQuery(unsafeSQL: """
        SELECT COUNT(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'warden_system' AND c.relname = 'views'
        """)

    /// The databases the connecting role may connect to.
    static let listDatabases = PostgresQuery(unsafeSQL: """
        SELECT datname FROM pg_catalog.pg_database
        WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT')
        ORDER BY datname
        """)
}
