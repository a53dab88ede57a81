import Foundation
import WardenDomain
import WardenStore

/// Users, groups and attributes. Each method checks who may act before it reads anything, so a refused caller
/// learns nothing, and owns the rules no store knows (nobody locks themselves out).
struct IdentityService: Sendable {
    let identity: IdentityStore
    let auth: AuthService
    let projects: ProjectStore
    let clock: any WardenClock

    static let attributeNotFound = WardenError.notFound("Attribute not found", code: .attributeNotFound)

    // MARK: Users

    /// The caller with the project they act under: the one their API key is bound to, else the one they chose.
    func currentUser(_ caller: Principal) async throws -> (UserDetails, projectId: Int64?) {
        guard let details = try await identity.details(userId: caller.userId) else { throw WardenError.unauthorized() }
        if let projectId = caller.projectId { return (details, projectId) }
        return (details, try await projects.current(userId: caller.userId))
    }

    func searchUsers(_ search: UserSearch, caller: Principal) async throws -> (Page<User>, [Int64: AttributeMap]) {
        try caller.require(.userAdmin)
        let page = try await identity.searchUsers(search)
        let attributes = try await identity.attributes(ofUsers: page.items.map(\.id))
        return (page, attributes.mapValues(\.effective))
    }

    func createUser(_ newUser: NewUser, caller: Principal) async throws -> User {
        try caller.require(.userAdmin)
        try newUser.validate()
        let passwordHash = try await newUser.password.asyncMap(auth.hashPassword)
        return try await identity.createUser(newUser, passwordHash: passwordHash, now: clock.now())
    }

    /// A user's details, for themselves or a user administrator.
    func details(userid: String, caller: Principal) async throws -> UserDetails {
        try Self.requireSelfOrUserAdmin(userid, caller)
        return try await details(userid)
    }

    func user(userid: String, caller: Principal) async throws -> User {
        try Self.requireSelfOrUserAdmin(userid, caller)
        guard let user = try await identity.user(userid: userid) else { throw IdentityStore.userNotFound }
        return user
    }

    func setPermissions(userid: String, _ permissions: [Permission], caller: Principal) async throws -> UserDetails {
        try caller.require(.userAdmin)
        if userid == caller.userid, !permissions.contains(.userAdmin) {
            throw WardenError.badRequest("You cannot remove USER_ADMIN from yourself", code: .userSelfLockout)
        }
        _ = try await identity.setPermissions(userid: userid, permissions, now: clock.now())
        return try await details(userid)
    }

    func setDisabled(userid: String, _ disabled: Bool, caller: Principal) async throws -> UserDetails {
        try caller.require(.userAdmin)
        if disabled, userid == caller.userid {
            throw WardenError.badRequest("You cannot disable yourself", code: .userSelfLockout)
        }
        _ = try await identity.setDisabled(userid: userid, disabled, now: clock.now())
        return try await details(userid)
    }

    func updateProfile(userid: String, _ update: ProfileUpdate, caller: Principal) async throws -> User {
        try Self.requireSelfOrUserAdmin(userid, caller)
        try update.validate()
        return try await identity.updateProfile(userid: userid, update, now: clock.now())
    }

    func apiKeys(userid: String, caller: Principal) async throws -> [APIKeyInfo] {
        try await auth.credentials.apiKeys(userId: try await user(userid: userid, caller: caller).id)
    }

    func groups(userid: String, caller: Principal) async throws -> [(Group, AttributeMap)] {
        let groups = try await details(userid: userid, caller: caller).groups
        let attributes = try await identity.attributes(ofGroups: groups.map(\.id))
        return groups.map { ($0, attributes[$0.id] ?? [:]) }
    }

    /// Adds (`value` given) or removes a user's attribute. Users are named by userid, or by numeric profile id as
    /// in the generic `{modelId}` form.
    func changeAttribute(ofUser reference: String, key: String, value: String?, adding: Bool, caller: Principal) async throws -> UserDetails {
        try caller.require(.userAdmin)
        try Attributes.validate(key: key, value: value)
        var user = try await identity.user(userid: reference)
        if user == nil, let id = Int64(reference) { user = try await identity.user(id: id) }
        guard let user else { throw IdentityStore.userNotFound }
        try await changeAttribute(of: .user(user.id), key: key, value: value, adding: adding, caller: caller)
        return try await details(user.userid)
    }

