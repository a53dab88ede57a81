import Foundation

/// The SQL a warehouse evaluates for the masks whose results Warden must be able to reproduce or reverse: the keyed
/// hash and the Reversible token. Defined once here, for the views of each dialect and for the tests that check
/// Warden's own implementation (`DataSourceKeys` in WardenStore) against the warehouse's.
public enum MaskSQL {
    /// PostgreSQL with pgcrypto: HMAC-SHA-256 of the text expression `value` keyed with the bytea expression `salt`,
    /// lower-case hex.
    public static func postgresHash(value: String, salt: String) -> String {
        "encode(hmac(convert_to(\(value), 'UTF8'), \(salt), 'sha256'), 'hex')"
    }

    /// PostgreSQL with pgcrypto: the Reversible token of the text expression `value` in `column`, with the keys as
    /// bytea expressions. `base64(iv ‖ AES-256-CBC(key, iv, value))` where `iv` is the first 16 bytes of
    /// `HMAC-SHA-256(macKey, column ‖ 0x00 ‖ value)`; pgcrypto's line breaks are removed.
    public static func postgresReversible(value: String, column: String, encryptionKey: String, macKey: String) -> String {
        let iv = "substring(hmac(convert_to(\(PostgresDialect.literal(column)), 'UTF8') || decode('00', 'hex') || convert_to(\(value), 'UTF8'), "
            + "\(macKey), 'sha256') FROM 1 FOR 16)"
        return "translate(encode(\(iv) || encrypt_iv(convert_to(\(value), 'UTF8'), \(encryptionKey), \(iv), 'aes-cbc/pad:pkcs'), 'base64'), "
            + "E'\\n', '')"
    }
}
