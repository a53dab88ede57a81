import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// The identity API: authentication, API keys, users, groups and attributes.
struct BimRoutes {
    let identity: IdentityStore
    let auth: AuthService
    let clock: any WardenClock

    func register(public router: Router<AppRequestContext>, api: RouterGroup<AuthenticatedContext>) {
        router.post("/bim/apikey/authenticate", use: authenticateAPIKey)
        router.post("/bim/iam/{iamid}/user/authenticate", use: authenticatePassword)

        api.post("/bim/apikey", use: createAPIKey)
        api.delete("/bim/apikey/{keyid}", use: deleteAPIKey)
        api.get("/bim/rpc/user/current", use: currentUser)

        api.get("/bim/user", use: searchUsers)
        api.post("/bim/iam/{iamid}/user", use: createUser)
        api.get("/bim/iam/{iamid}/user/{userid}", use: getUser)
        api.put("/bim/iam/{iamid}/user/{userid}/permissions", use: setPermissions)
        api.put("/bim/iam/{iamid}/user/{userid}/disable/{disabled}", use: setDisabled)
        api.get("/bim/iam/{iamid}/user/{userid}/profile", use: getProfile)
        api.put("/bim/iam/{iamid}/user/{userid}/profile", use: updateProfile)
        api.get("/bim/iam/{iamid}/user/{userid}/apikeys", use: listAPIKeys)
        api.get("/bim/iam/{iamid}/user/{userid}/groups", use: userGroups)
        api.put("/bim/iam/{iamid}/user/{userid}/authorizations/{key}/{value}", use: addUserAttribute)
        api.delete("/bim/iam/{iamid}/user/{userid}/authorizations/{key}/{value}", use: removeUserAttribute)
        api.delete("/bim/iam/{iamid}/user/{userid}/authorizations/{key}", use: removeUserAttribute)

        api.post("/bim/group", use: createGroup)
        api.get("/bim/group", use: searchGroups)
        api.get("/bim/group/{groupId}", use: getGroup)
        api.put("/bim/group/{groupId}", use: updateGroup)
        api.delete("/bim/group/{groupId}", use: deleteGroup)
        api.get("/bim/group/{groupId}/user", use: listMembers)
        api.post("/bim/group/{groupId}/user", use: addMember)
        api.delete("/bim/group/{groupId}/user/{groupUserId}", use: removeMember)
        api.put("/bim/iam/{iamid}/group/{groupId}/authorizations/{key}/{value}", use: addGroupAttribute)
        api.delete("/bim/iam/{iamid}/group/{groupId}/authorizations/{key}/{value}", use: removeGroupAttribute)
        api.delete("/bim/iam/{iamid}/group/{groupId}/authorizations/{key}", use: removeGroupAttribute)
    }

    // MARK: Authentication

    /// The key may come in the body (`{"apikey": …}`) or, as newer clients send it, in `Authorization`.
    @Sendable func authenticateAPIKey(_ request: Request, context: AppRequestContext) async throws -> TokenPayload {
        let input = try await request.decodeOptionalJSON(as: APIKeyAuthenticateInput.self, context: context)
        let headerKey = request.headers[.authorization].flatMap(AuthService.credential(fromAuthorization:))
        guard let key = input.apikey ?? headerKey, !key.isEmpty else {
            throw WardenError.badRequest("`apikey` is required", code: "request.validation_failed",
                                         fields: [FieldError(field: "apikey", message: "is required")])
        }
        let issued = try await auth.authenticate(apiKey: key)
        return TokenPayload(authenticated: true, token: issued.token)
    }

    @Sendable func authenticatePassword(_ request: Request, context: AppRequestContext) async throws -> PasswordTokenPayload {
        try Self.requireIAM(context.parameters)
        let input = try await request.decodeJSON(as: PasswordAuthenticateInput.self, context: context)
        let issued = try await auth.authenticate(username: input.username, password: input.password)
        return PasswordTokenPayload(authenticated: true, token: issued.token, tokenExpiration: issued.expiresAt, profileId: issued.userId)
    }

