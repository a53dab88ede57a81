public import Foundation

/// A blob of a data source: the metadata a client saved about it and, when Warden holds its bytes, where they are.
public struct Blob: Sendable, Equatable {
    public var dataSourceId: Int64
    /// Unique within the data source; may contain slashes (`reports/2021/q3.pdf`).
    public var blobId: String
    /// The entry as the client sent it, without `blobId`: `filename`, `tags`, `date`, `filesize`, `visibility`,
    /// `metadata` and any other keys, kept as given.
    public var metadata: [String: JSONValue]
    /// The stored bytes; nil for blobs saved through `/blobs`, which are metadata only.
    public var content: BlobContent?
    public var createdBy: Int64
    public var createdAt: Date
    public var updatedAt: Date

    public init(dataSourceId: Int64, blobId: String, metadata: [String: JSONValue], content: BlobContent?, createdBy: Int64,
                createdAt: Date, updatedAt: Date) {
        self.dataSourceId = dataSourceId
        self.blobId = blobId
        self.metadata = metadata
        self.content = content
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var tags: [String] { BlobDraft.tags(in: metadata) }
    public var filename: String? { metadata["filename"]?.stringValue }
}

/// Where a blob's bytes are: content-addressed by their SHA-256.
public struct BlobContent: Sendable, Equatable {
    /// Lower-case hex SHA-256 of the bytes.
    public var sha256: String
    public var length: Int64
    public var contentType: String

    public init(sha256: String, length: Int64, contentType: String) {
        self.sha256 = sha256
        self.length = length
        self.contentType = contentType
    }
}

/// One validated entry of a blob payload, ready to store.
public struct BlobDraft: Sendable, Equatable {
    public var blobId: String
    /// Everything but `blobId`, as given (tags de-duplicated).
    public var metadata: [String: JSONValue]

    public init(blobId: String, metadata: [String: JSONValue]) {
        self.blobId = blobId
        self.metadata = metadata
    }

    public var tags: [String] { Self.tags(in: metadata) }

    /// The declared size, when the client sent one.
    public var filesize: Int64? {
        if case .int(let size)? = metadata["filesize"] { return size }
        return nil
    }

    static func tags(in metadata: [String: JSONValue]) -> [String] {
        guard case .array(let items)? = metadata["tags"] else { return [] }
        return items.compactMap(\.stringValue)
    }

    /// Whether an entry names no blob at all (`blobId` absent, null or empty): the specification counts these
    /// as `blobsWithoutIds` instead of reporting them as errors.
    public static func lacksId(_ object: [String: JSONValue]) -> Bool {
        switch object["blobId"] {
        case .none, .some(.null): true
        case .some(.string(let id)): id.isEmpty
        default: false
        }
    }

    /// Reads one entry (`{blobId, filename?, tags?, date?, filesize?, visibility?, metadata?, …}`); every problem is
    /// reported at once, with fields under `path`. Unknown keys are kept.
    public static func parse(_ object: [String: JSONValue], path: String) throws(WardenError) -> BlobDraft {
        var fields = JSONFields(object, path: path)
        let blobId = fields.string("blobId", required: true) ?? ""
        var validator = fields.validator
        func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        if !blobId.isEmpty, let problem = BlobId.problem(blobId) { validator.add(field("blobId"), problem) }

        var metadata = object
        metadata["blobId"] = nil
        switch object["filename"] {
        case .none, .some(.null): break
        case .some(.string(let name)):
            validator.check(Text.isPrintable(name, maxLength: 1024), field("filename"), "must be 1 to 1024 printable characters")
        case .some(let other): validator.add(field("filename"), "must be a string, not \(other.typeName)")
        }
        switch object["tags"] {
        case .none, .some(.null): break
        case .some(.array(let items)):
            var seen = Set<String>()
            var tags: [JSONValue] = []
            for (index, item) in items.enumerated() {
                guard let tag = item.stringValue, Text.isPrintable(tag, maxLength: 255) else {
                    validator.add("\(field("tags"))[\(index)]", "must be a tag name of 1 to 255 printable characters")
                    continue
                }
                if seen.insert(tag).inserted { tags.append(.string(tag)) }
            }
            metadata["tags"] = .array(tags)
        case .some(let other): validator.add(field("tags"), "must be an array of tag names, not \(other.typeName)")
        }
        switch object["date"] {
        case .none, .some(.null): break
        case .some(.string(let date)):
            validator.check(BlobDate.isValid(date), field("date"), "must be a date (2021-10-21) or an ISO 8601 timestamp")
        case .some(let other): validator.add(field("date"), "must be a string, not \(other.typeName)")
        }
        switch object["filesize"] {
        case .none, .some(.null): break
        case .some(.int(let size)) where size >= 0: break
        case .some: validator.add(field("filesize"), "must be a non-negative integer number of bytes")
        }
        for key in ["visibility", "metadata"] {
            switch object[key] {
            case .none, .some(.null), .some(.object): break
            case .some(let other): validator.add(field(key), "must be an object, not \(other.typeName)")
            }
        }
        try validator.finish()
        return BlobDraft(blobId: blobId, metadata: metadata)
    }
}

/// Blob ids: free text, slashes allowed, but addressable in a URL path (`/dataSource/{id}/blob/{blobId*}`).
public enum BlobId {
    public static let maxLength = 1024

    /// Why `id` cannot be a blob id, or nil when it can. The limit is in UTF-8 bytes because the id is part of an
    /// index key, whose size PostgreSQL bounds. Empty segments (leading, trailing or doubled slashes) and `.`/`..`
    /// segments are refused because clients and proxies normalise them away in URLs.
    public static func problem(_ id: String) -> String? {
        guard Text.isPrintable(id, maxLength: maxLength), id.utf8.count <= maxLength else {
            return "must be 1 to \(maxLength) bytes of printable characters"
        }
        let segments = id.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: \.isEmpty) { return "must not start or end with a slash or contain empty segments (//)" }
        if segments.contains(where: { $0 == "." || $0 == ".." }) { return "must not contain . or .. segments" }
        return nil
    }
}

/// The `date` of a blob: a calendar date or a timestamp, as clients send them.
enum BlobDate {
    static func isValid(_ text: String) -> Bool {
        guard text.count <= 64 else { return false }
        let dateOnly = Date.ISO8601FormatStyle(dateSeparator: .dash, timeZone: TimeZone(identifier: "UTC")!).year().month().day()
        if (try? dateOnly.parse(text)) != nil { return true }
        if (try? Date.ISO8601FormatStyle().parse(text)) != nil { return true }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) != nil
    }
}
