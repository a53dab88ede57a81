public import Foundation
import SQLKit
public import WardenDomain

extension Metastore {
    static let keyCheckSetting = "master_key_check"
    static let keyCheckPlaintext = "warden-master-key-check"

    public static let masterKeyMismatch = WardenError(
        .unavailable, code: .metastoreMasterKeyMismatch,
        message: "This instance's master key is not the one this metastore's secrets were sealed with. Every instance that "
            + "shares a metastore needs the same key (WARDEN_MASTER_KEY, or the same <data-dir>/master.key); refusing to start.")

    /// Checks that `secrets` holds the key this metastore was first used with, so that instances sharing it with
    /// different keys refuse to start instead of failing every warehouse call. The first start records a sealed
    /// check value; a metastore from before the check is verified against a stored handler password instead.
    public func verifyMasterKey(_ secrets: SecretBox, now: Date) async throws {
        let recordId = "metastore:\(Self.keyCheckSetting)"
        try await write { db in
            let stored = try await db.raw("SELECT value FROM metastore_settings WHERE name = \(bind: Self.keyCheckSetting)")
                .first().map { try $0.decode(column: "value", as: String.self) }
            if let stored {
                guard (try? secrets.open(stored, recordId: recordId)) == Self.keyCheckPlaintext else { throw Self.masterKeyMismatch }
                return
            }
            if let handler = try await db.raw("SELECT data_source_id, password_secret FROM data_source_handlers ORDER BY data_source_id LIMIT 1").first() {
                let id = try handler.decode(column: "data_source_id", as: Int64.self)
                guard (try? secrets.open(try handler.decode(column: "password_secret", as: String.self),
                                         recordId: DataSourceStore.secretRecordId(id))) != nil else { throw Self.masterKeyMismatch }
            }
            // Two instances starting at once on an empty metastore: the first insert wins, and the loser checks it.
            let inserted = try await db.raw("""
                INSERT INTO metastore_settings (name, value, updated_at)
                VALUES (\(bind: Self.keyCheckSetting), \(bind: try secrets.seal(Self.keyCheckPlaintext, recordId: recordId)), \(bind: now.millis))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """).all()
            if inserted.isEmpty {
                let winner = try await db.raw("SELECT value FROM metastore_settings WHERE name = \(bind: Self.keyCheckSetting)").first()!
                guard (try? secrets.open(try winner.decode(column: "value", as: String.self), recordId: recordId)) == Self.keyCheckPlaintext else {
                    throw Self.masterKeyMismatch
                }
            }
        }
    }
}
