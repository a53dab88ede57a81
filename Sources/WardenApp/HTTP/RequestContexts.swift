public import Foundation
public import Hummingbird
public import WardenDomain

/// The context of every request: its id and, once the auth middleware has run, its caller.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    public var principal: Principal?
    /// Hummingbird's own body limit, so that its decoders and Warden's read the same one; set per request from the
    /// configuration.
    public var maxUploadSize: Int = 10 * 1024 * 1024

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
    public let maxUploadSize: Int

    public init(context: AppRequestContext) throws {
        guard let principal = context.principal else { throw WardenError.unauthorized() }
        coreContext = context.coreContext
        requestId = context.requestId
        self.principal = principal
        maxUploadSize = context.maxUploadSize
    }

    public var responseEncoder: JSONEncoder { WardenJSON.makeEncoder() }
}
