import Foundation
import WardenDomain
import WardenStore

/// The access loop: subscribing, owners' grants, approvals, unsubscribing and tasks. Each method checks who may
/// act before it touches anything: a caller who may not see a data source gets 404, one who may see it but not act 403.
struct AccessService: Sendable {
    let dataSources: DataSourceStore
    let access: DataSourceAccess
    let identity: IdentityStore
    let subscriptions: SubscriptionStore
    let tasks: TaskStore
    let unmasking: UnmaskService
    let clock: any WardenClock


    /// One data source's refusal in `POST /dataSource/subscribe`.
    struct SubscribeFailure: Sendable {
        var dataSourceId: Int64
        var error: WardenError
        var denialReasoning: String?
    }

    // MARK: Subscribing

    func subscribe(to ids: [Int64], groupId: Int64?, chosenApprovers: [ApprovalRequirement], metadata: JSONValue?,
                   caller: Principal) async throws -> (success: [Subscription], inError: [SubscribeFailure]) {
        if let groupId, !caller.permissions.contains(.userAdmin) {
            // Only a member may ask for their group (or a user admin, who manages groups anyway).
            let groups = try await identity.details(userId: caller.userId)?.groups ?? []
            guard groups.contains(where: { $0.id == groupId }) else {
                throw WardenError.forbidden("Only members of group \(groupId) (or a USER_ADMIN) may subscribe it", code: .subscriptionGroupForbidden)
            }
        }
        var success: [Subscription] = []
        var failures: [SubscribeFailure] = []
        for id in ids {
            do {
                _ = try await access.visible(id, to: caller)
                switch try await subscriptions.subscribe(dataSourceId: id, subscriber: groupId.map(Subscriber.group) ?? .user(caller.userId),
                                                         requesterId: caller.userId, chosenApprovers: chosenApprovers, metadata: metadata,
                                                         now: clock.now()) {
                case .accepted(let subscription):
                    success.append(subscription)
                case .refused(let reason):
                    failures.append(SubscribeFailure(dataSourceId: id, error: .forbidden(reason, code: .subscriptionRefused), denialReasoning: reason))
                }
            } catch let error as WardenError where error.kind != .internalError {
                failures.append(SubscribeFailure(dataSourceId: id, error: error, denialReasoning: nil))
            }
        }
        return (success, failures)
    }

    /// Leaves a data source: the caller's own membership, or their waiting request, ends.
    func unsubscribe(from id: Int64, caller: Principal) async throws {
        _ = try await access.visible(id, to: caller)
        guard let own = try await subscriptions.own(dataSourceId: id, userId: caller.userId) else {
            throw WardenError.notFound("You have no subscription to this data source of your own (access through a group ends with the group membership)",
                                       code: .subscriptionNotFound)
        }
        _ = try await subscriptions.remove(subscriptionId: own.id, dataSourceId: id, actorId: caller.userId, now: clock.now())
    }

    // MARK: Owners

    /// Owners and experts see who has access; so do governors and user admins, who answer for access everywhere.
    func members(of id: Int64, query: AccessQuery, caller: Principal) async throws -> (Page<AccessEntry>, ApproverStanding) {
        let (_, state) = try await access.visible(id, to: caller)
        guard state == .owner || state == .expert || caller.permissions.contains(.governance) || caller.permissions.contains(.userAdmin) else {
            throw DataSourceAccess.roleRequired([.owner, .expert], action: "see who has access to this data source")
        }
        let page = try await subscriptions.access(dataSourceId: id, query: query, now: clock.now())
        return (page, ApproverStanding(userId: caller.userId, isOwner: state == .owner, permissions: caller.permissions))
    }

    func grant(on id: Int64, to subscriber: Subscriber, state: MemberState, expiration: Date?, caller: Principal) async throws -> Subscription {
        _ = try await access.require([.owner], on: id, caller: caller)
        return try await subscriptions.grant(dataSourceId: id, subscriber: subscriber, state: state, expiration: expiration, metadata: nil,
                                             actorId: caller.userId, now: clock.now())
    }

    func change(_ subscriptionId: Int64, on id: Int64, state: MemberState, expiration: Date??,
                caller: Principal) async throws -> (subscription: Subscription, originalState: MemberState) {
        _ = try await access.require([.owner], on: id, caller: caller)
        return try await subscriptions.change(subscriptionId: subscriptionId, dataSourceId: id, state: state, expiration: expiration,
                                              actorId: caller.userId, now: clock.now())
    }

