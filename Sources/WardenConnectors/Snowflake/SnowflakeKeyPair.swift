import Crypto
import CryptoExtras
public import Foundation
public import WardenDomain

/// Key-pair authentication (`SNOWFLAKE_JWT`), as Snowflake's drivers sign in: a JWT signed with the user's RSA private
/// key (RS256), issued by `ACCOUNT.USER.SHA256:<fingerprint>` for `ACCOUNT.USER`, where the fingerprint is the base64
/// SHA-256 of the public key's DER SubjectPublicKeyInfo (what `DESC USER` shows as RSA_PUBLIC_KEY_FP). Valid an hour.
public enum SnowflakeKeyPair {
    /// The JWT for `username` of `account`, signed with the PEM private key (PKCS#8 or PKCS#1, unencrypted, 2048 bits
    /// or more).
    public static func token(privateKeyPEM: String, account: String, username: String, now: Date) throws(WardenError) -> String {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            // The key itself never goes into the message.
            throw WardenError(.badRequest, code: .warehouseAuthenticationFailed,
                              message: "The Snowflake private key is not an unencrypted RSA key of 2048 bits or more in PEM form")
        }
        // The account locator without region or cloud (`xy12345.eu-west-1` → `XY12345`), upper case, as the drivers send it.
        // A global account URL (`name-xyz.global`) keeps what precedes its first dash instead.
        let separator: Character = account.contains(".global") ? "-" : "."
        let accountName = (account.split(separator: separator).first.map(String.init) ?? account).uppercased()
        let subject = "\(accountName).\(username.uppercased())"
        let issued = Int64(now.timeIntervalSince1970)
        let header = #"{"alg":"RS256","typ":"JWT"}"#
        let claims: JSONValue = .object([
            "iss": .string("\(subject).\(fingerprint(of: key.publicKey))"), "sub": .string(subject),
            "iat": .int(issued), "exp": .int(issued + 3600),
        ])
        let body = (try? JSONEncoder().encode(claims)) ?? Data()
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(body)
        do {
            let signature = try key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return signingInput + "." + base64URL(signature.rawRepresentation)
        } catch {
            throw WardenError(.badRequest, code: .warehouseAuthenticationFailed, message: "The Snowflake private key could not sign the sign-in token")
        }
    }

    /// `SHA256:` and the base64 SHA-256 of the public key's DER SubjectPublicKeyInfo.
    static func fingerprint(of publicKey: _RSA.Signing.PublicKey) -> String {
        "SHA256:" + Data(SHA256.hash(data: publicKey.derRepresentation)).base64EncodedString()
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
