import Foundation
import Hummingbird
import WardenDomain

/// The context of every request: its id and, once the auth middleware has run, its caller.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    public var principal: Principal?
    public var bodyLimit: Int = 10 * 1024 * 1024

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public var responseEncoder: JSONEncoder { WardenJSON.makeEncoder() }
}

/// The context of routes that need a caller: it cannot exist without one, so handlers never check.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestId: String
    public let principal: Principal
    public let bodyLimit: Int

    public init(context: AppRequestContext) throws {
        guard let principal = context.principal else { throw WardenError.unauthorized() }
        coreContext = context.coreContext
        requestId = context.requestId
        self.principal = principal
        bodyLimit = context.bodyLimit
    }

    public var responseEncoder: JSONEncoder { WardenJSON.makeEncoder() }
}

/// What request decoding needs from either context.
protocol BodyLimited {
    var bodyLimit: Int { get }
}

extension AppRequestContext: BodyLimited {}
extension AuthenticatedContext: BodyLimited {}
