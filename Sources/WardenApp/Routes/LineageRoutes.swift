import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// Lineage: which data sources a source was derived from. `GET …/lineage/{type}` is the specification's; recording
/// and removing parents are Warden extensions (the specification only says derived sources name their parents).
struct LineageRoutes {
    let service: LineageService

    /// Enough for any real derivation; bounds the visibility checks one request makes.
    static let maxParentsPerRequest = 100

    /// Recording and removal are `…/lineage/parents` too, but registered under the `{type}` capture: the router
    /// prefers a literal segment without falling back, so a literal `parents` route would hide `GET …/lineage/{type}`
    /// for `parents`. Their handlers accept `parents` only.
    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.get("/dataSource/{dataSourceId}/lineage/{type}", use: get)
        api.post("/dataSource/{dataSourceId}/lineage/{type}", use: addParents)
        api.delete("/dataSource/{dataSourceId}/lineage/{type}/{parentId}", use: removeParent)
    }

    /// Anyone who may see the source may see its lineage; related sources the caller may not see are left out.
    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> LineagePayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let text = try context.parameters.string("type")
        guard let type = LineageType(rawValue: text) else {
            let message = "must be one of: " + LineageType.allCases.map(\.rawValue).joined(separator: ", ")
            throw WardenError.badRequest("Lineage type `\(text)` \(message)", code: .lineageInvalidType,
                                         fields: [FieldError(field: "type", message: message)])
        }
        let (parents, children) = try await service.lineage(of: id, type: type, caller: context.principal)
        return LineagePayload(parents: parents?.map(LineageRecordPayload.init), children: children?.map(LineageRecordPayload.init))
    }

    /// Links are recorded and removed from the child's side only: `…/lineage/parents`.
    private static func requireParents(_ context: AuthenticatedContext) throws {
        let text = try context.parameters.string("type")
        guard text == LineageType.parents.rawValue else {
            throw WardenError.badRequest(
                "Lineage is recorded on the derived data source: use /dataSource/{childId}/lineage/parents, not `\(text)`",
                code: .lineageInvalidType, fields: [FieldError(field: "type", message: "must be parents")])
        }
    }

    /// `{"parentIds": [ids]}`: the caller must own the child and be able to see every parent. Known links are kept;
    /// a parent that is the source itself or derived from it is a 400. Answers the source's parents.
    @Sendable func addParents(_ request: Request, context: AuthenticatedContext) async throws -> LineagePayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        try Self.requireParents(context)
        let parents = try await service.addParents(to: id, caller: context.principal) {
            let input = try await request.decodeJSON(as: ParentIdsInput.self, context: context)
            var validator = Validator()
            validator.check(!input.parentIds.isEmpty, "parentIds", "must list at least one data source id")
            validator.check(input.parentIds.count <= Self.maxParentsPerRequest, "parentIds",
                            "must list at most \(Self.maxParentsPerRequest) data source ids")
            for (index, parentId) in input.parentIds.enumerated() where parentId <= 0 {
                validator.add("parentIds[\(index)]", "must be a positive data source id")
            }
            try validator.finish()
            return input.parentIds
        }
        return LineagePayload(parents: parents.map(LineageRecordPayload.init))
    }

    /// Owners of the child only; 404 when the link does not exist. Answers the source's remaining parents.
    @Sendable func removeParent(_ request: Request, context: AuthenticatedContext) async throws -> LineagePayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        try Self.requireParents(context)
        let parentId = try context.parameters.id("parentId", notFound: LineageStore.notFound)
        let parents = try await service.removeParent(parentId, from: id, caller: context.principal)
        return LineagePayload(parents: parents.map(LineageRecordPayload.init))
    }
}

struct ParentIdsInput: Decodable, Sendable {
    var parentIds: [Int64]
}

/// `{"parents": [...]}`, `{"children": [...]}` or both, as the `type` asks.
struct LineagePayload: ResponseEncodable, Sendable {
    var parents: [LineageRecordPayload]?
    var children: [LineageRecordPayload]?
}

/// One related data source, with the documented fields. `createdBy` and `createdAt` describe the link (who recorded
/// the derivation, and when); Warden has no projects, so `projectId` and `projectName` are null.
struct LineageRecordPayload: Encodable, Sendable {
    struct PolicyHandlerDiff: Encodable, Sendable {
        var dsType: String
        /// No data policies exist yet, so there is no policy handler on either side.
        var currentHandlerId: Nullable<Int64> = nil
        var previousHandlerId: Nullable<Int64> = nil
    }

    var dataSourceId: Int64
    var dataSourceName: String
    var deleted: Bool
    var createdBy: String?
    var createdAt: Date
    var policyHandlerDiff: PolicyHandlerDiff
    /// Warden has no projects yet.
    var projectId: Nullable<Int64> = nil
    var projectName: Nullable<String> = nil

    init(_ entry: LineageEntry) {
        dataSourceId = entry.other.id
        dataSourceName = entry.other.name
        deleted = entry.other.disabled
        createdBy = entry.link.createdByUserid
        createdAt = entry.link.createdAt
        policyHandlerDiff = PolicyHandlerDiff(dsType: entry.other.type)
    }
}
