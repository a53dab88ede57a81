import Foundation
import WardenDomain
import WardenStore

/// Data dictionaries: members of a source read its dictionary; owners and experts create, replace and delete it. A
/// caller who cannot see a private source gets 404, as if it did not exist.
struct DictionaryService: Sendable {
    let dictionaries: DictionaryStore
    let tags: TagStore
    let access: DataSourceAccess
    let clock: any WardenClock

    /// Column names of the dictionaries the caller may see.
    func searchColumns(containing text: String?, limit: Int, caller: Principal) async throws -> [String] {
        try await dictionaries.searchColumnNames(containing: text, limit: limit, visibleTo: caller.userId, now: clock.now())
    }

    func types(containing text: String?) async throws -> [String] {
        try await dictionaries.types(containing: text)
    }

    /// The dictionary with each column's tags.
    func dictionary(of id: Int64, caller: Principal) async throws -> (DataDictionary, columnTags: [String: [TagAttachment]]) {
        try await authorize(id, caller, action: nil)
        guard let dictionary = try await dictionaries.dictionary(dataSourceId: id) else { throw DictionaryStore.notFound }
        return (dictionary, try await tags.columnTags(dataSourceId: id))
    }

    /// Creates the dictionary, or replaces the one there is (`replacing`). `input` is read once the caller may act,
    /// so a refused caller learns nothing from a validation error.
    func save(of id: Int64, replacing: Bool, caller: Principal, _ input: () async throws -> [DictionaryColumn]) async throws
        -> (DataDictionary, columnTags: [String: [TagAttachment]]) {
        try await authorize(id, caller, action: replacing ? "update" : "create")
        let columns = try await input()
        let dictionary = replacing
            ? try await dictionaries.replace(dataSourceId: id, columns: columns, actorId: caller.userId, now: clock.now())
            : try await dictionaries.create(dataSourceId: id, columns: columns, actorId: caller.userId, now: clock.now())
        return (dictionary, try await tags.columnTags(dataSourceId: id))
    }

    func delete(of id: Int64, caller: Principal) async throws {
        try await authorize(id, caller, action: "delete")
        guard try await dictionaries.delete(dataSourceId: id, actorId: caller.userId, now: clock.now()) else { throw DictionaryStore.notFound }
    }

    /// Reading needs membership of the data source; changing (`action`) needs owner or expert.
    private func authorize(_ id: Int64, _ caller: Principal, action: String?) async throws {
        let (_, state) = try await access.visible(id, to: caller)
        if let action {
            guard state == .owner || state == .expert else {
                throw WardenError.forbidden("User must have one of the following roles to \(action) dictionary: owner,expert",
                                            code: .dictionaryRoleRequired)
            }
        } else if state?.isMember != true {
            throw WardenError.forbidden("User must be subscribed to the data source to view its dictionary", code: .dictionarySubscriptionRequired)
        }
    }
}
