import Foundation
import WardenDomain
import WardenStore

/// Lineage: who may see and change a source's links, and what a caller may learn about the sources on the other end.
struct LineageService: Sendable {
    let access: DataSourceAccess
    let lineage: LineageStore
    let clock: any WardenClock

    /// The source's parents and/or children (by `type`); related sources the caller may not see are left out.
    func lineage(of id: Int64, type: LineageType, caller: Principal) async throws -> (parents: [LineageEntry]?, children: [LineageEntry]?) {
        _ = try await access.visible(id, to: caller)
        return try await related(id, type: type, caller: caller)
    }

    /// The caller must own the child and be able to see every parent. Known links are kept; a parent that is the
    /// source itself or derived from it is a 400. Answers the source's parents. `input` is read once the caller is
    /// known to own the child, so a refused caller learns nothing from a validation error.
    func addParents(to id: Int64, caller: Principal, _ input: () async throws -> [Int64]) async throws -> [LineageEntry] {
        _ = try await access.require([.owner], on: id, caller: caller)
        let parentIds = try await input()
        if parentIds.contains(id) {
            throw WardenError.badRequest("A data source cannot be its own parent", code: .lineageSelfParent)
        }
        for parentId in Set(parentIds) {
            do {
                _ = try await access.visible(parentId, to: caller)
            } catch let error as WardenError where error.kind == .notFound {
                throw WardenError.notFound("Parent data source \(parentId) not found", code: .dataSourceNotFound)
            }
        }
        _ = try await lineage.addParents(parentIds, to: id, by: caller.userId, now: clock.now())
        return try await related(id, type: .parents, caller: caller).parents ?? []
    }

    /// Owners of the child only; 404 when the link does not exist. Answers the source's remaining parents.
    func removeParent(_ parentId: Int64, from id: Int64, caller: Principal) async throws -> [LineageEntry] {
        _ = try await access.require([.owner], on: id, caller: caller)
        try await lineage.removeParent(parentId, from: id, by: caller.userId, now: clock.now())
        return try await related(id, type: .parents, caller: caller).parents ?? []
    }

    private func related(_ id: Int64, type: LineageType, caller: Principal) async throws -> (parents: [LineageEntry]?, children: [LineageEntry]?) {
        func visible(_ entries: [LineageEntry]) -> [LineageEntry] { entries.filter { $0.other.isVisible(to: $0.callerState) } }
        let now = clock.now()
        let parents = type == .children ? nil : visible(try await lineage.parents(of: id, caller: caller.userId, now: now))
        let children = type == .parents ? nil : visible(try await lineage.children(of: id, caller: caller.userId, now: now))
        return (parents, children)
    }
}
