import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/governance/purpose` and `/project`: purposes, projects, their members and data sources, and acting under a
/// project (`/project/current`).
struct ProjectRoutes {
    let service: ProjectService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/governance/purpose", use: upsertPurpose)
        api.get("/governance/purpose", use: searchPurposes)
        api.get("/governance/purpose/{purposeId}", use: purpose)
        api.put("/governance/purpose/{purposeId}", use: updatePurpose)
        api.delete("/governance/purpose/{purposeId}", use: deletePurpose)
        api.post("/project", use: create)
        api.get("/project", use: search)
        api.post("/project/current/{projectId}", use: switchTo)
        api.delete("/project/current", use: leaveCurrent)
        api.get("/project/{projectId}", use: project)
        api.put("/project/{projectId}", use: update)
        api.delete("/project/{projectId}", use: delete)
        api.get("/project/{projectId}/members", use: members)
        api.post("/project/{projectId}/members", use: addMember)
        api.put("/project/{projectId}/members/{subscriptionId}", use: updateMember)
        api.post("/project/{projectId}/members/{subscriptionId}/acknowledge", use: acknowledge)
        api.get("/project/{projectId}/dataSources", use: dataSources)
        api.post("/project/{projectId}/dataSources", use: addDataSources)
        api.delete("/project/{projectId}/dataSources", use: removeDataSources)
    }

    // MARK: Purposes

    @Sendable func upsertPurpose(_ request: Request, context: AuthenticatedContext) async throws -> PurposePayload {
        let (purpose, below) = try await service.upsertPurpose(caller: context.principal) {
            var validator = Validator()
            let draft = Self.purposeDraft(try await request.decodeJSON(as: [String: JSONValue].self, context: context), parent: nil,
                                          path: "", depth: 0, into: &validator)
            try validator.finish()
            return draft
        }
        return PurposePayload(purpose, below: below)
    }

    /// `{name, description?, acknowledgement?, displayAcknowledgement?, subpurposes?: [same]}`. A sub-purpose's name
    /// is its full dotted name (`Research.Clinical`) or its last segment (`Clinical`).
    static func purposeDraft(_ body: [String: JSONValue], parent: String?, path: String, depth: Int, into validator: inout Validator) -> PurposeDraft {
        var fields = JSONFields(body, path: path)
        var name = fields.string("name", required: true) ?? ""
        let description = fields.string("description")
        let acknowledgement = fields.string("acknowledgement")
        let display = fields.bool("displayAcknowledgement")
        let subpurposes = fields.array("subpurposes") ?? []
        validator.append(fields.validator.problems, prefix: "")
        let field = path.isEmpty ? "name" : path + ".name"
        if let parent, !name.hasPrefix(parent + ".") { name = parent + "." + name }
        if !name.isEmpty, let problem = Purpose.problem(in: name) { validator.add(field, problem) }
        if let description { validator.check(description.utf8.count <= Limits.descriptionBytes, path.isEmpty ? "description" : path + ".description", "is too long") }
        if let acknowledgement { validator.check(acknowledgement.utf8.count <= Limits.descriptionBytes, path.isEmpty ? "acknowledgement" : path + ".acknowledgement", "is too long") }
        guard depth < 16, subpurposes.count <= 1000 else {
            validator.add(path.isEmpty ? "subpurposes" : path + ".subpurposes", "nests too deep or lists too many purposes")
            return PurposeDraft(name: name)
        }
        var children: [PurposeDraft] = []
        for (index, child) in subpurposes.enumerated() {
            let childPath = (path.isEmpty ? "" : path + ".") + "subpurposes[\(index)]"
            guard case .object(let object) = child else {
                validator.add(childPath, "must be an object with a name")
                continue
            }
            children.append(purposeDraft(object, parent: name, path: childPath, depth: depth + 1, into: &validator))
        }
        return PurposeDraft(name: name, description: description, acknowledgement: acknowledgement, displayAcknowledgement: display,
                            subpurposes: children)
    }

    @Sendable func searchPurposes(_ request: Request, context: AuthenticatedContext) async throws -> PurposeListPayload {
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 25)
        let page = try await service.searchPurposes(searchText: query.string("searchText"), rootOnly: try query.bool("root") ?? false, paging: paging)
        return PurposeListPayload(count: page.count, purposes: page.items.map { PurposePayload($0.0, below: $0.1) })
    }

    @Sendable func purpose(_ request: Request, context: AuthenticatedContext) async throws -> PurposePayload {
        let (purpose, below) = try await service.purpose(try Self.purposeId(context))
        return PurposePayload(purpose, below: below)
    }

    /// Changes `description`, `acknowledgement` and `displayAcknowledgement`; a purpose is renamed by creating the new
    /// name and deleting the old one, so `name`, when sent, must be the purpose's own.
    @Sendable func updatePurpose(_ request: Request, context: AuthenticatedContext) async throws -> PurposePayload {
        let (purpose, below) = try await service.updatePurpose(try Self.purposeId(context), caller: context.principal) { current in
            var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
            if let name = fields.string("name") { fields.validator.check(name == current.name, "name", "cannot be changed: create the new purpose instead") }
            let description = Self.nullable(&fields, "description")
            let acknowledgement = Self.nullable(&fields, "acknowledgement")
            let display = fields.bool("displayAcknowledgement")
            try fields.validator.finish()
            return (description, acknowledgement, display)
        }
        return PurposePayload(purpose, below: below)
    }

    @Sendable func deletePurpose(_ request: Request, context: AuthenticatedContext) async throws -> PurposePayload {
        PurposePayload(try await service.deletePurpose(try Self.purposeId(context), caller: context.principal), below: [], deleted: true)
    }

    // MARK: Projects

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> ProjectPayload {
        ProjectPayload(try await service.create(caller: context.principal) {
            try Self.projectDraft(try await request.decodeJSON(as: [String: JSONValue].self, context: context), creating: true)
        })
    }

    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> ProjectListPayload {
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 25)
        let page = try await service.search(searchText: query.string("searchText"), paging: paging)
        return ProjectListPayload(count: page.count, hits: page.items.map { ProjectPayload($0) })
    }

    @Sendable func project(_ request: Request, context: AuthenticatedContext) async throws -> ProjectPayload {
        ProjectPayload(try await service.project(try Self.projectId(context)))
    }

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> ProjectPayload {
        let id = try Self.projectId(context)
        return ProjectPayload(try await service.update(id, caller: context.principal) {
            try Self.projectDraft(try await request.decodeJSON(as: [String: JSONValue].self, context: context), creating: false)
        })
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> ProjectPayload {
        ProjectPayload(try await service.delete(try Self.projectId(context), caller: context.principal), deleted: true)
    }

    /// `{name, projectKey?, description?, documentation?, status?, purposes?: [names], allowMaskedJoins?}`.
    static func projectDraft(_ body: [String: JSONValue], creating: Bool) throws -> ProjectDraft {
        var fields = JSONFields(body, path: "")
        var draft = ProjectDraft()
        draft.name = fields.string("name", required: creating)
        draft.projectKey = fields.string("projectKey")
        draft.description = nullable(&fields, "description")
        draft.documentation = nullable(&fields, "documentation")
        if let status = fields.string("status") {
            draft.status = ProjectStatus(rawValue: status)
            fields.validator.check(draft.status != nil, "status", "must be open or closed")
        }
        if let purposes = fields.array("purposes") {
            var names: [String] = []
            for (index, purpose) in purposes.enumerated() {
                // A name, or a purpose object as the API answers it.
                guard let name = purpose.stringValue ?? purpose.objectValue?["name"]?.stringValue else {
                    fields.validator.add("purposes[\(index)]", "must be a purpose name")
                    continue
                }
                names.append(name)
            }
            fields.validator.check(names.count <= 100, "purposes", "must have at most 100 purposes")
            draft.purposes = names
        }
        draft.allowMaskedJoins = fields.bool("allowMaskedJoins")
        for (key, value) in [("name", draft.name), ("projectKey", draft.projectKey)] {
            guard let value else { continue }
            fields.validator.check(Text.isPrintable(value, maxLength: 255), key, "must be 1 to 255 printable characters")
        }
        if let description = draft.description ?? nil {
            fields.validator.check(description.utf8.count <= Limits.descriptionBytes, "description", "is too long")
        }
        if let documentation = draft.documentation ?? nil {
            fields.validator.check(documentation.utf8.count <= Limits.documentationBytes, "documentation", "is too long")
        }
        try fields.validator.finish()
        return draft
    }

    // MARK: Members

    @Sendable func members(_ request: Request, context: AuthenticatedContext) async throws -> ProjectMembersPayload {
        let query = QueryReader(request: request)
        let paging = try Paging.parse(size: try query.int("size"), offset: try query.int("offset"), defaultSize: 100)
        let page = try await service.members(of: try Self.projectId(context), paging: paging, caller: context.principal)
        return ProjectMembersPayload(count: page.count, members: page.items.map(ProjectMemberPayload.init))
    }

    /// `{profileId, state: owner|subscribed|expert, expiration?}` → `{subscriptionId, state, approved}`.
    @Sendable func addMember(_ request: Request, context: AuthenticatedContext) async throws -> ProjectMembershipPayload {
        let id = try Self.projectId(context)
        return ProjectMembershipPayload(try await service.addMember(to: id, caller: context.principal) {
            var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
            let profileId = fields.int("profileId", required: true)
            if fields.object["groupId"].map({ $0 != .null }) ?? false { fields.validator.add("groupId", "is not supported: add each user") }
            let state = Self.memberState(&fields, required: true)
            let expiration = AccessRoutes.expiration(&fields, now: service.clock.now())
            try fields.validator.finish()
            return (Int64(profileId!), state!, expiration ?? nil)
        })
    }

    @Sendable func updateMember(_ request: Request, context: AuthenticatedContext) async throws -> ProjectMemberPayload {
        let id = try Self.projectId(context)
        let memberId = try context.parameters.id("subscriptionId", notFound: ProjectStore.memberNotFound)
        return ProjectMemberPayload(try await service.updateMember(memberId, of: id, caller: context.principal) {
            var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
            let state = Self.memberState(&fields, required: false)
            let expiration = AccessRoutes.expiration(&fields, now: service.clock.now())
            try fields.validator.finish()
            return (state, expiration)
        })
    }

    @Sendable func acknowledge(_ request: Request, context: AuthenticatedContext) async throws -> ProjectMemberPayload {
        let id = try Self.projectId(context)
        let memberId = try context.parameters.id("subscriptionId", notFound: ProjectStore.memberNotFound)
        return ProjectMemberPayload(try await service.acknowledge(memberId, of: id, caller: context.principal))
    }

    static func memberState(_ fields: inout JSONFields, required: Bool) -> MemberState? {
        guard let text = fields.string("state", required: required) else { return nil }
        guard let state = MemberState(rawValue: text), [.owner, .subscribed, .expert].contains(state) else {
            fields.validator.add("state", "must be owner, subscribed or expert")
            return nil
        }
        return state
    }

    // MARK: Data sources

    @Sendable func dataSources(_ request: Request, context: AuthenticatedContext) async throws -> ProjectDataSourcesPayload {
        let sources = try await service.dataSources(of: try Self.projectId(context), caller: context.principal)
        return ProjectDataSourcesPayload(count: sources.count, dataSources: sources.map { .init(id: $0.id, name: $0.name) })
    }

    /// `{dataSourceIds: [...], comment?}` → `{success: [ids], inError: [{dataSourceId, statusCode, error, message, code}]}`.
    @Sendable func addDataSources(_ request: Request, context: AuthenticatedContext) async throws -> ProjectDataSourcesAddedPayload {
        let id = try Self.projectId(context)
        let (added, failures) = try await service.addDataSources(to: id, caller: context.principal) {
            var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
            let ids = Self.ids(fields.array("dataSourceIds"), "dataSourceIds", &fields.validator)
            _ = fields.string("comment")
            try fields.validator.finish()
            return ids
        }
        return ProjectDataSourcesAddedPayload(success: added, inError: failures.map { .init(dataSourceId: $0.0, error: $0.1) })
    }

    /// `?dataSourceIds=1,2` (or `dataSourceId`) → `{removed: [ids]}`.
    @Sendable func removeDataSources(_ request: Request, context: AuthenticatedContext) async throws -> ProjectDataSourcesRemovedPayload {
        let id = try Self.projectId(context)
        let query = QueryReader(request: request)
        var validator = Validator()
        let ids = Self.ids((query.list("dataSourceIds") + query.list("dataSourceId")).map(JSONValue.string), "dataSourceIds", &validator)
        try validator.finish()
        try await service.removeDataSources(ids, from: id, caller: context.principal)
        return ProjectDataSourcesRemovedPayload(removed: ids)
    }

    static func ids(_ values: [JSONValue]?, _ field: String, _ validator: inout Validator) -> [Int64] {
        guard let values, !values.isEmpty else {
            validator.add(field, "must list at least one data source id")
            return []
        }
        validator.check(values.count <= 1000, field, "must list at most 1000 ids")
        return values.enumerated().compactMap { index, value in
            guard let id = value.int64Value ?? value.stringValue.flatMap({ Int64($0) }), id > 0 else {
                validator.add("\(field)[\(index)]", "must be a data source id")
                return nil
            }
            return id
        }
    }

    // MARK: Acting under a project

    @Sendable func switchTo(_ request: Request, context: AuthenticatedContext) async throws -> CurrentProjectPayload {
        let (project, member) = try await service.switchTo(try Self.projectId(context), caller: context.principal)
        return CurrentProjectPayload(projectId: project.id, purposes: project.purposes, acknowledged: member.acknowledgedAt != nil)
    }

    @Sendable func leaveCurrent(_ request: Request, context: AuthenticatedContext) async throws -> CurrentProjectPayload {
        try await service.leaveCurrent(caller: context.principal)
        return CurrentProjectPayload(projectId: nil, purposes: [], acknowledged: false)
    }

    // MARK: Input

    /// Absent: unchanged (nil); `null`: cleared; a string: set.
    static func nullable(_ fields: inout JSONFields, _ key: String) -> String?? {
        guard let value = fields.object[key] else { return nil }
        if value == .null { return .some(nil) }
        return fields.string(key).map { .some($0) }
    }

    static func purposeId(_ context: AuthenticatedContext) throws -> Int64 {
        try context.parameters.id("purposeId", notFound: PurposeStore.notFound)
    }

    static func projectId(_ context: AuthenticatedContext) throws -> Int64 {
        try context.parameters.id("projectId", notFound: ProjectStore.notFound)
    }
}
