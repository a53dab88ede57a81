public import Foundation

/// The source of the ids Warden gives records (jobs, bulk operations, API keys, tokens); injected like the clock,
/// so that tests can name what they will see.
public protocol IdGenerator: Sendable {
    func uuid() -> UUID
}

extension IdGenerator {
    /// The id in the lowercase form Warden stores and returns.
    public func id() -> String { uuid().uuidString.lowercased() }

    /// `prefix` followed by a new id without dashes, as bulk ids are spelled (`bulk_ds_update_…`).
    public func id(prefix: String) -> String { prefix + id().replacingOccurrences(of: "-", with: "") }
}

public struct RandomIdGenerator: IdGenerator {
    public init() {}
    public func uuid() -> UUID { UUID() }
}
