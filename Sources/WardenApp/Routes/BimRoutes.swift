import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// The identity API: authentication, API keys, users, groups and attributes. Routes that read a body or an id ask
/// for USER_ADMIN before reading it, so a refused caller learns nothing from a validation error; the service,
/// which owns the rule, asks again.
struct BimRoutes {
    let identity: IdentityService
    let auth: AuthService

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
            throw WardenError.badRequest("`apikey` is required", code: .requestValidationFailed,
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
        let (details, projectId) = try await identity.currentUser(context.principal)
        return UserPayload(details, projectId: projectId)
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
        let (page, attributes) = try await identity.searchUsers(search, caller: context.principal)
        return HitsPayload(hits: page.items.map { UserHitPayload($0, authorizations: attributes[$0.id] ?? [:]) }, count: page.count)
    }

    @Sendable func createUser(_ request: Request, context: AuthenticatedContext) async throws -> CreatedUserPayload {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let input = try await request.decodeJSON(as: CreateUserInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        let newUser = NewUser(userid: input.userid, password: input.password, profile: input.profile ?? UserProfile(),
                              permissions: input.permissions ?? [])
        let user = try await identity.createUser(newUser, caller: context.principal)
        return CreatedUserPayload(newUser: UserPayload(UserDetails(user: user, groups: [], ownAttributes: [:], effectiveAttributes: [:])))
    }

    @Sendable func getUser(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        UserPayload(try await identity.details(userid: try Self.userid(context), caller: context.principal))
    }

    @Sendable func setPermissions(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try context.principal.require(.userAdmin)
        let userid = try Self.userid(context)
        let permissions = try await request.decodeJSON(as: [Permission].self, context: context)
        return UserPayload(try await identity.setPermissions(userid: userid, permissions, caller: context.principal))
    }

    @Sendable func setDisabled(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try context.principal.require(.userAdmin)
        let userid = try Self.userid(context)
        let disabled: Bool
        switch try context.parameters.string("disabled") {
        case "true": disabled = true
        case "false": disabled = false
        default: throw WardenError.badRequest("The path must end in /disable/true or /disable/false", code: .requestInvalidPath)
        }
        return UserPayload(try await identity.setDisabled(userid: userid, disabled, caller: context.principal))
    }

    @Sendable func getProfile(_ request: Request, context: AuthenticatedContext) async throws -> ProfilePayload {
        ProfilePayload(try await identity.user(userid: try Self.userid(context), caller: context.principal))
    }

    @Sendable func updateProfile(_ request: Request, context: AuthenticatedContext) async throws -> ProfilePayload {
        let userid = try Self.userid(context)
        let input = try await request.decodeJSON(as: ProfileUpdateInput.self, context: context)
        return ProfilePayload(try await identity.updateProfile(userid: userid, input.update, caller: context.principal))
    }

    @Sendable func listAPIKeys(_ request: Request, context: AuthenticatedContext) async throws -> [APIKeyPayload] {
        try await identity.apiKeys(userid: try Self.userid(context), caller: context.principal).map(APIKeyPayload.init)
    }

    @Sendable func userGroups(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<GroupPayload> {
        let groups = try await identity.groups(userid: try Self.userid(context), caller: context.principal)
        return HitsPayload(hits: groups.map { GroupPayload($0.0, authorizations: $0.1) }, count: groups.count)
    }

    @Sendable func addUserAttribute(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try await changeUserAttribute(context, adding: true)
    }

    @Sendable func removeUserAttribute(_ request: Request, context: AuthenticatedContext) async throws -> UserPayload {
        try await changeUserAttribute(context, adding: false)
    }

    private func changeUserAttribute(_ context: AuthenticatedContext, adding: Bool) async throws -> UserPayload {
        try context.principal.require(.userAdmin)
        let reference = try Self.userid(context)
        let (key, value) = try Self.attributePair(context.parameters)
        return UserPayload(try await identity.changeAttribute(ofUser: reference, key: key, value: value, adding: adding, caller: context.principal))
    }

    // MARK: Groups

    @Sendable func createGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        let input = try await request.decodeJSON(as: GroupInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        return GroupPayload(try await identity.createGroup(input.changes, caller: context.principal), authorizations: [:])
    }

    @Sendable func searchGroups(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<GroupPayload> {
        try context.principal.require(.userAdmin)
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 25)
        let (page, attributes) = try await identity.searchGroups(text: query.string("searchText") ?? query.string("name"), paging: paging,
                                                                 caller: context.principal)
        return HitsPayload(hits: page.items.map { GroupPayload($0, authorizations: attributes[$0.id] ?? [:]) }, count: page.count)
    }

    @Sendable func getGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        return GroupPayload(try await identity.group(try Self.groupId(context.parameters), caller: context.principal))
    }

    @Sendable func updateGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let input = try await request.decodeJSON(as: GroupInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        return GroupPayload(try await identity.updateGroup(id, input.changes, caller: context.principal))
    }

    @Sendable func deleteGroup(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        return GroupPayload(try await identity.deleteGroup(try Self.groupId(context.parameters), caller: context.principal))
    }

    @Sendable func listMembers(_ request: Request, context: AuthenticatedContext) async throws -> HitsPayload<MemberPayload> {
        try context.principal.require(.userAdmin)
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 100)
        let page = try await identity.members(of: try Self.groupId(context.parameters), paging: paging, caller: context.principal)
        return HitsPayload(hits: page.items.map(MemberPayload.init), count: page.count)
    }

