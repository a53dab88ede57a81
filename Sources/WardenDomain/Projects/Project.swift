public import Foundation

/// A purpose: why data is used ("Fraud Detection"). Names are dotted hierarchies, as tags are; acting under a
/// purpose counts for every purpose above it (`Research.Clinical` satisfies a rule that asks for `Research`).
public struct Purpose: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var parentId: Int64?
    public var description: String?
    /// What members must acknowledge before the purpose counts for them.
    public var acknowledgement: String?
    public var displayAcknowledgement: Bool
    public var createdBy: Int64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, name: String, parentId: Int64?, description: String?, acknowledgement: String?, displayAcknowledgement: Bool,
                createdBy: Int64?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.parentId = parentId
        self.description = description
        self.acknowledgement = acknowledgement
        self.displayAcknowledgement = displayAcknowledgement
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Why `name` cannot name a purpose, or nil. The rules are the tag vocabulary's: non-empty dotted segments
    /// without control characters or surrounding whitespace.
    public static func problem(in name: String) -> String? { TagName.problem(in: name) }
}

/// `POST /governance/purpose`: a purpose and the ones below it, each with its full dotted name.
public struct PurposeDraft: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var acknowledgement: String?
    public var displayAcknowledgement: Bool?
    public var subpurposes: [PurposeDraft]

    public init(name: String, description: String? = nil, acknowledgement: String? = nil, displayAcknowledgement: Bool? = nil,
                subpurposes: [PurposeDraft] = []) {
        self.name = name
        self.description = description
        self.acknowledgement = acknowledgement
        self.displayAcknowledgement = displayAcknowledgement
        self.subpurposes = subpurposes
    }

    /// This draft and every one below it, parents first.
    public var flattened: [PurposeDraft] { [self] + subpurposes.flatMap(\.flattened) }
}

public enum ProjectStatus: String, Sendable, Codable, CaseIterable {
    case open, closed
}

/// A project: people working on data for stated purposes. Acting under a project (`POST /project/current/{id}`) is
/// what makes its purposes count in decisions.
public struct Project: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var projectKey: String
    public var description: String?
    public var documentation: String?
    public var status: ProjectStatus
    /// Purpose names, sorted.
    public var purposes: [String]
    public var allowMaskedJoins: Bool
    public var createdBy: Int64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, name: String, projectKey: String, description: String?, documentation: String?, status: ProjectStatus,
                purposes: [String], allowMaskedJoins: Bool, createdBy: Int64?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.projectKey = projectKey
        self.description = description
        self.documentation = documentation
        self.status = status
        self.purposes = purposes
        self.allowMaskedJoins = allowMaskedJoins
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The fields of `POST /project` and `PUT /project/{id}`; nil keeps a field as it is (on creation: its default).
public struct ProjectDraft: Sendable, Equatable {
    public var name: String?
    public var projectKey: String?
    public var description: String??
    public var documentation: String??
    public var status: ProjectStatus?
    public var purposes: [String]?
    public var allowMaskedJoins: Bool?

    public init(name: String? = nil, projectKey: String? = nil, description: String?? = nil, documentation: String?? = nil,
                status: ProjectStatus? = nil, purposes: [String]? = nil, allowMaskedJoins: Bool? = nil) {
        self.name = name
        self.projectKey = projectKey
        self.description = description
        self.documentation = documentation
        self.status = status
        self.purposes = purposes
        self.allowMaskedJoins = allowMaskedJoins
    }
}

/// A member of a project. `id` is the membership's (the API's `subscriptionId`).
public struct ProjectMember: Sendable, Equatable {
    public var id: Int64
    public var projectId: Int64
    public var user: PersonSummary
    public var state: MemberState
    /// When the member acknowledged the project's purposes; nil until they do, and again after the purposes change.
    public var acknowledgedAt: Date?
    public var expiration: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, projectId: Int64, user: PersonSummary, state: MemberState, acknowledgedAt: Date?, expiration: Date?,
                createdAt: Date, updatedAt: Date) {
        self.id = id
        self.projectId = projectId
        self.user = user
        self.state = state
        self.acknowledgedAt = acknowledgedAt
        self.expiration = expiration
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a user stands with the project they act under, for one data source.
public struct ProjectContext: Sendable, Equatable {
    public var project: Project
    public var member: ProjectMember?
    /// Whether the data source the decision is about belongs to the project.
    public var includesDataSource: Bool

    public init(project: Project, member: ProjectMember?, includesDataSource: Bool) {
        self.project = project
        self.member = member
        self.includesDataSource = includesDataSource
    }

    /// The purposes that count in a decision at `now`: the project's, only while the user is a member (not pending,
    /// not expired) who acknowledged them, the project is open, and the data source belongs to it. Anything less
    /// counts for nothing, so a purpose never widens access it was not meant to.
    public func purposes(at now: Date) -> [String] {
        guard project.status == .open, includesDataSource, let member, member.state.isMember, member.acknowledgedAt != nil,
              member.expiration.map({ $0 > now }) ?? true else { return [] }
        return project.purposes
    }

    /// Why `purposes(at:)` is empty, or nil when it is not.
    public func whyNoPurposes(at now: Date) -> String? {
        guard let member, member.state.isMember, member.expiration.map({ $0 > now }) ?? true else {
            return "not a member of project \(project.name)"
        }
        if project.status != .open { return "project \(project.name) is closed" }
        if member.acknowledgedAt == nil { return "the purposes of project \(project.name) are not acknowledged" }
        if !includesDataSource { return "the data source is not in project \(project.name)" }
        return project.purposes.isEmpty ? "project \(project.name) has no purposes" : nil
    }
}
