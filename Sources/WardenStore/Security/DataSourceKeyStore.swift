public import Foundation
import SQLKit
import WardenDomain

/// Each data source's mask keys (`DataSourceKeys`), made on first use and sealed with the master key.
public struct DataSourceKeyStore: Sendable {
    let metastore: Metastore
    let secrets: SecretBox

    public init(metastore: Metastore, secrets: SecretBox) {
        self.metastore = metastore
        self.secrets = secrets
    }

    static func recordId(_ dataSourceId: Int64) -> String { "data_source_keys:\(dataSourceId)" }

    /// The source's keys, made now when it has none. Two instances asking at once agree: the first insert wins and
    /// both read what it stored.
    public func keys(dataSourceId: Int64, now: Date) async throws -> DataSourceKeys {
        if let keys = try await stored(dataSourceId) { return keys }
        let fresh = DataSourceKeys.generate()
        let sealed = try secrets.seal(fresh.packed.base64EncodedString(), recordId: Self.recordId(dataSourceId))
        try await metastore.write { db in
            try await db.raw("""
                INSERT INTO data_source_keys (data_source_id, sealed, created_at) VALUES (\(bind: dataSourceId), \(bind: sealed), \(bind: now.millis))
                ON CONFLICT (data_source_id) DO NOTHING
                """).run()
        }
        guard let keys = try await stored(dataSourceId) else { throw DataSourceStore.notFound }
        return keys
    }

    /// `keys(dataSourceId:)` for many sources: those stored read in one query per 500, the others made one by one.
    public func keys(dataSourceIds: [Int64], now: Date) async throws -> [Int64: DataSourceKeys] {
        var keys: [Int64: DataSourceKeys] = [:]
        let rows = try await metastore.read { db in
            var rows: [(Int64, String)] = []
            for chunk in SQLBatch.chunks(dataSourceIds) {
                let binds = chunk.map { $0 as SQLBindable }
                for row in try await db.raw("SELECT data_source_id, sealed FROM data_source_keys WHERE data_source_id IN (\(binds: binds))").all() {
                    rows.append((try row.int64("data_source_id"), try row.string("sealed")))
                }
            }
            return rows
        }
        for (id, sealed) in rows { keys[id] = try open(sealed, dataSourceId: id) }
        for id in dataSourceIds where keys[id] == nil { keys[id] = try await self.keys(dataSourceId: id, now: now) }
        return keys
    }

    private func open(_ sealed: String, dataSourceId: Int64) throws -> DataSourceKeys {
        guard let packed = Data(base64Encoded: try secrets.open(sealed, recordId: Self.recordId(dataSourceId))),
              let keys = DataSourceKeys(packed: packed) else { throw SecretBox.unreadable }
        return keys
    }

    private func stored(_ dataSourceId: Int64) async throws -> DataSourceKeys? {
        let sealed = try await metastore.read { db in
            try await db.raw("SELECT sealed FROM data_source_keys WHERE data_source_id = \(bind: dataSourceId)").first()?.string("sealed")
        }
        guard let sealed else { return nil }
        return try open(sealed, dataSourceId: dataSourceId)
    }
}
