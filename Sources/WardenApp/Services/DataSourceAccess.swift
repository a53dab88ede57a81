import WardenDomain
import WardenStore

/// Who may see and who may change a data source. Every route that takes a data source id goes through
/// here, so a caller never learns of a source they may not see: it is 404 for them, not 403.
struct DataSourceAccess: Sendable {
    let dataSources: DataSourceStore
    let clock: any WardenClock

    /// The source and the caller's standing on it; 404 when the caller may not know it exists.
    func visible(_ id: Int64, to caller: Principal) async throws -> (DataSource, MemberState?) {
        guard let source = try await dataSources.dataSource(id: id) else { throw DataSourceStore.notFound }
        let state = try await dataSources.memberState(dataSourceId: id, userId: caller.userId, now: clock.now())
        guard try await isVisible(source, state: state, to: caller) else { throw DataSourceStore.notFound }
        return (source, state)
    }

    /// `DataSource.isVisible(to:admitted:)`, evaluating the policy for the caller only when the answer depends on it.
    func isVisible(_ source: DataSource, state: MemberState?, to caller: Principal) async throws -> Bool {
        if source.isVisible(to: state) { return true }
        guard !source.disabled, !source.isPrivate, !source.subscriptionPolicy.isDiscoverable,
              let subject = try await dataSources.subscriptionSubject(userId: caller.userId) else { return false }
        return source.subscriptionPolicy.admits(subject)
    }

    /// The source, when the caller holds one of `roles` on it; 403 naming the roles when they can see it but may not change it.
    func require(_ roles: Set<MemberState>, on id: Int64, caller: Principal) async throws -> DataSource {
        let (source, state) = try await visible(id, to: caller)
        guard let state, roles.contains(state) else { throw Self.roleRequired(roles) }
        return source
    }

    static func roleRequired(_ roles: Set<MemberState>, action: String = "manage this data source") -> WardenError {
        .forbidden("User must have one of the following roles to \(action): " + roles.map(\.rawValue).sorted().joined(separator: ","),
                   code: .dataSourceRoleRequired)
    }
}