    @Sendable func createAPIKey(_ request: Request, context: AuthenticatedContext) async throws -> APIKeyCreatedPayload {
        let input = try await request.decodeOptionalJSON(as: CreateAPIKeyInput.self, context: context)
        var validator = Validator()
        if let name = input.name { validator.check(Text.isPrintable(name, maxLength: 256), "name", "must be 1 to 256 printable characters") }
        if let projectId = input.projectId { validator.check(projectId > 0, "projectId", "must be a positive integer") }
        try validator.finish()
        let created = try await auth.createAPIKey(userId: context.principal.userId, name: input.name, projectId: input.projectId)
        return APIKeyCreatedPayload(apikey: created.key, keyid: created.info.id, name: created.info.name, project: created.info.projectId)
    }

    @Sendable func deleteAPIKey(_ request: Request, context: AuthenticatedContext) async throws -> SuccessPayload {
        try await auth.deleteAPIKey(id: try context.parameters.string("keyid"), by: context.principal)
        return SuccessPayload()
    }

    @Sendable func currentUser(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        guard let details = try await identity.details(userId: context.principal.userId) else { throw WardenError.unauthorized() }
        return UserPayload(details, projectId: context.principal.projectId)
    }

    // MARK: Users

    @Sendable func searchUsers(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<UserHitPayload> {
        try context.principal.require(.userAdmin)
        let query = QueryReader(request: request)
        let search = UserSearch(
            name: query.string("name"), email: query.string("email"), userid: query.string("userid"),
            permission: try query.oneOf("permission", Permission.self),
            includeDisabled: try query.bool("includeDisabled") ?? false,
            excludeSystemGenerated: try query.bool("excludeSystemGenerated") ?? false,
            sortField: try query.oneOf("sortField", UserSearch.SortField.self) ?? .name,
            sortOrder: try query.oneOf("sortOrder", SortOrder.self) ?? .asc,
            paging: try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 25))
        let page = try await identity.searchUsers(search)
        let attributes = try await identity.attributes(ofUsers: page.items.map(\.id))
        let hits = page.items.map { UserHitPayload($0, authorizations: attributes[$0.id]?.effective ?? [:]) }
        return HitsPayload(hits: hits, count: page.count)
    }

