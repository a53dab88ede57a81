/// `size` and `offset` as every list route of the API takes them.
public struct Paging: Sendable, Equatable {
    public static let maxSize = 1000
    public var size: Int
    public var offset: Int

    public init(size: Int, offset: Int) {
        self.size = size
        self.offset = offset
    }

    /// Validates raw query values; `defaultSize` applies when `size` is absent.
    public static func parse(size: Int?, offset: Int?, defaultSize: Int) throws(WardenError) -> Paging {
        func invalid(_ name: String, _ message: String) -> WardenError {
            .badRequest("Query parameter `\(name)` \(message)", code: .requestInvalidQuery, fields: [FieldError(field: name, message: message)])
        }
        if let size, !(0...maxSize).contains(size) { throw invalid("size", "must be between 0 and \(maxSize)") }
        if let offset, offset < 0 { throw invalid("offset", "must not be negative") }
        return Paging(size: size ?? defaultSize, offset: offset ?? 0)
    }
}

public enum SortOrder: String, Sendable, CaseIterable {
    case asc, desc
}
