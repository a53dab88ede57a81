import Foundation
import HTTPTypes
import Hummingbird
import WardenDomain
import WardenStore

/// Blobs of a data source: metadata (`/blobs`), content stored by Warden (`persistBlob`), reading and deletion.
/// Blob ids may contain slashes, so reading and deletion match the rest of the path (`**`).
struct BlobRoutes {
    let service: BlobService
    let fileIO = FileIO()

    /// How `persistBlob` receives metadata when the body is the content.
    static let metadataHeader = HTTPField.Name("X-Blob-Metadata")!

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/dataSource/{dataSourceId}/blobs", use: saveMetadata)
        api.post("/dataSource/{dataSourceId}/persistBlob", use: persist)
        api.get("/dataSource/{dataSourceId}/blob/**", use: get)
        api.delete("/dataSource/{dataSourceId}/blob/**", use: delete)
    }

    // MARK: Metadata

    /// An array of entries; each is saved or reported on its own (`blobsInError`), entries without an id are counted
    /// (`blobsWithoutIds`). A body that is not an array of entries is a 400.
    @Sendable func saveMetadata(_ request: Request, context: AuthenticatedContext) async throws -> BlobsSavedPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let batch = try await service.saveMetadata(dataSourceId: id, caller: context.principal, entries: {
            try Self.entries(try await request.decodeJSON(as: JSONValue.self, context: context))
        }, drafts: \.drafts)
        return BlobsSavedPayload(saved: batch.drafts, withoutIds: batch.withoutIds, errors: batch.errors)
    }

    /// The entries of an array (or a single object): each is parsed on its own; one that repeats an earlier id, or
    /// is not a valid blob, is reported by its index. A body of another shape is a 400.
    static func entries(_ body: JSONValue) throws -> (drafts: [BlobDraft], withoutIds: Int, errors: [BlobErrorPayload]) {
        let items: [JSONValue]
        switch body {
        case .array(let array): items = array
        case .object(let object): items = [.object(object)]
        default:
            throw WardenError.badRequest("Request body must be an array of blobs ({blobId, filename, tags, date, filesize})",
                                         code: .requestInvalidJson)
        }
        var drafts: [BlobDraft] = []
        var errors: [BlobErrorPayload] = []
        var withoutIds = 0
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else {
                errors.append(BlobErrorPayload(index: index, message: "must be an object, not \(item.typeName)"))
                continue
            }
            if BlobDraft.lacksId(object) {
                withoutIds += 1
                continue
            }
            do {
                let draft = try BlobDraft.parse(object, path: "")
                guard seen.insert(draft.blobId).inserted else {
                    errors.append(BlobErrorPayload(index: index, blobId: draft.blobId, message: "the blobId appears earlier in the payload"))
                    continue
                }
                drafts.append(draft)
            } catch {
                errors.append(BlobErrorPayload(index: index, blobId: object["blobId"]?.stringValue, message: error.message,
                                               fields: error.fields.isEmpty ? nil : error.fields))
            }
        }
        return (drafts, withoutIds, errors)
    }

    // MARK: Content

    /// The body is the content, streamed to disk; the metadata comes from the query (`blobId`, `filename`, `date`,
    /// `filesize`, `tags`) and/or the `X-Blob-Metadata` header (a JSON object of the same fields as a `/blobs` entry),
    /// the query winning. The request's `Content-Type` is kept and served back.
    @Sendable func persist(_ request: Request, context: AuthenticatedContext) async throws -> BlobsSavedPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let draft = try await service.persist(body: request.body, declaredLength: request.headers[.contentLength].flatMap(Int.init),
                                              dataSourceId: id, caller: context.principal) {
            let metadata = try Self.persistMetadata(request)
            guard !BlobDraft.lacksId(metadata) else {
                throw WardenError.badRequest(
                    "`blobId` is required: pass it as a query parameter (?blobId=…) or in the X-Blob-Metadata header; the request body is the content",
                    code: .requestValidationFailed, fields: [FieldError(field: "blobId", message: "is required")])
            }
            let contentType = request.headers[.contentType] ?? "application/octet-stream"
            guard Text.isPrintable(contentType, maxLength: 255) else {
                throw WardenError.badRequest("Content-Type must be at most 255 printable characters", code: .requestInvalidHeader)
            }
            return (try BlobDraft.parse(metadata, path: ""), contentType)
        }
        return BlobsSavedPayload(saved: [draft])
    }

    /// The metadata object of a `persistBlob` request: the header's JSON, overlaid with the query parameters.
    static func persistMetadata(_ request: Request) throws -> [String: JSONValue] {
        var metadata: [String: JSONValue] = [:]
        if let header = request.headers[metadataHeader] {
            guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(header.utf8)).objectValue else {
                throw WardenError.badRequest("The X-Blob-Metadata header must be a JSON object", code: .requestInvalidHeader)
            }
            try JSONInput.rejectNUL(in: Data(header.utf8))
            metadata = object
        }
        let query = request.uri.queryParameters
        for key in ["blobId", "filename", "date"] {
            if let value = query.get(key) { metadata[key] = .string(value) }
        }
        if let size = query.get("filesize") {
            guard let bytes = Int64(size) else {
                throw WardenError.badRequest("Query parameter `filesize` must be an integer", code: .requestInvalidQuery,
                                             fields: [FieldError(field: "filesize", message: "must be an integer")])
            }
            metadata["filesize"] = .int(bytes)
        }
        let tags = query.getAll("tags").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        if !tags.isEmpty { metadata["tags"] = .array(tags.map(JSONValue.string)) }
        return metadata
    }

    // MARK: Reading and deletion

    /// Members only (owner, expert, subscriber). Streams stored content with its length and type; a blob saved as
    /// metadata only (or asked for with `metadataOnly=true`) is answered with its metadata as JSON.
    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let (blob, path) = try await service.read(dataSourceId: id, blobId: try Self.blobId(context), caller: context.principal)
        guard let stored = blob.content, let path, try QueryReader(request: request).bool("metadataOnly") != true else {
            return try BlobPayload(blob: blob).response(from: request, context: context)
        }
        let body: ResponseBody
        do {
            body = try await fileIO.loadFile(path: path, context: context)
        } catch let error as HTTPError where error.status == .notFound {
            throw WardenError(.internalError, code: .blobContentMissing,
                              message: "The content of this blob is missing from the blob store", cause: error)
        }
        // Uploaded content is served as a download that no browser renders or sniffs: a console on the same origin
        // must never run an uploaded HTML file.
        let headers: HTTPFields = [
            .contentType: stored.contentType, .eTag: "\"\(stored.sha256)\"",
            .contentDisposition: blob.filename.map(Self.contentDisposition(filename:)) ?? "attachment",
            .xContentTypeOptions: "nosniff", .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Owners and experts. Answers 200 with an empty body ("there will be no response").
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        try await service.delete(dataSourceId: id, blobId: try Self.blobId(context), caller: context.principal)
        return Response(status: .ok)
    }

    /// The blob id: the rest of the path after `/blob/`, percent-decoded. An id no blob could have is simply not found.
    static func blobId(_ context: AuthenticatedContext) throws -> String {
        guard let raw = context.parameters.get(String(Parameters.recursiveCaptureKey)), let id = raw.removingPercentEncoding,
              BlobId.problem(id) == nil else { throw BlobStore.notFound }
        return id
    }

    /// `attachment` with the filename: an ASCII fallback, and the exact name in RFC 5987 form.
    static func contentDisposition(filename: String) -> String {
        let fallback = String(filename.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" ? Character(scalar) : "_"
        })
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: Self.attributeCharacters) ?? fallback
        return "attachment; filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }

    /// RFC 5987 `attr-char`: what may stay unencoded in `filename*`.
    static let attributeCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
}
