public import Foundation

/// A bounded reader of the Arrow IPC streaming format (https://arrow.apache.org/docs/format/Columnar.html), for the
/// query results Snowflake sends as `rowsetBase64`. It reads a schema message and its record batches, with the
/// layouts Snowflake uses: integers, floating point, decimals, UTF-8, booleans, dates, times, timestamps (plain, or
/// Snowflake's struct of epoch and fraction) and binary. Every cell comes out as text, as Snowflake's JSON rowset
/// would carry it (numbers with their scale applied, dates as `YYYY-MM-DD`, timestamps in ISO 8601, UTC), or nil.
/// Every offset and length is checked against the bytes: a malformed stream is an error, never a crash.
public struct ArrowStream: Sendable {
    public indirect enum ArrowType: Sendable, Equatable {
        case null
        case int(bits: Int, signed: Bool)
        case float(bits: Int)
        case utf8, largeUtf8, binary, bool
        case decimal(precision: Int, scale: Int, bits: Int)
        /// `milliseconds`: Date64; otherwise days (Date32).
        case date(milliseconds: Bool)
        /// Units per second: 1, 1,000, 1,000,000 or 1,000,000,000.
        case time(unitsPerSecond: Int64, bits: Int)
        case timestamp(unitsPerSecond: Int64, timezone: String?)
        case structure
        case unsupported(Int)
    }

    public struct Field: Sendable, Equatable {
        public var name: String
        public var nullable: Bool
        public var type: ArrowType
        public var children: [Field]
        /// Snowflake's `logicalType`, `scale`, `precision` and the like.
        public var metadata: [String: String]
    }

    public var fields: [Field] = []
    /// Row by row, one text (or nil) per field.
    public var rows: [[String?]] = []

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a whole stream. `maxRows` bounds what a result may hold.
    public static func read(_ data: Data, maxRows: Int = 10_000_000) throws -> ArrowStream {
        let bytes = [UInt8](data)
        var stream = ArrowStream()
        var position = 0
        var schemaSeen = false
        while position < bytes.count {
            var length = try Self.int32(bytes, at: position)
            position += 4
            if length == -1 {
                // The continuation marker precedes the metadata length since format version 0.15.
                length = try Self.int32(bytes, at: position)
                position += 4
            }
            guard length > 0 else { break }  // end of stream
            guard length <= bytes.count - position else { throw Malformed(description: "a message runs past the end of the stream") }
            let message = try FlatTable.root(Array(bytes[position..<position + Int(length)]))
            position += Int(length)
            let bodyLength = try message.int64(3)
            guard bodyLength >= 0, bodyLength <= bytes.count - position else { throw Malformed(description: "a message body runs past the end") }
            let body = Array(bytes[position..<position + Int(bodyLength)])
            position += Int(bodyLength)
            switch try message.uint8(1) {
            case 1:
                guard let schema = try message.table(2) else { throw Malformed(description: "a schema message without its schema") }
                stream.fields = try schema.tables(1).map(Self.field)
                schemaSeen = true
            case 3:
                guard schemaSeen, let batch = try message.table(2) else { throw Malformed(description: "a record batch before the schema") }
                try stream.append(batch: batch, body: body, maxRows: maxRows)
            case 2:
                throw Malformed(description: "dictionary-encoded columns are not supported")
            default:
                continue
            }
        }
        return stream
    }

    // MARK: Schema

