import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import WardenDomain

/// Writes every error, the framework's included, in the one shape clients see:
/// `{"statusCode", "error", "message", "code", "fields", "requestId"}`.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let wardenError = Self.translate(error, request: request, context: context)
            if wardenError.kind == .internalError {
                context.logger.error("request failed", metadata: [
                    "code": .string(wardenError.code.rawValue),
                    "cause": .string(String(describing: wardenError.cause ?? error)),
                ])
            } else if let cause = wardenError.cause {
                context.logger.debug("request refused", metadata: ["code": .string(wardenError.code.rawValue), "cause": .string("\(cause)")])
            }
            return Self.response(for: wardenError, requestId: context.requestId)
        }
    }

    static func translate(_ error: any Error, request: Request, context: Context) -> WardenError {
        switch error {
        case let error as WardenError:
            return error
        case let error as HTTPError:
            switch error.status {
            // Warden's routes throw only `WardenError`s (the blob route turns FileIO's 404 into one), so a framework
            // 404 can only mean that no route matched.
            case .notFound:
                return .notFound("Route not found: \(request.method.rawValue) \(request.uri.path)", code: .routeNotFound)
            case .contentTooLarge:
                return JSONInput.tooLarge(context.maxUploadSize)
            default:
                let kind = kind(for: error.status)
                return WardenError(kind, code: .http(error.status.code), message: error.body ?? error.status.reasonPhrase)
            }
        case let error as DecodingError:
            return JSONInput.describe(error)
        default:
            return WardenError(.internalError, code: .internal, message: "An unexpected error occurred", cause: error)
        }
    }

    static func kind(for status: HTTPResponse.Status) -> WardenError.Kind {
        switch status.code {
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .tooLarge
        case 501: .notImplemented
        case 503: .unavailable
        case 400..<500: .badRequest
        default: .internalError
        }
    }

    static func status(for kind: WardenError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .notImplemented: .notImplemented
        case .unavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    struct Envelope: Encodable {
        var statusCode: Int
        var error: String
        var message: String
        var code: String
        var fields: [FieldError]?
        var requestId: String
    }

    /// An error inside a batch answer (`inError`, `failures`): the envelope's fields, and the item's own.
    static func fields(of error: WardenError, adding item: [String: JSONValue]) -> JSONValue {
        let status = status(for: error.kind)
        return .object(item.merging([
            "statusCode": .int(Int64(status.code)), "error": .string(status.reasonPhrase),
            "code": .string(error.code.rawValue), "message": .string(error.message),
        ]) { own, _ in own })
    }

    static func response(for error: WardenError, requestId: String) -> Response {
        let status = status(for: error.kind)
        let envelope = Envelope(statusCode: status.code, error: status.reasonPhrase, message: error.message, code: error.code.rawValue,
                                fields: error.fields.isEmpty ? nil : error.fields, requestId: requestId)
        let data = (try? WardenJSON.makeEncoder().encode(envelope)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error.kind == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
