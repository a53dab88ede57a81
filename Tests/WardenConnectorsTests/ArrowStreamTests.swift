import Foundation
import Testing
import WardenConnectors

/// The Arrow IPC reader against streams pyarrow wrote (`Tests/Peers/arrow_fixtures.py`), each with the text every
/// cell must read as, worked out by the script from the values it gave pyarrow.
@Suite struct ArrowStreamTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ArrowFixtures")

    struct Expected: Decodable {
        var fields: [String]
        var rows: [[String?]]
    }

    static func fixture(_ name: String) throws -> (Data, Expected) {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name).arrow"))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtures.appendingPathComponent("\(name).json")))
        return (data, expected)
    }

    @Test(arguments: ["plain", "snowflake", "batches"])
    func everyCellReadsAsPyarrowWasGiven(_ name: String) throws {
        let (data, expected) = try Self.fixture(name)
        let stream = try ArrowStream.read(data)
        #expect(stream.fields.map(\.name) == expected.fields)
        #expect(stream.rows.count == expected.rows.count)
        for (index, (row, wanted)) in zip(stream.rows, expected.rows).enumerated() where row != wanted {
            Issue.record("row \(index): \(row) ≠ \(wanted)")
            break
        }
    }

    @Test func snowflakeMetadataComesThrough() throws {
        let stream = try ArrowStream.read(try Self.fixture("snowflake").0)
        #expect(stream.fields.first?.metadata["logicalType"] == "FIXED" && stream.fields.first?.metadata["scale"] == "2")
        #expect(stream.fields[1].type == .decimal(precision: 38, scale: 4, bits: 128))
        #expect(stream.fields[4].type == .structure && stream.fields[4].children.map(\.name) == ["epoch", "fraction"])
    }

    /// Every prefix of a stream, and streams with bytes flipped, end in an error or a shorter result: never a crash,
    /// never a read outside the bytes.
    @Test func damagedStreamsFailCleanly() throws {
        let (data, _) = try Self.fixture("snowflake")
        let bytes = [UInt8](data)
        for length in stride(from: 0, to: bytes.count, by: 7) {
            _ = try? ArrowStream.read(Data(bytes.prefix(length)))
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var damaged = bytes
            for _ in 0..<Int.random(in: 1...6, using: &generator) { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? ArrowStream.read(Data(damaged), maxRows: 1_000)
        }
        #expect(throws: ArrowStream.Malformed.self) { try ArrowStream.read(Data(bytes.prefix(40))) }
    }
}
