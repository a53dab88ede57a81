import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import WardenDomain

/// What the connectors that send SQL text over HTTPS (Snowflake, Databricks) share: statements that differ only in how
/// a table is spelled, reading their answers, and sending with retries.
enum SQLOverHTTP {
    /// `SELECT 0, COUNT(*) FROM … UNION ALL SELECT 1, COUNT(*) FROM …`: every table's row count in one statement.
    static func countQuery(_ tables: [TableReference], spelled qualified: (TableReference) -> String) -> String {
        tables.enumerated().map { "SELECT \($0.offset) AS i, COUNT(*) AS n FROM \(qualified($0.element))" }.joined(separator: " UNION ALL ")
    }

    /// The counts `countQuery(tables)` answered, by table.
    static func counts(_ rows: [[String?]], of tables: [TableReference]) -> [TableReference: Int64] {
        var result: [TableReference: Int64] = [:]
        for row in rows {
            guard row.count == 2, let index = row[0].flatMap(Int.init), tables.indices.contains(index), let count = row[1].flatMap(Int64.init) else {
                continue
            }
            result[tables[index]] = count
        }
        return result
    }

    /// How a warehouse spells what these statements need.
    struct Dialect: Sendable {
        let quoted: @Sendable (String) -> String
        /// The type every value casts to as text.
        let text: String
        /// A clause that samples 100,000 rows of a table.
        let sample: String

        static let snowflake = Dialect(quoted: SQLIdentifier.quoted, text: "TEXT", sample: "SAMPLE (100000 ROWS)")
        static let databricks = Dialect(quoted: { "`" + $0.replacingOccurrences(of: "`", with: "``") + "`" }, text: "STRING",
                                        sample: "TABLESAMPLE (100000 ROWS)")
    }

    /// One row of distinct counts of `columns` in `table` (spelled), sampled when the table is large, as the PostgreSQL
    /// connector samples; throws for a column name that cannot be used.
    static func cardinalityQuery(_ table: String, columns: [String], rowCount: Int64?, in dialect: Dialect) throws(WardenError) -> String {
        for column in columns where !SQLIdentifier.isAcceptable(column) { throw WarehouseError.invalidIdentifier(column) }
        let counts = columns.map { "COUNT(DISTINCT CAST(\(dialect.quoted($0)) AS \(dialect.text)))" }.joined(separator: ", ")
        return "SELECT \(counts) FROM \(table)" + ((rowCount ?? 0) > 100_000 ? " \(dialect.sample)" : "")
    }

    /// At most `limit + 1` distinct non-null values of `column` in `table` (spelled), as text; throws for a column name
    /// that cannot be used.
    static func distinctQuery(_ table: String, column: String, limit: Int, in dialect: Dialect) throws(WardenError) -> String {
        guard SQLIdentifier.isAcceptable(column) else { throw WarehouseError.invalidIdentifier(column) }
        let quoted = dialect.quoted(column)
        return """
            SELECT DISTINCT CAST(\(quoted) AS \(dialect.text)) AS value FROM \(table)
            WHERE \(quoted) IS NOT NULL ORDER BY 1 LIMIT \(max(0, limit + 1))
            """
    }

    /// The column with the most distinct values (the first on a tie), from one row of counts in `columns`' order.
    static func mostDistinct(_ columns: [String], counts row: [String?]) -> String? {
        var best: (column: String, count: Int64)?
        for (column, cell) in zip(columns, row) {
            let count = cell.flatMap(Int64.init) ?? 0
            if best == nil || count > best!.count { best = (column, count) }
        }
        return best?.column
    }

    /// A JSON cell as text: strings as they are, numbers and booleans spelled, anything else nil.
    static func text(_ cell: JSONValue) -> String? {
        switch cell {
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): String(number)
        default: nil
        }
    }

    static func object(_ data: Data) -> [String: JSONValue]? {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        return object
    }

    static let retryable: Set<UInt> = [429, 503]

    /// Sends `request`, retrying 429 and 503 (after `Retry-After`, else with exponential backoff) up to five tries; a
    /// request that gets no answer throws `warehouse.unreachable` naming `service` (`Snowflake at host:port`).
    static func send(_ request: HTTPClientRequest, on http: HTTPClient, timeout: TimeAmount, logger: Logger,
                     service: String) async throws -> (status: UInt, body: Data) {
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: timeout, logger: logger)
            } catch {
                let reason = error is HTTPClientError ? "\(error)" : String(describing: type(of: error))
                throw WardenError(.unavailable, code: .warehouseUnreachable, message: "\(service) could not be reached (\(reason))")
            }
            let body = Data(buffer: try await response.body.collect(upTo: 256 * 1024 * 1024))
            if retryable.contains(response.status.code), attempt < 5 {
                let delay = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 0.2 * pow(2, Double(attempt - 1))
                try await Task.sleep(for: .milliseconds(Int(min(delay, 30) * 1000)))
                continue
            }
            return (response.status.code, body)
        }
    }
}
