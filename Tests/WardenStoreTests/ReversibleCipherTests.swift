import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct ReversibleCipherTests {
    static let keys = DataSourceKeys(salt: Data(repeating: 1, count: 32), encryptionKey: Data((0..<32).map(UInt8.init)),
                                     macKey: Data((32..<64).map(UInt8.init)))
    static let values = ["alice@example.com", "", "Ünïcödé ✓ 𝄞", "a 'quoted'; -- value", String(repeating: "x", count: 1000), "12345"]

    @Test func tokensAreDeterministicPerColumnAndOpenOnlyForTheirColumnAndKeys() {
        let cipher = Self.keys.reversible
        for value in Self.values {
            let token = cipher.encrypt(value, column: "email")
            #expect(token == cipher.encrypt(value, column: "email"))
            #expect(token != cipher.encrypt(value, column: "other"))
            #expect(cipher.decrypt(token, column: "email") == value)
            #expect(cipher.decrypt(token, column: "other") == nil)
            #expect(DataSourceKeys.generate().reversible.decrypt(token, column: "email") == nil)
        }
        #expect(cipher.encrypt("a", column: "email") != cipher.encrypt("b", column: "email"))
    }

    @Test func alteredOrForeignTokensDoNotOpen() throws {
        let cipher = Self.keys.reversible
        let token = cipher.encrypt("alice@example.com", column: "email")
        var bytes = try #require(Data(base64Encoded: token))
        for index in [0, 15, 16, bytes.count - 1] {
            var altered = bytes
            altered[index] ^= 0x01
            #expect(cipher.decrypt(altered.base64EncodedString(), column: "email") == nil, "byte \(index) altered")
        }
        bytes.removeLast(16)
        #expect(cipher.decrypt(bytes.base64EncodedString(), column: "email") == nil)
        for garbage in ["", "not base64!", "AAAA", Data(repeating: 0, count: 48).base64EncodedString(), "WlRObU9ERTVNVE0yTVdabU9XVXdPQT09"] {
            #expect(cipher.decrypt(garbage, column: "email") == nil, "\(garbage)")
        }
        // pgcrypto's base64 breaks lines every 76 characters.
        let long = cipher.encrypt(String(repeating: "y", count: 200), column: "email")
        let wrapped = stride(from: 0, to: long.count, by: 76).map { start in
            String(long.dropFirst(start).prefix(76))
        }.joined(separator: "\n")
        #expect(cipher.decrypt(wrapped, column: "email") == String(repeating: "y", count: 200))
    }

    /// The warehouse computes the masks with pgcrypto (the next issue's views): the same tokens and hashes, and
    /// Warden's decryption opens what PostgreSQL made.
    @Test func postgresPgcryptoComputesTheSameTokensAndHashes() async throws {
        let warehouse = try await TestWarehouse.army()
        try await warehouse.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        let keys = DataSourceKeys.generate()
        func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
        let literals = Self.values.map { "('" + $0.replacingOccurrences(of: "'", with: "''") + "')" }.joined(separator: ", ")
        // The column name itself must be safe in the SQL: it is a literal there.
        let column = "e'mail"
        let reversible = MaskSQL.postgresReversible(value: "v", column: column, encryptionKey: "decode('\(hex(keys.encryptionKey))', 'hex')",
                                                    macKey: "decode('\(hex(keys.macKey))', 'hex')")
        let hash = MaskSQL.postgresHash(value: "v", salt: "decode('\(hex(keys.salt))', 'hex')")
        let rows = try await warehouse.rows("SELECT v, \(reversible), \(hash) FROM (VALUES \(literals)) AS t(v)")
        #expect(rows.count == Self.values.count)
        for row in rows {
            let value = try #require(row[0])
            #expect(row[1] == keys.reversible.encrypt(value, column: column))
            #expect(keys.reversible.decrypt(try #require(row[1]), column: column) == value)
            #expect(row[2] == keys.hash(value))
        }
    }
}
