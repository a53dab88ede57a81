import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// Access to data sources: subscribing, owners' grants and changes, unsubscribing, and deciding on requests.
struct AccessRoutes {
    let service: AccessService

    /// Enough for any real batch; bounds one request's work.
    static let maxBatch = 500

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/dataSource/subscribe", use: subscribe)
        api.get("/dataSource/{dataSourceId}/access", use: members)
        api.post("/dataSource/{dataSourceId}/access", use: grant)
        api.put("/dataSource/{dataSourceId}/access/{subscriptionId}", use: change)
        api.delete("/dataSource/{dataSourceId}/access/{subscriptionId}", use: remove)
        api.delete("/dataSource/{dataSourceId}/unsubscribe", use: unsubscribe)
        api.post("/subscription/approve", use: approve)
        api.post("/subscription/deny", use: deny)
    }

    // MARK: Subscribing

    /// `?dataSourceId=` and/or `{"dataSourceIds": [...]}`, optionally for a group (`groupId`) and naming approvers.
    @Sendable func subscribe(_ request: Request, context: AuthenticatedContext) async throws -> SubscribeResultPayload {
        let body = try await request.decodeOptionalJSON(as: [String: JSONValue].self, context: context)
        var fields = JSONFields(body, path: "")
        var ids = try QueryReader(request: request).int("dataSourceId").map { [Int64($0)] } ?? []
        for (index, value) in (fields.array("dataSourceIds") ?? []).enumerated() {
            guard let id = value.int64Value, id > 0 else { fields.validator.add("dataSourceIds[\(index)]", "must be a data source id"); continue }
            if !ids.contains(id) { ids.append(id) }
        }
        let groupId = fields.int("groupId").map(Int64.init)
        let chosen = Self.chosenApprovers(fields.array("approvals") ?? [], validator: &fields.validator)
        let metadata = body["metadata"].flatMap { $0 == .null ? nil : $0 }
        var validator = fields.validator
        validator.check(!ids.isEmpty, "dataSourceIds", "must name at least one data source (or pass `dataSourceId` in the query)")
        validator.check(ids.count <= Self.maxBatch, "dataSourceIds", "must name at most \(Self.maxBatch) data sources")
        if let metadata { validator.check(metadata.isObject, "metadata", "must be an object") }
        try validator.finish()

        let result = try await service.subscribe(to: ids, groupId: groupId, chosenApprovers: chosen, metadata: metadata, caller: context.principal)
        return SubscribeResultPayload(success: result.success, inError: result.inError)
    }

    /// The approvers a requester names: `[{"requiredPermission": "OWNER", "specificApprover": 12}]`.
    static func chosenApprovers(_ values: [JSONValue], validator: inout Validator) -> [ApprovalRequirement] {
        values.enumerated().compactMap { index, value in
            guard case .object(let object) = value else { validator.add("approvals[\(index)]", "must be an object"); return nil }
            var fields = JSONFields(object, path: "approvals[\(index)]", validator: validator)
            let permission = fields.string("requiredPermission", required: true)
            let approver = fields.int("specificApprover").map(Int64.init)
            validator = fields.validator
            guard let permission else { return nil }
            guard let role = ApprovalRequirement.approver(named: permission) else {
                validator.add("approvals[\(index)].requiredPermission", "must be OWNER or a permission such as GOVERNANCE")
                return nil
            }
            return approver.map { ApprovalRequirement(approver: role, specificApproverRequired: true, specificApprover: $0) }
        }
    }

    @Sendable func unsubscribe(_ request: Request, context: AuthenticatedContext) async throws -> SuccessPayload {
        try await service.unsubscribe(from: try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound), caller: context.principal)
        return SuccessPayload()
    }

    // MARK: Members

    @Sendable func members(_ request: Request, context: AuthenticatedContext) async throws -> AccessListPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let reader = QueryReader(request: request)
        var query = AccessQuery()
        query.states = try reader.listOf("states", MemberState.self)
        query.approved = try reader.bool("approved")
        query.searchText = reader.string("searchText")
        query.paging = try Paging.parse(size: try reader.int("size"), offset: try reader.int("offset"), defaultSize: 100)
        query.sortField = try reader.oneOf("sortField", AccessQuery.SortField.self) ?? .name
        query.sortOrder = try reader.oneOf("sortOrder", WardenDomain.SortOrder.self) ?? .asc
        query.expandGroups = try reader.bool("expandGroups") ?? false
        query.ignoreSystemGenerated = try reader.bool("ignoreSystemGenerated") ?? false
        query.acrossSchemaEvolution = try reader.bool("filterBySchemaEvolution") ?? false
        let (page, standing) = try await service.members(of: id, query: query, caller: context.principal)
        return AccessListPayload(count: page.count, users: page.items.map { AccessEntryPayload($0, caller: standing) })
    }

    /// `{"state": "subscribed", "profileId": 3}` or `{"groupId": 5, …}`, optionally with an `expiration` in the future.
    @Sendable func grant(_ request: Request, context: AuthenticatedContext) async throws -> SubscriptionPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
        let state = Self.state(&fields)
        let profileId = fields.int("profileId").map(Int64.init)
        let groupId = fields.int("groupId").map(Int64.init)
        let expiration = Self.expiration(&fields, now: service.clock.now())
        var validator = fields.validator
        validator.check((profileId == nil) != (groupId == nil), "profileId", "or `groupId` is required (one of them, not both)")
        try validator.finish()
        let subscriber: Subscriber = profileId.map(Subscriber.user) ?? .group(groupId!)
        let subscription = try await service.grant(on: id, to: subscriber, state: state!, expiration: expiration ?? nil, caller: context.principal)
        return SubscriptionPayload(subscription)
    }

    /// `{"state": "expert"}`, optionally with a new `expiration` (null removes it).
    @Sendable func change(_ request: Request, context: AuthenticatedContext) async throws -> SubscriptionPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let subscriptionId = try context.parameters.id("subscriptionId", notFound: SubscriptionStore.notFound)
        var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
        let state = Self.state(&fields)
        let expiration = Self.expiration(&fields, now: service.clock.now())
        try fields.validator.finish()
        let (subscription, original) = try await service.change(subscriptionId, on: id, state: state!, expiration: expiration,
                                                                 caller: context.principal)
        return SubscriptionPayload(subscription, originalState: original)
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> SubscriptionPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let subscriptionId = try context.parameters.id("subscriptionId", notFound: SubscriptionStore.notFound)
        return SubscriptionPayload(try await service.remove(subscriptionId, from: id, caller: context.principal))
    }

    private static func state(_ fields: inout JSONFields) -> MemberState? {
        guard let text = fields.string("state", required: true) else { return nil }
        guard let state = MemberState(rawValue: text), MemberState.grantable.contains(state) else {
            fields.validator.add("state", "must be one of: " + MemberState.grantable.map(\.rawValue).joined(separator: ", "))
            return nil
        }
        return state
    }

    /// Absent: nil (unchanged); `null`: .some(nil) (no expiration); a date or date-time in the future: that moment.
    static func expiration(_ fields: inout JSONFields, now: Date) -> Date?? {
        guard let value = fields.object["expiration"] else { return nil }
        if value == .null { return .some(nil) }
        guard let text = fields.string("expiration"), let date = ISODate.parse(text) else {
            fields.validator.add("expiration", "must be an ISO 8601 date or date-time, such as 2030-01-31T00:00:00.000Z")
            return nil
        }
        fields.validator.check(date > now, "expiration", "must be in the future")
        return .some(date)
    }

    // MARK: Approvals

    @Sendable func approve(_ request: Request, context: AuthenticatedContext) async throws -> DecisionResultPayload {
        try await decide(request, context: context, approve: true)
    }

    @Sendable func deny(_ request: Request, context: AuthenticatedContext) async throws -> DecisionResultPayload {
        try await decide(request, context: context, approve: false)
    }

    /// `{"requests": [{"id": <subscriptionId>, "reason": "…"}]}` → `{"failures": [...]}`. When nothing could be
    /// decided and every failure has the same cause, that cause is the answer (403 for the wrong approver).
    private func decide(_ request: Request, context: AuthenticatedContext, approve: Bool) async throws -> DecisionResultPayload {
        var fields = JSONFields(try await request.decodeJSON(as: [String: JSONValue].self, context: context), path: "")
        let values = fields.array("requests")
        var validator = fields.validator
        var requests: [(id: Int64, reason: String?)] = []
        validator.check(values != nil && !(values!.isEmpty), "requests", "must list at least one request")
        validator.check((values?.count ?? 0) <= Self.maxBatch, "requests", "must list at most \(Self.maxBatch) requests")
        for (index, value) in (values ?? []).enumerated() {
            guard case .object(let object) = value else { validator.add("requests[\(index)]", "must be an object"); continue }
            var item = JSONFields(object, path: "requests[\(index)]", validator: validator)
            let id = item.int("id", required: true)
            let reason = item.string("reason")
            validator = item.validator
            if let id, id > 0 { requests.append((Int64(id), reason)) } else if id != nil { validator.add("requests[\(index)].id", "must be a subscription id") }
        }
        try validator.finish()
        let failures = try await service.decide(requests, approve: approve, caller: context.principal)
        // When nothing could be decided for one cause, that cause is the answer.
        if failures.count == requests.count, let first = failures.first?.error, [.forbidden, .notFound].contains(first.kind),
           failures.allSatisfy({ $0.error.kind == first.kind }) {
            throw first
        }
        return DecisionResultPayload(failures)
    }
}
