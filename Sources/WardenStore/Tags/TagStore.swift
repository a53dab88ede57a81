public import Foundation
public import SQLKit
public import WardenDomain

/// The tag vocabulary (a hierarchy of dotted names) and the tags attached to data sources and their columns.
public struct TagStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Tag not found", code: .tagNotFound)
    public static let notAttached = WardenError.notFound("The tag is not attached to this model", code: .tagNotAttached)
    public static let columnNotFound = WardenError.notFound("Column not found in the data source's dictionary", code: .columnNotFound)

    /// A tag's columns, aliased `t`, and whether it has children.
    static let tagColumns = """
        t.id, t.name, t.parent_id, t.source, t.description, t.system_created, t.created_by, t.created_at, t.updated_at,
        CASE WHEN EXISTS (SELECT 1 FROM tags c WHERE c.parent_id = t.id) THEN 1 ELSE 0 END AS has_children
        """

    // MARK: For other queries

    /// The ids of the tags named and of every tag below them: a subquery, for `… IN (\(subtreeIds(names)))`.
    /// It walks `parent_id`, so it uses the `tags_parent` index and never compares name prefixes.
    static func subtreeIds(_ names: [String]) -> SQLQueryString {
        guard !names.isEmpty else { return "SELECT id FROM tags WHERE 1 = 0" }
        let binds: [SQLBindable] = names.map { $0.precomposedStringWithCanonicalMapping }
        return """
            WITH RECURSIVE subtree (id) AS (
                SELECT id FROM tags WHERE name IN (\(binds: binds))
                UNION SELECT child.id FROM tags child JOIN subtree ON child.parent_id = subtree.id)
            SELECT id FROM subtree
            """
    }

    /// A subquery selecting the ids of the data sources tagged with any of `names` or with a tag below one of them
    /// (`PII` matches a source tagged `PII.Email`; names are case-sensitive, unknown names match nothing).
    /// With `includingColumns`, a tag on any column of a source counts for the source too. Use it as
    /// `WHERE s.id IN (\(TagStore.dataSourceIdsTagged(names)))`; it is uncorrelated, so it runs once per query.
    public static func dataSourceIdsTagged(_ names: [String], includingColumns: Bool = false) -> SQLQueryString {
        let tagIds = subtreeIds(names)
        var query: SQLQueryString = "SELECT data_source_id FROM data_source_tags WHERE tag_id IN (\(tagIds))"
        if includingColumns {
            query = query + " UNION SELECT data_source_id FROM column_tags WHERE tag_id IN (\(tagIds))"
        }
        return query
    }

    /// The names of the tags attached to each of the data sources `ids` (not their columns), sorted; sources
    /// without tags are absent from the result.
    public func tagNames(ofDataSources ids: [Int64]) async throws -> [Int64: [String]] {
        try await metastore.read { db in try await Self.tagNames(ofDataSources: ids, on: db) }
    }

    public static func tagNames(ofDataSources ids: [Int64], on db: any SQLDatabase) async throws -> [Int64: [String]] {
        var result: [Int64: [String]] = [:]
        for chunk in SQLBatch.chunks(ids) {
            let binds: [SQLBindable] = chunk
            for row in try await db.raw("""
                SELECT a.data_source_id, t.name FROM data_source_tags a JOIN tags t ON t.id = a.tag_id
                WHERE a.data_source_id IN (\(binds: binds))
                """).all() {
                result[try row.int64("data_source_id"), default: []].append(try row.string("name"))
            }
        }
        return result.mapValues { $0.sorted() }
    }

    // MARK: The vocabulary

    /// Creates the requested tags and their missing ancestors, in one transaction. Existing tags are kept as
    /// they are, so repeating a request changes nothing. With a root whose `deleteHierarchy` is set, the root's
    /// existing descendants that the request does not name (directly or as an ancestor) are deleted first,
    /// with their attachments. Returns the requested tags, sorted by name.
    public func create(_ creation: TagCreation, by userId: Int64, now: Date) async throws -> [Tag] {
        try await metastore.write { db in
            try await Self.checkIds(of: creation.items, on: db)
            if let root = creation.root, root.deleteHierarchy {
                let keep = Set(creation.namesToEnsure.map(\.value))
                let doomed = try await db.raw("SELECT id, name FROM tags WHERE id IN (\(Self.subtreeIds([root.name.value])))").all()
                    .filter { !keep.contains(try $0.string("name")) }.map { try $0.int64("id") }
                // `keep` holds every ancestor of what it holds, so the doomed set holds every descendant of its members:
                // the cascade removes nothing that is kept.
                try await Self.delete(ids: doomed, reason: "hierarchyReplaced", by: userId, now: now, on: db)
            }
            try await Self.ensure(creation.namesToEnsure, by: userId, now: now, on: db)
            return try await Self.tags(named: creation.requestedNames.map(\.value), on: db).sorted { $0.name < $1.name }
        }
    }

    /// `id`s sent with tags must be those tags' ids: Warden does not rename tags.
    private static func checkIds(of items: [TagCreation.Item], on db: any SQLDatabase) async throws {
        let given = items.compactMap(\.id)
        guard !given.isEmpty else { return }
        var names: [Int64: String] = [:]
        for chunk in SQLBatch.chunks(Array(Set(given))) {
            let binds: [SQLBindable] = chunk
            for row in try await db.raw("SELECT id, name FROM tags WHERE id IN (\(binds: binds))").all() {
                names[try row.int64("id")] = try row.string("name")
            }
        }
        var validator = Validator()
        for (index, item) in items.enumerated() {
            guard let id = item.id else { continue }
            if let existing = names[id] {
                validator.check(existing == item.name.value, "tags[\(index)].id",
                                "is the id of the tag \(existing); tags cannot be renamed")
            } else {
                validator.add("tags[\(index)].id", "is not the id of an existing tag")
            }
        }
        try validator.finish()
    }

    /// Creates the tags of `names` that do not exist yet; `names` must list parents before children.
    private static func ensure(_ names: [TagName], by userId: Int64, now: Date, on db: any SQLDatabase) async throws {
        var ids = try await Self.ids(of: names.map(\.value), on: db)
        let missing = names.filter { ids[$0.value] == nil }
        // Level by level, so that every parent has its id before its children are inserted.
        for level in Dictionary(grouping: missing, by: \.depth).sorted(by: { $0.key < $1.key }).map(\.value) {
            let rows: [[SQLBindable]] = level.map { name in
                [name.value, name.parent.flatMap { ids[$0.value] }, Tag.curated, false, userId, now.millis, now.millis]
            }
            for chunk in SQLBatch.chunks(rows, size: 200) {
                var query: SQLQueryString = """
                    INSERT INTO tags (name, parent_id, source, system_created, created_by, created_at, updated_at) VALUES
                    """
                query = query + chunk.map { row -> SQLQueryString in "(\(binds: row))" }.joined(separator: ", ")
                // A concurrent request may have created the same tag since it was looked up: keep that one.
                try await db.raw(query + " ON CONFLICT (name) DO NOTHING").run()
            }
            ids.merge(try await Self.ids(of: level.map(\.value), on: db)) { $1 }
        }
    }

    /// Tag ids by name, for the names that exist.
    static func ids(of names: [String], on db: any SQLDatabase) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for chunk in SQLBatch.chunks(Array(Set(names))) {
            let binds: [SQLBindable] = chunk
            for row in try await db.raw("SELECT id, name FROM tags WHERE name IN (\(binds: binds))").all() {
                result[try row.string("name")] = try row.int64("id")
            }
        }
        return result
    }

    static func tags(named names: [String], on db: any SQLDatabase) async throws -> [Tag] {
        var result: [Tag] = []
        for chunk in SQLBatch.chunks(Array(Set(names))) {
            let binds: [SQLBindable] = chunk
            result += try await db.raw("SELECT \(unsafeRaw: tagColumns) FROM tags t WHERE t.name IN (\(binds: binds))").all()
                .map(Self.tag(from:))
        }
        return result
    }

    public func tag(named name: TagName) async throws -> Tag? {
        try await metastore.read { db in try await Self.tags(named: [name.value], on: db).first }
    }

    /// Tags matching `search`, sorted by name.
    public func search(_ search: TagSearch) async throws -> [Tag] {
        var conditions: [SQLQueryString] = []
        if let text = search.searchText {
            conditions.append("LOWER(t.name) LIKE \(bind: SQLText.containsPattern(text)) ESCAPE '\\'")
        }
        if let source = search.source { conditions.append("t.source = \(bind: source)") }
        if let excluded = search.excludedSource { conditions.append("t.source <> \(bind: excluded)") }
        if !search.excludedHierarchies.isEmpty {
            conditions.append("t.id NOT IN (\(Self.subtreeIds(search.excludedHierarchies.map(\.value))))")
        }
        let filter: SQLQueryString = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await metastore.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.tagColumns) FROM tags t \(filter) ORDER BY t.name LIMIT \(bind: search.limit)")
                .all().map(Self.tag(from:))
        }
    }

    /// Deletes the tag, every tag below it and all their attachments, recording a `tagRemoved` activity on each
    /// data source that loses a tag. Returns the tag as it was.
    public func delete(_ name: TagName, by userId: Int64, now: Date) async throws -> Tag {
        try await metastore.write { db in
            guard let tag = try await Self.tags(named: [name.value], on: db).first else { throw Self.notFound }
            let subtree = Self.subtreeIds([name.value])
            try await Self.recordRemovals(whereTagIn: subtree, reason: "tagDeleted", by: userId, now: now, on: db)
            try await db.raw("DELETE FROM tags WHERE id IN (\(subtree))").run()
            return tag
        }
    }

    /// Deletes tags by id; every descendant of a deleted tag must be among `ids` or be meant to go with it.
    private static func delete(ids: [Int64], reason: String, by userId: Int64, now: Date, on db: any SQLDatabase) async throws {
        let chunks = SQLBatch.chunks(ids)
        // Every removal is recorded before anything is deleted: a chunk's cascade may reach a later chunk's attachments.
        for chunk in chunks {
            let binds: [SQLBindable] = chunk
            try await recordRemovals(whereTagIn: "\(binds: binds)", reason: reason, by: userId, now: now, on: db)
        }
        for chunk in chunks {
            let binds: [SQLBindable] = chunk
            try await db.raw("DELETE FROM tags WHERE id IN (\(binds: binds))").run()
        }
    }

    /// Records a `tagRemoved` activity for every attachment of the tags `tagIds` (a subquery or a list of binds).
    private static func recordRemovals(whereTagIn tagIds: SQLQueryString, reason: String, by userId: Int64?, now: Date,
                                       on db: any SQLDatabase) async throws {
        let rows = try await db.raw("""
            SELECT a.data_source_id, NULL AS column_name, t.name FROM data_source_tags a JOIN tags t ON t.id = a.tag_id
            WHERE a.tag_id IN (\(tagIds))
            UNION ALL
            SELECT a.data_source_id, a.column_name, t.name FROM column_tags a JOIN tags t ON t.id = a.tag_id
            WHERE a.tag_id IN (\(tagIds))
            """).all()
        let activities = try rows.map { row in
            let dataSourceId = try row.int64("data_source_id")
            let model: TaggedModel = try row.optionalString("column_name").map { .column(dataSourceId: dataSourceId, name: $0) }
                ?? .dataSource(dataSourceId)
            return activity(.tagRemoved, tag: try row.string("name"), model: model, by: userId, reason: reason)
        }
        try await ActivityStore.record(activities, now: now, on: db)
    }

    // MARK: Attachments

    /// Attaches the tags `names` to `model`, all or none: when any name is not an existing tag, nothing is attached
    /// and the 400 lists every unknown name (fields `[index].name`, as in the request body). Tags already attached
    /// stay as they were. Records a `tagAdded` activity per new attachment and returns the model's tags.
    public func attach(_ names: [TagName], to model: TaggedModel, by userId: Int64, now: Date,
                       completing: JobCompletion? = nil) async throws -> [TagAttachment] {
        try await metastore.write { db in
            try await Self.requireColumn(of: model, on: db)
            let ids = try await Self.ids(of: names.map(\.value), on: db)
            let unknown = names.enumerated().filter { ids[$0.element.value] == nil }
            if !unknown.isEmpty {
                var seen: Set<String> = []
                let listed = unknown.map(\.element.value).filter { seen.insert($0).inserted }
                let shown = listed.prefix(10).joined(separator: ", ") + (listed.count > 10 ? " and \(listed.count - 10) more" : "")
                throw WardenError.badRequest("Unknown tags, so none were attached: \(shown). Create them with POST /tag first.",
                                             code: .tagUnknown,
                                             fields: unknown.map { FieldError(field: "[\($0.offset)].name", message: "is not an existing tag") })
            }
            let tagIds = Array(Set(ids.values)).sorted()
            var added: [Int64] = []
            for chunk in SQLBatch.chunks(tagIds, size: 200) {
                let values = chunk.map { tagId -> SQLQueryString in
                    switch model {
                    case .dataSource(let id): "(\(bind: id), \(bind: tagId), \(bind: userId), \(bind: now.millis))"
                    case .column(let id, let column): "(\(bind: id), \(bind: column), \(bind: tagId), \(bind: userId), \(bind: now.millis))"
                    }
                }.joined(separator: ", ")
                // Already attached tags conflict and are skipped; RETURNING lists only the new attachments.
                let insert: SQLQueryString = switch model {
                case .dataSource:
                    """
                    INSERT INTO data_source_tags (data_source_id, tag_id, added_by, created_at) VALUES \(values)
                    ON CONFLICT (data_source_id, tag_id) DO NOTHING RETURNING tag_id
                    """
                case .column:
                    """
                    INSERT INTO column_tags (data_source_id, column_name, tag_id, added_by, created_at) VALUES \(values)
                    ON CONFLICT (data_source_id, column_name, tag_id) DO NOTHING RETURNING tag_id
                    """
                }
                added += try await db.raw(insert).all().map { try $0.int64("tag_id") }
            }
            let namesById = Dictionary(uniqueKeysWithValues: ids.map { ($0.value, $0.key) })
            let activities = added.compactMap { namesById[$0] }.sorted().map { Self.activity(.tagAdded, tag: $0, model: model, by: userId) }
            try await ActivityStore.record(activities, now: now, on: db)
            try await completing?.record(on: db)
            return try await Self.attachments(dataSourceId: model.dataSourceId, scope: Self.scope(of: model), on: db)
        }
    }

    /// Removes the tag `name` from `model` (not the tags below it: those are attached, or not, on their own).
    /// Records a `tagRemoved` activity and returns the model's remaining tags.
    public func detach(_ name: TagName, from model: TaggedModel, by userId: Int64, now: Date) async throws -> [TagAttachment] {
        try await metastore.write { db in
            try await Self.requireColumn(of: model, on: db)
            let deleted = switch model {
            case .dataSource(let id):
                try await db.raw("""
                    DELETE FROM data_source_tags WHERE data_source_id = \(bind: id)
                    AND tag_id IN (SELECT id FROM tags WHERE name = \(bind: name.value)) RETURNING tag_id
                    """).all()
            case .column(let id, let column):
                try await db.raw("""
                    DELETE FROM column_tags WHERE data_source_id = \(bind: id) AND column_name = \(bind: column)
                    AND tag_id IN (SELECT id FROM tags WHERE name = \(bind: name.value)) RETURNING tag_id
                    """).all()
            }
            guard !deleted.isEmpty else { throw Self.notAttached }
            try await ActivityStore.record([Self.activity(.tagRemoved, tag: name.value, model: model, by: userId)], now: now, on: db)
            return try await Self.attachments(dataSourceId: model.dataSourceId, scope: Self.scope(of: model), on: db)
        }
    }

    /// The tags of a data source and of its columns, data source tags first (`TagAttachment.displayOrder`).
    public func attachments(dataSourceId: Int64) async throws -> [TagAttachment] {
        try await metastore.read { db in try await Self.attachments(dataSourceId: dataSourceId, scope: .all, on: db) }
    }

    /// The tags of each column of a data source that has any, by column name, in one query.
    public func columnTags(dataSourceId: Int64) async throws -> [String: [TagAttachment]] {
        try await metastore.read { db in
            Dictionary(grouping: try await Self.attachments(dataSourceId: dataSourceId, scope: .columns, on: db)) { $0.model.columnName! }
        }
    }

    enum Scope {
        case all, dataSource, columns
        case column(String)
    }

    static func scope(of model: TaggedModel) -> Scope {
        model.columnName.map(Scope.column) ?? .dataSource
    }

    static func attachments(dataSourceId: Int64, scope: Scope, on db: any SQLDatabase) async throws -> [TagAttachment] {
        let sourcePart: SQLQueryString = """
            SELECT tag_id, NULL AS column_name, added_by, created_at AS added_at FROM data_source_tags WHERE data_source_id = \(bind: dataSourceId)
            """
        var columnPart: SQLQueryString = """
            SELECT tag_id, column_name, added_by, created_at AS added_at FROM column_tags WHERE data_source_id = \(bind: dataSourceId)
            """
        if case .column(let name) = scope { columnPart = columnPart + " AND column_name = \(bind: name)" }
        let parts: SQLQueryString = switch scope {
        case .all: sourcePart + " UNION ALL " + columnPart
        case .dataSource: sourcePart
        case .columns, .column: columnPart
        }
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: tagColumns), a.column_name, a.added_by, a.added_at FROM (\(parts)) a JOIN tags t ON t.id = a.tag_id
            """).all()
        return try rows.map { row in
            let model: TaggedModel = try row.optionalString("column_name").map { .column(dataSourceId: dataSourceId, name: $0) }
                ?? .dataSource(dataSourceId)
            return TagAttachment(tag: try tag(from: row), model: model, addedBy: try row.decode(column: "added_by", as: Int64?.self),
                                 addedAt: try row.date("added_at"))
        }.sorted(by: TagAttachment.displayOrder)
    }

    /// A column is taggable when the data source's dictionary lists it.
    static func requireColumn(of model: TaggedModel, on db: any SQLDatabase) async throws {
        guard case .column(let id, let name) = model else { return }
        let found = try await db.raw("""
            SELECT 1 AS found FROM dictionary_columns c JOIN dictionaries d ON d.id = c.dictionary_id
            WHERE d.data_source_id = \(bind: id) AND c.name = \(bind: name)
            """).first()
        guard found != nil else { throw columnNotFound }
    }

    /// Removes the tags of columns that the data source's dictionary no longer lists (all of them when it has no
    /// dictionary), recording a `tagRemoved` activity for each. Called wherever a dictionary is replaced or deleted.
    static func pruneColumnTags(dataSourceId: Int64, now: Date, on db: any SQLDatabase) async throws {
        let rows = try await db.raw("""
            SELECT a.column_name, t.name FROM column_tags a JOIN tags t ON t.id = a.tag_id
            WHERE a.data_source_id = \(bind: dataSourceId) AND a.column_name NOT IN (
                SELECT c.name FROM dictionary_columns c JOIN dictionaries d ON d.id = c.dictionary_id WHERE d.data_source_id = \(bind: dataSourceId))
            """).all()
        guard !rows.isEmpty else { return }
        let activities = try rows.map { row in
            activity(.tagRemoved, tag: try row.string("name"), model: .column(dataSourceId: dataSourceId, name: try row.string("column_name")),
                     by: nil, reason: "columnRemoved")
        }
        try await ActivityStore.record(activities, now: now, on: db)
        try await db.raw("""
            DELETE FROM column_tags WHERE data_source_id = \(bind: dataSourceId) AND column_name NOT IN (
                SELECT c.name FROM dictionary_columns c JOIN dictionaries d ON d.id = c.dictionary_id WHERE d.data_source_id = \(bind: dataSourceId))
            """).run()
    }

    // MARK: Rows

    static func activity(_ type: ActivityType, tag: String, model: TaggedModel, by userId: Int64?, reason: String? = nil) -> NewActivity {
        var details: [String: JSONValue] = ["tag": .string(tag), "modelType": .string(model.modelType), "modelId": .string(model.modelId)]
        if let column = model.columnName { details["column"] = .string(column) }
        if let reason { details["reason"] = .string(reason) }
        return NewActivity(dataSourceId: model.dataSourceId, actorId: userId, type: type, details: .object(details))
    }

    static func tag(from row: any SQLRow) throws -> Tag {
        Tag(id: try row.int64("id"), name: try TagName(try row.string("name")), parentId: try row.decode(column: "parent_id", as: Int64?.self),
            source: try row.string("source"), description: try row.optionalString("description"),
            systemCreated: try row.bool("system_created"), createdBy: try row.decode(column: "created_by", as: Int64?.self),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            hasChildren: try row.decode(column: "has_children", as: Int.self) != 0)
    }
}
