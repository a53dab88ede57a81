import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the client's `X-Request-Id` when it is sane, else a new UUID), returns it in
/// the response header, and writes one access-log line carrying it.
struct RequestIdMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let bodyLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = Self.acceptableId(request.headers[.requestId]) ?? UUID().uuidString.lowercased()
        context.requestId = requestId
        context.maxUploadSize = bodyLimit
        context.logger[metadataKey: "request_id"] = .string(requestId)
        let started = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[.requestId] = requestId
        let elapsed = ContinuousClock.now - started
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue),
            "path": .string(request.uri.path),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
        ])
        return response
    }

    static func acceptableId(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.count),
              value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else { return nil }
        return value
    }
}

extension HTTPField.Name {
    static let requestId = Self("X-Request-Id")!
}
