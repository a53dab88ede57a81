import Foundation
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import WardenDomain

enum WardenJSON {
    /// Dates as the specification prints them: ISO 8601 with milliseconds, in UTC.
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension Request {
    /// Reads the body within the configured limit and decodes it, turning every decoding failure into a
    /// 400 that names the offending field.
    func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let data = try await collectJSONBody(context: context)
        return try JSONInput.decode(type, from: data)
    }

    /// Like `decodeJSON`, but an empty body decodes as `{}`, for routes whose fields are all optional.
    func decodeOptionalJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let data = try await collectJSONBody(context: context)
        return try JSONInput.decode(type, from: data.isEmpty ? Data("{}".utf8) : data)
    }

    private func collectJSONBody(context: some RequestContext) async throws -> Data {
        let limit = context.maxUploadSize
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw JSONInput.tooLarge(limit)
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Data(buffer: buffer)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw JSONInput.tooLarge(limit)
        }
    }
}

/// Decoding of client JSON with messages that say which field is wrong and how.
enum JSONInput {
    static func tooLarge(_ limit: Int) -> WardenError {
        WardenError(.tooLarge, code: .requestTooLarge, message: "Request body exceeds the limit of \(limit) bytes")
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard !data.isEmpty else { throw WardenError.badRequest("Request body must be a JSON document", code: .requestBodyRequired) }
        let value: T
        do {
            value = try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        }
        try rejectNUL(in: data)
        return value
    }

    /// No string Warden stores may hold U+0000: PostgreSQL text cannot, SQLite's full-text index breaks on it, and
    /// no name or description needs it. A raw NUL byte is already invalid JSON, so only the `\u0000` escape can
    /// carry one; the document is walked (to name the field) only when that escape appears.
    static func rejectNUL(in data: Data) throws {
        guard data.range(of: Data("u0000".utf8)) != nil,
              let document = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
              let field = pathToNUL(in: document, path: "") else { return }
        let message = "must not contain the NUL character (U+0000)"
        throw WardenError.badRequest(field.isEmpty ? "The request body \(message)" : "`\(field)` \(message)", code: .requestNulCharacter,
                                     fields: field.isEmpty ? [] : [FieldError(field: field, message: message)])
    }

    private static func pathToNUL(in value: Any, path: String) -> String? {
        switch value {
        case let text as String:
            return text.unicodeScalars.contains("\0") ? path : nil
        case let object as [String: Any]:
            for (key, item) in object.sorted(by: { $0.key < $1.key }) {
                let itemPath = path.isEmpty ? key : path + "." + key
                if key.unicodeScalars.contains("\0") { return itemPath }
                if let found = pathToNUL(in: item, path: itemPath) { return found }
            }
            return nil
        case let items as [Any]:
            for (index, item) in items.enumerated() {
                if let found = pathToNUL(in: item, path: path + "[\(index)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }

    static func describe(_ error: DecodingError) -> WardenError {
        switch error {
        case .typeMismatch(let expected, let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                return .badRequest("Request body must be \(typeName(expected))", code: .requestInvalidJson)
            }
            return fieldError(field, "must be \(typeName(expected))")
        case .valueNotFound(let expected, let context):
            return fieldError(path(context.codingPath), "must be \(typeName(expected)), not null")
        case .keyNotFound(let key, let context):
            return fieldError(path(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .badRequest("Malformed JSON: the request body could not be parsed", code: .requestMalformedJson)
            }
            return fieldError(path(context.codingPath), context.debugDescription)
        @unknown default:
            return .badRequest("The request body is invalid", code: .requestInvalidJson)
        }
    }

    private static func fieldError(_ field: String, _ message: String) -> WardenError {
        .badRequest("`\(field)` \(message)", code: .requestValidationFailed, fields: [FieldError(field: field, message: message)])
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return result
    }

    private static func typeName(_ type: Any.Type) -> String {
        if type == String.self { return "a string" }
        if type == Bool.self { return "a boolean" }
        if type == Int.self || type == Int64.self || type == Int32.self { return "an integer" }
        if type == Double.self || type == Float.self { return "a number" }
        let name = String(describing: type)
        return name.hasPrefix("Array") || name.hasPrefix("[") ? "an array" : "an object"
    }
}

/// A JSON field that distinguishes "absent" from "null", for partial updates.
enum Patch<Value: Decodable & Sendable>: Sendable {
    case absent
    case null
    case value(Value)

    /// `.none` when absent, `.some(nil)` when null, `.some(value)` otherwise, matching the domain's double optionals.
    var asDoubleOptional: Value?? {
        switch self {
        case .absent: .none
        case .null: .some(nil)
        case .value(let value): .some(value)
        }
    }
}

extension KeyedDecodingContainer {
    func decodePatch<Value: Decodable & Sendable>(_ type: Value.Type, forKey key: Key) throws -> Patch<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(type, forKey: key))
    }
}

/// Query parameters, parsed with the same error shape as bodies.
struct QueryReader {
    let request: Request

    func string(_ name: String) -> String? {
        request.uri.queryParameters.get(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw field(name, "must be an integer") }
        return value
    }

    func bool(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw field(name, "must be true or false")
        }
    }

    /// An array parameter, given as repeated keys, comma lists, or both.
    func list(_ name: String) -> [String] {
        request.uri.queryParameters.getAll(name)
            .flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
    }

    /// An array parameter whose every value must be one of `T`'s.
    func listOf<T: RawRepresentable>(_ name: String, _ type: T.Type) throws -> [T] where T.RawValue == String, T: CaseIterable {
        try list(name).map { text in
            guard let value = T(rawValue: text) else {
                throw field(name, "values must be among: " + T.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return value
        }
    }

    func oneOf<T: RawRepresentable>(_ name: String, _ type: T.Type) throws -> T? where T.RawValue == String, T: CaseIterable {
        guard let text = string(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw field(name, "must be one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    private func field(_ name: String, _ message: String) -> WardenError {
        .badRequest("Query parameter `\(name)` \(message)", code: .requestInvalidQuery, fields: [FieldError(field: name, message: message)])
    }
}

extension Parameters {
    /// A path parameter that must be a positive integer id; anything else cannot name a record, so 404.
    func id(_ name: String, notFound: WardenError) throws -> Int64 {
        guard let text = get(name), let value = Int64(text), value > 0 else { throw notFound }
        return value
    }

    /// A path parameter, percent-decoded (attribute keys such as `Security%20Classification`).
    func string(_ name: String) throws -> String {
        guard let raw = get(name) else {
            throw WardenError(.internalError, code: .routeParameterMissing, message: "Route parameter \(name) is missing")
        }
        guard let value = raw.removingPercentEncoding else {
            throw WardenError.badRequest("Path segment `\(name)` is not valid percent-encoding", code: .requestInvalidPath)
        }
        return value
    }
}

extension JSONValue {
    /// `value` as a client reads it: encoded as the API encodes it, then read back.
    static func encoded(_ value: some Encodable, encoder: JSONEncoder) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(value))
    }
}
