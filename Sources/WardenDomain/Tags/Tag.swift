public import Foundation

/// A tag of the governance vocabulary, as stored.
public struct Tag: Sendable, Equatable {
    /// Tags made in Warden (`POST /tag`); external catalogs would bring others.
    public static let curated = "curated"

    public var id: Int64
    public var name: TagName
    public var parentId: Int64?
    public var source: String
    public var description: String?
    public var systemCreated: Bool
    public var createdBy: Int64?
    public var createdAt: Date
    public var updatedAt: Date
    /// Whether other tags lie below this one (the API's `hasLeafNodes`).
    public var hasChildren: Bool

    public init(id: Int64, name: TagName, parentId: Int64?, source: String = Tag.curated, description: String? = nil,
                systemCreated: Bool = false, createdBy: Int64?, createdAt: Date, updatedAt: Date, hasChildren: Bool) {
        self.id = id
        self.name = name
        self.parentId = parentId
        self.source = source
        self.description = description
        self.systemCreated = systemCreated
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.hasChildren = hasChildren
    }
}

/// What a tag can be attached to.
public enum TaggedModel: Sendable, Hashable {
    case dataSource(Int64)
    case column(dataSourceId: Int64, name: String)

    /// Model types the reference API knows but Warden cannot tag (yet): answered 501 rather than 404.
    public static let unsupportedTypes: Set<String> = ["project", "purpose", "user", "group", "global-policy"]

    public var dataSourceId: Int64 {
        switch self {
        case .dataSource(let id), .column(let id, _): id
        }
    }

    public var columnName: String? {
        if case .column(_, let name) = self { return name }
        return nil
    }

    /// `datasource` or `column`, as in `/tag/{modelType}/{modelId}`.
    public var modelType: String { columnName == nil ? "datasource" : "column" }

    /// `49`, or `49_OBJECTID` for column `OBJECTID` of data source 49.
    public var modelId: String { columnName.map { "\(dataSourceId)_\($0)" } ?? String(dataSourceId) }

    /// Reads `/tag/{modelType}/{modelId}`. The model type is matched case-insensitively; a column's model id is
    /// the data source id, `_`, and the column name (which may itself contain `_`).
    /// - Throws: 404 for an unknown model type or an id that cannot name a data source or column,
    ///   501 for a model type Warden does not tag.
    public static func parse(modelType: String, modelId: String) throws(WardenError) -> TaggedModel {
        switch modelType.lowercased() {
        case "datasource":
            guard let id = positiveId(Substring(modelId)) else { throw dataSourceNotFound }
            return .dataSource(id)
        case "column":
            guard let separator = modelId.firstIndex(of: "_"), let id = positiveId(modelId[..<separator]) else {
                throw WardenError.notFound("Column not found: the model id must be <dataSourceId>_<columnName>", code: .columnNotFound)
            }
            let name = String(modelId[modelId.index(after: separator)...])
            guard !name.isEmpty else { throw WardenError.notFound("Column not found", code: .columnNotFound) }
            return .column(dataSourceId: id, name: name)
        case let type where unsupportedTypes.contains(type):
            throw WardenError.notImplemented("Tagging a \(type) is not implemented in Warden: only datasource and column can be tagged",
                                             code: .tagModelTypeNotImplemented)
        default:
            throw WardenError.notFound("Unknown model type: only datasource and column can be tagged", code: .tagModelTypeNotFound)
        }
    }

    private static func positiveId(_ text: Substring) -> Int64? {
        guard let id = Int64(text), id > 0 else { return nil }
        return id
    }

    // The same message and code as every other route that cannot find a data source.
    static let dataSourceNotFound = WardenError.notFound("Data source not found", code: .dataSourceNotFound)
}

/// A tag attached to a data source or to one of its columns.
public struct TagAttachment: Sendable, Equatable {
    public var tag: Tag
    public var model: TaggedModel
    public var addedBy: Int64?
    public var addedAt: Date

    public init(tag: Tag, model: TaggedModel, addedBy: Int64?, addedAt: Date) {
        self.tag = tag
        self.model = model
        self.addedBy = addedBy
        self.addedAt = addedAt
    }

