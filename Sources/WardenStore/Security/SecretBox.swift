import Crypto
public import Foundation
public import WardenDomain

/// Encrypts secrets at rest with AES-256-GCM: a fresh random nonce per value, and the owning
/// record's id as associated data so a ciphertext moved to another record fails to open.
public struct SecretBox: Sendable {
    private static let version = "v1:"
    private let key: SymmetricKey

    /// - Parameter masterKey: exactly 32 bytes.
    public init(masterKey: Data) throws(WardenError) {
        guard masterKey.count == 32 else {
            throw WardenError(.internalError, code: .secretBadKey, message: "The master key must be 32 bytes")
        }
        key = SymmetricKey(data: masterKey)
    }

    public static func generateMasterKey() -> Data {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    public func seal(_ plaintext: String, recordId: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(recordId.utf8))
        return Self.version + box.combined!.base64EncodedString()
    }

    /// Throws when the value was altered, moved to another record, or sealed with another key.
    public func open(_ sealed: String, recordId: String) throws -> String {
        guard sealed.hasPrefix(Self.version),
              let combined = Data(base64Encoded: String(sealed.dropFirst(Self.version.count))) else {
            throw Self.unreadable
        }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let plaintext = try AES.GCM.open(box, using: key, authenticating: Data(recordId.utf8))
            return String(decoding: plaintext, as: UTF8.self)
        } catch {
            throw Self.unreadable
        }
    }

    static let unreadable = WardenError(
        .internalError, code: .secretTampered,
        message: "A stored secret could not be decrypted: it was altered or sealed with another master key")
}
