public import Foundation
import SQLKit
public import WardenDomain

/// Data dictionaries: one per data source, its columns kept in order.
public struct DictionaryStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Dictionary not found", code: .dictionaryNotFound)

    static let columnNames = ["dictionary_id", "position", "name", "data_type", "remote_type", "nullable", "description", "pending_review"]

    static func rows(dictionaryId: Int64, columns: [DictionaryColumn], pendingReview: Set<String> = []) -> [[SQLBindable]] {
        columns.enumerated().map { position, column in
            [dictionaryId, position, column.name, column.dataType, column.remoteType, column.nullable, column.description,
             pendingReview.contains(column.name)]
        }
    }

    public func dictionary(dataSourceId: Int64) async throws -> DataDictionary? {
        try await metastore.read { db in try await Self.dictionary(dataSourceId: dataSourceId, on: db) }
    }

    static func dictionary(dataSourceId: Int64, on db: any SQLDatabase) async throws -> DataDictionary? {
        guard let row = try await db.raw("""
            SELECT id, created_at, updated_at FROM dictionaries WHERE data_source_id = \(bind: dataSourceId)
            """).first() else { return nil }
        let id = try row.int64("id")
        let columns = try await db.raw("""
            SELECT name, data_type, remote_type, nullable, description FROM dictionary_columns
            WHERE dictionary_id = \(bind: id) ORDER BY position
            """).all().map { row in
            DictionaryColumn(name: try row.string("name"), dataType: try row.string("data_type"),
                             remoteType: try row.string("remote_type"), nullable: try row.decode(column: "nullable", as: Bool?.self),
                             description: try row.optionalString("description"))
        }
        return DataDictionary(id: id, dataSourceId: dataSourceId, columns: columns, createdAt: try row.date("created_at"),
                              updatedAt: try row.date("updated_at"))
    }

    /// Creates the dictionary; a data source that already has one is a conflict.
    public func create(dataSourceId: Int64, columns: [DictionaryColumn], actorId: Int64, now: Date) async throws -> DataDictionary {
        try await metastore.write { db in
            if try await Self.dictionary(dataSourceId: dataSourceId, on: db) != nil {
                throw WardenError.conflict("The data source already has a dictionary; use PUT to replace it", code: .dictionaryConflict)
            }
            try await Self.recordChange(dataSourceId, actorId: actorId, action: "created", now: now, on: db)
            return try await Self.replace(dataSourceId: dataSourceId, columns: columns, now: now, on: db)
        }
    }

    /// Replaces the dictionary's columns, creating the dictionary when there is none.
    public func replace(dataSourceId: Int64, columns: [DictionaryColumn], actorId: Int64, now: Date) async throws -> DataDictionary {
        try await metastore.write { db in
            try await Self.recordChange(dataSourceId, actorId: actorId, action: "replaced", now: now, on: db)
            return try await Self.replace(dataSourceId: dataSourceId, columns: columns, now: now, on: db)
        }
    }

    private static func recordChange(_ dataSourceId: Int64, actorId: Int64, action: String, now: Date, on db: any SQLDatabase) async throws {
        try await ActivityStore.record([NewActivity(dataSourceId: dataSourceId, actorId: actorId, type: .dictionaryUpdated,
                                                    details: .object(["action": .string(action)]))], now: now, on: db)
    }

    /// Columns awaiting review stay so through a replacement: only completing their `columnAdded` task reviews them.
    static func replace(dataSourceId: Int64, columns: [DictionaryColumn], newlyPending: Set<String> = [], now: Date,
                        on db: any SQLDatabase) async throws -> DataDictionary {
        let id: Int64
        var pending = newlyPending
        if let existing = try await db.raw("SELECT id FROM dictionaries WHERE data_source_id = \(bind: dataSourceId)").first() {
            id = try existing.int64("id")
            for row in try await db.raw("SELECT name FROM dictionary_columns WHERE dictionary_id = \(bind: id) AND pending_review = \(bind: true)").all() {
                pending.insert(try row.string("name"))
            }
            try await db.raw("UPDATE dictionaries SET updated_at = \(bind: now.millis) WHERE id = \(bind: id)").run()
            try await db.raw("DELETE FROM dictionary_columns WHERE dictionary_id = \(bind: id)").run()
        } else {
            id = try await db.raw("""
                INSERT INTO dictionaries (data_source_id, created_at, updated_at) VALUES (\(bind: dataSourceId), \(bind: now.millis), \(bind: now.millis))
                RETURNING id
                """).first()!.int64("id")
        }
        try await SQLBatch.insert(into: "dictionary_columns", columns: columnNames, rows: rows(dictionaryId: id, columns: columns, pendingReview: pending),
                                  chunk: 500, on: db)
        try await TagStore.pruneColumnTags(dataSourceId: dataSourceId, now: now, on: db)
        return try await dictionary(dataSourceId: dataSourceId, on: db)!
    }

    /// Applies what column detection found, in one transaction: the new dictionary (added columns awaiting review when
    /// `maskNew`), one task per kind of change for `owners`, the view's change count, and the job's completion.
    public func applyDetection(dataSourceId: Int64, changes: ColumnChanges, maskNew: Bool, owners: [Int64], actorId: Int64,
                               completing: JobCompletion, now: Date) async throws {
        try await metastore.write { db in
            if !changes.isEmpty {
                try await Self.recordChange(dataSourceId, actorId: actorId, action: "detected", now: now, on: db)
                _ = try await Self.replace(dataSourceId: dataSourceId, columns: changes.dictionary,
                                           newlyPending: maskNew ? Set(changes.added.map(\.name)) : [], now: now, on: db)
                try await db.raw("UPDATE data_sources SET view_changes = view_changes + 1 WHERE id = \(bind: dataSourceId)").run()
                let tasks: [(TaskType, JSONValue)] = [
                    (.columnAdded, .array(changes.added.map { .object(["name": .string($0.name), "remoteType": .string($0.remoteType)]) })),
                    (.columnDeleted, .array(changes.deleted.map { .object(["name": .string($0)]) })),
                    (.columnTypeChanged, .array(changes.typeChanged.map {
                        .object(["name": .string($0.name), "from": .string($0.from), "to": .string($0.to)])
                    })),
                ]
                for (type, columns) in tasks where columns.arrayValue?.isEmpty == false {
                    _ = try await TaskStore.create(type: type, dataSourceId: dataSourceId, requesterId: actorId, subscriptionId: nil, reason: nil,
                                                   metadata: .object(["columns": columns, "masked": .bool(type == .columnAdded && maskNew)]),
                                                   targets: owners, now: now, on: db)
                }
            }
            try await completing.record(on: db)
        }
    }

    /// An owner's review of added columns (completing their `columnAdded` task): they are no longer masked by default.
    static func review(_ names: [String], dataSourceId: Int64, on db: any SQLDatabase) async throws {
        guard !names.isEmpty else { return }
        let binds: [SQLBindable] = names
        let updated = try await db.raw("""
            UPDATE dictionary_columns SET pending_review = \(bind: false)
            WHERE dictionary_id IN (SELECT id FROM dictionaries WHERE data_source_id = \(bind: dataSourceId)) AND name IN (\(binds: binds))
              AND pending_review = \(bind: true)
            RETURNING name
            """).all()
        if !updated.isEmpty {
            try await db.raw("UPDATE data_sources SET view_changes = view_changes + 1 WHERE id = \(bind: dataSourceId)").run()
        }
    }

    /// Deletes the dictionary; false when there was none.
    public func delete(dataSourceId: Int64, actorId: Int64, now: Date) async throws -> Bool {
        try await metastore.write { db in
            guard let row = try await db.raw("SELECT id FROM dictionaries WHERE data_source_id = \(bind: dataSourceId)").first() else {
                return false
            }
            try await Self.recordChange(dataSourceId, actorId: actorId, action: "deleted", now: now, on: db)
            let id = try row.int64("id")
            try await db.raw("DELETE FROM dictionary_columns WHERE dictionary_id = \(bind: id)").run()
            try await db.raw("DELETE FROM dictionaries WHERE id = \(bind: id)").run()
            try await TagStore.pruneColumnTags(dataSourceId: dataSourceId, now: now, on: db)
            return true
        }
    }

    /// Distinct column names containing `text`, from dictionaries of data sources `userId` may see
    /// (public ones and those they are a member of).
    public func searchColumnNames(containing text: String?, limit: Int, visibleTo userId: Int64, now: Date) async throws -> [String] {
        let filter: SQLQueryString = text.map { "AND LOWER(c.name) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        return try await metastore.read { db in
            try await db.raw("""
                SELECT DISTINCT c.name FROM dictionary_columns c
                JOIN dictionaries d ON d.id = c.dictionary_id JOIN data_sources s ON s.id = d.data_source_id
                LEFT JOIN \(Membership.effective(userId: userId, now: now)) m ON m.data_source_id = s.id
                WHERE s.disabled = \(bind: false) AND ((s.private = \(bind: false) AND s.discoverable = \(bind: true)) OR m.state <> 'pending')
                \(filter)
                ORDER BY c.name LIMIT \(bind: limit)
                """).all().map { try $0.string("name") }
        }
    }

    /// Distinct data types across saved dictionaries, optionally containing `query`.
    public func types(containing query: String?) async throws -> [String] {
        let filter: SQLQueryString = query.map { "WHERE LOWER(data_type) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        return try await metastore.read { db in
            try await db.raw("SELECT DISTINCT data_type FROM dictionary_columns \(filter) ORDER BY data_type").all()
                .map { try $0.string("data_type") }
        }
    }
}
