public import Foundation
import SQLKit

extension Date {
    /// Timestamps are stored as milliseconds since 1970 so both dialects sort and compare them alike.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(millis: Int64) {
        self.init(timeIntervalSince1970: Double(millis) / 1000)
    }
}

extension SQLRow {
    func date(_ column: String) throws -> Date { Date(millis: try decode(column: column, as: Int64.self)) }
    func optionalDate(_ column: String) throws -> Date? { try decode(column: column, as: Int64?.self).map(Date.init(millis:)) }
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int64(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func bool(_ column: String) throws -> Bool { try decode(column: column, as: Bool.self) }
}

enum SQLLock {
    /// ` FOR UPDATE` on PostgreSQL, where concurrent writers must be serialised per row; nothing on SQLite, whose
    /// single writer already holds the whole database for the transaction.
    static func forUpdate(_ db: any SQLDatabase) -> SQLQueryString {
        db.dialect.name == "postgresql" ? " FOR UPDATE" : ""
    }
}

enum SQLText {
    /// A `LIKE` pattern matching `text` anywhere, with the pattern characters in `text` escaped (use `ESCAPE '\'`).
    static func containsPattern(_ text: String) -> String {
        "%" + escapeLike(text.lowercased()) + "%"
    }

    static func escapeLike(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}

/// JSON text columns.
enum JSONColumn {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

typealias SQLBindable = any Encodable & Sendable

enum SQLBatch {
    /// Inserts `rows` with multi-row `VALUES` lists, `chunk` rows per statement (both dialects cap bind
    /// parameters), and returns the `RETURNING` rows in order.
    @discardableResult
    static func insert(into table: String, columns: [String], rows: [[SQLBindable]], returning: String? = nil,
                       chunk: Int = 200, on db: any SQLDatabase) async throws -> [any SQLRow] {
        var result: [any SQLRow] = []
        var start = 0
        while start < rows.count {
            let slice = rows[start..<min(start + chunk, rows.count)]
            var query: SQLQueryString = "INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: columns.joined(separator: ", "))) VALUES "
            query = query + slice.map { row -> SQLQueryString in "(\(binds: row))" }.joined(separator: ", ")
            if let returning {
                query = query + " RETURNING \(unsafeRaw: returning)"
                result += try await db.raw(query).all()
            } else {
                try await db.raw(query).run()
            }
            start += chunk
        }
        return result
    }

    /// Splits `values` into `IN (…)` lists of at most `chunk` binds and runs `body` for each.
    static func chunks<T>(_ values: [T], size: Int = 500) -> [[T]] {
        stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min($0 + size, values.count)]) }
    }
}

/// A row whose columns carry a prefix (`u_name`), read as if they did not, so one decoder serves joined queries.
struct PrefixedRow: SQLRow {
    let base: any SQLRow
    let prefix: String

    init(_ base: any SQLRow, _ prefix: String) {
        self.base = base
        self.prefix = prefix
    }

    var allColumns: [String] { base.allColumns.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
    func contains(column: String) -> Bool { base.contains(column: prefix + column) }
    func decodeNil(column: String) throws -> Bool { try base.decodeNil(column: prefix + column) }
    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D { try base.decode(column: prefix + column, as: type) }
}