    static func field(_ table: FlatTable) throws -> Field {
        var metadata: [String: String] = [:]
        for pair in try table.tables(6) {
            if let key = try pair.string(0) { metadata[key] = try pair.string(1) ?? "" }
        }
        let typeTable = try table.table(3)
        let type: ArrowType
        switch try table.uint8(2) {
        case 1: type = .null
        case 2: type = .int(bits: Int(try typeTable?.int32(0) ?? 0), signed: try typeTable?.bool(1) ?? false)
        case 3:
            // Precision: 0 half, 1 single, 2 double; anything else is a damaged schema (an index out of range once).
            let precision = Int(try typeTable?.int16(0) ?? 2)
            guard (0...2).contains(precision) else { throw Malformed(description: "a floating-point column of unknown precision \(precision)") }
            type = .float(bits: [16, 32, 64][precision])
        case 4: type = .binary
        case 5: type = .utf8
        case 6: type = .bool
        case 7: type = .decimal(precision: Int(try typeTable?.int32(0) ?? 0), scale: Int(try typeTable?.int32(1) ?? 0),
                                bits: Int(try typeTable?.int32(2, default: 128) ?? 128))
        case 8: type = .date(milliseconds: try typeTable?.int16(0, default: 1) == 1)
        case 9: type = .time(unitsPerSecond: Self.unitsPerSecond(try typeTable?.int16(0, default: 1) ?? 1), bits: Int(try typeTable?.int32(1, default: 32) ?? 32))
        case 10: type = .timestamp(unitsPerSecond: Self.unitsPerSecond(try typeTable?.int16(0) ?? 0), timezone: try typeTable?.string(1))
        case 13: type = .structure
        case 20: type = .largeUtf8
        case let other: type = .unsupported(Int(other))
        }
        return Field(name: try table.string(0) ?? "", nullable: try table.bool(1), type: type, children: try table.tables(5).map(Self.field),
                     metadata: metadata)
    }

    static func unitsPerSecond(_ unit: Int16) -> Int64 {
        [1, 1_000, 1_000_000, 1_000_000_000][max(0, min(3, Int(unit)))]
    }

    // MARK: Record batches

    /// The buffers of one batch, handed out in the order the fields need them.
    struct Buffers {
        let body: [UInt8]
        let table: FlatTable
        let count: Int
        var next = 0
        var nodes: (table: FlatTable, count: Int)
        var nextNode = 0

        mutating func buffer() throws -> ArraySlice<UInt8> {
            guard next < count else { throw Malformed(description: "a record batch has fewer buffers than its fields need") }
            let offset = try table.structInt64(vector: 2, index: next, size: 16, field: 0)
            let length = try table.structInt64(vector: 2, index: next, size: 16, field: 8)
            next += 1
            guard offset >= 0, length >= 0, offset <= body.count, length <= body.count - Int(offset) else {
                throw Malformed(description: "a buffer lies outside its message body")
            }
            return body[Int(offset)..<Int(offset + length)]
        }

        mutating func node() throws -> (length: Int, nulls: Int) {
            guard nextNode < nodes.count else { throw Malformed(description: "a record batch has fewer nodes than fields") }
            let length = try nodes.table.structInt64(vector: 1, index: nextNode, size: 16, field: 0)
            let nulls = try nodes.table.structInt64(vector: 1, index: nextNode, size: 16, field: 8)
            nextNode += 1
            guard length >= 0, nulls >= 0 else { throw Malformed(description: "a negative length") }
            return (Int(length), Int(nulls))
        }
    }

    mutating func append(batch: FlatTable, body: [UInt8], maxRows: Int) throws {
        let length = try batch.int64(0)
        guard length >= 0, rows.count + Int(length) <= maxRows else { throw Malformed(description: "the result has more than \(maxRows) rows") }
        var buffers = Buffers(body: body, table: batch, count: try batch.vectorCount(2), nodes: (batch, try batch.vectorCount(1)))
        var columns: [[String?]] = []
        for field in fields {
            columns.append(try Self.column(field, rows: Int(length), buffers: &buffers))
        }
        for row in 0..<Int(length) {
            rows.append(columns.map { $0[row] })
        }
    }