    @Sendable func createUser(_ request: Request, context: AuthenticatedContext) async throws -> CreatedUserPayload {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let input = try await request.decodeJSON(as: CreateUserInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        let newUser = NewUser(userid: input.userid, password: input.password, profile: input.profile?.profile ?? UserProfile(),
                              permissions: input.permissions ?? [])
        try newUser.validate()
        let passwordHash = try await input.password.asyncMap(auth.hashPassword)
        let user = try await identity.createUser(newUser, passwordHash: passwordHash, now: clock.now())
        return CreatedUserPayload(newUser: UserPayload(UserDetails(user: user, groups: [], ownAttributes: [:], effectiveAttributes: [:])))
    }

    @Sendable func getUser(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        let userid = try Self.selfOrUserAdmin(context)
        guard let details = try await identity.details(userid: userid) else { throw IdentityStore.userNotFound }
        return UserPayload(details)
    }

    @Sendable func setPermissions(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let userid = try context.parameters.string("userid")
        let permissions = try await request.decodeJSON(as: [Permission].self, context: context)
        if userid == context.principal.userid, !permissions.contains(.userAdmin) {
            throw WardenError.badRequest("You cannot remove USER_ADMIN from yourself", code: "user.self_lockout")
        }
        _ = try await identity.setPermissions(userid: userid, permissions, now: clock.now())
        return try await details(userid)
    }

    @Sendable func setDisabled(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let userid = try context.parameters.string("userid")
        let disabled: Bool
        switch try context.parameters.string("disabled") {
        case "true": disabled = true
        case "false": disabled = false
        default: throw WardenError.badRequest("The path must end in /disable/true or /disable/false", code: "request.invalid_path")
        }
        if disabled, userid == context.principal.userid {
            throw WardenError.badRequest("You cannot disable yourself", code: "user.self_lockout")
        }
        _ = try await identity.setDisabled(userid: userid, disabled, now: clock.now())
        return try await details(userid)
    }

    @Sendable func getProfile(_ request: Request, context: AuthenticatedContext) async throws -> ProfilePayload {
        let userid = try Self.selfOrUserAdmin(context)
        guard let user = try await identity.user(userid: userid) else { throw IdentityStore.userNotFound }
        return ProfilePayload(user)
    }

    @Sendable func updateProfile(_ request: Request, context: AuthenticatedContext) async throws -> ProfilePayload {
        let userid = try Self.selfOrUserAdmin(context)
        let input = try await request.decodeJSON(as: ProfileUpdateInput.self, context: context)
        try input.update.validate()
        return ProfilePayload(try await identity.updateProfile(userid: userid, input.update, now: clock.now()))
    }

    @Sendable func listAPIKeys(_ request: Request, context: AuthenticatedContext) async throws -> [APIKeyPayload] {
        let userid = try Self.selfOrUserAdmin(context)
        guard let user = try await identity.user(userid: userid) else { throw IdentityStore.userNotFound }
        return try await auth.credentials.apiKeys(userId: user.id).map(APIKeyPayload.init)
    }

    @Sendable func userGroups(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<GroupPayload> {
        let userid = try Self.selfOrUserAdmin(context)
        guard let details = try await identity.details(userid: userid) else { throw IdentityStore.userNotFound }
        let attributes = try await identity.attributes(ofGroups: details.groups.map(\.id))
        return HitsPayload(hits: details.groups.map { GroupPayload($0, authorizations: attributes[$0.id] ?? [:]) },
                           count: details.groups.count)
    }

    @Sendable func addUserAttribute(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        let (user, key, value) = try await userAttributeTarget(context)
        guard let value else { throw WardenError.badRequest("An attribute value is required", code: "attribute.value_required") }
        try await identity.addAttribute(.user(user.id), key: key, value: value, now: clock.now(), by: context.principal.userId)
        return try await details(user.userid)
    }

    @Sendable func removeUserAttribute(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        let (user, key, value) = try await userAttributeTarget(context)
        guard try await identity.removeAttribute(.user(user.id), key: key, value: value, now: clock.now(), by: context.principal.userId) > 0 else { throw Self.attributeNotFound }
        return try await details(user.userid)
    }

    /// Users are named by userid, or by numeric profile id as in the generic `{modelId}` form.
    private func userAttributeTarget(_ context: AuthenticatedContext) async throws -> (User, String, String?) {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let (key, value) = try Self.attributePair(context.parameters)
        let reference = try context.parameters.string("userid")
        var user = try await identity.user(userid: reference)
        if user == nil, let id = Int64(reference) { user = try await identity.user(id: id) }
        guard let user else { throw IdentityStore.userNotFound }
        return (user, key, value)
    }

    private func details(_ userid: String) async throws -> UserPayload {
        guard let details = try await identity.details(userid: userid) else { throw IdentityStore.userNotFound }
        return UserPayload(details)
    }

    // MARK: Groups

    @Sendable func createGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        let input = try await request.decodeJSON(as: GroupInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        try input.changes.validate(creating: true)
        return GroupPayload(try await identity.createGroup(input.changes, now: clock.now()), authorizations: [:])
    }

    @Sendable func searchGroups(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<GroupPayload> {
        try context.principal.require(.userAdmin)
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 25)
        let page = try await identity.searchGroups(text: query.string("searchText") ?? query.string("name"), paging: paging)
        let attributes = try await identity.attributes(ofGroups: page.items.map(\.id))
        return HitsPayload(hits: page.items.map { GroupPayload($0, authorizations: attributes[$0.id] ?? [:]) }, count: page.count)
    }

    @Sendable func getGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        return try await groupPayload(try Self.groupId(context.parameters))
    }

    @Sendable func updateGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let input = try await request.decodeJSON(as: GroupInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        try input.changes.validate(creating: false)
        _ = try await identity.updateGroup(id: id, input.changes, now: clock.now(), by: context.principal.userId)
        return try await groupPayload(id)
    }

    @Sendable func deleteGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let attributes = try await identity.attributes(ofGroups: [id])[id] ?? [:]
        return GroupPayload(try await identity.deleteGroup(id: id, now: clock.now(), by: context.principal.userId), authorizations: attributes)
    }

