import Foundation
import Hummingbird
import WardenDomain

/// The answer of `POST /dataSource/{id}/blobs` and `persistBlob`, as documented.
struct BlobsSavedPayload: ResponseEncodable, Sendable {
    /// Entries without a `blobId`: counted, not stored.
    var blobsWithoutIds: Int
    var blobsInError: [BlobErrorPayload]
    /// The ids saved, in payload order.
    var blobsInserted: [String]
    /// The distinct tags of the saved blobs, in first-seen order.
    var tags: [String]

    init(saved drafts: [BlobDraft], withoutIds: Int = 0, errors: [BlobErrorPayload] = []) {
        blobsWithoutIds = withoutIds
        blobsInError = errors
        blobsInserted = drafts.map(\.blobId)
        var seen = Set<String>()
        tags = drafts.flatMap(\.tags).filter { seen.insert($0).inserted }
    }
}

/// One entry that was not saved, and why: `index` is its position in the payload.
struct BlobErrorPayload: Encodable, Sendable {
    var index: Int
    var blobId: String?
    var message: String
    var fields: [FieldError]?
}

/// A blob's metadata, answered by `GET /dataSource/{id}/blob/{blobId*}` for a blob without stored content (or
/// with `metadataOnly=true`): the keys the client saved, plus Warden's own.
struct BlobPayload: ResponseEncodable, Sendable {
    let blob: Blob

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Warden's keys; a client's metadata key of the same name is not repeated.
    private static let ownKeys: Set<String> = [
        "dataSourceId", "blobId", "hasContent", "contentType", "contentLength", "sha256", "createdBy", "createdAt", "updatedAt",
    ]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in blob.metadata where !Self.ownKeys.contains(key) {
            try container.encode(value, forKey: Key(key))
        }
        try container.encode(blob.dataSourceId, forKey: Key("dataSourceId"))
        try container.encode(blob.blobId, forKey: Key("blobId"))
        try container.encode(blob.content != nil, forKey: Key("hasContent"))
        if let content = blob.content {
            try container.encode(content.contentType, forKey: Key("contentType"))
            try container.encode(content.length, forKey: Key("contentLength"))
            try container.encode(content.sha256, forKey: Key("sha256"))
        }
        try container.encode(blob.createdBy, forKey: Key("createdBy"))
        try container.encode(blob.createdAt, forKey: Key("createdAt"))
        try container.encode(blob.updatedAt, forKey: Key("updatedAt"))
    }
}
