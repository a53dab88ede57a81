import Foundation
import Hummingbird
import WardenDomain

// Bodies of the /tag API, in the reference API's field names.

struct CreateTagsInput: Decodable, Sendable {
    var tags: [TagInput]?
    var rootTag: RootTagInput?
}

/// A tag as clients send it; they often send whole tag objects back, so other fields are ignored.
struct TagInput: Decodable, Sendable {
    var name: String
    var id: Int64?
}

struct RootTagInput: Decodable, Sendable {
    var name: String
    var deleteHierarchy: Bool?
    var source: String?
}

/// A tag of the vocabulary (`POST /tag`, `GET /tag`, `DELETE /tag/{tag}`).
struct TagPayload: ResponseEncodable {
    var id: Int64
    var name: String
    var displayName: String
    var source: String
    /// How the tag came to be; every Warden tag is made through the API.
    var context = "manual"
    var systemCreated: Bool
    var hasLeafNodes: Bool
    var deleted: Bool
    var parentId: Int64?
    var description: String?
    var createdBy: Int64?
    var createdAt: Date
    var updatedAt: Date

    init(_ tag: Tag, deleted: Bool = false) {
        id = tag.id
        name = tag.name.value
        displayName = tag.name.displayName
        source = tag.source
        systemCreated = tag.systemCreated
        hasLeafNodes = tag.hasChildren
        self.deleted = deleted
        parentId = tag.parentId
        description = tag.description
        createdBy = tag.createdBy
        createdAt = tag.createdAt
        updatedAt = tag.updatedAt
    }
}

/// A tag attached to a data source or column, as `GET /dataSource/{id}/tags` documents it
/// (`name, source, modelType, modelId, addedBy, deleted`) plus the tag's own fields.
struct TagAttachmentPayload: ResponseEncodable, Sendable {
    var id: Int64
    var name: String
    var displayName: String
    var source: String
    var context = "manual"
    var systemCreated: Bool
    var hasLeafNodes: Bool
    var deleted = false
    var modelType: String
    var modelId: String
    /// Absent when no user attached it (a tag that came with the source).
    var addedBy: Int64?

    init(_ attachment: TagAttachment) {
        let tag = attachment.tag
        id = tag.id
        name = tag.name.value
        displayName = tag.name.displayName
        source = tag.source
        systemCreated = tag.systemCreated
        hasLeafNodes = tag.hasChildren
        modelType = attachment.model.modelType
        modelId = attachment.model.modelId
        addedBy = attachment.addedBy
    }
}

/// A blob's tag: free text stored with the blob.
struct BlobTagPayload: Encodable, Sendable {
    var name: String
    var modelType = "blob"
    var modelId: String
}

/// One entry of `GET /dataSource/{id}/tags`: a tag attachment or a blob's tag.
enum TagEntryPayload: Encodable, Sendable {
    case attachment(TagAttachmentPayload)
    case blob(BlobTagPayload)

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .attachment(let attachment): try attachment.encode(to: encoder)
        case .blob(let blob): try blob.encode(to: encoder)
        }
    }
}

struct DataSourceTagsPayload: ResponseEncodable {
    var tags: [TagEntryPayload]
}
