import Foundation
import Hummingbird
import WardenDomain

/// A purpose with those below it (`subpurposes`, nested), in the shape of the reference API's purpose object.
struct PurposePayload: ResponseEncodable, Sendable {
    var id: Int64
    var name: String
    var description: Nullable<String>
    var acknowledgement: Nullable<String>
    var displayAcknowledgement: Bool
    var subpurposes: [PurposePayload]
    var policyMetadata: Nullable<String> = nil
    var staged = false
    var deleted: Bool
    var addedByProfile: Nullable<Int64>
    var createdAt: Date
    var updatedAt: Date

    /// `below`: every purpose under this one, at any depth; the direct children are nested, and theirs in them.
    init(_ purpose: Purpose, below: [Purpose], deleted: Bool = false) {
        id = purpose.id
        name = purpose.name
        description = Nullable(purpose.description)
        acknowledgement = Nullable(purpose.acknowledgement)
        displayAcknowledgement = purpose.displayAcknowledgement
        subpurposes = below.filter { $0.parentId == purpose.id }.map { PurposePayload($0, below: below) }
        self.deleted = deleted
        addedByProfile = Nullable(purpose.createdBy)
        createdAt = purpose.createdAt
        updatedAt = purpose.updatedAt
    }
}

/// `{count, purposes}`, as the reference API lists purposes.
struct PurposeListPayload: ResponseEncodable, Sendable {
    var count: Int
    var purposes: [PurposePayload]
}

struct ProjectPayload: ResponseEncodable, Sendable {
    var id: Int64
    var name: String
    var projectKey: String
    var description: Nullable<String>
    var documentation: Nullable<String>
    var status: ProjectStatus
    var purposes: [String]
    var stagedPurposes: [String] = []
    var allowMaskedJoins: Bool
    var deleted: Bool
    var createdBy: Nullable<Int64>
    var createdAt: Date
    var updatedAt: Date

    init(_ project: Project, deleted: Bool = false) {
        id = project.id
        name = project.name
        projectKey = project.projectKey
        description = Nullable(project.description)
        documentation = Nullable(project.documentation)
        status = project.status
        purposes = project.purposes
        allowMaskedJoins = project.allowMaskedJoins
        self.deleted = deleted
        createdBy = Nullable(project.createdBy)
        createdAt = project.createdAt
        updatedAt = project.updatedAt
    }
}

struct ProjectListPayload: ResponseEncodable, Sendable {
    var count: Int
    var hits: [ProjectPayload]
}

/// A project member; `subscriptionId` is the membership's id, as the member routes take it.
struct ProjectMemberPayload: ResponseEncodable, Sendable {
    var subscriptionId: Int64
    var projectId: Int64
    var profileId: Int64
    var name: Nullable<String>
    var email: Nullable<String>
    var state: MemberState
    var approved = true
    var acknowledged: Bool
    var acknowledgedAt: Nullable<Date>
    var expiration: Nullable<Date>
    var createdAt: Date
    var updatedAt: Date

    init(_ member: ProjectMember) {
        subscriptionId = member.id
        projectId = member.projectId
        profileId = member.user.id
        name = Nullable(member.user.name)
        email = Nullable(member.user.email)
        state = member.state
        acknowledged = member.acknowledgedAt != nil
        acknowledgedAt = Nullable(member.acknowledgedAt)
        expiration = Nullable(member.expiration)
        createdAt = member.createdAt
        updatedAt = member.updatedAt
    }
}

/// `{count, members}`.
struct ProjectMembersPayload: ResponseEncodable, Sendable {
    var count: Int
    var members: [ProjectMemberPayload]
}

/// What `POST /project/{id}/members` answers: `{subscriptionId, state, approved}`.
struct ProjectMembershipPayload: ResponseEncodable, Sendable {
    var subscriptionId: Int64
    var state: MemberState
    var approved = true

    init(_ member: ProjectMember) {
        subscriptionId = member.id
        state = member.state
    }
}

struct ProjectDataSourcesPayload: ResponseEncodable, Sendable {
    struct Source: Encodable, Sendable {
        var id: Int64
        var name: String
    }
    var count: Int
    var dataSources: [Source]
}

struct ProjectDataSourcesAddedPayload: ResponseEncodable, Sendable {
    struct Failure: Encodable, Sendable {
        var dataSourceId: Int64
        var error: WardenError

        func encode(to encoder: any Encoder) throws {
            try ErrorMiddleware.fields(of: error, adding: ["dataSourceId": .int(dataSourceId)]).encode(to: encoder)
        }
    }
    var success: [Int64]
    var inError: [Failure]
}

struct ProjectDataSourcesRemovedPayload: ResponseEncodable, Sendable {
    var removed: [Int64]
}

/// The project the caller acts under now (null after `DELETE /project/current`), its purposes, and whether the
/// caller acknowledged them (until then they count for nothing).
struct CurrentProjectPayload: ResponseEncodable, Sendable {
    var projectId: Nullable<Int64>
    var purposes: [String]
    var acknowledged: Bool

    init(projectId: Int64?, purposes: [String], acknowledged: Bool) {
        self.projectId = Nullable(projectId)
        self.purposes = purposes
        self.acknowledged = acknowledged
    }
}