    func remove(_ subscriptionId: Int64, from id: Int64, caller: Principal) async throws -> Subscription {
        _ = try await access.require([.owner], on: id, caller: caller)
        return try await subscriptions.remove(subscriptionId: subscriptionId, dataSourceId: id, actorId: caller.userId, now: clock.now())
    }

    // MARK: Approvals

    /// Decides on each request in turn; what could not be decided is reported, not thrown, so one bad id does not
    /// hold up the rest.
    func decide(_ requests: [(id: Int64, reason: String?)], approve: Bool, caller: Principal) async throws -> [DecisionFailure] {
        var failures: [DecisionFailure] = []
        for request in requests {
            if case .failure(let failure) = try await subscriptions.decide(subscriptionId: request.id, approve: approve, reason: request.reason,
                                                                           approver: caller, now: clock.now()) {
                failures.append(failure)
            }
        }
        return failures
    }

    // MARK: Tasks

    func pendingTasks(for caller: Principal, query: TaskQuery) async throws -> TaskStore.PendingTasks {
        try await tasks.pending(for: caller, query: query)
    }

    func tasks(of id: Int64, query: TaskQuery, caller: Principal) async throws -> Page<AccessTask> {
        _ = try await access.visible(id, to: caller)
        return try await tasks.tasks(dataSourceId: id, caller: caller, query: query)
    }

    /// What handling a task answers: the task, or for an unmask task the values revealed.
    enum Handled: Sendable {
        case task(AccessTask)
        case unmasked(column: String, pairs: [UnmaskPair])
    }

    /// Handles a task: marks it completed when the caller is one of those it waits for. An unmask task reveals its
    /// values to the users it names, each time they handle it.
    func handle(taskId: Int64, caller: Principal) async throws -> Handled {
        let (task, handleable) = try await visibleTask(taskId, caller: caller)
        switch task.type {
        case .subscription:
            throw WardenError.badRequest("Access requests are decided with POST /subscription/approve or /subscription/deny",
                                         code: .taskDecideWithSubscriptionRoutes)
        case .unmask:
            let revealed = try await unmasking.reveal(task, caller: caller)
            return .unmasked(column: revealed.column, pairs: revealed.pairs)
        default:
            if task.state == .completed { return .task(task) }
            guard handleable else {
                throw WardenError.forbidden("This task is not addressed to you", code: .taskNotAddressed)
            }
            // Handling a `columnAdded` task is the owners' review of those columns: they are masked by default until then.
            let reviewed = task.type == .columnAdded
                ? (task.metadata?.objectValue?["columns"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue } : []
            return .task(try await tasks.complete(id: taskId, by: caller.userId, now: clock.now(), reviewing: reviewed))
        }
    }

    /// Deletes a task: its requester may, and so may whoever it waits for.
    func deleteTask(_ taskId: Int64, caller: Principal) async throws -> AccessTask {
        let (task, handleable) = try await visibleTask(taskId, caller: caller)
        guard task.requester.id == caller.userId || task.handledBy == caller.userId || handleable else {
            throw WardenError.forbidden("Only the requester or someone the task waits for may delete it", code: .taskDeleteForbidden)
        }
        return try await tasks.delete(id: taskId, by: caller.userId, now: clock.now())
    }

    /// The task and whether the caller may handle it; 404 when they may not see it.
    private func visibleTask(_ taskId: Int64, caller: Principal) async throws -> (AccessTask, handleable: Bool) {
        let access = try await tasks.access(taskId: taskId, caller: caller)
        guard access.visible, let task = try await tasks.task(id: taskId) else { throw TaskStore.notFound }
        return (task, access.handleable)
    }

    /// A member asks the owners for help with a query; the task goes to every owner.
    func requestQueryHelp(on id: Int64, query: String, reason: String, caller: Principal) async throws -> AccessTask {
        let (source, state) = try await access.visible(id, to: caller)
        guard let state, state.isMember else {
            throw DataSourceAccess.roleRequired([.subscribed, .ingest, .expert, .owner], action: "ask for help with a query")
        }
        let owners = try await dataSources.contacts(dataSourceId: id).filter { $0.state == .owner && $0.user.id != caller.userId }.map(\.user.id)
        guard !owners.isEmpty else {
            throw WardenError.conflict("This data source has no other owner to ask", code: .taskNoTarget)
        }
        let metadata: JSONValue = .object(["query": .string(query), "taskType": .string(TaskType.queryDebug.rawValue),
                                           "dataSourceName": .string(source.name)])
        return try await tasks.create(type: .queryDebug, dataSourceId: id, requesterId: caller.userId, reason: reason, metadata: metadata,
                                      targets: owners, now: clock.now())
    }
}
