import Foundation
import WardenDomain
import WardenStore

/// Purposes (kept by governors) and projects (kept by their owners): who works on what data, for which stated
/// purposes. A purpose counts in a decision only for a member who acknowledged it and acts under the project
/// (`ProjectContext`).
struct ProjectService: Sendable {
    let purposes: PurposeStore
    let projects: ProjectStore
    let identity: IdentityStore
    let access: DataSourceAccess
    let clock: any WardenClock

    // MARK: Purposes

    /// Creates or updates the purpose hierarchy; answers the draft's purpose with those below it.
    func upsertPurpose(caller: Principal, _ input: () async throws -> PurposeDraft) async throws -> (Purpose, [Purpose]) {
        try caller.require(.governance)
        let purpose = try await purposes.upsert(try await input(), by: caller.userId, now: clock.now())
        return (purpose, try await purposes.descendants(of: purpose.id))
    }

    /// Purposes are the organisation's vocabulary: every signed-in user may read them.
    func searchPurposes(searchText: String?, rootOnly: Bool, paging: Paging) async throws -> Page<(Purpose, [Purpose])> {
        let page = try await purposes.search(searchText: searchText, rootOnly: rootOnly, paging: paging)
        var items: [(Purpose, [Purpose])] = []
        for purpose in page.items { items.append((purpose, try await purposes.descendants(of: purpose.id))) }
        return Page(items: items, count: page.count)
    }

    func purpose(_ id: Int64) async throws -> (Purpose, [Purpose]) {
        let purpose = try await purposes.purpose(id: id)
        return (purpose, try await purposes.descendants(of: id))
    }

    /// `input` is given the purpose as it is, and answers the changes.
    func updatePurpose(_ id: Int64, caller: Principal,
                       _ input: (Purpose) async throws -> (description: String??, acknowledgement: String??, display: Bool?)) async throws -> (Purpose, [Purpose]) {
        try caller.require(.governance)
        let changes = try await input(try await purposes.purpose(id: id))
        let purpose = try await purposes.update(id: id, description: changes.description, acknowledgement: changes.acknowledgement,
                                                displayAcknowledgement: changes.display, now: clock.now())
        return (purpose, try await purposes.descendants(of: id))
    }

    func deletePurpose(_ id: Int64, caller: Principal) async throws -> Purpose {
        try caller.require(.governance)
        return try await purposes.delete(id: id)
    }

    // MARK: Projects

    func create(caller: Principal, _ input: () async throws -> ProjectDraft) async throws -> Project {
        try caller.require(.createProject)
        let draft = try await input()
        return try await projects.create(draft, purposeIds: try await purposeIds(draft.purposes ?? []), by: caller.userId, now: clock.now())
    }

    /// Projects are discoverable by every signed-in user; their members and data are not.
    func search(searchText: String?, paging: Paging) async throws -> Page<Project> {
        try await projects.search(searchText: searchText, paging: paging)
    }

    func project(_ id: Int64) async throws -> Project {
        try await projects.project(id: id)
    }

    /// `input` is read once the caller may act, so a refused caller learns nothing from a validation error (here and below).
    func update(_ id: Int64, caller: Principal, _ input: () async throws -> ProjectDraft) async throws -> Project {
        try await requireOwner(id, caller)
        let draft = try await input()
        var ids: [Int64]?
        if let names = draft.purposes { ids = try await purposeIds(names) }
        return try await projects.update(id: id, draft, purposeIds: ids, now: clock.now())
    }

    func delete(_ id: Int64, caller: Principal) async throws -> Project {
        try await requireOwner(id, caller)
        return try await projects.delete(id: id)
    }

    // MARK: Members

    func members(of id: Int64, paging: Paging, caller: Principal) async throws -> Page<ProjectMember> {
        try await requireMember(id, caller)
        return try await projects.members(projectId: id, paging: paging)
    }

    func addMember(to id: Int64, caller: Principal,
                   _ input: () async throws -> (userId: Int64, state: MemberState, expiration: Date?)) async throws -> ProjectMember {
        try await requireOwner(id, caller)
        let (userId, state, expiration) = try await input()
        guard try await identity.details(userId: userId) != nil else { throw IdentityStore.userNotFound }
        return try await projects.addMember(projectId: id, userId: userId, state: state, expiration: expiration, now: clock.now())
    }

