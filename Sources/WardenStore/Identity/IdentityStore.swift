public import Foundation
import SQLKit
public import WardenDomain

/// Users, groups, memberships, attributes, API keys and tokens in the metastore.
public struct IdentityStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    // MARK: Users

    static let userColumns = "id, userid, iamid, name, email, profile, permissions, disabled, system_generated, created_at, updated_at, last_login"

    public func createUser(_ user: NewUser, passwordHash: String?, now: Date) async throws -> User {
        try await metastore.write { db in try await createUser(user, passwordHash: passwordHash, now: now, on: db) }
    }

    /// Creates a user inside a caller's transaction.
    func createUser(_ user: NewUser, passwordHash: String?, now: Date, on db: any SQLDatabase) async throws -> User {
        do {
            let row = try await db.raw("""
                INSERT INTO users (userid, iamid, password_hash, name, email, profile, permissions, disabled,
                                   system_generated, created_at, updated_at)
                VALUES (\(bind: user.userid), \(bind: builtInIAM), \(bind: passwordHash), \(bind: user.profile.name),
                        \(bind: user.profile.email), \(bind: try JSONColumn.encode(Self.storedProfile(user.profile))),
                        \(bind: try JSONColumn.encode(user.permissions)), \(bind: false), \(bind: user.systemGenerated),
                        \(bind: now.millis), \(bind: now.millis))
                RETURNING \(unsafeRaw: Self.userColumns)
                """).first()
            let created = try Self.user(from: row!)
            try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: [created.id], actorId: nil, now: now, on: db)
            return created
        } catch where DatabaseErrors.isUniqueViolation(error) {
            throw WardenError.conflict("A user with userid \(user.userid) already exists", code: .userConflict)
        }
    }

    public func user(userid: String) async throws -> User? {
        try await metastore.read { db in try await user(userid: userid, on: db) }
    }

    func user(userid: String, on db: any SQLDatabase) async throws -> User? {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE iamid = \(bind: builtInIAM) AND userid = \(bind: userid)
            """).first().map(Self.user(from:))
    }

    public func user(id: Int64) async throws -> User? {
        try await metastore.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id = \(bind: id)").first().map(Self.user(from:))
        }
    }

    public func userCount() async throws -> Int {
        try await metastore.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM users").first()!.decode(column: "n", as: Int.self)
        }
    }

    /// The user and their stored password hash, for password authentication.
    public func credentials(userid: String) async throws -> (user: User, passwordHash: String?)? {
        try await metastore.read { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.userColumns), password_hash FROM users
                WHERE iamid = \(bind: builtInIAM) AND userid = \(bind: userid)
                """).first() else { return nil }
            return (try Self.user(from: row), try row.optionalString("password_hash"))
        }
    }

    public func searchUsers(_ search: UserSearch) async throws -> Page<User> {
        var conditions: [SQLQueryString] = []
        if let name = search.name { conditions.append("LOWER(COALESCE(name, '')) LIKE \(bind: SQLText.containsPattern(name)) ESCAPE '\\'") }
        if let email = search.email { conditions.append("LOWER(COALESCE(email, '')) LIKE \(bind: SQLText.containsPattern(email)) ESCAPE '\\'") }
        if let userid = search.userid { conditions.append("LOWER(userid) LIKE \(bind: SQLText.containsPattern(userid)) ESCAPE '\\'") }
        if let permission = search.permission {
            conditions.append("permissions LIKE \(bind: "%\"" + SQLText.escapeLike(permission.rawValue) + "\"%") ESCAPE '\\'")
        }
        if !search.includeDisabled { conditions.append("disabled = \(bind: false)") }
        if search.excludeSystemGenerated { conditions.append("system_generated = \(bind: false)") }
        let whereClause: SQLQueryString = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sortColumn = switch search.sortField {
        case .name: "LOWER(COALESCE(name, ''))"
        case .createdAt: "created_at"
        case .iamid: "iamid"
        case .email: "LOWER(COALESCE(email, ''))"
        case .username, .userid: "LOWER(userid)"
        case .lastLogin: "COALESCE(last_login, 0)"
        }
        let direction = search.sortOrder == .asc ? "ASC" : "DESC"
        return try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM users \(whereClause)").first()!.decode(column: "n", as: Int.self)
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.userColumns) FROM users \(whereClause)
                ORDER BY \(unsafeRaw: sortColumn) \(unsafeRaw: direction), id \(unsafeRaw: direction)
                LIMIT \(bind: search.paging.size) OFFSET \(bind: search.paging.offset)
                """).all()
            return Page(items: try rows.map(Self.user(from:)), count: count)
        }
    }

    public func setPermissions(userid: String, _ permissions: [Permission], now: Date) async throws -> User {
        try await updateUser(userid: userid, now: now) { _ in
            "permissions = \(bind: try JSONColumn.encode(Array(Set(permissions)).sorted()))"
        }
    }

    public func setDisabled(userid: String, _ disabled: Bool, now: Date) async throws -> User {
        try await updateUser(userid: userid, now: now) { _ in "disabled = \(bind: disabled)" }
    }

    public func updateProfile(userid: String, _ update: ProfileUpdate, now: Date) async throws -> User {
        try await updateUser(userid: userid, now: now) { current in
            let profile = update.applied(to: current.profile)
            return """
                name = \(bind: profile.name), email = \(bind: profile.email),
                profile = \(bind: try JSONColumn.encode(Self.storedProfile(profile)))
                """
        }
    }

    public func recordLogin(userId: Int64, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("UPDATE users SET last_login = \(bind: now.millis) WHERE id = \(bind: userId)").run()
        }
    }

    /// Reads the user and applies `assignments` in one transaction, so concurrent partial updates do not interleave.
    private func updateUser(userid: String, now: Date, _ assignments: @escaping (User) throws -> SQLQueryString) async throws -> User {
        try await metastore.write { db in
            guard let current = try await user(userid: userid, on: db) else { throw Self.userNotFound }
            let row = try await db.raw("""
                UPDATE users SET \(try assignments(current)), updated_at = \(bind: now.millis)
                WHERE id = \(bind: current.id) RETURNING \(unsafeRaw: Self.userColumns)
                """).first()
            // A new warehouse role or a disabled user changes what the views grant and whom they recognise.
            try await ViewChanges.ofUsers([current.id], on: db)
            return try Self.user(from: row!)
        }
    }

    public static let userNotFound = WardenError.notFound("User not found", code: .userNotFound)

    /// The profile as the `profile` column keeps it: without name and email, which have columns of their own.
    static func storedProfile(_ profile: UserProfile) -> UserProfile {
        var stored = profile
        stored.name = nil
        stored.email = nil
        return stored
    }

    static func user(from row: any SQLRow) throws -> User {
        var profile = try JSONColumn.decode(UserProfile.self, from: try row.string("profile"))
        // Name and email live in columns of their own (searched and indexed); the JSON holds the rest.
        profile.name = try row.optionalString("name")
        profile.email = try row.optionalString("email")
        return User(
            id: try row.int64("id"),
            userid: try row.string("userid"),
            iamid: try row.string("iamid"),
            profile: profile,
            permissions: try JSONColumn.decode([Permission].self, from: try row.string("permissions")),
            disabled: try row.bool("disabled"),
            systemGenerated: try row.bool("system_generated"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"),
            lastLogin: try row.optionalDate("last_login"))
    }

    /// Everything the API shows about one user, read on one connection.
    public func details(userid: String) async throws -> UserDetails? {
        try await metastore.read { db in
            guard let user = try await user(userid: userid, on: db) else { return nil }
            return try await details(of: user, on: db)
        }
    }

    public func details(userId: Int64) async throws -> UserDetails? {
        try await metastore.read { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id = \(bind: userId)").first() else {
                return nil
            }
            return try await details(of: try Self.user(from: row), on: db)
        }
    }

    private func details(of user: User, on db: any SQLDatabase) async throws -> UserDetails {
        let groups = try await db.raw("""
            SELECT g.id, g.iamid, g.name, g.email, g.description, g.created_at, g.updated_at
            FROM user_groups g JOIN group_members m ON m.group_id = g.id
            WHERE m.user_id = \(bind: user.id) ORDER BY LOWER(g.name), g.id
            """).all().map(Self.group(from:))
        let attributes = try await Self.attributes(ofUsers: [user.id], on: db)[user.id] ?? ([:], [:])
        return UserDetails(user: user, groups: groups, ownAttributes: attributes.own, effectiveAttributes: attributes.effective)
    }

    /// Own and effective (own merged with their groups') attributes of several users, in two queries.
    public func attributes(ofUsers ids: [Int64]) async throws -> [Int64: (own: AttributeMap, effective: AttributeMap)] {
        try await metastore.read { db in try await Self.attributes(ofUsers: ids, on: db) }
    }

    /// With `ids` nil, every user that has any attribute (subscription policies re-evaluate everyone at once).
    static func attributes(ofUsers ids: [Int64]?, on db: any SQLDatabase) async throws -> [Int64: (own: AttributeMap, effective: AttributeMap)] {
        if let ids, ids.isEmpty { return [:] }
        func filter(_ column: String) -> SQLQueryString {
            guard let ids else { return "" }
            let binds: [any Encodable & Sendable] = ids
            return "WHERE \(unsafeRaw: column) IN (\(binds: binds))"
        }
        let own = try await db.raw("SELECT user_id, attr_key, attr_value FROM user_attributes \(filter("user_id"))").all()
        let inherited = try await db.raw("""
            SELECT m.user_id, a.attr_key, a.attr_value FROM group_attributes a JOIN group_members m ON m.group_id = a.group_id
            \(filter("m.user_id"))
            """).all()
        let ownPairs = try Self.pairsByOwner(own, ownerColumn: "user_id")
        let inheritedPairs = try Self.pairsByOwner(inherited, ownerColumn: "user_id")
        var result: [Int64: (own: AttributeMap, effective: AttributeMap)] = [:]
        for id in ids ?? Array(Set(ownPairs.keys).union(inheritedPairs.keys)) {
            let ownMap = Attributes.map(ownPairs[id] ?? [])
            result[id] = (ownMap, Attributes.merge([ownMap, Attributes.map(inheritedPairs[id] ?? [])]))
        }
        return result
    }

    /// Attributes of several groups, in one query.
    public func attributes(ofGroups ids: [Int64]) async throws -> [Int64: AttributeMap] {
        try await metastore.read { db in try await Self.attributes(ofGroups: ids, on: db) }
    }

    static func attributes(ofGroups ids: [Int64], on db: any SQLDatabase) async throws -> [Int64: AttributeMap] {
        guard !ids.isEmpty else { return [:] }
        let binds: [any Encodable & Sendable] = ids
        let rows = try await db.raw("""
            SELECT group_id, attr_key, attr_value FROM group_attributes WHERE group_id IN (\(binds: binds))
            """).all()
        return try Self.pairsByOwner(rows, ownerColumn: "group_id").mapValues { Attributes.map($0) }
    }

    private static func pairsByOwner(_ rows: [any SQLRow], ownerColumn: String) throws -> [Int64: [(key: String, value: String)]] {
        var result: [Int64: [(key: String, value: String)]] = [:]
        for row in rows {
            result[try row.int64(ownerColumn), default: []].append((try row.string("attr_key"), try row.string("attr_value")))
        }
        return result
    }

    // MARK: Groups

    static let groupColumns = "id, iamid, name, email, description, created_at, updated_at"
    public static let groupNotFound = WardenError.notFound("Group not found", code: .groupNotFound)

    public func createGroup(_ changes: GroupChanges, now: Date) async throws -> Group {
        let name = changes.name ?? ""
        do {
            return try await metastore.write { db in
                let row = try await db.raw("""
                    INSERT INTO user_groups (iamid, name, email, description, created_at, updated_at)
                    VALUES (\(bind: builtInIAM), \(bind: name), \(bind: changes.email ?? nil), \(bind: changes.description ?? nil),
                            \(bind: now.millis), \(bind: now.millis))
                    RETURNING \(unsafeRaw: Self.groupColumns)
                    """).first()
                return try Self.group(from: row!)
            }
        } catch let error as WardenError where error.kind == .conflict {
            throw WardenError.conflict("A group named \(name) already exists", code: .groupConflict)
        }
    }

    public func group(id: Int64) async throws -> Group? {
        try await metastore.read { db in try await Self.group(id: id, on: db) }
    }

    static func group(id: Int64, on db: any SQLDatabase) async throws -> Group? {
        try await db.raw("SELECT \(unsafeRaw: Self.groupColumns) FROM user_groups WHERE id = \(bind: id)").first().map(Self.group(from:))
    }

    public func searchGroups(text: String?, paging: Paging) async throws -> Page<Group> {
        let whereClause: SQLQueryString = text.map { "WHERE LOWER(name) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        return try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM user_groups \(whereClause)").first()!.decode(column: "n", as: Int.self)
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.groupColumns) FROM user_groups \(whereClause)
                ORDER BY LOWER(name), id LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all()
            return Page(items: try rows.map(Self.group(from:)), count: count)
        }
    }

    /// Renaming a group re-evaluates its members: policies name groups.
    public func updateGroup(id: Int64, _ changes: GroupChanges, now: Date, by actorId: Int64? = nil) async throws -> Group {
        do {
            return try await metastore.write { db in
                guard let current = try await Self.group(id: id, on: db) else { throw Self.groupNotFound }
                let row = try await db.raw("""
                    UPDATE user_groups SET name = \(bind: changes.name ?? current.name),
                        email = \(bind: changes.email ?? current.email),
                        description = \(bind: changes.description ?? current.description),
                        updated_at = \(bind: now.millis)
                    WHERE id = \(bind: id) RETURNING \(unsafeRaw: Self.groupColumns)
                    """).first()
                let updated = try Self.group(from: row!)
                if updated.name != current.name {
                    try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: try await SubscriptionReconciler.memberIds(ofGroup: id, on: db),
                                                               actorId: actorId, now: now, on: db)
                }
                return updated
            }
        } catch let error as WardenError where error.kind == .conflict {
            throw WardenError.conflict("A group named \(changes.name ?? "") already exists", code: .groupConflict)
        }
    }

    /// Deletes the group with its memberships, attributes and data source subscriptions, and re-evaluates its former
    /// members against subscription policies.
    public func deleteGroup(id: Int64, now: Date, by actorId: Int64? = nil) async throws -> Group {
        try await metastore.write { db in
            guard let current = try await Self.group(id: id, on: db) else { throw Self.groupNotFound }
            let formerMembers = try await SubscriptionReconciler.memberIds(ofGroup: id, on: db)
            // Explicit rather than relying on cascades, which SQLite applies only with foreign_keys on.
            let subscriptions = try await db.raw("""
                DELETE FROM data_source_members WHERE group_id = \(bind: id) RETURNING id, data_source_id, state
                """).all()
            try await ActivityStore.record(try subscriptions.map { row in
                NewActivity(dataSourceId: try row.int64("data_source_id"), actorId: actorId, type: .memberRemoved,
                            details: .object(["groupId": .int(id), "subscriptionId": .int(try row.int64("id")),
                                              "state": .string(try row.string("state")), "reason": .string("the group was deleted")]))
            }, now: now, on: db)
            try await db.raw("DELETE FROM group_members WHERE group_id = \(bind: id)").run()
            try await db.raw("DELETE FROM group_attributes WHERE group_id = \(bind: id)").run()
            try await db.raw("DELETE FROM user_groups WHERE id = \(bind: id)").run()
            try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: formerMembers, actorId: actorId, now: now, on: db)
            return current
        }
    }

    static func group(from row: any SQLRow) throws -> Group {
        Group(id: try row.int64("id"), iamid: try row.string("iamid"), name: try row.string("name"),
              email: try row.optionalString("email"), description: try row.optionalString("description"),
              createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    // MARK: Members

    public static let memberNotFound = WardenError.notFound("Group member not found", code: .groupMemberNotFound)

    public func addMember(groupId: Int64, userid: String, now: Date, by actorId: Int64? = nil) async throws -> GroupMembership {
        try await metastore.write { db in
            guard try await Self.group(id: groupId, on: db) != nil else { throw Self.groupNotFound }
            guard let member = try await user(userid: userid, on: db) else { throw Self.userNotFound }
            do {
                let row = try await db.raw("""
                    INSERT INTO group_members (group_id, user_id, created_at)
                    VALUES (\(bind: groupId), \(bind: member.id), \(bind: now.millis)) RETURNING id
                    """).first()
                try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: [member.id], actorId: actorId, now: now, on: db)
                return GroupMembership(id: try row!.int64("id"), groupId: groupId, user: member)
            } catch where DatabaseErrors.isUniqueViolation(error) {
                throw WardenError.conflict("User \(userid) is already a member of this group", code: .groupMemberConflict)
            }
        }
    }

    public func members(groupId: Int64, paging: Paging) async throws -> Page<GroupMembership> {
        try await metastore.read { db in
            guard try await Self.group(id: groupId, on: db) != nil else { throw Self.groupNotFound }
            let count = try await db.raw("SELECT COUNT(*) AS n FROM group_members WHERE group_id = \(bind: groupId)")
                .first()!.decode(column: "n", as: Int.self)
            let columns = Self.userColumns.split(separator: ", ").map { "u.\($0)" }.joined(separator: ", ")
            let rows = try await db.raw("""
                SELECT m.id AS membership_id, \(unsafeRaw: columns) FROM group_members m JOIN users u ON u.id = m.user_id
                WHERE m.group_id = \(bind: groupId) ORDER BY m.id LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all()
            let items = try rows.map { row in
                GroupMembership(id: try row.int64("membership_id"), groupId: groupId, user: try Self.user(from: row))
            }
            return Page(items: items, count: count)
        }
    }

    /// Removing a member ends what the group's subscriptions gave them (those are read through the group) and
    /// re-evaluates them against subscription policies.
    public func removeMember(groupId: Int64, membershipId: Int64, now: Date, by actorId: Int64? = nil) async throws -> GroupMembership {
        try await metastore.write { db in
            guard let row = try await db.raw("""
                SELECT u.id, u.userid FROM group_members m JOIN users u ON u.id = m.user_id
                WHERE m.id = \(bind: membershipId) AND m.group_id = \(bind: groupId)
                """).first() else { throw Self.memberNotFound }
            let userid = try row.string("userid")
            try await db.raw("DELETE FROM group_members WHERE id = \(bind: membershipId)").run()
            guard let member = try await user(userid: userid, on: db) else { throw Self.userNotFound }
            try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: [member.id], actorId: actorId, now: now, on: db)
            return GroupMembership(id: membershipId, groupId: groupId, user: member)
        }
    }

    // MARK: Attributes

    public enum AttributeSubject: Sendable, Equatable {
        case user(Int64)
        case group(Int64)

        var table: String {
            switch self {
            case .user: "user_attributes"
            case .group: "group_attributes"
            }
        }

        var ownerColumn: String {
            switch self {
            case .user: "user_id"
            case .group: "group_id"
            }
        }

        var id: Int64 {
            switch self {
            case .user(let id), .group(let id): id
            }
        }
    }

    /// Adds `key = value`; adding a pair that is already there changes nothing.
    public func addAttribute(_ subject: AttributeSubject, key: String, value: String, now: Date, by actorId: Int64? = nil) async throws {
        try await metastore.write { db in
            try await db.raw("""
                INSERT INTO \(unsafeRaw: subject.table) (\(unsafeRaw: subject.ownerColumn), attr_key, attr_value, created_at)
                VALUES (\(bind: subject.id), \(bind: key), \(bind: value), \(bind: now.millis))
                ON CONFLICT DO NOTHING
                """).run()
            try await Self.reevaluate(subject, actorId: actorId, now: now, on: db)
        }
    }

    /// Attributes feed subscription policies: whoever holds them is re-evaluated in the same transaction.
    private static func reevaluate(_ subject: AttributeSubject, actorId: Int64?, now: Date, on db: any SQLDatabase) async throws {
        let userIds = switch subject {
        case .user(let id): [id]
        case .group(let id): try await SubscriptionReconciler.memberIds(ofGroup: id, on: db)
        }
        try await SubscriptionReconciler.reconcile(dataSourceIds: nil, userIds: userIds, actorId: actorId, now: now, on: db)
    }

    /// Removes `key = value`, or every value of `key` when `value` is nil. Returns how many were removed.
    @discardableResult
    public func removeAttribute(_ subject: AttributeSubject, key: String, value: String?, now: Date, by actorId: Int64? = nil) async throws -> Int {
        try await metastore.write { db in
            let valueCondition: SQLQueryString = value.map { "AND attr_value = \(bind: $0)" } ?? ""
            let rows = try await db.raw("""
                DELETE FROM \(unsafeRaw: subject.table)
                WHERE \(unsafeRaw: subject.ownerColumn) = \(bind: subject.id) AND attr_key = \(bind: key) \(valueCondition)
                RETURNING attr_key
                """).all()
            if !rows.isEmpty { try await Self.reevaluate(subject, actorId: actorId, now: now, on: db) }
            return rows.count
        }
    }

    public func attributes(_ subject: AttributeSubject) async throws -> AttributeMap {
        try await metastore.read { db in
            let rows = try await db.raw("""
                SELECT attr_key, attr_value FROM \(unsafeRaw: subject.table) WHERE \(unsafeRaw: subject.ownerColumn) = \(bind: subject.id)
                """).all()
            return Attributes.map(try rows.map { (key: try $0.string("attr_key"), value: try $0.string("attr_value")) })
        }
    }
}
