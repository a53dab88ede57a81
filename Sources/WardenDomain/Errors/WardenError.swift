/// An error whose `message` is safe to return to API clients.
///
/// Every failure that reaches the HTTP edge is one of these; anything else is
/// treated as unexpected and answered with a generic 500.
public struct WardenError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case badRequest, unauthorized, forbidden, notFound, conflict, tooLarge
        case notImplemented, unavailable, internalError
    }

    public var kind: Kind
    /// Stable and machine-readable, e.g. `user.not_found`; never contains dynamic values.
    public var code: Code
    /// Human-readable, with no secrets and no SQL.
    public var message: String
    /// Per-field validation problems.
    public var fields: [FieldError]
    /// Logged with the request id, never serialized.
    public var cause: (any Error)?
    /// Whether the same operation may succeed later (an unreachable warehouse, a dropped connection), so a job is
    /// worth retrying. A refusal, invalid input or a missing record never is.
    public var isTransient: Bool

    /// `isTransient` defaults from the kind: only `unavailable` and the unexpected (`internalError`) may pass.
    public init(_ kind: Kind, code: Code, message: String, fields: [FieldError] = [], cause: (any Error)? = nil,
                isTransient: Bool? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.fields = fields
        self.cause = cause
        self.isTransient = isTransient ?? (kind == .unavailable || kind == .internalError)
    }

    public var description: String { "\(kind) \(code): \(message)" }

    public static func badRequest(_ message: String, code: Code = .requestInvalid, fields: [FieldError] = []) -> WardenError {
        WardenError(.badRequest, code: code, message: message, fields: fields)
    }

    public static func notFound(_ message: String, code: Code) -> WardenError {
        WardenError(.notFound, code: code, message: message)
    }

    public static func conflict(_ message: String, code: Code) -> WardenError {
        WardenError(.conflict, code: code, message: message)
    }

    public static func unauthorized(_ message: String = "A valid Authorization token must be provided", code: Code = .authUnauthorized) -> WardenError {
        WardenError(.unauthorized, code: code, message: message)
    }

    public static func forbidden(_ message: String, code: Code = .authForbidden) -> WardenError {
        WardenError(.forbidden, code: code, message: message)
    }

    /// A missing permission, named so the caller knows what to ask for.
    public static func missingPermission(_ permission: Permission) -> WardenError {
        WardenError(.forbidden, code: .authPermissionRequired,
                    message: "User must have the \(permission.rawValue) permission to perform this action")
    }

    public static func notImplemented(_ message: String, code: Code) -> WardenError {
        WardenError(.notImplemented, code: code, message: message)
    }
}

/// One invalid input field: `field` is a dotted path such as `profile.email`.
public struct FieldError: Sendable, Equatable, Codable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// Collects every field problem of an input so that one 400 reports them all.
public struct Validator: Sendable {
    public private(set) var problems: [FieldError] = []

    public init() {}

    public mutating func check(_ condition: Bool, _ field: String, _ message: @autoclosure () -> String) {
        if !condition { problems.append(FieldError(field: field, message: message())) }
    }

    public mutating func add(_ field: String, _ message: String) {
        problems.append(FieldError(field: field, message: message))
    }

    /// Adds problems found by another validation, nesting their fields under `prefix`.
    public mutating func append(_ others: [FieldError], prefix: String) {
        problems += others.map { FieldError(field: prefix + $0.field, message: $0.message) }
    }

    /// Throws one `badRequest` listing every problem, when there are any.
    public func finish() throws(WardenError) {
        guard let first = problems.first else { return }
        let message = problems.count == 1
            ? "`\(first.field)` \(first.message)"
            : "Invalid request: " + problems.map { "`\($0.field)` \($0.message)" }.joined(separator: "; ")
        throw WardenError(.badRequest, code: .requestValidationFailed, message: message, fields: problems)
    }
}
