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

    /// One entry of a metadata batch that could not be saved, by its index in the payload.
    struct EntryFailure: Sendable {
        var index: Int
        var blobId: String?
        var error: WardenError
    }

    /// What a metadata batch saved, skipped (entries without an id) and refused.
    struct SavedBatch: Sendable {
        var saved: [BlobDraft] = []
        var withoutIds = 0
        var failures: [EntryFailure] = []
    }

    /// Saves each entry of an array (or a single object) on its own; an entry that repeats an earlier id, or is not
    /// a valid blob, is reported. A body of another shape is a 400.
    func saveMetadata(_ body: JSONValue, dataSourceId: Int64, caller: Principal) async throws -> SavedBatch {
        _ = try await access.require([.owner, .expert], on: dataSourceId, caller: caller)
        let items: [JSONValue]
        switch body {
        case .array(let array): items = array
        case .object(let object): items = [.object(object)]
        default:
            throw WardenError.badRequest("Request body must be an array of blobs ({blobId, filename, tags, date, filesize})",
                                         code: .requestInvalidJson)
        }
        var batch = SavedBatch()
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else {
                batch.failures.append(EntryFailure(index: index, error: .badRequest("must be an object, not \(item.typeName)")))
                continue
            }
            if BlobDraft.lacksId(object) {
                batch.withoutIds += 1
                continue
            }
            do {
                let draft = try BlobDraft.parse(object, path: "")
                guard seen.insert(draft.blobId).inserted else {
                    batch.failures.append(EntryFailure(index: index, blobId: draft.blobId,
                                                       error: .badRequest("the blobId appears earlier in the payload")))
                    continue
                }
                batch.saved.append(draft)
            } catch {
                batch.failures.append(EntryFailure(index: index, blobId: object["blobId"]?.stringValue, error: error))
            }
        }
        try await blobs.saveMetadata(batch.saved, dataSourceId: dataSourceId, by: caller.userId, now: clock.now())
        return batch
    }

    /// Streams the content to a staged file, then commits blob and content in one transaction. A failure at any
    /// step removes what was staged; the file a replaced blob referenced goes once nothing references it.
    /// - Parameter metadata: the fields of a `/blobs` entry; `blobId` is required.
    func persist<Body: AsyncSequence>(_ metadata: [String: JSONValue], body: Body, declaredLength: Int?, contentType: String,
                                      dataSourceId: Int64, caller: Principal) async throws -> BlobDraft where Body.Element == ByteBuffer {
        _ = try await access.require([.owner, .expert], on: dataSourceId, caller: caller)
        guard !BlobDraft.lacksId(metadata) else {
            throw WardenError.badRequest(
                "`blobId` is required: pass it as a query parameter (?blobId=…) or in the X-Blob-Metadata header; the request body is the content",
                code: .requestValidationFailed, fields: [FieldError(field: "blobId", message: "is required")])
        }
        let draft = try BlobDraft.parse(metadata, path: "")
        guard Text.isPrintable(contentType, maxLength: 255) else {
            throw WardenError.badRequest("Content-Type must be at most 255 printable characters", code: .requestInvalidHeader)
        }
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
