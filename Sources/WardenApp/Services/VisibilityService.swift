import Foundation
import WardenConnectors
import WardenDomain
import WardenStore

/// Visibility reports: a user's decision on a source with the counts of the visibility column values it lets
/// through, read from the warehouse through the source's connector.
struct VisibilityService: Sendable {
    let policies: PolicyService
    let dataSources: DataSourceStore
    let connectors: any ConnectorFactory
    let clock: any WardenClock

    /// Distinct values read per visibility column; a column with more is counted up to this many.
    static let valueLimit = 100_000

    struct Report: Sendable {
        var decided: PolicyService.Decided
        var dataSource: DataSource
        var counts: VisibilityCounts
        /// Joins on masked values are allowed only inside a project that allows them and holds the source.
        var allowMaskedJoins: Bool
    }

    /// Who may ask is `PolicyService.decide`'s rule. `informationOnly` skips the warehouse: the counts are then 0.
    func report(_ dataSourceId: Int64, profileId: Int64, informationOnly: Bool, caller: Principal) async throws -> Report {
        let decided = try await policies.decide(dataSourceId, profileId: profileId, caller: caller)
        let baseline = decided.baseline
        guard let source = try await dataSources.dataSource(id: dataSourceId) else { throw DataSourceStore.notFound }
        let columns = VisibilityCounts.columns(baseline: baseline)
        var values: [String: [String]] = [:]
        if !columns.isEmpty, !informationOnly {
            guard let handler = try await dataSources.handler(dataSourceId: dataSourceId) else { throw DataSourceStore.notFound }
            let metadata = try HandlerMetadata.parse(handler.metadata, path: "stored", technology: source.technology, passwordRequired: false)
            let connector = try connectors.connector(for: metadata.settings(technology: source.technology,
                                                                            storedPassword: try dataSources.openPassword(of: handler)))
            values = try await connector.distinctValues(of: source.remoteTable, columns: columns, limit: Self.valueLimit)
                .mapValues { Array($0.prefix(Self.valueLimit)) }
        }
        let project = decided.project
        return Report(decided: decided, dataSource: source, counts: VisibilityCounts.compute(baseline: baseline, user: decided.decision, values: values),
                      allowMaskedJoins: project.map { $0.includesDataSource && $0.project.allowMaskedJoins && !decided.purposes.isEmpty } ?? false)
    }
}
