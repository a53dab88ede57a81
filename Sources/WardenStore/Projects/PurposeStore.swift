public import Foundation
import SQLKit
public import WardenDomain

/// Purposes: a dotted hierarchy kept through `parent_id`, so that a purpose's descendants are found by walking the
/// tree, never by matching name prefixes.
public struct PurposeStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Purpose not found", code: .purposeNotFound)

    static let columns = "id, name, parent_id, description, acknowledgement, display_acknowledgement, created_by, created_at, updated_at"

    static func purpose(from row: any SQLRow) throws -> Purpose {
        Purpose(id: try row.int64("id"), name: try row.string("name"), parentId: try row.decode(column: "parent_id", as: Int64?.self),
                description: try row.optionalString("description"), acknowledgement: try row.optionalString("acknowledgement"),
                displayAcknowledgement: try row.bool("display_acknowledgement"), createdBy: try row.decode(column: "created_by", as: Int64?.self),
                createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    /// Creates or updates a purpose and those below it, with any missing ancestors, in one transaction. Fields a
    /// draft leaves out keep their stored values. Returns the draft's own purpose.
    public func upsert(_ draft: PurposeDraft, by actorId: Int64, now: Date) async throws -> Purpose {
        try await metastore.write { db in
            for item in draft.flattened {
                var parentId: Int64?
                let segments = item.name.split(separator: ".")
                for depth in 1...segments.count {
                    let name = segments.prefix(depth).joined(separator: ".")
                    let own = depth == segments.count ? item : nil
                    parentId = try await Self.upsert(name: name, parentId: parentId, draft: own, by: actorId, now: now, on: db)
                }
            }
            return try await Self.purpose(name: draft.name, on: db)!
        }
    }

    private static func upsert(name: String, parentId: Int64?, draft: PurposeDraft?, by actorId: Int64, now: Date,
                               on db: any SQLDatabase) async throws -> Int64 {
        if let existing = try await purpose(name: name, on: db) {
            guard let draft else { return existing.id }
            var assignments: [SQLQueryString] = ["updated_at = \(bind: now.millis)"]
            if let value = draft.description { assignments.append("description = \(bind: value)") }
            if let value = draft.acknowledgement { assignments.append("acknowledgement = \(bind: value)") }
            if let value = draft.displayAcknowledgement { assignments.append("display_acknowledgement = \(bind: value)") }
            try await db.raw("UPDATE purposes SET \(assignments.joined(separator: ", ")) WHERE id = \(bind: existing.id)").run()
            return existing.id
        }
        let row = try await db.raw("""
            INSERT INTO purposes (name, parent_id, description, acknowledgement, display_acknowledgement, created_by, created_at, updated_at)
            VALUES (\(bind: name), \(bind: parentId), \(bind: draft?.description), \(bind: draft?.acknowledgement),
                    \(bind: draft?.displayAcknowledgement ?? true), \(bind: actorId), \(bind: now.millis), \(bind: now.millis))
            RETURNING id
            """).first()
        return try row!.int64("id")
    }

    static func purpose(name: String, on db: any SQLDatabase) async throws -> Purpose? {
        try await db.raw("SELECT \(unsafeRaw: columns) FROM purposes WHERE name = \(bind: name)").first().map(purpose(from:))
    }

    public func purpose(id: Int64) async throws -> Purpose {
        try await metastore.read { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM purposes WHERE id = \(bind: id)").first() else {
                throw Self.notFound
            }
            return try Self.purpose(from: row)
        }
    }

    /// The purposes with these names; those missing are left out.
    public func purposes(named names: [String]) async throws -> [Purpose] {
        guard !names.isEmpty else { return [] }
        let binds: [SQLBindable] = names
        return try await metastore.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM purposes WHERE name IN (\(binds: binds)) ORDER BY name").all().map(Self.purpose(from:))
        }
    }

    /// Purposes whose name contains `searchText` (ignoring case), by name; `rootOnly` keeps those at the top.
    public func search(searchText: String?, rootOnly: Bool, paging: Paging) async throws -> Page<Purpose> {
        let text: SQLQueryString = searchText.map { "AND LOWER(name) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        let root: SQLQueryString = rootOnly ? "AND parent_id IS NULL" : ""
        return try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM purposes WHERE 1 = 1 \(text) \(root)").first()!.int64("n")
            let items = try await db.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM purposes WHERE 1 = 1 \(text) \(root)
                ORDER BY name LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all().map(Self.purpose(from:))
            return Page(items: items, count: Int(count))
        }
    }

    /// The purposes below `id`, at every depth, by name.
    public func descendants(of id: Int64) async throws -> [Purpose] {
        try await metastore.read { db in try await Self.descendants(of: id, on: db) }
    }

    static func descendants(of id: Int64, on db: any SQLDatabase) async throws -> [Purpose] {
        try await db.raw("""
            WITH RECURSIVE below (id) AS (SELECT id FROM purposes WHERE parent_id = \(bind: id)
                                        UNION ALL SELECT p.id FROM purposes p JOIN below b ON p.parent_id = b.id)
            SELECT \(unsafeRaw: columns) FROM purposes WHERE id IN (SELECT id FROM below) ORDER BY name
            """).all().map(purpose(from:))
    }

    /// Changes a purpose's description and acknowledgement.
    public func update(id: Int64, description: String??, acknowledgement: String??, displayAcknowledgement: Bool?, now: Date) async throws -> Purpose {
        try await metastore.write { db in
            var assignments: [SQLQueryString] = ["updated_at = \(bind: now.millis)"]
            if let value = description { assignments.append("description = \(bind: value)") }
            if let value = acknowledgement { assignments.append("acknowledgement = \(bind: value)") }
            if let value = displayAcknowledgement { assignments.append("display_acknowledgement = \(bind: value)") }
            let updated = try await db.raw("UPDATE purposes SET \(assignments.joined(separator: ", ")) WHERE id = \(bind: id) RETURNING id").all()
            guard !updated.isEmpty else { throw Self.notFound }
            return try Self.purpose(from: try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM purposes WHERE id = \(bind: id)").first()!)
        }
    }

    /// Deletes a purpose and every purpose below it; 409 naming the projects when a project states one of them.
    public func delete(id: Int64) async throws -> Purpose {
        try await metastore.write { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM purposes WHERE id = \(bind: id)\(SQLLock.forUpdate(db))").first() else {
                throw Self.notFound
            }
            let purpose = try Self.purpose(from: row)
            let ids: [Int64] = [id] + (try await Self.descendants(of: id, on: db)).map(\.id)
            let binds: [SQLBindable] = ids
            let projects = try await db.raw("""
                SELECT DISTINCT p.name FROM projects p JOIN project_purposes pp ON pp.project_id = p.id
                WHERE pp.purpose_id IN (\(binds: binds)) ORDER BY p.name
                """).all().map { try $0.string("name") }
            guard projects.isEmpty else {
                throw WardenError.conflict("Purpose `\(purpose.name)` (or one below it) is stated by projects: " + projects.joined(separator: ", "),
                                           code: .purposeInUse)
            }
            // Deepest first, so no row is deleted before those that point to it (whether or not cascades apply).
            for purposeId in ids.reversed() {
                try await db.raw("DELETE FROM purposes WHERE id = \(bind: purposeId)").run()
            }
            return purpose
        }
    }
}