    func updateMember(_ memberId: Int64, of id: Int64, caller: Principal,
                      _ input: () async throws -> (state: MemberState?, expiration: Date??)) async throws -> ProjectMember {
        try await requireOwner(id, caller)
        let (state, expiration) = try await input()
        return try await projects.updateMember(id: memberId, projectId: id, state: state, expiration: expiration, now: clock.now())
    }

    /// A member acknowledges the project's purposes; only for themself.
    func acknowledge(_ memberId: Int64, of id: Int64, caller: Principal) async throws -> ProjectMember {
        _ = try await projects.project(id: id)
        let member = try await projects.member(id: memberId, projectId: id)
        guard member.user.id == caller.userId else {
            throw WardenError.forbidden("Only the member themself may acknowledge a project's purposes", code: .projectRoleRequired)
        }
        return try await projects.acknowledge(memberId: memberId, projectId: id, now: clock.now())
    }

    // MARK: Data sources

    /// The project's data sources that the caller may see.
    func dataSources(of id: Int64, caller: Principal) async throws -> [(id: Int64, name: String)] {
        try await requireMember(id, caller)
        var visible: [(id: Int64, name: String)] = []
        for source in try await projects.dataSources(projectId: id) {
            if (try? await access.visible(source.id, to: caller)) != nil { visible.append(source) }
        }
        return visible
    }

    /// Adds data sources the caller is a member of; the others are answered one by one.
    func addDataSources(to id: Int64, caller: Principal,
                        _ input: () async throws -> [Int64]) async throws -> (added: [Int64], failures: [(Int64, WardenError)]) {
        try await requireOwner(id, caller)
        let ids = try await input()
        var added: [Int64] = []
        var failures: [(Int64, WardenError)] = []
        for sourceId in ids {
            do {
                let (_, state) = try await access.visible(sourceId, to: caller)
                guard let state, state.isMember else {
                    throw DataSourceAccess.roleRequired([.subscribed, .ingest, .expert, .owner], action: "add this data source to a project")
                }
                added.append(sourceId)
            } catch let error as WardenError {
                failures.append((sourceId, error))
            }
        }
        try await projects.addDataSources(added, to: id, by: caller.userId, now: clock.now())
        return (added, failures)
    }

    func removeDataSources(_ ids: [Int64], from id: Int64, caller: Principal) async throws {
        try await requireOwner(id, caller)
        try await projects.removeDataSources(ids, from: id)
    }

    // MARK: Acting under a project

    /// The caller acts under the project from now on; they must be a member of it.
    func switchTo(_ id: Int64, caller: Principal) async throws -> (Project, ProjectMember) {
        let project = try await projects.project(id: id)
        guard let member = try await projects.member(projectId: id, userId: caller.userId), member.state.isMember,
              member.expiration.map({ $0 > clock.now() }) ?? true else {
            throw WardenError.forbidden("Only a member of the project may act under it", code: .projectRoleRequired)
        }
        try await projects.setCurrent(userId: caller.userId, projectId: id, now: clock.now())
        return (project, member)
    }

    func leaveCurrent(caller: Principal) async throws {
        try await projects.setCurrent(userId: caller.userId, projectId: nil, now: clock.now())
    }

    // MARK: Rules

    private func purposeIds(_ names: [String]) async throws -> [Int64] {
        let found = try await purposes.purposes(named: names)
        let missing = names.filter { name in !found.contains { $0.name == name } }
        guard missing.isEmpty else {
            throw WardenError.badRequest("Unknown purposes: " + missing.joined(separator: ", "), code: .purposeUnknown,
                                         fields: [FieldError(field: "purposes", message: "names unknown purposes: " + missing.joined(separator: ", "))])
        }
        return found.map(\.id)
    }

    private func requireOwner(_ id: Int64, _ caller: Principal) async throws {
        _ = try await projects.project(id: id)
        if caller.has(.governance) { return }
        guard let member = try await projects.member(projectId: id, userId: caller.userId), member.state == .owner else {
            throw WardenError.forbidden("Only the project's owners may change it", code: .projectRoleRequired)
        }
    }

    private func requireMember(_ id: Int64, _ caller: Principal) async throws {
        _ = try await projects.project(id: id)
        if caller.has(.governance) { return }
        guard let member = try await projects.member(projectId: id, userId: caller.userId), member.state.isMember else {
            throw WardenError.forbidden("Only the project's members may see its members and data sources", code: .projectRoleRequired)
        }
    }
}
