import Foundation

/// A tag's full name: dot-separated segments from the root down, such as `PII.Contact.Email`.
///
/// Names are case-sensitive. Each segment is 1 to 128 printable characters without leading or trailing
/// whitespace; the whole name is at most 512 characters. The hierarchy is implied by the name: `PII.Contact`
/// is the parent of `PII.Contact.Email`.
public struct TagName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let maxSegmentLength = 128
    public static let maxLength = 512

    /// The full dotted name.
    public let value: String

    /// Parses `text`, or throws a 400 whose field is `field` and whose message says what is wrong.
    /// The name is kept in Unicode normal form C, so that names Swift considers equal are equal in the metastore too.
    public init(_ text: String, field: String = "name") throws(WardenError) {
        let normalized = text.precomposedStringWithCanonicalMapping
        if let problem = Self.problem(in: normalized) {
            throw WardenError.badRequest("`\(field)` \(problem)", code: .requestValidationFailed,
                                         fields: [FieldError(field: field, message: problem)])
        }
        value = normalized
    }

    private init(trusted value: String) {
        self.value = value
    }

    /// Why `text` is not a valid tag name, or nil when it is one.
    public static func problem(in text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.count > maxLength { return "must be at most \(maxLength) characters" }
        for segment in text.split(separator: ".", omittingEmptySubsequences: false) {
            if segment.isEmpty { return "must not have an empty segment (leading, trailing or doubled dots)" }
            if segment.count > maxSegmentLength { return "must have segments of at most \(maxSegmentLength) characters" }
            if segment.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return "must not contain control characters"
            }
            // " Email" and "Email" would otherwise be two different tags that look alike.
            if segment.first!.isWhitespace || segment.last!.isWhitespace {
                return "must not have segments that start or end with whitespace"
            }
        }
        return nil
    }

    public var description: String { value }

    /// The segments, root first.
    public var segments: [Substring] { value.split(separator: ".") }

    /// The last segment, shown as the tag's label (`Email` for `PII.Contact.Email`).
    public var displayName: String { String(segments.last!) }

    /// 1 for a root tag, 2 for its children, and so on.
    public var depth: Int { value.reduce(1) { $1 == "." ? $0 + 1 : $0 } }

    /// The tag directly above this one; nil for a root tag.
    public var parent: TagName? {
        guard let dot = value.lastIndex(of: ".") else { return nil }
        return TagName(trusted: String(value[..<dot]))
    }

    /// Every tag above this one, root first (`PII`, `PII.Contact` for `PII.Contact.Email`).
    public var ancestors: [TagName] {
        var result: [TagName] = []
        var current = parent
        while let name = current {
            result.append(name)
            current = name.parent
        }
        return result.reversed()
    }

    /// Whether this tag lies strictly below `other` in the hierarchy.
    public func isDescendant(of other: TagName) -> Bool {
        value.hasPrefix(other.value + ".")
    }

    /// Whether this tag is `other` or lies below it.
    public func isWithin(_ other: TagName) -> Bool {
        self == other || isDescendant(of: other)
    }

    /// `names` with every ancestor added, without repeats, parents before children (by depth, then name),
    /// which is the order in which they can be created.
    public static func withAncestors(_ names: [TagName]) -> [TagName] {
        var all: Set<TagName> = []
        for name in names {
            all.insert(name)
            all.formUnion(name.ancestors)
        }
        return all.sorted { ($0.depth, $0.value) < ($1.depth, $1.value) }
    }

    public static func < (lhs: TagName, rhs: TagName) -> Bool { lhs.value < rhs.value }
}
