public import Foundation
public import SQLKit
public import WardenDomain

/// Derivations between data sources: which sources a source was derived from (its parents) and which were
/// derived from it (its children). The graph never has a cycle.
public struct LineageStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Lineage record not found", code: .lineageNotFound)

    /// Records `parentIds` as parents of `childId` (known ones are kept as they are) with a `lineageAdded` activity
    /// on both ends of each new link, in one transaction. Returns the parent ids that were new.
    /// Throws 400 when a parent is the child itself or derived from it, 404 when a data source does not exist.
    public func addParents(_ parentIds: [Int64], to childId: Int64, by userId: Int64, now: Date) async throws -> [Int64] {
        try await metastore.write { db in try await Self.addParents(parentIds, to: childId, by: userId, now: now, on: db) }
    }

    /// The same inside a caller's transaction, e.g. the registration of a derived data source.
    public static func addParents(_ parentIds: [Int64], to childId: Int64, by userId: Int64, now: Date,
                                  on db: any SQLDatabase) async throws -> [Int64] {
        var seen = Set<Int64>()
        let parents = parentIds.filter { seen.insert($0).inserted }
        guard !parents.isEmpty else { return [] }
        if parents.contains(childId) {
            throw WardenError.badRequest("A data source cannot be its own parent", code: .lineageSelfParent)
        }
        // Two transactions could each add one half of a cycle that neither sees alone: one lineage writer at a
        // time. SQLite writers are serialised already; PostgreSQL takes a transaction-scoped advisory lock.
        if db.dialect.name == "postgresql" {
            try await db.raw("SELECT pg_advisory_xact_lock(\(bind: Self.lockKey))").run()
        }
        let everyId: [SQLBindable] = parents + [childId]
        let existing = Set(try await db.raw("SELECT id FROM data_sources WHERE id IN (\(binds: everyId))").all().map { try $0.int64("id") })
        if let missing = (parents + [childId]).first(where: { !existing.contains($0) }) {
            throw WardenError.notFound("Data source \(missing) not found", code: .dataSourceNotFound)
        }
        // A new link parent → child closes a cycle exactly when the parent already descends from the child.
        let candidates: [SQLBindable] = parents
        if let row = try await db.raw("""
            WITH RECURSIVE descendants (id) AS (
                SELECT child_id FROM lineage WHERE parent_id = \(bind: childId)
                UNION
                SELECT l.child_id FROM lineage l JOIN descendants d ON l.parent_id = d.id
            )
            SELECT id FROM descendants WHERE id IN (\(binds: candidates)) LIMIT 1
            """).first() {
            let parent = try row.int64("id")
            throw WardenError.badRequest(
                "Data source \(parent) is derived from data source \(childId), so it cannot also be its parent (lineage must not have cycles)",
                code: .lineageCycle)
        }
        let known = Set(try await db.raw("""
            SELECT parent_id FROM lineage WHERE child_id = \(bind: childId) AND parent_id IN (\(binds: candidates))
            """).all().map { try $0.int64("parent_id") })
        let added = parents.filter { !known.contains($0) }
        guard !added.isEmpty else { return [] }
        _ = try await SQLBatch.insert(into: "lineage", columns: ["parent_id", "child_id", "created_by", "created_at"],
                                  rows: added.map { [$0, childId, userId, now.millis] }, on: db)
        let activities = added.flatMap { parent in
            [NewActivity(dataSourceId: childId, actorId: userId, type: .lineageAdded, details: .object(["parentId": .int(parent)])),
             NewActivity(dataSourceId: parent, actorId: userId, type: .lineageAdded, details: .object(["childId": .int(childId)]))]
        }
        try await ActivityStore.record(activities, now: now, on: db)
        return added
    }

    /// Removes one link with a `lineageRemoved` activity on both ends; 404 when there is no such link.
    public func removeParent(_ parentId: Int64, from childId: Int64, by userId: Int64, now: Date) async throws {
        try await metastore.write { db in
            guard try await db.raw("""
                DELETE FROM lineage WHERE parent_id = \(bind: parentId) AND child_id = \(bind: childId) RETURNING parent_id
                """).first() != nil else { throw Self.notFound }
            try await ActivityStore.record([
                NewActivity(dataSourceId: childId, actorId: userId, type: .lineageRemoved, details: .object(["parentId": .int(parentId)])),
                NewActivity(dataSourceId: parentId, actorId: userId, type: .lineageRemoved, details: .object(["childId": .int(childId)])),
            ], now: now, on: db)
        }
    }

    /// The direct parents of `id`, each with the data source at the other end and `callerId`'s standing on it.
    public func parents(of id: Int64, caller callerId: Int64, now: Date) async throws -> [LineageEntry] {
        try await entries(other: "parent_id", anchor: "child_id", id: id, caller: callerId, now: now)
    }

    /// The direct children of `id`, each with the data source at the other end and `callerId`'s standing on it.
    public func children(of id: Int64, caller callerId: Int64, now: Date) async throws -> [LineageEntry] {
        try await entries(other: "child_id", anchor: "parent_id", id: id, caller: callerId, now: now)
    }

    private func entries(other: String, anchor: String, id: Int64, caller callerId: Int64, now: Date) async throws -> [LineageEntry] {
        let sourceColumns = DataSourceStore.columns.split(separator: ",")
            .map { "s." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")
        return try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: sourceColumns), l.parent_id AS link_parent_id, l.child_id AS link_child_id,
                       l.created_by AS link_created_by, u.userid AS link_userid, l.created_at AS link_created_at, m.state AS caller_state
                FROM lineage l
                JOIN data_sources s ON s.id = l.\(unsafeRaw: other)
                LEFT JOIN users u ON u.id = l.created_by
                LEFT JOIN \(Membership.effective(userId: callerId, now: now)) m ON m.data_source_id = s.id
                WHERE l.\(unsafeRaw: anchor) = \(bind: id)
                ORDER BY s.id
                """).all().map { row in
                LineageEntry(
                    link: LineageLink(parentId: try row.int64("link_parent_id"), childId: try row.int64("link_child_id"),
                                      createdBy: try row.decode(column: "link_created_by", as: Int64?.self),
                                      createdByUserid: try row.optionalString("link_userid"), createdAt: try row.date("link_created_at")),
                    other: try DataSourceStore.dataSource(from: row),
                    callerState: try row.optionalString("caller_state").flatMap(MemberState.init(rawValue:)))
            }
        }
    }

    /// The advisory lock that serialises lineage writers on PostgreSQL.
    static let lockKey: Int64 = 7_283_910_452
}