    static func column(_ field: Field, rows: Int, buffers: inout Buffers) throws -> [String?] {
        let node = try buffers.node()
        guard node.length == rows else { throw Malformed(description: "column \(field.name) has \(node.length) values for \(rows) rows") }
        let validity = try buffers.buffer()
        func isValid(_ row: Int) throws -> Bool {
            guard node.nulls > 0, !validity.isEmpty else { return true }
            guard row / 8 < validity.count else { throw Malformed(description: "a validity bitmap is too short") }
            return validity[validity.startIndex + row / 8] & (1 << (row % 8)) != 0
        }
        let scale = Int(field.metadata["scale"] ?? "") ?? 0
        // A damaged scale would make each value a string of that many zeros: no real one exceeds 76 digits.
        guard (0...Self.maxScale).contains(scale) else { throw Malformed(description: "column \(field.name) has a scale of \(scale)") }
        switch field.type {
        case .null:
            return Array(repeating: nil, count: rows)
        case .int(let bits, let signed):
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                let value = try integer(values, row, bytes: bits / 8, signed: signed)
                return scale > 0 ? decimalText(digits: String(value.magnitude), negative: value < 0, scale: scale) : String(value)
            }
        case .float(let bits):
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                let raw = try integer(values, row, bytes: bits / 8, signed: false)
                return bits == 64 ? String(Double(bitPattern: UInt64(bitPattern: raw))) : String(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))))
            }
        case .decimal(_, let decimalScale, let bits):
            let values = try buffers.buffer()
            let width = bits / 8
            guard [4, 8, 16, 32].contains(width) else { throw Malformed(description: "a decimal of \(bits) bits") }
            guard (0...Self.maxScale).contains(decimalScale) else { throw Malformed(description: "a decimal with a scale of \(decimalScale)") }
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                guard (row + 1) * width <= values.count else { throw Malformed(description: "a decimal buffer is too short") }
                let (digits, negative) = twosComplementDecimal(Array(values[values.startIndex + row * width..<values.startIndex + (row + 1) * width]))
                return decimalText(digits: digits, negative: negative, scale: decimalScale)
            }
        case .utf8, .binary, .largeUtf8:
            let wide = field.type == .largeUtf8
            let offsets = try buffers.buffer()
            let data = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                let start = Int(try integer(offsets, row, bytes: wide ? 8 : 4, signed: true))
                let end = Int(try integer(offsets, row + 1, bytes: wide ? 8 : 4, signed: true))
                guard start >= 0, start <= end, end <= data.count else { throw Malformed(description: "a string lies outside its data buffer") }
                let slice = data[data.startIndex + start..<data.startIndex + end]
                if field.type == .binary { return slice.map { String(format: "%02X", $0) }.joined() }
                guard let text = String(validating: slice, as: UTF8.self) else { throw Malformed(description: "a string is not UTF-8") }
                return text
            }
        case .bool:
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                guard row / 8 < values.count else { throw Malformed(description: "a boolean buffer is too short") }
                return values[values.startIndex + row / 8] & (1 << (row % 8)) != 0 ? "true" : "false"
            }
        case .date(let milliseconds):
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                let raw = try integer(values, row, bytes: milliseconds ? 8 : 4, signed: true)
                guard milliseconds else { return isoDate(days: raw) }
                let (days, rest) = raw.quotientAndRemainder(dividingBy: 86_400_000)
                return isoDate(days: rest < 0 ? days - 1 : days)
            }
        case .time(let units, let bits):
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                return timeText(try integer(values, row, bytes: bits / 8, signed: true), unitsPerSecond: units)
            }
        case .timestamp(let units, _):
            let values = try buffers.buffer()
            return try (0..<rows).map { row in
                guard try isValid(row) else { return nil }
                return timestampText(try integer(values, row, bytes: 8, signed: true), unitsPerSecond: units)
            }
        case .structure:
            // Snowflake's timestamps: epoch seconds and a nanosecond fraction (and a time zone offset, not applied:
            // the instant is what Warden reads).
            var children: [[String?]] = []
            for child in field.children { children.append(try column(child, rows: rows, buffers: &buffers)) }
            guard field.children.count >= 2, field.children[0].name.lowercased() == "epoch" else {
                throw Malformed(description: "column \(field.name) is a struct Warden does not read")
            }
            return try (0..<rows).map { row in
                guard try isValid(row), let epoch = children[0][row].flatMap({ Int64($0) }) else { return nil }
                let fraction = children[1][row].flatMap { Int64($0) } ?? 0
                guard (0..<1_000_000_000).contains(fraction) else { throw Malformed(description: "a timestamp fraction out of range") }
                return timestampText(seconds: epoch, units: fraction, unitsPerSecond: 1_000_000_000)
            }
        case .unsupported(let id):
            throw Malformed(description: "column \(field.name) has an Arrow type (\(id)) Warden does not read")
        }
    }

    // MARK: Values

    static func integer(_ buffer: ArraySlice<UInt8>, _ index: Int, bytes: Int, signed: Bool) throws -> Int64 {
        guard [1, 2, 4, 8].contains(bytes), (index + 1) * bytes <= buffer.count else { throw Malformed(description: "a value buffer is too short") }
        var value: UInt64 = 0
        let start = buffer.startIndex + index * bytes
        for offset in (0..<bytes).reversed() { value = value << 8 | UInt64(buffer[start + offset]) }
        guard signed, bytes < 8 else { return Int64(bitPattern: value) }
        let shift = UInt64(64 - bytes * 8)
        return Int64(bitPattern: value << shift) >> Int64(shift)
    }

    /// The decimal digits of a little-endian two's complement integer, and its sign.
    static func twosComplementDecimal(_ bytes: [UInt8]) -> (digits: String, negative: Bool) {
        var words = bytes
        let negative = (words.last ?? 0) & 0x80 != 0
        if negative {
            // Magnitude: invert and add one.
            var carry = 1
            for index in words.indices {
                let sum = Int(~words[index]) + carry
                words[index] = UInt8(truncatingIfNeeded: sum)
                carry = sum >> 8
            }
        }
        // Repeated division by 10 over big-endian bytes.
        var number = Array(words.reversed())
        var digits: [Character] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder << 8 | Int(number[index])
                number[index] = UInt8(value / 10)
                remainder = value % 10
            }
            digits.append(Character(String(remainder)))
        }
        return (digits.isEmpty ? "0" : String(digits.reversed()), negative)
    }

    /// The largest scale read: a 256-bit decimal has at most 76 digits.
    static let maxScale = 76

    static func decimalText(digits: String, negative: Bool, scale: Int) -> String {
        var text = digits
        if scale > 0 {
            if text.count <= scale { text = String(repeating: "0", count: scale - text.count + 1) + text }
            text.insert(".", at: text.index(text.endIndex, offsetBy: -scale))
        }
        return (negative && digits != "0" ? "-" : "") + text
    }

    /// Year, month and day of a day count since 1970-01-01 (the proleptic Gregorian calendar; H. Hinnant's algorithm,
    /// exact for every Int64 day count in range, without Foundation's calendar machinery, which is slow per cell).
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func isoDate(days: Int64) -> String {
        let (year, month, day) = civil(days: days)
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }

    static func timestampText(_ value: Int64, unitsPerSecond: Int64) -> String {
        let (seconds, units) = value.quotientAndRemainder(dividingBy: unitsPerSecond)
        return units < 0 ? timestampText(seconds: seconds - 1, units: units + unitsPerSecond, unitsPerSecond: unitsPerSecond)
            : timestampText(seconds: seconds, units: units, unitsPerSecond: unitsPerSecond)
    }

    /// `seconds` since 1970 and `units` (0 ≤ units < unitsPerSecond) of a second, in ISO 8601, UTC.
    static func timestampText(seconds: Int64, units fraction: Int64, unitsPerSecond: Int64) -> String {
        let (days, rest) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (day, second) = rest < 0 ? (days - 1, rest + 86_400) : (days, rest)
        var text = "\(isoDate(days: day))T\(padded(second / 3600, 2)):\(padded(second / 60 % 60, 2)):\(padded(second % 60, 2))"
        if unitsPerSecond > 1 { text += "." + padded(fraction, String(unitsPerSecond - 1).count) }
        return text + "Z"
    }

    static func timeText(_ value: Int64, unitsPerSecond: Int64) -> String {
        let (seconds, units) = value.quotientAndRemainder(dividingBy: unitsPerSecond)
        var text = "\(padded(seconds / 3600, 2)):\(padded(seconds / 60 % 60, 2)):\(padded(seconds % 60, 2))"
        if unitsPerSecond > 1 { text += "." + padded(units, String(unitsPerSecond - 1).count) }
        return text
    }

    static func int32(_ bytes: [UInt8], at position: Int) throws -> Int32 {
        guard position >= 0, position + 4 <= bytes.count else { throw Malformed(description: "the stream ends inside a length") }
        return Int32(bitPattern: UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]) << 16
                     | UInt32(bytes[position + 3]) << 24)
    }
}

