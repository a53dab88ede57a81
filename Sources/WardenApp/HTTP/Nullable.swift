/// An optional written as `null` when it has no value (synthesised `Encodable` leaves absent optionals out), for
/// the fields the specification's examples show as `null`: clients index them directly.
struct Nullable<Wrapped: Encodable & Sendable>: Encodable, Sendable, ExpressibleByNilLiteral {
    var value: Wrapped?

    init(_ value: Wrapped?) {
        self.value = value
    }

    init(nilLiteral: ()) {
        value = nil
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}
