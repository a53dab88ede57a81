import Foundation
import SQLKit
import WardenDomain

/// Marks data sources whose native view must follow a change, inside the change's own transaction; the view
/// scheduler queues one refresh per source for however many changes came since the last (`JobStore.queueViewRefreshes`).
enum ViewChanges {
    static func sources(_ ids: [Int64], on db: any SQLDatabase) async throws {
        let unique: [SQLBindable] = Array(Set(ids)).sorted()
        guard !unique.isEmpty else { return }
        try await db.raw("UPDATE data_sources SET view_changes = view_changes + 1 WHERE id IN (\(binds: unique))").run()
    }

    /// The sources these users are members of, on their own or through a group: their `warden_system` rows change.
    static func ofUsers(_ userIds: [Int64], on db: any SQLDatabase) async throws {
        let users: [SQLBindable] = Array(Set(userIds)).sorted()
        guard !users.isEmpty else { return }
        try await db.raw("""
            UPDATE data_sources SET view_changes = view_changes + 1 WHERE id IN (
                SELECT sm.data_source_id FROM data_source_members sm
                WHERE sm.user_id IN (\(binds: users)) OR sm.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id IN (\(binds: users))))
            """).run()
    }
}
