public import Foundation

/// How a member got onto a data source. A policy re-evaluation removes only what a policy admitted
/// (`policy`, and `request` on a policy-governed source); what an owner granted stays until an owner changes it.
public enum SubscriptionOrigin: String, Sendable, Codable, CaseIterable {
    case owner, request, policy
}

/// Who holds a subscription: one user, or a group (whose members all get its standing).
public enum Subscriber: Sendable, Equatable, Hashable {
    case user(Int64)
    case group(Int64)
}

/// One approval step of an access request, and how far it has got.
public struct ApprovalStep: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case pending, approved }

    public var step: Int
    public var requirement: ApprovalRequirement
    public var state: State
    public var approverId: Int64?
    public var approverName: String?
    public var reason: String?
    public var decidedAt: Date?

    public init(step: Int, requirement: ApprovalRequirement, state: State = .pending, approverId: Int64? = nil,
                approverName: String? = nil, reason: String? = nil, decidedAt: Date? = nil) {
        self.step = step
        self.requirement = requirement
        self.state = state
        self.approverId = approverId
        self.approverName = approverName
        self.reason = reason
        self.decidedAt = decidedAt
    }
}

/// A membership of a data source: a subscription, a pending request, or an owner's, expert's or ingest user's standing.
public struct Subscription: Sendable, Equatable {
    public var id: Int64
    public var dataSourceId: Int64
    public var subscriber: Subscriber
    public var state: MemberState
    public var origin: SubscriptionOrigin
    public var approved: Bool
    public var adminId: Int64?
    public var expiration: Date?
    public var metadata: JSONValue?
    public var createdAt: Date
    public var updatedAt: Date
    public var approvals: [ApprovalStep]

    public init(id: Int64, dataSourceId: Int64, subscriber: Subscriber, state: MemberState, origin: SubscriptionOrigin,
                approved: Bool, adminId: Int64?, expiration: Date?, metadata: JSONValue?, createdAt: Date, updatedAt: Date,
                approvals: [ApprovalStep] = []) {
        self.id = id
        self.dataSourceId = dataSourceId
        self.subscriber = subscriber
        self.state = state
        self.origin = origin
        self.approved = approved
        self.adminId = adminId
        self.expiration = expiration
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.approvals = approvals
    }

    public var userId: Int64? { if case .user(let id) = subscriber { id } else { nil } }
    public var groupId: Int64? { if case .group(let id) = subscriber { id } else { nil } }

    /// Whether the standing still holds at `now`: an expired subscription counts for nothing, even before the expiry job removes it.
    public func isActive(at now: Date) -> Bool { expiration.map { $0 > now } ?? true }
}

/// What an approver brings to an approval step.
public struct ApproverStanding: Sendable, Equatable {
    public var userId: Int64
    public var isOwner: Bool
    public var permissions: Set<Permission>

    public init(userId: Int64, isOwner: Bool, permissions: Set<Permission>) {
        self.userId = userId
        self.isOwner = isOwner
        self.permissions = permissions
    }
}

extension ApprovalRequirement {
    /// A step names who may approve it: the specific approver when one is set, otherwise anyone holding the role.
    public func canBeApproved(by approver: ApproverStanding) -> Bool {
        if let specificApprover { return approver.userId == specificApprover }
        return switch self.approver {
        case .owner: approver.isOwner
        case .permission(let permission): approver.permissions.contains(permission)
        }
    }
}

extension Subscription {
    /// The steps of a waiting request that `approver` may decide now: none once it is decided, none on their own
    /// request, else the pending steps their standing satisfies.
    public func stepsDecidable(by approver: ApproverStanding) -> [ApprovalStep] {
        guard state == .pending, userId != approver.userId else { return [] }
        return approvals.filter { $0.state == .pending && $0.requirement.canBeApproved(by: approver) }
    }
}

/// The outcome of deciding on requests: the ones that could not be decided, and why.
public struct DecisionFailure: Error, Sendable {
    public var id: Int64
    public var error: WardenError

    public init(id: Int64, error: WardenError) {
        self.id = id
        self.error = error
    }
}
