import Crypto
import CryptoExtras
public import Foundation

/// The Reversible mask: deterministic authenticated encryption of a column's text value, in a form a warehouse can
/// compute with its own functions (PostgreSQL's pgcrypto: `hmac`, `encrypt_iv` with `aes-cbc/pad:pkcs`, `encode`).
///
/// A synthetic IV (as in SIV): `iv = HMAC-SHA-256(macKey, column ‖ 0x00 ‖ value)[0..<16]`, then
/// `token = base64(iv ‖ AES-256-CBC(encryptionKey, iv, value))`. Equal values of one column give equal tokens (so
/// they can still be counted and joined within the source), and opening a token recomputes the IV from the plaintext:
/// a token altered, made with another source's keys or taken from another column does not open.
public struct ReversibleCipher: Sendable {
    let encryptionKey: SymmetricKey
    let macKey: SymmetricKey

    /// - Parameters: `encryptionKey` and `macKey`, 32 bytes each.
    public init(encryptionKey: Data, macKey: Data) {
        precondition(encryptionKey.count == 32 && macKey.count == 32, "Reversible keys are 32 bytes each")
        self.encryptionKey = SymmetricKey(data: encryptionKey)
        self.macKey = SymmetricKey(data: macKey)
    }

    public func encrypt(_ value: String, column: String) -> String {
        let iv = syntheticIV(value: Data(value.utf8), column: column)
        // CBC with PKCS#7 padding fails only on a key or IV of the wrong size, which the initialiser rules out.
        let ciphertext = try! AES._CBC.encrypt(Data(value.utf8), using: encryptionKey, iv: AES._CBC.IV(ivBytes: iv))
        return (iv + ciphertext).base64EncodedString()
    }

    /// The plaintext, or nil when `token` is not a ciphertext of `column` under these keys.
    public func decrypt(_ token: String, column: String) -> String? {
        // pgcrypto's base64 breaks lines every 76 characters; a token may arrive with them.
        guard let bytes = Data(base64Encoded: token.filter { !$0.isWhitespace }), bytes.count >= 32, (bytes.count - 16) % 16 == 0,
              let iv = try? AES._CBC.IV(ivBytes: bytes.prefix(16)),
              let plaintext = try? AES._CBC.decrypt(bytes.dropFirst(16), using: encryptionKey, iv: iv),
              let value = String(data: plaintext, encoding: .utf8) else { return nil }
        let expected = syntheticIV(value: plaintext, column: column)
        // Compared in constant time, as a MAC must be.
        guard expected.count == 16, zip(expected, bytes.prefix(16)).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return value
    }

    private func syntheticIV(value: Data, column: String) -> Data {
        var input = Data(column.utf8)
        input.append(0)
        input.append(value)
        return Data(HMAC<SHA256>.authenticationCode(for: input, using: macKey).prefix(16))
    }
}

/// A data source's mask keys: the salt of its hashing mask and the two keys of its Reversible mask. Random per source,
/// sealed in the metastore with the master key, and never shown.
public struct DataSourceKeys: Sendable, Equatable {
    public let salt: Data
    public let encryptionKey: Data
    public let macKey: Data

    public init(salt: Data, encryptionKey: Data, macKey: Data) {
        self.salt = salt
        self.encryptionKey = encryptionKey
        self.macKey = macKey
    }

    public static func generate() -> DataSourceKeys {
        func random() -> Data { SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) } }
        return DataSourceKeys(salt: random(), encryptionKey: random(), macKey: random())
    }

    public var reversible: ReversibleCipher { ReversibleCipher(encryptionKey: encryptionKey, macKey: macKey) }

    /// The hashing mask: HMAC-SHA-256 of the value with the source's salt, lower-case hex.
    public func hash(_ value: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: salt)).map { String(format: "%02x", $0) }.joined()
    }

    var packed: Data { salt + encryptionKey + macKey }

    init?(packed: Data) {
        guard packed.count == 96 else { return nil }
        let bytes = [UInt8](packed)
        self.init(salt: Data(bytes[0..<32]), encryptionKey: Data(bytes[32..<64]), macKey: Data(bytes[64..<96]))
    }
}
