/// Any JSON value, for the parts of the API that clients send loosely (handler metadata, job payloads)
/// and that Warden must keep and return as given.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public var int64Value: Int64? {
        if case .int(let value) = self { value } else { nil }
    }

    public var isObject: Bool {
        if case .object = self { true } else { false }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Typed reading of a JSON object's fields that collects every problem, with the field's full path.
public struct JSONFields {
    public let object: [String: JSONValue]
    public let path: String
    public var validator: Validator

    public init(_ object: [String: JSONValue], path: String, validator: Validator = Validator()) {
        self.object = object
        self.path = path
        self.validator = validator
    }

    func field(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    public mutating func string(_ key: String, required: Bool = false) -> String? {
        switch object[key] {
        case .none, .some(.null):
            if required { validator.add(field(key), "is required") }
            return nil
        case .some(.string(let value)):
            if required, value.isEmpty { validator.add(field(key), "must not be empty") }
            return value
        case .some(let other):
            validator.add(field(key), "must be a string, not \(other.typeName)")
            return nil
        }
    }

    public mutating func int(_ key: String, required: Bool = false) -> Int? {
        switch object[key] {
        case .none, .some(.null):
            if required { validator.add(field(key), "is required") }
            return nil
        case .some(.int(let value)):
            return Int(exactly: value)
        case .some(.string(let text)) where Int(text) != nil:
            // Ports arrive as strings from some clients.
            return Int(text)
        case .some(let other):
            validator.add(field(key), "must be an integer, not \(other.typeName)")
            return nil
        }
    }

    public mutating func bool(_ key: String) -> Bool? {
        switch object[key] {
        case .none, .some(.null): return nil
        case .some(.bool(let value)): return value
        case .some(let other):
            validator.add(field(key), "must be a boolean, not \(other.typeName)")
            return nil
        }
    }

    public mutating func array(_ key: String) -> [JSONValue]? {
        switch object[key] {
        case .none, .some(.null): return nil
        case .some(.array(let value)): return value
        case .some(let other):
            validator.add(field(key), "must be an array, not \(other.typeName)")
            return nil
        }
    }
}
