import Foundation
import SQLKit
import WardenDomain

/// A user's effective standing on data sources, in SQL: their own membership or a group's, whichever is strongest,
/// counting only memberships that have not expired. Every "what may this user do here" question goes through it.
enum Membership {
    /// The strongest of several states, by `MemberState.rank` (state names and ranks are constants, not input).
    private static let strongestState: String = {
        let ranks = MemberState.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }.joined(separator: " ")
        let states = MemberState.allCases.map { "WHEN \($0.rank) THEN '\($0.rawValue)'" }.joined(separator: " ")
        return "CASE MAX(CASE sm.state \(ranks) END) \(states) END"
    }()

    /// A derived table `(data_source_id, state, own_id, own_expiration)` of `userId`'s standings at `now`, to be joined
    /// as `m`; `own_id` and `own_expiration` are those of the user's own membership, when they have one.
    static func effective(userId: Int64, now: Date, dataSourceId: Int64? = nil) -> SQLQueryString {
        let source: SQLQueryString = dataSourceId.map { "sm.data_source_id = \(bind: $0) AND " } ?? ""
        return """
            (SELECT sm.data_source_id, \(unsafeRaw: strongestState) AS state,
                    MAX(CASE WHEN sm.user_id = \(bind: userId) THEN sm.id END) AS own_id,
                    MAX(CASE WHEN sm.user_id = \(bind: userId) THEN sm.expiration END) AS own_expiration
             FROM data_source_members sm
             WHERE \(source)(sm.user_id = \(bind: userId)
                    OR sm.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = \(bind: userId)))
               AND (sm.expiration IS NULL OR sm.expiration > \(bind: now.millis))
             GROUP BY sm.data_source_id)
            """
    }

    /// Every enabled user with a standing on the source at `now` (their own or a group's, the strongest), by user id.
    /// `members(dataSourceId:)` for many sources, in one query per 500: every source's members by source id.
    static func members(dataSourceIds: [Int64], now: Date, on db: any SQLDatabase) async throws -> [Int64: [(userId: Int64, state: MemberState)]] {
        var result: [Int64: [(userId: Int64, state: MemberState)]] = [:]
        for chunk in SQLBatch.chunks(dataSourceIds) {
            let binds = chunk.map { $0 as SQLBindable }
            for row in try await db.raw("""
                SELECT sm.data_source_id, u.id, \(unsafeRaw: strongestState) AS state FROM users u
                JOIN data_source_members sm ON sm.data_source_id IN (\(binds: binds))
                    AND (sm.user_id = u.id OR sm.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = u.id))
                WHERE u.disabled = \(bind: false) AND (sm.expiration IS NULL OR sm.expiration > \(bind: now.millis))
                GROUP BY sm.data_source_id, u.id ORDER BY sm.data_source_id, u.id
                """).all() {
                guard let state = MemberState(rawValue: try row.string("state")) else { continue }
                result[try row.int64("data_source_id"), default: []].append((try row.int64("id"), state))
            }
        }
        return result
    }

    static func members(dataSourceId: Int64, now: Date, on db: any SQLDatabase) async throws -> [(userId: Int64, state: MemberState)] {
        try await db.raw("""
            SELECT u.id, \(unsafeRaw: strongestState) AS state FROM users u
            JOIN data_source_members sm ON sm.data_source_id = \(bind: dataSourceId)
                AND (sm.user_id = u.id OR sm.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = u.id))
            WHERE u.disabled = \(bind: false) AND (sm.expiration IS NULL OR sm.expiration > \(bind: now.millis))
            GROUP BY u.id ORDER BY u.id
            """).all().compactMap { row in
            guard let state = MemberState(rawValue: try row.string("state")) else { return nil }
            return (try row.int64("id"), state)
        }
    }

    static func state(dataSourceId: Int64, userId: Int64, now: Date, on db: any SQLDatabase) async throws -> MemberState? {
        try await db.raw("SELECT m.state FROM \(effective(userId: userId, now: now, dataSourceId: dataSourceId)) m")
            .first().flatMap { MemberState(rawValue: try $0.string("state")) }
    }
}
