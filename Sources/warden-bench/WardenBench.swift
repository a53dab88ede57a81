import ArgumentParser
import Foundation
import Logging
import SQLKit
import WardenDomain
import WardenStore

/// Benchmark helpers that work on a metastore directly (see Benchmarks/README.md). Not part of the server.
@main
struct WardenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-bench",
        abstract: "Benchmark helpers for Warden: seed a metastore directly, without a server or a warehouse.",
        subcommands: [Seed.self, RunSQL.self, Decide.self, DecodeArrow.self])
}

/// Inserts N fake data sources through `DataSourceStore.create`, as a registration would store them, but
/// without contacting a warehouse and without queuing jobs.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Insert N data sources (20 dictionary columns each, a fake PostgreSQL handler) owned by a user.")

    @Option(help: "SQLite path or postgres:// URL of the metastore.") var databaseURL: String
    @Option(help: "How many data sources to insert.") var count: Int = 100_000
    @Option(help: "The owner's userid (created, without credentials, when missing).") var adminUserid: String = "admin"
    @Option(help: "Base64 of the 32-byte master key (default: <data-dir>/master.key).") var masterKey: String?
    @Option(help: "Directory holding master.key (default: the SQLite file's directory).") var dataDir: String?
    @Option(help: "Data sources per transaction.") var batchSize: Int = 1_000
    @Option(help: "Number of the first data source (names and tables must not exist yet).") var first: Int = 1

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 10000") }
        guard first > 0 else { throw ValidationError("--first must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "warden-bench")
        logger.logLevel = .warning
        let location = try MetastoreLocation.parse(databaseURL)
        let secrets = try SecretBox(masterKey: try resolveMasterKey(location))

        let metastore = try await Metastore.open(location, logger: logger)
        do {
            try await seed(metastore, secrets: secrets)
        } catch {
            await metastore.close()
            throw error
        }
        await metastore.close()
    }

    private func seed(_ metastore: Metastore, secrets: SecretBox) async throws {
        let applied = try await metastore.migrate()
        if !applied.isEmpty { log("applied migrations: " + applied.joined(separator: ", ")) }

        let identity = IdentityStore(metastore: metastore)
        let owner: User
        if let existing = try await identity.user(userid: adminUserid) {
            owner = existing
        } else {
            owner = try await identity.createUser(
                NewUser(userid: adminUserid, profile: UserProfile(name: "Benchmark Owner"), permissions: Permission.allCases),
                passwordHash: nil, now: Date())
            log("created user \(adminUserid) (id \(owner.id))")
        }

        let store = DataSourceStore(metastore: metastore, secrets: secrets)
        let started = ContinuousClock.now
        var lastReport = started
        var inserted = 0
        var minId = Int64.max
        var maxId = Int64.min
        var index = first
        let end = first + count
        while index < end {
            let upper = min(index + batchSize, end)
            let drafts = try (index..<upper).map(BenchCatalog.draft(number:))
            let sources = try await store.create(drafts, owner: owner.id, jobs: { _ in [] }, now: Date())
            for source in sources {
                minId = min(minId, source.id)
                maxId = max(maxId, source.id)
            }
            inserted += sources.count
            index = upper
            let now = ContinuousClock.now
            if now - lastReport >= .seconds(5) || index == end {
                lastReport = now
                let seconds = Self.seconds(now - started)
                log(String(format: "%ld/%ld data sources (%.1f s, %.0f/s)", inserted, count, seconds, Double(inserted) / seconds))
            }
        }
        let seconds = Self.seconds(ContinuousClock.now - started)
        // Parsed by Benchmarks/search.sh: keep these two lines' shape.
        print(String(format: "seeded %ld data sources in %.1f s (%.0f/s)", inserted, seconds, Double(inserted) / seconds))
        print("ids \(minId)-\(maxId)")
        if maxId - minId + 1 != Int64(inserted) {
            log("warning: the new ids are not contiguous (\(inserted) data sources, ids \(minId)-\(maxId))")
        }
    }

    /// The master key from `--master-key`, or from `<data-dir>/master.key`. Any key will do for a benchmark:
    /// handler passwords are sealed with it but never opened.
    private func resolveMasterKey(_ location: MetastoreLocation) throws -> Data {
        if let masterKey {
            guard let key = Data(base64Encoded: masterKey), key.count == 32 else {
                throw BenchError("--master-key must be the base64 encoding of 32 bytes")
            }
            return key
        }
        var directory = dataDir
        if directory == nil, case .sqlite(let path) = location {
            directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        guard let directory else { throw BenchError("give --master-key or --data-dir (a directory holding master.key)") }
        let path = directory + "/master.key"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError("cannot read \(path); start `warden serve` once with this data dir, or give --master-key")
        }
        guard let key = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 else {
            throw BenchError("\(path) must hold the base64 encoding of 32 bytes")
        }
        return key
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data("warden-bench: \(message)\n".utf8))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Runs one statement through Warden's own metastore driver, so that on SQLite it is planned by the SQLite
/// library linked into `warden` (sqlite-nio's), with the server's connection settings: python's or the
/// system's `sqlite3` may be another version that plans differently.
struct RunSQL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run one statement on the metastore and print its rows (EXPLAIN QUERY PLAN output as a tree).")

    @Option(help: "SQLite path or postgres:// URL of the metastore.") var databaseURL: String
    @Option(name: .customLong("bind"), help: "A value for the next `?` (whole numbers are bound as integers, the rest as text).")
    var binds: [String] = []
    @Option(help: "Run the statement this many times and print the median time.") var runs: Int = 1
    @Argument(help: "The statement, with `?` placeholders (a `?` inside a string literal is not supported).") var sql: String

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
        let placeholders = sql.filter { $0 == "?" }.count
        guard placeholders == binds.count else {
            throw ValidationError("the statement has \(placeholders) placeholder(s) but \(binds.count) --bind value(s)")
        }
    }

    func run() async throws {
        var logger = Logger(label: "warden-bench")
        logger.logLevel = .warning
        let metastore = try await Metastore.open(try MetastoreLocation.parse(databaseURL), logger: logger)
        var query = SQLQueryString("")
        for (index, part) in sql.split(separator: "?", omittingEmptySubsequences: false).enumerated() {
            if index > 0 {
                let value = binds[index - 1]
                if let number = Int64(value) { query.appendInterpolation(bind: number) } else { query.appendInterpolation(bind: value) }
            }
            query.appendLiteral(String(part))
        }
        let statement = query
        do {
            var times: [Double] = []
            var lines: [String] = []
            for _ in 0..<runs {
                let started = ContinuousClock.now
                let rows = try await metastore.read { db in try await db.raw(statement).all() }
                times.append(Seed.seconds(ContinuousClock.now - started) * 1000)
                lines = try Self.render(rows)
            }
            lines.forEach { print($0) }
            if runs > 1 {
                print(String(format: "-- median of %ld runs: %.1f ms", runs, times.sorted()[runs / 2]))
            }
        } catch {
            await metastore.close()
            throw error
        }
        await metastore.close()
    }

    /// EXPLAIN QUERY PLAN rows (id, parent, notused, detail) as an indented tree; other rows tab-separated.
    static func render(_ rows: [any SQLRow]) throws -> [String] {
        guard let first = rows.first else { return ["-- no rows"] }
        if first.allColumns == ["id", "parent", "notused", "detail"] {
            var depth: [Int: Int] = [0: -1]
            return try rows.map { row in
                let id = try row.decode(column: "id", as: Int.self), parent = try row.decode(column: "parent", as: Int.self)
                depth[id] = (depth[parent] ?? -1) + 1
                return String(repeating: "  ", count: max(depth[id]!, 0)) + (try row.decode(column: "detail", as: String.self))
            }
        }
        if rows.count > 1 || first.allColumns.count > 3 {
            return ["-- \(rows.count) row(s)"]
        }
        return [first.allColumns.map { column in
            if (try? first.decodeNil(column: column)) == true { return "NULL" }
            if let value = try? first.decode(column: column, as: Int64.self) { return String(value) }
            if let value = try? first.decode(column: column, as: String.self) { return value }
            return "?"
        }.joined(separator: "\t")]
    }
}

