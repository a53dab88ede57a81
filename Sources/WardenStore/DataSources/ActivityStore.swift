public import Foundation
public import SQLKit
public import WardenDomain

/// The record of every change to a data source and its policies: who did what, and when.
public struct ActivityStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public func record(_ activities: [NewActivity], now: Date) async throws {
        try await metastore.write { db in try await Self.record(activities, now: now, on: db) }
    }

    /// Records inside a caller's transaction, so the record exists exactly when the change does.
    public static func record(_ activities: [NewActivity], now: Date, on db: any SQLDatabase) async throws {
        try await ViewChanges.sources(activities.filter(\.type.changesNativeView).map(\.dataSourceId), on: db)
        let rows: [[SQLBindable]] = try activities.map { activity in
            [activity.dataSourceId, activity.actorId, activity.type.rawValue, try JSONColumn.encode(activity.details), now.millis]
        }
        try await SQLBatch.insert(into: "activities", columns: ["data_source_id", "actor_id", "type", "details", "created_at"],
                                  rows: rows, chunk: 200, on: db)
    }

    /// Newest first.
    public func activities(dataSourceId: Int64, paging: Paging) async throws -> Page<Activity> {
        try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM activities WHERE data_source_id = \(bind: dataSourceId)")
                .first()!.decode(column: "n", as: Int.self)
            let rows = try await db.raw("""
                SELECT a.id, a.data_source_id, a.actor_id, u.userid, u.name, u.email, a.type, a.details, a.created_at
                FROM activities a LEFT JOIN users u ON u.id = a.actor_id
                WHERE a.data_source_id = \(bind: dataSourceId) ORDER BY a.id DESC
                LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all()
            var items = try rows.map { row in
                var activity = Activity(id: try row.int64("id"), dataSourceId: try row.int64("data_source_id"),
                                        actorId: try row.decode(column: "actor_id", as: Int64?.self), actorUserid: try row.optionalString("userid"),
                                        actorName: try row.optionalString("name"),
                                        type: ActivityType(rawValue: try row.string("type")) ?? .updated,
                                        details: try JSONColumn.decode(JSONValue.self, from: try row.string("details")),
                                        createdAt: try row.date("created_at"))
                activity.actorEmail = try row.optionalString("email")
                return activity
            }
            // The users the activities are about, in one query for the page.
            let targets: [SQLBindable] = Array(Set(items.compactMap(\.targetProfileId)))
            if !targets.isEmpty {
                var people: [Int64: PersonSummary] = [:]
                for row in try await db.raw("SELECT id, name, email FROM users WHERE id IN (\(binds: targets))").all() {
                    let id = try row.int64("id")
                    people[id] = PersonSummary(id: id, name: try row.optionalString("name"), email: try row.optionalString("email"))
                }
                for index in items.indices { items[index].target = items[index].targetProfileId.flatMap { people[$0] } }
            }
            return Page(items: items, count: count)
        }
    }
}
