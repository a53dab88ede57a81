import Crypto
import Foundation

/// Random bearer secrets (API keys, session tokens) and the one-way form they are stored in.
public enum Credentials {
    public static let tokenPrefix = "wt_"
    public static let apiKeyPrefix = "wk_"

    public static func newAPIKey() -> String { apiKeyPrefix + randomString() }
    public static func newToken() -> String { tokenPrefix + randomString() }

    /// The stored form of a credential. The secrets carry 256 random bits, so a fast hash is enough:
    /// a dump of the table yields nothing that can be sent back to the API.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func randomString() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
