public import Foundation

/// The kinds of task the API knows. `subscription` is Warden's name for an access request waiting for approval.
public enum TaskType: String, Sendable, Codable, CaseIterable {
    case subscription, queryDebug, unmask, dataSourceCreated, columnAdded, columnDeleted, columnTypeChanged
}

public enum TaskState: String, Sendable, Codable, CaseIterable {
    case pending, completed
}

/// How a completed task ended.
public enum TaskOutcome: String, Sendable, Codable {
    case approved, denied, withdrawn, revoked, handled
}

/// A person as tasks and activities name them.
public struct PersonSummary: Sendable, Equatable {
    public var id: Int64
    public var name: String?
    public var email: String?

    public init(id: Int64, name: String?, email: String?) {
        self.id = id
        self.name = name
        self.email = email
    }
}

/// A request addressed to the people responsible for a data source.
public struct AccessTask: Sendable, Equatable {
    public var id: Int64
    public var type: TaskType
    public var state: TaskState
    public var dataSourceId: Int64
    public var dataSourceName: String
    public var requester: PersonSummary
    public var subscriptionId: Int64?
    public var reason: String?
    public var metadata: JSONValue?
    public var outcome: TaskOutcome?
    public var handledBy: Int64?
    public var targets: [PersonSummary]
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?

    public init(id: Int64, type: TaskType, state: TaskState, dataSourceId: Int64, dataSourceName: String, requester: PersonSummary,
                subscriptionId: Int64?, reason: String?, metadata: JSONValue?, outcome: TaskOutcome?, handledBy: Int64?,
                targets: [PersonSummary], createdAt: Date, updatedAt: Date, completedAt: Date?) {
        self.id = id
        self.type = type
        self.state = state
        self.dataSourceId = dataSourceId
        self.dataSourceName = dataSourceName
        self.requester = requester
        self.subscriptionId = subscriptionId
        self.reason = reason
        self.metadata = metadata
        self.outcome = outcome
        self.handledBy = handledBy
        self.targets = targets
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.completedAt = completedAt
    }
}
