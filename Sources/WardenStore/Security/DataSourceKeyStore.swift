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

    private func stored(_ dataSourceId: Int64) async throws -> DataSourceKeys? {
        let sealed = try await metastore.read { db in
            try await db.raw("SELECT sealed FROM data_source_keys WHERE data_source_id = \(bind: dataSourceId)").first()?.string("sealed")
        }
        guard let sealed else { return nil }
        guard let packed = Data(base64Encoded: try secrets.open(sealed, recordId: Self.recordId(dataSourceId))),
              let keys = DataSourceKeys(packed: packed) else { throw SecretBox.unreadable }
        return keys
    }
}