    /// Data source tags first, then column tags by column; by tag name within each.
    public static func displayOrder(_ lhs: TagAttachment, _ rhs: TagAttachment) -> Bool {
        let left = (lhs.model.columnName == nil ? 0 : 1, lhs.model.columnName ?? "", lhs.tag.name.value)
        let right = (rhs.model.columnName == nil ? 0 : 1, rhs.model.columnName ?? "", rhs.tag.name.value)
        return left < right
    }
}

/// A validated `POST /tag`: the tags to create (with every missing ancestor) and, optionally, the root whose
/// hierarchy they belong to.
public struct TagCreation: Sendable, Equatable {
    public static let maxTags = 10_000

    public struct Item: Sendable, Equatable {
        public var name: TagName
        /// When given, the id the tag already has; Warden does not rename tags, so it must match.
        public var id: Int64?

        public init(name: TagName, id: Int64? = nil) {
            self.name = name
            self.id = id
        }
    }

    public struct Root: Sendable, Equatable {
        public var name: TagName
        /// Remove the root's existing descendants that are not among the items.
        public var deleteHierarchy: Bool

        public init(name: TagName, deleteHierarchy: Bool) {
            self.name = name
            self.deleteHierarchy = deleteHierarchy
        }
    }

    public var items: [Item]
    public var root: Root?

    public init(items: [Item], root: Root? = nil) {
        self.items = items
        self.root = root
    }

    /// The request's tag names without repeats, in the order given.
    public var requestedNames: [TagName] {
        var seen: Set<TagName> = []
        return items.map(\.name).filter { seen.insert($0).inserted }
    }

    /// Every tag that must exist afterwards: the items, the root, and all their ancestors, parents first.
    public var namesToEnsure: [TagName] {
        TagName.withAncestors(items.map(\.name) + (root.map { [$0.name] } ?? []))
    }

    /// Validates a request body's values, reporting every problem at once (`tags[2].name`, `rootTag.source` …).
    public static func parse(tags: [(name: String, id: Int64?)],
                             rootTag: (name: String, deleteHierarchy: Bool, source: String?)?) throws(WardenError) -> TagCreation {
        var validator = Validator()
        var root: Root?
        if let rootTag {
            do {
                root = Root(name: try TagName(rootTag.name, field: "rootTag.name"), deleteHierarchy: rootTag.deleteHierarchy)
            } catch {
                validator.append(error.fields, prefix: "")
            }
            if let source = rootTag.source {
                validator.check(source == Tag.curated, "rootTag.source", "must be \"\(Tag.curated)\"")
            }
        }
        validator.check(!tags.isEmpty || rootTag != nil, "tags", "must not be empty")
        validator.check(tags.count <= maxTags, "tags", "must have at most \(maxTags) entries")
        var items: [Item] = []
        for (index, tag) in tags.enumerated() {
            let field = "tags[\(index)]"
            if let id = tag.id { validator.check(id > 0, "\(field).id", "must be a positive integer") }
            let name: TagName
            do {
                name = try TagName(tag.name, field: "\(field).name")
            } catch {
                validator.append(error.fields, prefix: "")
                continue
            }
            if let root {
                validator.check(name.isWithin(root.name), "\(field).name", "must be the root tag \(root.name) or lie below it")
            }
            items.append(Item(name: name, id: tag.id))
        }
        try validator.finish()
        return TagCreation(items: items, root: root)
    }
}

/// `GET /tag` filters.
public struct TagSearch: Sendable, Equatable {
    public static let defaultLimit = 100
    public static let maxLimit = 1000

    /// Matched anywhere in the full name, case-insensitively.
    public var searchText: String?
    public var source: String?
    public var excludedSource: String?
    /// Tags in these hierarchies (the named tags and everything below them) are left out.
    public var excludedHierarchies: [TagName]
    public var limit: Int

    public init(searchText: String? = nil, source: String? = nil, excludedSource: String? = nil, excludedHierarchies: [TagName] = [],
                limit: Int = TagSearch.defaultLimit) {
        self.searchText = searchText
        self.source = source
        self.excludedSource = excludedSource
        self.excludedHierarchies = excludedHierarchies
        self.limit = limit
    }
}
