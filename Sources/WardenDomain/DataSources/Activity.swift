public import Foundation

/// Kinds of change recorded on a data source.
public enum ActivityType: String, Sendable, Codable, CaseIterable {
    case created, updated, handlerUpdated, dictionaryUpdated, disabled, restored
    case tagAdded, tagRemoved, blobAdded, blobRemoved, lineageAdded, lineageRemoved, healthChecked
    // Access: requests and their outcomes, memberships, and the policy that governs them.
    case accessRequested, accessApproved, accessDenied, accessWithdrawn, accessRevoked, accessExpired
    case subscribed, unsubscribed, memberAdded, memberStateChanged, memberRemoved, subscriptionPolicyChanged
    case taskCreated, taskCompleted, taskDeleted
    // Data policies: a local or global policy that applies to the source was created, changed, applied or deleted.
    case policyUpdated
    // Reversible values revealed through an unmask task (the column and how many, never the values).
    case unmasked

    /// Changes after which the source's native view or its `warden_system` rows must be regenerated.
    public var changesNativeView: Bool {
        switch self {
        case .updated, .handlerUpdated, .dictionaryUpdated, .disabled, .restored, .tagAdded, .tagRemoved,
             .accessApproved, .accessRevoked, .accessExpired, .subscribed, .unsubscribed, .memberAdded, .memberStateChanged,
             .memberRemoved, .policyUpdated:
            true
        case .created, .blobAdded, .blobRemoved, .lineageAdded, .lineageRemoved, .healthChecked, .accessRequested, .accessDenied,
             .accessWithdrawn, .subscriptionPolicyChanged, .taskCreated, .taskCompleted, .taskDeleted, .unmasked:
            false
        }
    }
}

public struct NewActivity: Sendable {
    public var dataSourceId: Int64
    public var actorId: Int64?
    public var type: ActivityType
    public var details: JSONValue

    public init(dataSourceId: Int64, actorId: Int64?, type: ActivityType, details: JSONValue = .object([:])) {
        self.dataSourceId = dataSourceId
        self.actorId = actorId
        self.type = type
        self.details = details
    }
}

public struct Activity: Sendable, Equatable {
    public var id: Int64
    public var dataSourceId: Int64
    public var actorId: Int64?
    public var actorUserid: String?
    public var actorName: String?
    public var type: ActivityType
    public var details: JSONValue
    public var createdAt: Date
    public var actorEmail: String?
    /// The user the action was about (a member added, a request approved), when there is one.
    public var target: PersonSummary?

    /// The profile an activity's `details` name as its target.
    public var targetProfileId: Int64? {
        if case .int(let id)? = details.objectValue?["profileId"] { id } else { nil }
    }

    public init(id: Int64, dataSourceId: Int64, actorId: Int64?, actorUserid: String?, actorName: String?, type: ActivityType,
                details: JSONValue, createdAt: Date) {
        self.id = id
        self.dataSourceId = dataSourceId
        self.actorId = actorId
        self.actorUserid = actorUserid
        self.actorName = actorName
        self.type = type
        self.details = details
        self.createdAt = createdAt
    }
}
