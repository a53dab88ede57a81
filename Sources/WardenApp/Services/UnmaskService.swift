import Foundation
import WardenDomain
import WardenStore

/// A request to reveal values of a Reversible column (`POST /dataSource/{id}/reverseMask`).
struct UnmaskRequest: Sendable {
    var column: String
    /// Tokens as the requester read them, 1 to `maxValues`.
    var values: [String]
    var reason: String
    /// Who may reveal them: each must be able to unmask the column.
    var unmaskers: [Int64]

    static let maxValues = 100
}

/// One value of an unmask task's answer: its plaintext, or nil when it is not a ciphertext of the column.
struct UnmaskPair: Sendable, Equatable {
    var masked: String
    var unmasked: String?
}

/// Unmasking: a user who reads a column through a Reversible mask asks named users who see it in the clear (the
/// source's owners, and members its mask does not reach) to reveal some values. The task's answer is decrypted by
/// Warden with the source's keys, only for those users, and only while they still may.
struct UnmaskService: Sendable {
    let policies: PolicyService
    let dataSources: DataSourceStore
    let identity: IdentityStore
    let tasks: TaskStore
    let keys: DataSourceKeyStore
    let access: DataSourceAccess
    let clock: any WardenClock

    static let maskingConfig: JSONValue = .object(["type": .string("Reversible"), "metadata": .object([:])])

    /// The users who can unmask `column` now, for anyone who can see the source.
    func unmaskers(of dataSourceId: Int64, column: String, caller: Principal) async throws -> [User] {
        _ = try await access.visible(dataSourceId, to: caller)
        try await requireColumn(column, of: dataSourceId)
        var users: [User] = []
        for userId in try await unmaskerIds(of: dataSourceId, column: column) {
            if let user = try await identity.details(userId: userId)?.user { users.append(user) }
        }
        return users
    }

    /// Creates the unmask task, addressed to `request.unmaskers`.
    /// `input` is read once the caller is known to be a member.
    func request(on dataSourceId: Int64, caller: Principal, _ input: () async throws -> UnmaskRequest) async throws -> AccessTask {
        let (_, state) = try await access.visible(dataSourceId, to: caller)
        guard let state, state.isMember else {
            throw DataSourceAccess.roleRequired([.subscribed, .ingest, .expert, .owner], action: "ask for values to be unmasked")
        }
        let request = try await input()
        try await requireColumn(request.column, of: dataSourceId)
        let mine = try await policies.decisions(dataSourceId, userIds: [caller.userId])[caller.userId]
        guard mine?.mask(of: request.column)?.method == .reversible else {
            throw WardenError.badRequest("Column `\(request.column)` is not masked reversibly for you: there is nothing to unmask",
                                         code: .unmaskNotReversible, fields: [FieldError(field: "column", message: "is not masked reversibly for you")])
        }
        let able = Set(try await unmaskerIds(of: dataSourceId, column: request.column))
        var validator = Validator()
        for (index, userId) in request.unmaskers.enumerated() {
            if userId == caller.userId {
                validator.add("unmaskingUsers[\(index)]", "cannot be the requester")
            } else if !able.contains(userId) {
                validator.add("unmaskingUsers[\(index)]", "user \(userId) cannot unmask `\(request.column)`")
            }
        }
        try validator.finish()
        let metadata: JSONValue = .object([
            // The documented answer shows the salt redacted; Warden shows no part of any key.
            "salt": .string("**********"),
            "column": .string(request.column),
            "values": .array(request.values.map(JSONValue.string)),
            "maskingConfig": Self.maskingConfig,
        ])
        return try await tasks.create(type: .unmask, dataSourceId: dataSourceId, requesterId: caller.userId, reason: request.reason,
                                      metadata: metadata, targets: Array(Set(request.unmaskers)).sorted(), now: clock.now())
    }

    /// Reveals an unmask task's values to one of the users it names, and completes it. A user who can no longer
    /// unmask the column (demoted, or now masked themself) is refused, however often they handled it before.
    func reveal(_ task: AccessTask, caller: Principal) async throws -> (column: String, pairs: [UnmaskPair]) {
        guard task.targets.contains(where: { $0.id == caller.userId }) else {
            throw WardenError.forbidden("This task is not addressed to you", code: .taskNotAddressed)
        }
        guard let metadata = task.metadata?.objectValue, case .string(let column)? = metadata["column"],
              case .array(let values)? = metadata["values"] else {
            throw WardenError(.internalError, code: .unmaskTaskUnreadable, message: "The unmask task's request could not be read")
        }
        guard try await unmaskerIds(of: task.dataSourceId, column: column).contains(caller.userId) else {
            throw WardenError.forbidden("You can no longer unmask `\(column)` on this data source", code: .unmaskNotAllowed)
        }
        let cipher = try await keys.keys(dataSourceId: task.dataSourceId, now: clock.now()).reversible
        let pairs = values.compactMap(\.stringValue).map { UnmaskPair(masked: $0, unmasked: cipher.decrypt($0, column: column)) }
        let activity = NewActivity(dataSourceId: task.dataSourceId, actorId: caller.userId, type: .unmasked,
                                   details: .object(["taskId": .int(task.id), "column": .string(column), "values": .int(Int64(pairs.count)),
                                                     "requester": .int(task.requester.id)]))
        _ = try await tasks.complete(id: task.id, by: caller.userId, now: clock.now(), recording: [activity])
        return (column, pairs)
    }

    /// Owners, and members whose decision leaves the column in the clear.
    private func unmaskerIds(of dataSourceId: Int64, column: String) async throws -> [Int64] {
        let members = try await dataSources.members(dataSourceId: dataSourceId, now: clock.now()).filter { $0.state.isMember }
        let decisions = try await policies.decisions(dataSourceId, userIds: members.filter { $0.state != .owner }.map(\.userId))
        return members.filter { $0.state == .owner || decisions[$0.userId]?.mask(of: column) == nil }.map(\.userId)
    }

    private func requireColumn(_ column: String, of dataSourceId: Int64) async throws {
        guard try await policies.columns(of: dataSourceId).contains(where: { $0.name == column }) else {
            throw WardenError.notFound("Column `\(column)` not found in this data source's dictionary", code: .columnNotFound)
        }
    }
}