    private func details(_ userid: String) async throws -> UserDetails {
        guard let details = try await identity.details(userid: userid) else { throw IdentityStore.userNotFound }
        return details
    }

    private static func requireSelfOrUserAdmin(_ userid: String, _ caller: Principal) throws {
        if userid != caller.userid { try caller.require(.userAdmin) }
    }

    // MARK: Groups

    func createGroup(_ changes: GroupChanges, caller: Principal) async throws -> Group {
        try caller.require(.userAdmin)
        try changes.validate(creating: true)
        return try await identity.createGroup(changes, now: clock.now())
    }

    func searchGroups(text: String?, paging: Paging, caller: Principal) async throws -> (Page<Group>, [Int64: AttributeMap]) {
        try caller.require(.userAdmin)
        let page = try await identity.searchGroups(text: text, paging: paging)
        return (page, try await identity.attributes(ofGroups: page.items.map(\.id)))
    }

    func group(_ id: Int64, caller: Principal) async throws -> (Group, AttributeMap) {
        try caller.require(.userAdmin)
        return try await group(id)
    }

    func updateGroup(_ id: Int64, _ changes: GroupChanges, caller: Principal) async throws -> (Group, AttributeMap) {
        try caller.require(.userAdmin)
        try changes.validate(creating: false)
        _ = try await identity.updateGroup(id: id, changes, now: clock.now(), by: caller.userId)
        return try await group(id)
    }

    func deleteGroup(_ id: Int64, caller: Principal) async throws -> (Group, AttributeMap) {
        try caller.require(.userAdmin)
        let attributes = try await identity.attributes(ofGroups: [id])[id] ?? [:]
        return (try await identity.deleteGroup(id: id, now: clock.now(), by: caller.userId), attributes)
    }

    func members(of id: Int64, paging: Paging, caller: Principal) async throws -> Page<GroupMembership> {
        try caller.require(.userAdmin)
        return try await identity.members(groupId: id, paging: paging)
    }

    func addMember(to id: Int64, userid: String, caller: Principal) async throws -> GroupMembership {
        try caller.require(.userAdmin)
        return try await identity.addMember(groupId: id, userid: userid, now: clock.now(), by: caller.userId)
    }

    func removeMember(_ membershipId: Int64, from id: Int64, caller: Principal) async throws -> GroupMembership {
        try caller.require(.userAdmin)
        return try await identity.removeMember(groupId: id, membershipId: membershipId, now: clock.now(), by: caller.userId)
    }

    func changeAttribute(ofGroup id: Int64, key: String, value: String?, adding: Bool, caller: Principal) async throws -> (Group, AttributeMap) {
        try caller.require(.userAdmin)
        try Attributes.validate(key: key, value: value)
        guard try await identity.group(id: id) != nil else { throw IdentityStore.groupNotFound }
        try await changeAttribute(of: .group(id), key: key, value: value, adding: adding, caller: caller)
        return try await group(id)
    }

    private func group(_ id: Int64) async throws -> (Group, AttributeMap) {
        guard let group = try await identity.group(id: id) else { throw IdentityStore.groupNotFound }
        return (group, try await identity.attributes(ofGroups: [id])[id] ?? [:])
    }

    // MARK: Attributes

    /// Adding needs a value; removing without one removes every value of the key.
    private func changeAttribute(of owner: IdentityStore.AttributeSubject, key: String, value: String?, adding: Bool, caller: Principal) async throws {
        if adding {
            guard let value else { throw WardenError.badRequest("An attribute value is required", code: .attributeValueRequired) }
            try await identity.addAttribute(owner, key: key, value: value, now: clock.now(), by: caller.userId)
        } else {
            guard try await identity.removeAttribute(owner, key: key, value: value, now: clock.now(), by: caller.userId) > 0 else {
                throw Self.attributeNotFound
            }
        }
    }
}

extension Optional where Wrapped: Sendable {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
