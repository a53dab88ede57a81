import Hummingbird
import WardenDomain

/// Resolves the `Authorization` header to a caller. It never refuses a request itself: routes that need a
/// caller use `AuthenticatedContext`, whose creation fails with 401 when there is none.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let auth: AuthService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            context.principal = try await auth.principal(authorization: header)
        }
        return try await next(request, context)
    }
}
