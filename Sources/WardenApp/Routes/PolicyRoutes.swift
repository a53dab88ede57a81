import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/policy/global` (global data policies), `/policy/handler/{dataSourceId}` (a source's local policies), and the
/// decision routes Warden adds: `explain` and `testPolicy`.
struct PolicyRoutes {
    let service: PolicyService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/policy/global", use: createGlobal)
        api.get("/policy/global", use: searchGlobals)
        api.post("/policy/global/applyPolicy", use: apply)
        api.get("/policy/global/appliedTo/{policyId}", use: appliedTo)
        api.get("/policy/global/{policyId}", use: global)
        api.put("/policy/global/{policyId}", use: updateGlobal)
        api.delete("/policy/global/{policyId}", use: deleteGlobal)
        api.get("/policy/handler/{dataSourceId}", use: handler)
        api.post("/policy/handler/{dataSourceId}", use: putLocal)
        api.put("/policy/handler/{dataSourceId}", use: putLocal)
        api.post("/policy/testPolicy", use: testPolicy)
        api.get("/dataSource/{dataSourceId}/users/{profileId}/explain", use: explain)
        api.get("/dataSource/{dataSourceId}/users/{profileId}/policyInfo", use: policyInfo)
        api.get("/dataSource/byPurposes", use: byPurposes)
    }

    /// `?purposes=A,B&excludedProjects=1,2` → `[{id, name, policyId, restrictions: [{operator, purposes}]}]`: the
    /// visible sources whose purpose restrictions acting under those purposes satisfies.
    @Sendable func byPurposes(_ request: Request, context: AuthenticatedContext) async throws -> [PurposeSourcePayload] {
        let query = QueryReader(request: request)
        let purposes = query.list("purposes")
        guard !purposes.isEmpty else { throw Self.invalidQuery("purposes", "is required: one or more purpose names") }
        var excluded: [Int64] = []
        for text in query.list("excludedProjects") {
            guard let id = Int64(text), id > 0 else { throw Self.invalidQuery("excludedProjects", "must list project ids") }
            excluded.append(id)
        }
        return try await service.dataSources(forPurposes: purposes, excludedProjects: excluded, caller: context.principal).map { found in
            PurposeSourcePayload(id: found.source.id, name: found.source.name, policyId: found.restrictions[0].policyId,
                                 restrictions: found.restrictions.map { .init(operator: $0.op.rawValue, purposes: $0.purposes) })
        }
    }

    // MARK: Global

    @Sendable func createGlobal(_ request: Request, context: AuthenticatedContext) async throws -> GlobalPolicyPayload {
        GlobalPolicyPayload(try await service.createGlobal(caller: context.principal) { try await Self.draft(request, context) })
    }

    @Sendable func searchGlobals(_ request: Request, context: AuthenticatedContext) async throws -> [GlobalPolicyPayload] {
        let query = QueryReader(request: request)
        let type = query.string("type") ?? "data"
        guard ["data", "subscription"].contains(type) else { throw Self.invalidQuery("type", "must be data or subscription") }
        let offset = try query.int("offset") ?? 0
        let size = try query.int("size") ?? 25
        guard offset >= 0 else { throw Self.invalidQuery("offset", "must be 0 or more") }
        guard (1...1000).contains(size) else { throw Self.invalidQuery("size", "must be 1 to 1000") }
        let sortName = query.string("sortField") ?? "name"
        guard let sort = PolicyStore.SortField(rawValue: sortName) else {
            throw Self.invalidQuery("sortField", "must be one of: " + PolicyStore.SortField.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let ignoreStaged = try query.bool("ignoreStaged") ?? false
        let found = try await service.globals(searchText: query.string("searchText"), includeStaged: !ignoreStaged, sort: sort,
                                              offset: offset, size: size, caller: context.principal)
        // Warden keeps subscription policies on each data source (`subscriptionPolicy`), none globally.
        return type == "data" ? found.map { GlobalPolicyPayload($0) } : []
    }

    @Sendable func global(_ request: Request, context: AuthenticatedContext) async throws -> GlobalPolicyPayload {
        GlobalPolicyPayload(try await service.global(try Self.policyId(context), caller: context.principal))
    }

    @Sendable func updateGlobal(_ request: Request, context: AuthenticatedContext) async throws -> GlobalPolicyPayload {
        let id = try Self.policyId(context)
        return GlobalPolicyPayload(try await service.updateGlobal(id, caller: context.principal) { try await Self.draft(request, context) })
    }

    @Sendable func deleteGlobal(_ request: Request, context: AuthenticatedContext) async throws -> GlobalPolicyPayload {
        GlobalPolicyPayload(try await service.deleteGlobal(try Self.policyId(context), caller: context.principal), deleted: true)
    }

    @Sendable func appliedTo(_ request: Request, context: AuthenticatedContext) async throws -> AppliedCountPayload {
        AppliedCountPayload(count: try await service.appliedCount(try Self.policyId(context), caller: context.principal))
    }

    struct ApplyInput: Decodable {
        var policyId: Int64
        var dataSourceId: Int64
        var merged: Bool?
    }

    @Sendable func apply(_ request: Request, context: AuthenticatedContext) async throws -> GlobalPolicyPayload {
        let input = try await request.decodeJSON(as: ApplyInput.self, context: context)
        return GlobalPolicyPayload(try await service.apply(policyId: input.policyId, dataSourceId: input.dataSourceId, caller: context.principal))
    }

    // MARK: Local

    @Sendable func handler(_ request: Request, context: AuthenticatedContext) async throws -> PolicyHandlerPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let (local, globals) = try await service.handler(id, caller: context.principal)
        return PolicyHandlerPayload(dataSourceId: id, local: local, globals: globals)
    }

    @Sendable func putLocal(_ request: Request, context: AuthenticatedContext) async throws -> PolicyHandlerPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let (local, globals) = try await service.putLocal(id, caller: context.principal) { columns in
            let entries = try await Self.jsonPolicies(request, context)
            var validator = Validator()
            _ = PolicyReader(global: false, columns: columns, strict: true).entries(entries, path: "jsonPolicies", into: &validator)
            try validator.finish()
            return entries
        }
        return PolicyHandlerPayload(dataSourceId: id, local: local, globals: globals)
    }

    // MARK: Decisions

    @Sendable func explain(_ request: Request, context: AuthenticatedContext) async throws -> ExplainPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let profileId = try context.parameters.id("profileId", notFound: IdentityStore.userNotFound)
        let projectId = try QueryReader(request: request).int("projectId").map(Int64.init)
        return ExplainPayload(dataSourceId: id, profileId: profileId,
                              try await service.decide(id, profileId: profileId, projectId: projectId, caller: context.principal))
    }

    /// The documented decision: masks with the policy's masking type, the user's visibilities, and the row filters.
    @Sendable func policyInfo(_ request: Request, context: AuthenticatedContext) async throws -> PolicyInfoPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let profileId = try context.parameters.id("profileId", notFound: IdentityStore.userNotFound)
        let projectId = try QueryReader(request: request).int("projectId").map(Int64.init)
        return PolicyInfoPayload(try await service.decide(id, profileId: profileId, projectId: projectId, caller: context.principal).decision)
    }

    struct TestPolicyInput: Decodable {
        var dataSourceId: Int64
        var profileId: Int64?
        var jsonPolicies: [JSONValue]
    }

    /// Decides with `jsonPolicies` in place of the source's local policy, for the caller or `profileId`; nothing is stored.
    @Sendable func testPolicy(_ request: Request, context: AuthenticatedContext) async throws -> ExplainPayload {
        let input = try await request.decodeJSON(as: TestPolicyInput.self, context: context)
        guard input.jsonPolicies.count <= PolicyReader.maxEntries else {
            throw WardenError.badRequest("`jsonPolicies` must have at most \(PolicyReader.maxEntries) entries", code: .requestValidationFailed)
        }
        let profileId = input.profileId ?? context.principal.userId
        return ExplainPayload(dataSourceId: input.dataSourceId, profileId: profileId,
                              try await service.decide(input.dataSourceId, profileId: profileId, caller: context.principal,
                                                       trial: { _ in input.jsonPolicies }))
    }

    // MARK: Input

    /// The body of `POST|PUT /policy/global`, read as JSON so that an absent `circumstances` (every data source) stays
    /// apart from `null` (where owners apply it).
    static func draft(_ request: Request, _ context: AuthenticatedContext) async throws -> GlobalPolicyDraft {
        guard case .object(let body) = try await request.decodeJSON(as: JSONValue.self, context: context) else {
            throw WardenError.badRequest("The body must be a JSON object", code: .requestInvalidJson)
        }
        var fields = JSONFields(body, path: "")
        let type = fields.string("type") ?? "data"
        let name = fields.string("name", required: true)
        let policyKey = fields.string("policyKey")
        let actions = fields.array("actions")
        let staged = fields.bool("staged")
        try fields.validator.finish()
        guard type == "data" else {
            throw WardenError.notImplemented("Global subscription policies are not built: set `subscriptionPolicy` on each data source instead",
                                             code: .policyTypeNotImplemented)
        }
        return try GlobalPolicyDraft.parse(name: name, policyKey: policyKey, actions: actions, circumstances: body["circumstances"], staged: staged)
    }

    /// `jsonPolicies` of a local policy body (`dataSourcePolicyHandler` is accepted and not needed).
    static func jsonPolicies(_ request: Request, _ context: AuthenticatedContext) async throws -> [JSONValue] {
        guard case .object(let body) = try await request.decodeJSON(as: JSONValue.self, context: context) else {
            throw WardenError.badRequest("The body must be a JSON object with jsonPolicies", code: .requestInvalidJson)
        }
        var fields = JSONFields(body, path: "")
        let entries = fields.array("jsonPolicies")
        if entries == nil, body["jsonPolicies"] == nil || body["jsonPolicies"] == .null { fields.validator.add("jsonPolicies", "is required") }
        try fields.validator.finish()
        return entries ?? []
    }

    static func policyId(_ context: AuthenticatedContext) throws -> Int64 {
        try context.parameters.id("policyId", notFound: PolicyStore.notFound)
    }

    static func invalidQuery(_ name: String, _ message: String) -> WardenError {
        .badRequest("Query parameter `\(name)` \(message)", code: .requestInvalidQuery, fields: [FieldError(field: name, message: message)])
    }
}