/// One FlatBuffers table (https://flatbuffers.dev/internals/): fields found through its vtable, every offset checked.
struct FlatTable {
    let bytes: [UInt8]
    let position: Int

    static func root(_ bytes: [UInt8]) throws -> FlatTable {
        let table = FlatTable(bytes: bytes, position: 0)
        return FlatTable(bytes: bytes, position: Int(try table.read(UInt32.self, at: 0)))
    }

    func read<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset + size <= bytes.count else { throw ArrowStream.Malformed(description: "an offset lies outside a message") }
        var value: T = 0
        for index in (0..<size).reversed() { value = value << 8 | T(truncatingIfNeeded: bytes[offset + index]) }
        return value
    }

    /// Where field `index` lies, or nil when it is absent (its default).
    func fieldOffset(_ index: Int) throws -> Int? {
        let vtable = position - Int(try read(Int32.self, at: position))
        let vtableSize = Int(try read(UInt16.self, at: vtable))
        let entry = 4 + index * 2
        guard entry + 2 <= vtableSize else { return nil }
        let offset = Int(try read(UInt16.self, at: vtable + entry))
        return offset == 0 ? nil : position + offset
    }

    func uint8(_ index: Int) throws -> UInt8 { try fieldOffset(index).map { try read(UInt8.self, at: $0) } ?? 0 }
    func bool(_ index: Int) throws -> Bool { try uint8(index) != 0 }
    func int16(_ index: Int, default value: Int16 = 0) throws -> Int16 { try fieldOffset(index).map { try read(Int16.self, at: $0) } ?? value }
    func int32(_ index: Int, default value: Int32 = 0) throws -> Int32 { try fieldOffset(index).map { try read(Int32.self, at: $0) } ?? value }
    func int64(_ index: Int) throws -> Int64 { try fieldOffset(index).map { try read(Int64.self, at: $0) } ?? 0 }

    /// The position an offset field points at.
    func indirect(_ index: Int) throws -> Int? {
        guard let at = try fieldOffset(index) else { return nil }
        return at + Int(try read(UInt32.self, at: at))
    }

    func table(_ index: Int) throws -> FlatTable? {
        try indirect(index).map { FlatTable(bytes: bytes, position: $0) }
    }

    func string(_ index: Int) throws -> String? {
        guard let at = try indirect(index) else { return nil }
        let length = Int(try read(UInt32.self, at: at))
        guard at + 4 + length <= bytes.count else { throw ArrowStream.Malformed(description: "a string runs past its message") }
        return String(decoding: bytes[at + 4..<at + 4 + length], as: UTF8.self)
    }

    func vectorCount(_ index: Int) throws -> Int {
        guard let at = try indirect(index) else { return 0 }
        return Int(try read(UInt32.self, at: at))
    }

    func tables(_ index: Int) throws -> [FlatTable] {
        guard let at = try indirect(index) else { return [] }
        let count = Int(try read(UInt32.self, at: at))
        guard count <= bytes.count / 4 else { throw ArrowStream.Malformed(description: "a vector longer than its message") }
        return try (0..<count).map { item in
            let slot = at + 4 + item * 4
            return FlatTable(bytes: bytes, position: slot + Int(try read(UInt32.self, at: slot)))
        }
    }

    /// An Int64 at byte `field` of struct `index` in vector field `vector` of `size`-byte structs.
    func structInt64(vector: Int, index: Int, size: Int, field: Int) throws -> Int64 {
        guard let at = try indirect(vector) else { throw ArrowStream.Malformed(description: "a missing vector") }
        return try read(Int64.self, at: at + 4 + index * size + field)
    }
}
