import Foundation
import WardenDomain
import WardenStore

// Bodies of the access and task routes, in the specification's field names. They are built as JSON values so that
// the nulls the specification shows (`"admin": null`) are written rather than left out.

enum AccessPayloads {
    static func date(_ date: Date?) -> JSONValue { date.map { .string(ISODate.format($0)) } ?? .null }
    static func int(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
    static func string(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    /// A subscription as `POST /dataSource/subscribe`, `POST /dataSource/{id}/access` and `PUT …/access/{id}` answer it.
    static func subscription(_ subscription: Subscription, denialReasoning: String? = nil, originalState: MemberState? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .int(subscription.id), "modelId": .string(String(subscription.dataSourceId)), "modelType": .string("datasource"),
            "state": .string(subscription.state.rawValue), "metadata": subscription.metadata ?? .object([:]),
            "admin": int(subscription.adminId), "denialReasoning": string(denialReasoning),
            "profile": int(subscription.userId), "group": int(subscription.groupId), "expiration": date(subscription.expiration),
            "acknowledgeRequired": .bool(false), "createdAt": date(subscription.createdAt), "updatedAt": date(subscription.updatedAt),
            "approved": .bool(subscription.approved), "approvals": .array(subscription.approvals.map { approval($0) }),
        ]
        if let originalState { object["originalState"] = .string(originalState.rawValue) }
        return .object(object)
    }

    static func approval(_ step: ApprovalStep) -> JSONValue {
        .object([
            "requiredPermission": .string(step.requirement.requiredPermission), "state": .string(step.state.rawValue),
            "specificApproverRequired": .bool(step.requirement.specificApprover != nil), "specificApprover": int(step.requirement.specificApprover),
            "approverId": int(step.approverId), "approver": string(step.approverName), "reason": string(step.reason),
            "decidedAt": date(step.decidedAt), "ownerModelId": .null, "ownerModelName": .null,
        ])
    }

    /// One row of `GET /dataSource/{id}/access`.
    static func accessEntry(_ entry: AccessEntry, caller: ApproverStanding) -> JSONValue {
        let subscription = entry.subscription
        let isGroupRow = entry.user == nil
        let canApprove = !subscription.stepsDecidable(by: caller).isEmpty
        return .object([
            "profile": int(entry.user?.id), "name": string(entry.user?.profile.name ?? entry.group?.name),
            "iamid": string(entry.user?.iamid ?? entry.group?.iamid), "userid": string(entry.user?.userid),
            "email": string(entry.user?.profile.email ?? entry.group?.email), "type": .string(isGroupRow ? "group" : "user"),
            "group": int(entry.group?.id), "admin": string(entry.adminName), "approved": .bool(subscription.approved),
            "state": .string(subscription.state.rawValue), "systemGenerated": .bool(entry.user?.systemGenerated ?? false),
            "lastExternalRefresh": .null, "subscriptionId": .int(subscription.id), "expiration": date(subscription.expiration),
            "createdAt": date(subscription.createdAt), "updatedAt": date(subscription.updatedAt),
            "approvals": .array(subscription.approvals.map { approval($0) }), "currentUserCanApprove": .bool(canApprove),
        ])
    }

    static func person(_ person: PersonSummary) -> JSONValue {
        .object(["id": .int(person.id), "name": string(person.name), "email": string(person.email)])
    }

    /// A task as the task routes list it; `fullCount` is the size of the whole result, as the specification shows.
    static func task(_ task: AccessTask, fullCount: Int? = nil, includeMetadata: Bool = false) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .int(task.id), "state": .string(task.state.rawValue), "type": .string(task.type.rawValue), "reason": string(task.reason),
            "targetNames": .array(task.targets.map { string($0.name) }), "targetEmails": .array(task.targets.map { string($0.email) }),
            "requester": person(task.requester), "dataSource": .object(["id": .int(task.dataSourceId), "name": .string(task.dataSourceName)]),
            "subscriptionId": int(task.subscriptionId), "outcome": string(task.outcome?.rawValue), "handledBy": int(task.handledBy),
            "createdAt": date(task.createdAt), "updatedAt": date(task.updatedAt), "completedAt": date(task.completedAt),
        ]
        if let fullCount { object["fullCount"] = .int(Int64(fullCount)) }
        if includeMetadata { object["metadata"] = task.metadata ?? .object([:]) }
        return .object(object)
    }

    static func tasks(_ page: Page<AccessTask>) -> JSONValue {
        .array(page.items.map { task($0, fullCount: page.count) })
    }
}
