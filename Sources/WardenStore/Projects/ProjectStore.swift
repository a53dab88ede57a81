public import Foundation
import SQLKit
public import WardenDomain

/// Projects, their purposes, members and data sources, and the project each user acts under.
public struct ProjectStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Project not found", code: .projectNotFound)
    public static let memberNotFound = WardenError.notFound("Project member not found", code: .projectMemberNotFound)

    static let columns = "id, name, project_key, description, documentation, status, allow_masked_joins, created_by, created_at, updated_at"
    static let memberColumns = """
        m.id, m.project_id, m.user_id, m.state, m.acknowledged_at, m.expiration, m.created_at, m.updated_at, u.name AS user_name, u.email AS user_email
        """

    // MARK: Projects

    /// Creates the project with its creator as owner.
    public func create(_ draft: ProjectDraft, purposeIds: [Int64], by actorId: Int64, now: Date) async throws -> Project {
        try await metastore.write { db in
            let name = draft.name ?? ""
            let row = try await db.raw("""
                INSERT INTO projects (name, project_key, description, documentation, status, allow_masked_joins, created_by, created_at, updated_at)
                VALUES (\(bind: name), \(bind: draft.projectKey ?? name), \(bind: draft.description ?? nil), \(bind: draft.documentation ?? nil),
                        \(bind: (draft.status ?? .open).rawValue), \(bind: draft.allowMaskedJoins ?? false), \(bind: actorId),
                        \(bind: now.millis), \(bind: now.millis))
                RETURNING id
                """).first()
            let id = try row!.int64("id")
            try await Self.setPurposes(purposeIds, of: id, on: db)
            try await db.raw("""
                INSERT INTO project_members (project_id, user_id, state, created_at, updated_at)
                VALUES (\(bind: id), \(bind: actorId), \(bind: MemberState.owner.rawValue), \(bind: now.millis), \(bind: now.millis))
                """).run()
            return try await Self.project(id: id, on: db)!
        }
    }

    public func project(id: Int64) async throws -> Project {
        try await metastore.read { db in
            guard let project = try await Self.project(id: id, on: db) else { throw Self.notFound }
            return project
        }
    }

    static func project(id: Int64, lock: Bool = false, on db: any SQLDatabase) async throws -> Project? {
        let lock: SQLQueryString = lock ? SQLLock.forUpdate(db) : ""
        guard let row = try await db.raw("SELECT \(unsafeRaw: columns) FROM projects WHERE id = \(bind: id)\(lock)").first() else { return nil }
        return try await withPurposes([try project(from: row)], on: db)[0]
    }

    static func project(from row: any SQLRow) throws -> Project {
        Project(id: try row.int64("id"), name: try row.string("name"), projectKey: try row.string("project_key"),
                description: try row.optionalString("description"), documentation: try row.optionalString("documentation"),
                status: ProjectStatus(rawValue: try row.string("status")) ?? .closed, purposes: [],
                allowMaskedJoins: try row.bool("allow_masked_joins"), createdBy: try row.decode(column: "created_by", as: Int64?.self),
                createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    static func withPurposes(_ projects: [Project], on db: any SQLDatabase) async throws -> [Project] {
        guard !projects.isEmpty else { return [] }
        let ids: [SQLBindable] = projects.map(\.id)
        var purposes: [Int64: [String]] = [:]
        for row in try await db.raw("""
            SELECT pp.project_id, p.name FROM project_purposes pp JOIN purposes p ON p.id = pp.purpose_id
            WHERE pp.project_id IN (\(binds: ids)) ORDER BY p.name
            """).all() {
            purposes[try row.int64("project_id"), default: []].append(try row.string("name"))
        }
        return projects.map { project in
            var project = project
            project.purposes = purposes[project.id] ?? []
            return project
        }
    }

    private static func setPurposes(_ purposeIds: [Int64], of projectId: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM project_purposes WHERE project_id = \(bind: projectId)").run()
        try await SQLBatch.insert(into: "project_purposes", columns: ["project_id", "purpose_id"],
                                  rows: Set(purposeIds).sorted().map { [projectId, $0] }, on: db)
    }

    /// Projects whose name contains `searchText` (ignoring case), by name.
    public func search(searchText: String?, paging: Paging) async throws -> Page<Project> {
        let text: SQLQueryString = searchText.map { "WHERE LOWER(name) LIKE \(bind: SQLText.containsPattern($0)) ESCAPE '\\'" } ?? ""
        return try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM projects \(text)").first()!.int64("n")
            let projects = try await db.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM projects \(text) ORDER BY LOWER(name), id LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all().map(Self.project(from:))
            return Page(items: try await Self.withPurposes(projects, on: db), count: Int(count))
        }
    }

    /// Changes the fields `draft` gives. New purposes clear every member's acknowledgement: what they acknowledged
    /// is no longer what the project states.
    public func update(id: Int64, _ draft: ProjectDraft, purposeIds: [Int64]?, now: Date) async throws -> Project {
        try await metastore.write { db in
            guard let current = try await Self.project(id: id, lock: true, on: db) else { throw Self.notFound }
            var assignments: [SQLQueryString] = ["updated_at = \(bind: now.millis)"]
            if let value = draft.name { assignments.append("name = \(bind: value)") }
            if let value = draft.projectKey { assignments.append("project_key = \(bind: value)") }
            if let value = draft.description { assignments.append("description = \(bind: value)") }
            if let value = draft.documentation { assignments.append("documentation = \(bind: value)") }
            if let value = draft.status { assignments.append("status = \(bind: value.rawValue)") }
            if let value = draft.allowMaskedJoins { assignments.append("allow_masked_joins = \(bind: value)") }
            try await db.raw("UPDATE projects SET \(assignments.joined(separator: ", ")) WHERE id = \(bind: id)").run()
            if let purposeIds {
                try await Self.setPurposes(purposeIds, of: id, on: db)
                if try await Self.project(id: id, on: db)!.purposes != current.purposes {
                    try await db.raw("UPDATE project_members SET acknowledged_at = NULL, updated_at = \(bind: now.millis) WHERE project_id = \(bind: id)").run()
                }
            }
            return try await Self.project(id: id, on: db)!
        }
    }

    /// Deletes the project with its members, data source links and everyone's acting under it.
    public func delete(id: Int64) async throws -> Project {
        try await metastore.write { db in
            guard let project = try await Self.project(id: id, lock: true, on: db) else { throw Self.notFound }
            for table in ["current_projects", "project_members", "project_data_sources", "project_purposes"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE project_id = \(bind: id)").run()
            }
            try await db.raw("DELETE FROM projects WHERE id = \(bind: id)").run()
            return project
        }
    }

    // MARK: Members

    static func member(from row: any SQLRow) throws -> ProjectMember {
        ProjectMember(id: try row.int64("id"), projectId: try row.int64("project_id"),
                      user: PersonSummary(id: try row.int64("user_id"), name: try row.optionalString("user_name"),
                                          email: try row.optionalString("user_email")),
                      state: MemberState(rawValue: try row.string("state")) ?? .pending, acknowledgedAt: try row.optionalDate("acknowledged_at"),
                      expiration: try row.optionalDate("expiration"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    public func members(projectId: Int64, paging: Paging) async throws -> Page<ProjectMember> {
        try await metastore.read { db in
            let count = try await db.raw("SELECT COUNT(*) AS n FROM project_members WHERE project_id = \(bind: projectId)").first()!.int64("n")
            let members = try await db.raw("""
                SELECT \(unsafeRaw: Self.memberColumns) FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(bind: projectId) ORDER BY m.id LIMIT \(bind: paging.size) OFFSET \(bind: paging.offset)
                """).all().map(Self.member(from:))
            return Page(items: members, count: Int(count))
        }
    }

    /// The user's membership of the project, expired or not.
    public func member(projectId: Int64, userId: Int64) async throws -> ProjectMember? {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.memberColumns) FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(bind: projectId) AND m.user_id = \(bind: userId)
                """).first().map(Self.member(from:))
        }
    }

    static func member(id: Int64, projectId: Int64, lock: Bool = false, on db: any SQLDatabase) async throws -> ProjectMember? {
        let lock: SQLQueryString = lock ? SQLLock.forUpdate(db) : ""
        return try await db.raw("""
            SELECT \(unsafeRaw: memberColumns) FROM project_members m JOIN users u ON u.id = m.user_id
            WHERE m.id = \(bind: id) AND m.project_id = \(bind: projectId)\(lock)
            """).first().map(member(from:))
    }

    /// Adds a member; 409 when the user is one already.
    public func addMember(projectId: Int64, userId: Int64, state: MemberState, expiration: Date?, now: Date) async throws -> ProjectMember {
        try await metastore.write { db in
            guard try await Self.project(id: projectId, lock: true, on: db) != nil else { throw Self.notFound }
            let existing = try await db.raw("SELECT id FROM project_members WHERE project_id = \(bind: projectId) AND user_id = \(bind: userId)").first()
            guard existing == nil else {
                throw WardenError.conflict("The user is already a member of this project", code: .projectMemberConflict)
            }
            let row = try await db.raw("""
                INSERT INTO project_members (project_id, user_id, state, expiration, created_at, updated_at)
                VALUES (\(bind: projectId), \(bind: userId), \(bind: state.rawValue), \(bind: expiration?.millis), \(bind: now.millis), \(bind: now.millis))
                RETURNING id
                """).first()
            return try await Self.member(id: try row!.int64("id"), projectId: projectId, on: db)!
        }
    }

    /// Changes a member's state or expiration. The project keeps at least one owner: demoting the last one is a 409.
    public func updateMember(id: Int64, projectId: Int64, state: MemberState?, expiration: Date??, now: Date) async throws -> ProjectMember {
        try await metastore.write { db in
            // The project row first, always: concurrent demotions of its owners are serialised on it.
            guard try await Self.project(id: projectId, lock: true, on: db) != nil else { throw Self.notFound }
            guard let member = try await Self.member(id: id, projectId: projectId, lock: true, on: db) else { throw Self.memberNotFound }
            if member.state == .owner, let state, state != .owner {
                let owners = try await db.raw("""
                    SELECT COUNT(*) AS n FROM project_members WHERE project_id = \(bind: projectId) AND state = \(bind: MemberState.owner.rawValue)
                    """).first()!.int64("n")
                guard owners > 1 else { throw WardenError.conflict("A project keeps at least one owner", code: .projectLastOwner) }
            }
            var assignments: [SQLQueryString] = ["updated_at = \(bind: now.millis)"]
            if let state { assignments.append("state = \(bind: state.rawValue)") }
            if let expiration { assignments.append("expiration = \(bind: expiration?.millis)") }
            try await db.raw("UPDATE project_members SET \(assignments.joined(separator: ", ")) WHERE id = \(bind: id)").run()
            return try await Self.member(id: id, projectId: projectId, on: db)!
        }
    }

    public func acknowledge(memberId: Int64, projectId: Int64, now: Date) async throws -> ProjectMember {
        try await metastore.write { db in
            try await db.raw("""
                UPDATE project_members SET acknowledged_at = \(bind: now.millis), updated_at = \(bind: now.millis)
                WHERE id = \(bind: memberId) AND project_id = \(bind: projectId)
                """).run()
            guard let member = try await Self.member(id: memberId, projectId: projectId, on: db) else { throw Self.memberNotFound }
            return member
        }
    }

    public func member(id: Int64, projectId: Int64) async throws -> ProjectMember {
        try await metastore.read { db in
            guard let member = try await Self.member(id: id, projectId: projectId, on: db) else { throw Self.memberNotFound }
            return member
        }
    }

    // MARK: Data sources

    /// The project's data sources as `(id, name)`, by name.
    public func dataSources(projectId: Int64) async throws -> [(id: Int64, name: String)] {
        try await metastore.read { db in
            try await db.raw("""
                SELECT s.id, s.name FROM project_data_sources p JOIN data_sources s ON s.id = p.data_source_id
                WHERE p.project_id = \(bind: projectId) ORDER BY LOWER(s.name), s.id
                """).all().map { (try $0.int64("id"), try $0.string("name")) }
        }
    }

    public func addDataSources(_ ids: [Int64], to projectId: Int64, by actorId: Int64, now: Date) async throws {
        try await metastore.write { db in
            guard try await Self.project(id: projectId, lock: true, on: db) != nil else { throw Self.notFound }
            for id in Set(ids).sorted() {
                try await db.raw("""
                    INSERT INTO project_data_sources (project_id, data_source_id, added_by, created_at)
                    VALUES (\(bind: projectId), \(bind: id), \(bind: actorId), \(bind: now.millis)) ON CONFLICT (project_id, data_source_id) DO NOTHING
                    """).run()
            }
        }
    }

    public func removeDataSources(_ ids: [Int64], from projectId: Int64) async throws {
        guard !ids.isEmpty else { return }
        let binds: [SQLBindable] = ids
        try await metastore.write { db in
            try await db.raw("DELETE FROM project_data_sources WHERE project_id = \(bind: projectId) AND data_source_id IN (\(binds: binds))").run()
        }
    }

    /// Ids of the data sources in any of these projects.
    public func dataSourceIds(inProjects projectIds: [Int64]) async throws -> Set<Int64> {
        guard !projectIds.isEmpty else { return [] }
        let binds: [SQLBindable] = projectIds
        return try await metastore.read { db in
            Set(try await db.raw("SELECT data_source_id FROM project_data_sources WHERE project_id IN (\(binds: binds))").all()
                .map { try $0.int64("data_source_id") })
        }
    }

    // MARK: Acting under a project

    /// Sets (or, with nil, clears) the project `userId` acts under.
    public func setCurrent(userId: Int64, projectId: Int64?, now: Date) async throws {
        try await metastore.write { db in
            try await db.raw("DELETE FROM current_projects WHERE user_id = \(bind: userId)").run()
            if let projectId {
                try await db.raw("""
                    INSERT INTO current_projects (user_id, project_id, updated_at) VALUES (\(bind: userId), \(bind: projectId), \(bind: now.millis))
                    """).run()
            }
        }
    }

    public func current(userId: Int64) async throws -> Int64? {
        try await metastore.read { db in
            try await db.raw("SELECT project_id FROM current_projects WHERE user_id = \(bind: userId)").first()?.int64("project_id")
        }
    }

    /// Where `userId` stands with `projectId` (nil: the project they act under) for a decision on `dataSourceId`;
    /// nil when they act under none.
    public func context(userId: Int64, dataSourceId: Int64, projectId: Int64?) async throws -> ProjectContext? {
        var acting = projectId
        if acting == nil { acting = try await current(userId: userId) }
        guard let projectId = acting else { return nil }
        return try await metastore.read { db in
            guard let project = try await Self.project(id: projectId, on: db) else { return nil }
            let member = try await db.raw("""
                SELECT \(unsafeRaw: Self.memberColumns) FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(bind: projectId) AND m.user_id = \(bind: userId)
                """).first().map(Self.member(from:))
            let included = try await db.raw("""
                SELECT 1 AS one FROM project_data_sources WHERE project_id = \(bind: projectId) AND data_source_id = \(bind: dataSourceId)
                """).first() != nil
            return ProjectContext(project: project, member: member, includesDataSource: included)
        }
    }
}
