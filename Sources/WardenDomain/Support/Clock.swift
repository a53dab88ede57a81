public import Foundation

/// The source of "now" for every rule that depends on time; tests inject a fixed or stepping clock.
public protocol WardenClock: Sendable {
    func now() -> Date
}

public struct SystemClock: WardenClock {
    public init() {}
    public func now() -> Date { Date() }
}
