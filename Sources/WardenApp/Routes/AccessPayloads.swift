import Foundation
import Hummingbird
import WardenDomain
import WardenStore

// Bodies of the access and task routes, in the specification's field names. `Nullable` writes the nulls the
// specification shows (`"admin": null`) rather than leaving the keys out.

/// A subscription as `POST /dataSource/subscribe`, `POST /dataSource/{id}/access` and `PUT …/access/{id}` answer it.
struct SubscriptionPayload: ResponseEncodable, Sendable {
    var id: Int64
    var modelId: String
    var modelType = "datasource"
    var state: MemberState
    var metadata: JSONValue
    var admin: Nullable<Int64>
    var denialReasoning: Nullable<String> = nil
    var profile: Nullable<Int64>
    var group: Nullable<Int64>
    var expiration: Nullable<Date>
    var acknowledgeRequired = false
    var createdAt: Date
    var updatedAt: Date
    var approved: Bool
    var approvals: [ApprovalPayload]
    /// Only in the answer to a change: the state before it.
    var originalState: MemberState?

    init(_ subscription: Subscription, originalState: MemberState? = nil) {
        id = subscription.id
        modelId = String(subscription.dataSourceId)
        state = subscription.state
        metadata = subscription.metadata ?? .object([:])
        admin = Nullable(subscription.adminId)
        profile = Nullable(subscription.userId)
        group = Nullable(subscription.groupId)
        expiration = Nullable(subscription.expiration)
        createdAt = subscription.createdAt
        updatedAt = subscription.updatedAt
        approved = subscription.approved
        approvals = subscription.approvals.map(ApprovalPayload.init)
        self.originalState = originalState
    }
}

/// One approval step of a request.
struct ApprovalPayload: Encodable, Sendable {
    var requiredPermission: String
    var state: ApprovalStep.State
    var specificApproverRequired: Bool
    var specificApprover: Nullable<Int64>
    var approverId: Nullable<Int64>
    var approver: Nullable<String>
    var reason: Nullable<String>
    var decidedAt: Nullable<Date>
    var ownerModelId: Nullable<Int64> = nil
    var ownerModelName: Nullable<String> = nil

    init(_ step: ApprovalStep) {
        requiredPermission = step.requirement.requiredPermission
        state = step.state
        specificApproverRequired = step.requirement.specificApprover != nil
        specificApprover = Nullable(step.requirement.specificApprover)
        approverId = Nullable(step.approverId)
        approver = Nullable(step.approverName)
        reason = Nullable(step.reason)
        decidedAt = Nullable(step.decidedAt)
    }
}

/// `GET /dataSource/{id}/access`.
struct AccessListPayload: ResponseEncodable, Sendable {
    var count: Int
    var users: [AccessEntryPayload]
}

/// One row of `GET /dataSource/{id}/access`: a user's or a group's membership.
struct AccessEntryPayload: Encodable, Sendable {
    var profile: Nullable<Int64>
    var name: Nullable<String>
    var iamid: Nullable<String>
    var userid: Nullable<String>
    var email: Nullable<String>
    var type: String
    var group: Nullable<Int64>
    var admin: Nullable<String>
    var approved: Bool
    var state: MemberState
    var systemGenerated: Bool
    var lastExternalRefresh: Nullable<Date> = nil
    var subscriptionId: Int64
    var expiration: Nullable<Date>
    var createdAt: Date
    var updatedAt: Date
    var approvals: [ApprovalPayload]
    var currentUserCanApprove: Bool

    init(_ entry: AccessEntry, caller: ApproverStanding) {
        let subscription = entry.subscription
        profile = Nullable(entry.user?.id)
        name = Nullable(entry.user?.profile.name ?? entry.group?.name)
        iamid = Nullable(entry.user?.iamid ?? entry.group?.iamid)
        userid = Nullable(entry.user?.userid)
        email = Nullable(entry.user?.profile.email ?? entry.group?.email)
        type = entry.user == nil ? "group" : "user"
        group = Nullable(entry.group?.id)
        admin = Nullable(entry.adminName)
        approved = subscription.approved
        state = subscription.state
        systemGenerated = entry.user?.systemGenerated ?? false
        subscriptionId = subscription.id
        expiration = Nullable(subscription.expiration)
        createdAt = subscription.createdAt
        updatedAt = subscription.updatedAt
        approvals = subscription.approvals.map(ApprovalPayload.init)
        currentUserCanApprove = !subscription.stepsDecidable(by: caller).isEmpty
    }
}

/// `POST /dataSource/subscribe`: what was granted or requested, and each refusal with the error envelope's fields.
struct SubscribeResultPayload: ResponseEncodable, Sendable {
    var success: [SubscriptionPayload]
    var inError: [JSONValue]

