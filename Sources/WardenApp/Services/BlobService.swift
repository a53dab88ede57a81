import Foundation
import NIOCore
import WardenDomain
import WardenStore

/// Blobs of a data source: who may save, read and delete them, and the order in which content is staged,
/// committed and cleaned up, so that no file outlives the last blob that references it.
struct BlobService: Sendable {
    let access: DataSourceAccess
    let blobs: BlobStore
    let content: BlobContentStore
    let metastore: Metastore
    let maxBlobSize: Int
    let clock: any WardenClock

    /// Saves parsed entries; the caller must own the source or be an expert. Inputs (`entries`, `draft` below) are
    /// read only once the caller may act, so a refused caller learns nothing from a validation error.
    func saveMetadata<Batch: Sendable>(dataSourceId: Int64, caller: Principal, entries input: () async throws -> Batch,
                                       drafts: (Batch) -> [BlobDraft]) async throws -> Batch {
        _ = try await access.require([.owner, .expert], on: dataSourceId, caller: caller)
        let batch = try await input()
        try await blobs.saveMetadata(drafts(batch), dataSourceId: dataSourceId, by: caller.userId, now: clock.now())
        return batch
    }

    /// Streams the content to a staged file, then commits blob and content in one transaction. A failure at any
    /// step removes what was staged; the file a replaced blob referenced goes once nothing references it.
    func persist<Body: AsyncSequence>(body: Body, declaredLength: Int?, dataSourceId: Int64, caller: Principal,
                                      draft input: () throws -> (draft: BlobDraft, contentType: String)) async throws
        -> BlobDraft where Body.Element == ByteBuffer {
        _ = try await access.require([.owner, .expert], on: dataSourceId, caller: caller)
        let (draft, contentType) = try input()
        // Refuse a declared oversize body before reading a byte of it.
        if let declaredLength, declaredLength > maxBlobSize { throw BlobContentStore.tooLarge(maxBlobSize) }

        let staged = try await content.stage(body, limit: maxBlobSize)
        if let declared = draft.filesize, declared != staged.length {
            await content.discard(staged)
            throw WardenError.badRequest("`filesize` is \(declared) but the content has \(staged.length) bytes",
                                         code: .requestValidationFailed,
                                         fields: [FieldError(field: "filesize", message: "does not match the content")])
        }
        let previous: String?
        do {
            previous = try await blobs.persist(draft, content: staged, contentType: contentType, dataSourceId: dataSourceId,
                                               by: caller.userId, now: clock.now(), contentStore: content)
        } catch {
            await content.discard(staged)
            // The file may have been placed before the transaction failed; keep it only if something references it.
            await content.removeUnreferenced([staged.sha256], on: metastore)
            throw error
        }
        if let previous { await content.removeUnreferenced([previous], on: metastore) }
        return draft
    }

    /// Members only (owner, expert, subscriber): the blob, and the path of its content when Warden stores it.
    func read(dataSourceId: Int64, blobId: String, caller: Principal) async throws -> (Blob, contentPath: String?) {
        let (_, state) = try await access.visible(dataSourceId, to: caller)
        guard state?.isMember == true else {
            throw WardenError.forbidden("User must be subscribed to the data source to read its blobs", code: .blobSubscriptionRequired)
        }
        guard let blob = try await blobs.blob(dataSourceId: dataSourceId, blobId: blobId) else { throw BlobStore.notFound }
        return (blob, try blob.content.map { try content.path(forHash: $0.sha256) })
    }

    /// Owners and experts; the content's file goes when no other blob references it.
    func delete(dataSourceId: Int64, blobId: String, caller: Principal) async throws {
        _ = try await access.require([.owner, .expert], on: dataSourceId, caller: caller)
        let hash = try await blobs.delete(dataSourceId: dataSourceId, blobId: blobId, by: caller.userId, now: clock.now())
        if let hash { await content.removeUnreferenced([hash], on: metastore) }
    }
}
