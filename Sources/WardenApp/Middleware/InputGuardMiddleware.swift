import Hummingbird
import WardenDomain

/// Refuses a NUL character anywhere in the path or query before any route reads it: no id, name or search text
/// may hold one (request bodies are checked as they are decoded, in `JSONInput`).
struct InputGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Percent-encoding is the only way a NUL reaches a URI; the HTTP parser refuses a raw one.
        if request.uri.string.contains("%00") {
            throw WardenError.badRequest("The request path and query must not contain the NUL character (%00)",
                                         code: .requestNulCharacter)
        }
        return try await next(request, context)
    }
}
