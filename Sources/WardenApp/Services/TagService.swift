import Foundation
import WardenDomain
import WardenStore

/// The tag vocabulary and the tags of data sources, columns and blobs: governors shape the vocabulary, owners and
/// experts tag their sources, and anyone who may see a source reads its tags.
struct TagService: Sendable {
    let tags: TagStore
    let blobs: BlobStore
    let access: DataSourceAccess
    let clock: any WardenClock

    /// Creates tags and their missing ancestors; existing tags are returned as they are.
    func create(_ creation: TagCreation, caller: Principal) async throws -> [Tag] {
        try caller.require(.governance)
        return try await tags.create(creation, by: caller.userId, now: clock.now())
    }

    /// Any caller may read the vocabulary: it is what they tag with and search by.
    func search(_ search: TagSearch) async throws -> [Tag] {
        try await tags.search(search)
    }

    /// Deletes the tag and everything below it, with their attachments.
    func delete(_ name: TagName, caller: Principal) async throws -> Tag {
        try caller.require(.governance)
        return try await tags.delete(name, by: caller.userId, now: clock.now())
    }

    /// Attaches existing tags to a data source or column: all of them, or none when any is unknown. `input` is read
    /// once the caller may act, so a refused caller learns nothing from a validation error.
    func attach(to model: TaggedModel, caller: Principal, _ input: () async throws -> [TagName]) async throws -> [TagAttachment] {
        try await requireEditor(of: model, caller)
        return try await tags.attach(try await input(), to: model, by: caller.userId, now: clock.now())
    }

    /// Removes one tag from a data source or column and answers the tags that remain.
    func detach(_ name: TagName, from model: TaggedModel, caller: Principal) async throws -> [TagAttachment] {
        try await requireEditor(of: model, caller)
        return try await tags.detach(name, from: model, by: caller.userId, now: clock.now())
    }

    /// The tags of a source and its columns (unless `blobTagsOnly` or a `blobId` narrows it to blobs), and its
    /// blobs' tags, for anyone who may see the source.
    func tags(ofDataSource id: Int64, blobId: String?, blobTagsOnly: Bool, caller: Principal) async throws
        -> (attachments: [TagAttachment], blobTags: [(blobId: String, tags: [String])]) {
        _ = try await access.visible(id, to: caller)
        let blobTags = try await blobs.tags(dataSourceId: id, blobId: blobId)
        if blobTagsOnly || blobId != nil { return ([], blobTags) }
        return (try await tags.attachments(dataSourceId: id), blobTags)
    }

    /// Owners and experts of the model's data source; a source the caller may not see is 404, as everywhere.
    private func requireEditor(of model: TaggedModel, _ caller: Principal) async throws {
        _ = try await access.require([.owner, .expert], on: model.dataSourceId, caller: caller)
    }
}
