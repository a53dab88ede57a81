public import Foundation

public enum JobState: String, Sendable, Codable, CaseIterable {
    case created, active, retry, completed, failed, cancelled, expired

    /// States a job never leaves.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .expired: true
        case .created, .active, .retry: false
        }
    }
}

public enum JobType: String, Sendable, Codable, CaseIterable {
    /// Applies new connection metadata to one handler (`PUT /{tech}/bulk`).
    case handlerUpdate
    /// Finds and stores a data source's highest-cardinality column.
    case highCardinality
    /// Regenerates a data source's native view; for a disabled source, takes every grant on it away.
    case nativeViewRefresh
    /// Drops the native view of a data source that was deleted for good (its payload holds the handler's connection).
    case nativeViewRemoval
    /// One data source's share of `PUT /dataSource/bulk/{type}`.
    case dataSourceBulk
    /// Ends the subscriptions whose expiration has passed; scheduled periodically.
    case subscriptionExpiry
    /// Reads a connection's warehouse catalog from one object down and syncs its data objects and data sources.
    case crawl
    /// Compares one source's table in the warehouse with its dictionary and applies the difference (schema monitoring).
    case columnDetection
    /// Finds the tables of one monitored schema that appeared or disappeared (schema monitoring).
    case schemaDetection
    /// Queues schema monitoring for every enabled source; scheduled periodically (nightly by default).
    case schemaMonitoring
}

/// The actions of `PUT /dataSource/bulk/{type}`.
public enum BulkAction: String, Sendable, CaseIterable, Codable {
    case addUsers = "add-users"
    case disable, restore, delete, tags
}

/// One `PUT /dataSource/bulk/{type}` request, parsed: the action and what it carries.
public enum BulkChange: Sendable, Equatable {
    case addUsers([BulkMember])
    case tags([String])
    case disable, restore, delete

    public var action: BulkAction {
        switch self {
        case .addUsers: .addUsers
        case .tags: .tags
        case .disable: .disable
        case .restore: .restore
        case .delete: .delete
        }
    }

    /// The `update` a job of this change keeps in its payload, in the request's own form, so that a job enqueued
    /// before an upgrade reads the same way.
    public var update: JSONValue {
        switch self {
        case .addUsers(let members):
            .array(members.map { .object(["id": .int($0.profileId), "state": .string($0.state.rawValue)]) })
        case .tags(let names):
            .object(["tags": .array(names.map { .object(["name": .string($0)]) })])
        case .disable, .restore, .delete:
            .null
        }
    }
}

/// A user that a bulk `add-users` makes a member, and as what.
public struct BulkMember: Sendable, Equatable {
    public var profileId: Int64
    public var state: MemberState

    public init(profileId: Int64, state: MemberState) {
        self.profileId = profileId
        self.state = state
    }
}

/// What a bulk `delete` does to one data source, decided when the job is enqueued from the state the caller saw:
/// an enabled source is disabled, a disabled one purged. A re-run does the same, whatever it finds.
public enum DeleteIntent: String, Sendable, Codable {
    case disable, purge

    public init(sourceIsDisabled: Bool) {
        self = sourceIsDisabled ? .purge : .disable
    }
}

/// A persisted unit of background work. Every job is run at least once and is written to be idempotent.
public struct Job: Sendable, Equatable {
    public var id: String
    public var bulkId: String?
    public var type: JobType
    public var state: JobState
    public var payload: JSONValue
    public var output: JSONValue?
    public var attempts: Int
    public var maxAttempts: Int
    public var dataSourceId: Int64?
    public var createdBy: Int64
    public var runAfter: Date
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, bulkId: String?, type: JobType, state: JobState, payload: JSONValue, output: JSONValue?,
                attempts: Int, maxAttempts: Int, dataSourceId: Int64?, createdBy: Int64, runAfter: Date, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.bulkId = bulkId
        self.type = type
        self.state = state
        self.payload = payload
        self.output = output
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.dataSourceId = dataSourceId
        self.createdBy = createdBy
        self.runAfter = runAfter
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Payload keys that hold secrets (sealed, but still secrets): they are dropped once a job has ended.
    public static let secretPayloadKeys: Set<String> = ["sealedPassword"]

    /// The payload without its secrets, kept once the job needs them no more.
    public var payloadWithoutSecrets: JSONValue { Self.removingSecrets(payload) }

    static func removingSecrets(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            .object(object.filter { !secretPayloadKeys.contains($0.key) }.mapValues(removingSecrets))
        case .array(let items):
            .array(items.map(removingSecrets))
        default:
            value
        }
    }

    /// Seconds before a job that found its work busy runs again.
    public static let busyRetryDelay: TimeInterval = 1

    /// Seconds to wait before retry number `attempt` (1-based): 2, 4, 8 … capped at five minutes.
    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(300, pow(2, Double(max(1, attempt))))
    }
}

/// A job to be created, before it has timestamps; its id comes from the caller's injected generator.
public struct NewJob: Sendable {
    public var id: String
    public var type: JobType
    public var payload: JSONValue
    public var dataSourceId: Int64?
    public var bulkId: String?
    public var maxAttempts: Int

    public init(id: String, type: JobType, payload: JSONValue = .object([:]), dataSourceId: Int64? = nil, bulkId: String? = nil,
                maxAttempts: Int = 5) {
        self.id = id
        self.type = type
        self.payload = payload
        self.dataSourceId = dataSourceId
        self.bulkId = bulkId
        self.maxAttempts = maxAttempts
    }
}