/// The fake catalog: deterministic, varied names so that substring searches have known selectivities.
enum BenchCatalog {
    /// One in ten names starts with each: `searchText=finance` matches 10% of the data sources.
    static let departments = ["Finance", "Marketing", "Sales", "Engineering", "Operations",
                              "Legal", "Support", "Research", "Logistics", "Procurement"]
    static let nouns = ["Orders", "Invoices", "Customers", "Payments", "Shipments", "Campaigns", "Leads", "Contracts",
                        "Tickets", "Employees", "Suppliers", "Products", "Budgets", "Forecasts", "Accounts",
                        "Transactions", "Inventory", "Returns", "Sessions", "Events"]
    /// Descriptions use words that share no 3-letter run with the department names or the rare word.
    static let adjectives = ["Curated", "Raw", "Aggregated", "Cleaned", "Staged", "Derived"]
    static let frequencies = ["hourly", "daily", "weekly", "monthly"]
    /// One data source in `rareEvery` is a "Hyperion" table: `searchText=hyperion` matches a handful.
    static let rareWord = "Hyperion"
    static let rareEvery = 5_000

    static let columns: [DictionaryColumn] = [
        ("id", "bigint"), ("created_at", "timestamp with time zone"), ("updated_at", "timestamp with time zone"),
        ("customer_id", "bigint"), ("account_id", "bigint"), ("amount", "numeric"), ("currency", "character varying"),
        ("status", "text"), ("region", "text"), ("country_code", "character"), ("email", "text"), ("phone", "text"),
        ("is_active", "boolean"), ("score", "double precision"), ("quantity", "integer"), ("notes", "text"),
        ("event_date", "date"), ("payload", "jsonb"), ("external_ref", "uuid"), ("tags", "text[]"),
    ].map { name, type in
        DictionaryColumn(name: name, dataType: apiType(type), remoteType: type, nullable: name != "id")
    }