    init(success: [Subscription], inError: [AccessService.SubscribeFailure]) {
        self.success = success.map { SubscriptionPayload($0) }
        self.inError = inError.map { failure in
            ErrorMiddleware.fields(of: failure.error, adding: [
                "dataSourceId": .int(failure.dataSourceId), "modelId": .string(String(failure.dataSourceId)),
                "denialReasoning": failure.denialReasoning.map(JSONValue.string) ?? .null,
            ])
        }
    }
}

/// `POST /subscription/approve|deny`: the requests that could not be decided.
struct DecisionResultPayload: ResponseEncodable, Sendable {
    var failures: [JSONValue]

    init(_ failures: [DecisionFailure]) {
        self.failures = failures.map { ErrorMiddleware.fields(of: $0.error, adding: ["id": .int($0.id)]) }
    }
}

struct PersonPayload: Encodable, Sendable {
    var id: Int64
    var name: Nullable<String>
    var email: Nullable<String>

    init(_ person: PersonSummary) {
        id = person.id
        name = Nullable(person.name)
        email = Nullable(person.email)
    }
}

/// `GET /dataSource/tasks/{taskId}`: `{result: …}`, the task's details or, for an unmask task, the values revealed.
struct HandledTaskPayload: ResponseEncodable {
    enum Result: Encodable {
        case details(JSONValue)
        case unmasked(UnmaskResultPayload)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .details(let details): try details.encode(to: encoder)
            case .unmasked(let unmasked): try unmasked.encode(to: encoder)
            }
        }
    }

    let result: Result
}

/// A task as the task routes list it; `fullCount` is the size of the whole result, as the specification shows.
struct TaskPayload: ResponseEncodable, Sendable {
    struct DataSourceRef: Encodable, Sendable {
        var id: Int64
        var name: String
    }

    var id: Int64
    var state: TaskState
    var type: TaskType
    var reason: Nullable<String>
    var targetNames: [Nullable<String>]
    var targetEmails: [Nullable<String>]
    var requester: PersonPayload
    var dataSource: DataSourceRef
    var subscriptionId: Nullable<Int64>
    var outcome: Nullable<TaskOutcome>
    var handledBy: Nullable<Int64>
    var createdAt: Date
    var updatedAt: Date
    var completedAt: Nullable<Date>
    var fullCount: Int?
    /// Only when one task is read on its own.
    var metadata: JSONValue?

    init(_ task: AccessTask, fullCount: Int? = nil, includeMetadata: Bool = false) {
        id = task.id
        state = task.state
        type = task.type
        reason = Nullable(task.reason)
        targetNames = task.targets.map { Nullable($0.name) }
        targetEmails = task.targets.map { Nullable($0.email) }
        requester = PersonPayload(task.requester)
        dataSource = DataSourceRef(id: task.dataSourceId, name: task.dataSourceName)
        subscriptionId = Nullable(task.subscriptionId)
        outcome = Nullable(task.outcome)
        handledBy = Nullable(task.handledBy)
        createdAt = task.createdAt
        updatedAt = task.updatedAt
        completedAt = Nullable(task.completedAt)
        self.fullCount = fullCount
        metadata = includeMetadata ? task.metadata ?? .object([:]) : nil
    }

    static func page(_ page: Page<AccessTask>) -> [TaskPayload] {
        page.items.map { TaskPayload($0, fullCount: page.count) }
    }
}

/// `GET /dataSource/tasks/pending`: each side as asked, a count, the tasks, or the tasks counted or grouped by source.
struct PendingTasksPayload: ResponseEncodable, Sendable {
    struct DataSourceCount: Encodable, Sendable {
        var dataSourceId: Int64
        var dataSourceName: String
        var count: Int
    }

    struct DataSourceGroup: Encodable, Sendable {
        var dataSourceId: Int64
        var rows: [TaskPayload]
    }

    enum Side: Encodable, Sendable {
        case count(Int)
        case tasks([TaskPayload])
        case counts([DataSourceCount])
        case groups([DataSourceGroup])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .count(let count): try container.encode(count)
            case .tasks(let tasks): try container.encode(tasks)
            case .counts(let counts): try container.encode(counts)
            case .groups(let groups): try container.encode(groups)
            }
        }
    }

    var outgoing: Side
    var incoming: Side
}

/// `GET /dataSource/{id}/tasks`: `{hits, count}`, or `{count}` alone with `countOnly`.
struct TaskHitsPayload: ResponseEncodable, Sendable {
    var hits: [TaskPayload]?
    var count: Int
}
