import Testing
import WardenDomain

@Suite struct ErrorRulesTests {
    static let kinds: [(WardenError.Kind, Bool)] = [
        (.badRequest, false), (.unauthorized, false), (.forbidden, false), (.notFound, false), (.conflict, false),
        (.tooLarge, false), (.notImplemented, false), (.unavailable, true), (.internalError, true),
    ]

    /// By default only an unavailable service and the unexpected may pass with time; a refusal never does.
    @Test(arguments: kinds)
    func transienceFollowsTheKindUnlessSaid(kind: WardenError.Kind, transient: Bool) {
        #expect(WardenError(kind, code: "test.code", message: "m").isTransient == transient)
        #expect(WardenError(kind, code: "test.code", message: "m", isTransient: !transient).isTransient == !transient)
    }
}
