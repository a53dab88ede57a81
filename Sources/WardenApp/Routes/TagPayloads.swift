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
/// (`name, source, modelType, modelId, addedBy, deleted`) plus the tag's own fields. A `JSONValue`, because
/// dictionary columns (whose payload is JSON) carry the same objects.
enum TagAttachmentPayload {
    static func json(_ attachment: TagAttachment) -> JSONValue {
        let tag = attachment.tag
        var object: [String: JSONValue] = [
            "id": .int(tag.id), "name": .string(tag.name.value), "displayName": .string(tag.name.displayName),
            "source": .string(tag.source), "context": .string("manual"), "systemCreated": .bool(tag.systemCreated),
            "hasLeafNodes": .bool(tag.hasChildren), "deleted": .bool(false),
            "modelType": .string(attachment.model.modelType), "modelId": .string(attachment.model.modelId),
        ]
        if let addedBy = attachment.addedBy { object["addedBy"] = .int(addedBy) }
        return .object(object)
    }
}

struct DataSourceTagsPayload: ResponseEncodable {
    var tags: [JSONValue]
}
