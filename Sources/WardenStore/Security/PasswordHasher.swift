import Crypto
import CryptoExtras
import Foundation

/// Salted PBKDF2-HMAC-SHA256. The stored form names its parameters
/// (`pbkdf2-sha256$<rounds>$<salt>$<hash>`) so the cost can rise without invalidating old hashes.
public struct PasswordHasher: Sendable {
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    public static let recommendedRounds = 600_000
    public let rounds: Int

    /// Tests pass a small `rounds` to stay fast; production uses the default.
    public init(rounds: Int = PasswordHasher.recommendedRounds) {
        self.rounds = rounds
    }

    public func hash(_ password: String) throws -> String {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        let derived = try Self.derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(salt.base64EncodedString())$\(derived.base64EncodedString())"
    }

    public func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0,
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])),
              let derived = try? Self.derive(password, salt: salt, rounds: rounds) else { return false }
        return Self.constantTimeEquals(derived, expected)
    }

    /// Spends the same time as a real verification, so unknown users cannot be told apart by timing.
    public func burnVerification() {
        _ = try? Self.derive("", salt: Data(count: 16), rounds: rounds)
    }

    private static func derive(_ password: String, salt: Data, rounds: Int) throws -> Data {
        try KDF.Insecure.PBKDF2.deriveKey(from: Data(password.utf8), salt: salt, using: .sha256,
                                          outputByteCount: 32, unsafeUncheckedRounds: rounds)
            .withUnsafeBytes { Data($0) }
    }

    static func constantTimeEquals(_ lhs: Data, _ rhs: Data) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