    @Sendable func listMembers(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<MemberPayload> {
        try context.principal.require(.userAdmin)
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 100)
        let page = try await identity.members(groupId: try Self.groupId(context.parameters), paging: paging)
        return HitsPayload(hits: page.items.map(MemberPayload.init), count: page.count)
    }

    @Sendable func addMember(_ request: Request, context: AuthenticatedContext) async throws -> MemberPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let input = try await request.decodeJSON(as: AddMemberInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        return MemberPayload(try await identity.addMember(groupId: id, userid: input.userid, now: clock.now(), by: context.principal.userId))
    }

    @Sendable func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> MemberPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let membership = try context.parameters.id("groupUserId", notFound: IdentityStore.memberNotFound)
        return MemberPayload(try await identity.removeMember(groupId: id, membershipId: membership, now: clock.now(), by: context.principal.userId))
    }

    @Sendable func addGroupAttribute(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        let (id, key, value) = try await groupAttributeTarget(context)
        guard let value else { throw WardenError.badRequest("An attribute value is required", code: "attribute.value_required") }
        try await identity.addAttribute(.group(id), key: key, value: value, now: clock.now(), by: context.principal.userId)
        return try await groupPayload(id)
    }

    @Sendable func removeGroupAttribute(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        let (id, key, value) = try await groupAttributeTarget(context)
        guard try await identity.removeAttribute(.group(id), key: key, value: value, now: clock.now(), by: context.principal.userId) > 0 else { throw Self.attributeNotFound }
        return try await groupPayload(id)
    }

    private func groupAttributeTarget(_ context: AuthenticatedContext) async throws -> (Int64, String, String?) {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let id = try Self.groupId(context.parameters)
        let (key, value) = try Self.attributePair(context.parameters)
        guard try await identity.group(id: id) != nil else { throw IdentityStore.groupNotFound }
        return (id, key, value)
    }

    private func groupPayload(_ id: Int64) async throws -> GroupPayload {
        guard let group = try await identity.group(id: id) else { throw IdentityStore.groupNotFound }
        return GroupPayload(group, authorizations: try await identity.attributes(ofGroups: [id])[id] ?? [:])
    }

    // MARK: Helpers

    static let attributeNotFound = WardenError.notFound("Attribute not found", code: "attribute.not_found")

    static func requireIAM(_ parameters: Parameters) throws {
        guard try parameters.string("iamid") == builtInIAM else {
            throw WardenError.notFound("Identity manager not found", code: "iam.not_found")
        }
    }

    /// Bodies may name the identity manager; only the built-in one exists.
    static func requireBuiltInIAM(_ iamid: String?) throws {
        guard let iamid, iamid != builtInIAM else { return }
        throw WardenError.badRequest("`iamid` must be \(builtInIAM)", code: "request.validation_failed",
                                     fields: [FieldError(field: "iamid", message: "must be \(builtInIAM)")])
    }

    static func groupId(_ parameters: Parameters) throws -> Int64 {
        try parameters.id("groupId", notFound: IdentityStore.groupNotFound)
    }

    static func attributePair(_ parameters: Parameters) throws -> (String, String?) {
        let key = try parameters.string("key")
        let value = parameters.get("value") == nil ? nil : try parameters.string("value")
        try Attributes.validate(key: key, value: value)
        return (key, value)
    }

    /// The path's userid, when the caller is that user or a user administrator.
    static func selfOrUserAdmin(_ context: AuthenticatedContext) throws -> String {
        try requireIAM(context.parameters)
        let userid = try context.parameters.string("userid")
        if userid != context.principal.userid { try context.principal.require(.userAdmin) }
        return userid
    }
}

extension Optional where Wrapped: Sendable {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