    static func apiType(_ remoteType: String) -> String {
        switch remoteType {
        case "bigint", "integer": "integer"
        case "numeric", "double precision": "float"
        case "boolean": "boolean"
        case "date": "date"
        case "timestamp with time zone": "timestamp"
        case "jsonb": "json"
        case "text[]": "array"
        default: "text"
        }
    }

    /// Data source number `n` (1-based), a pure function of `n`: names, SQL names and remote tables are unique.
    static func draft(number n: Int) throws -> DataSourceDraft {
        var random = SplitMix64(seed: UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
        let department = departments[n % departments.count]
        let noun = nouns[Int(random.next() % UInt64(nouns.count))]
        let rare = n % rareEvery == 0 ? " \(rareWord)" : ""
        let name = "\(department) \(noun)\(rare) \(n)"
        let schema = "bench_" + department.lowercased()
        let table = "\(noun.lowercased())_\(n)"
        let object: [String: JSONValue] = [
            "hostname": .string("bench.invalid"), "port": .int(5432), "database": .string("warehouse"),
            "username": .string("bench"), "password": .string("not-a-real-password"),
            "schema": .string(schema), "table": .string(table),
            "dataSourceName": .string(name), "bodataTableName": .string("\(schema)_\(table)"),
            "bodataSchemaName": .string(schema), "schemaProjectName": .string("Bench \(department)"),
        ]
        let metadata = try HandlerMetadata.parse(object, path: "seed[\(n)]", technology: .postgresql, passwordRequired: true)
        let names = DataSourceNames(metadata: metadata, template: NameTemplate())
        let description = "\(adjectives[Int(random.next() % UInt64(adjectives.count))]) \(noun.lowercased()) extract, refreshed "
            + frequencies[Int(random.next() % UInt64(frequencies.count))]
        let settings = DataSourceSettings(isPrivate: random.next() % 10 == 0, type: "queryable", organization: "Bench Corp",
                                          category: department, description: description, hasExamples: false)
        return DataSourceDraft(names: names, technology: .postgresql, settings: settings, metadata: metadata,
                               columns: columns, rowCount: Int64(random.next() % 10_000_000))
    }
}

/// A failure explained in plain words, without usage text.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

