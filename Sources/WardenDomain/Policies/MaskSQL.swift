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

    /// The characters a regular expression matches when it is one ASCII letter, digit or space, or a bracket
    /// expression of those and ranges between them (`[0-9]`, `[A-Fa-f_ ]`), with their other case when matched
    /// case-insensitively; nil for anything else. Every match of such a pattern is one character of the set, so a
    /// global replacement by one character is `translate`, which PostgreSQL runs without its regular expression engine.
    public static func characterClass(_ pattern: String, caseInsensitive: Bool) -> [Character]? {
        func plain(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == " " || c == "_") }
        var set: [Character] = []
        if pattern.count == 1, let c = pattern.first, plain(c) {
            set = [c]
        } else if pattern.count > 2, pattern.first == "[", pattern.last == "]" {
            let inner = Array(pattern.dropFirst().dropLast())
            var index = 0
            while index < inner.count {
                let c = inner[index]
                guard plain(c) else { return nil }
                if index + 2 < inner.count, inner[index + 1] == "-" {
                    let end = inner[index + 2]
                    guard plain(end), let low = c.asciiValue, let high = end.asciiValue, low <= high,
                          c.isNumber == end.isNumber, c.isUppercase == end.isUppercase, c.isLetter == end.isLetter else { return nil }
                    set += (low...high).map { Character(UnicodeScalar($0)) }
                    index += 3
                } else {
                    set.append(c)
                    index += 1
                }
            }
        } else {
            return nil
        }
        if caseInsensitive { set += set.flatMap { [Character($0.lowercased()), Character($0.uppercased())] } }
        var seen: Set<Character> = []
        return set.filter { seen.insert($0).inserted }
    }
}