    @Sendable func addMember(_ request: Request, context: AuthenticatedContext) async throws -> MemberPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let input = try await request.decodeJSON(as: AddMemberInput.self, context: context)
        try Self.requireBuiltInIAM(input.iamid)
        return MemberPayload(try await identity.addMember(to: id, userid: input.userid, caller: context.principal))
    }

    @Sendable func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> MemberPayload {
        try context.principal.require(.userAdmin)
        let id = try Self.groupId(context.parameters)
        let membership = try context.parameters.id("groupUserId", notFound: IdentityStore.memberNotFound)
        return MemberPayload(try await identity.removeMember(membership, from: id, caller: context.principal))
    }

    @Sendable func addGroupAttribute(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try await changeGroupAttribute(context, adding: true)
    }

    @Sendable func removeGroupAttribute(_ request: Request, context: AuthenticatedContext) async throws -> GroupPayload {
        try await changeGroupAttribute(context, adding: false)
    }

    private func changeGroupAttribute(_ context: AuthenticatedContext, adding: Bool) async throws -> GroupPayload {
        try context.principal.require(.userAdmin)
        try Self.requireIAM(context.parameters)
        let id = try Self.groupId(context.parameters)
        let (key, value) = try Self.attributePair(context.parameters)
        return GroupPayload(try await identity.changeAttribute(ofGroup: id, key: key, value: value, adding: adding, caller: context.principal))
    }

    // MARK: Helpers

    static func requireIAM(_ parameters: Parameters) throws {
        guard try parameters.string("iamid") == builtInIAM else {
            throw WardenError.notFound("Identity manager not found", code: .iamNotFound)
        }
    }

    /// Bodies may name the identity manager; only the built-in one exists.
    static func requireBuiltInIAM(_ iamid: String?) throws {
        guard let iamid, iamid != builtInIAM else { return }
        throw WardenError.badRequest("`iamid` must be \(builtInIAM)", code: .requestValidationFailed,
                                     fields: [FieldError(field: "iamid", message: "must be \(builtInIAM)")])
    }

    static func groupId(_ parameters: Parameters) throws -> Int64 {
        try parameters.id("groupId", notFound: IdentityStore.groupNotFound)
    }

    static func attributePair(_ parameters: Parameters) throws -> (String, String?) {
        let key = try parameters.string("key")
        let value = parameters.get("value") == nil ? nil : try parameters.string("value")
        return (key, value)
    }

    /// The path's userid, under the built-in identity manager.
    static func userid(_ context: AuthenticatedContext) throws -> String {
        try requireIAM(context.parameters)
        return try context.parameters.string("userid")
    }
}
