public import Foundation
public import SQLKit
public import WardenDomain

/// Blob rows: metadata, and the hash of the content in `BlobContentStore` when Warden holds it.
public struct BlobStore: Sendable {
    let metastore: Metastore

    public init(metastore: Metastore) {
        self.metastore = metastore
    }

    public static let notFound = WardenError.notFound("Blob not found", code: .blobNotFound)

    static let columns = """
        data_source_id, blob_id, metadata, content_hash, content_length, content_type, created_by, created_at, updated_at
        """

    /// Saves metadata-only entries: new ids are inserted, known ones get the new metadata and keep their content.
    /// Records one `blobAdded` activity naming the ids, in the same transaction.
    public func saveMetadata(_ drafts: [BlobDraft], dataSourceId: Int64, by userId: Int64, now: Date) async throws {
        guard !drafts.isEmpty else { return }
        try await metastore.write { db in
            let rows: [[SQLBindable]] = try drafts.map { draft in
                [dataSourceId, draft.blobId, try JSONColumn.encode(draft.metadata), userId, now.millis, now.millis]
            }
            for chunk in SQLBatch.chunks(rows, size: 200) {
                var query: SQLQueryString = "INSERT INTO blobs (data_source_id, blob_id, metadata, created_by, created_at, updated_at) VALUES "
                query = query + chunk.map { row -> SQLQueryString in "(\(binds: row))" }.joined(separator: ", ")
                query = query + " ON CONFLICT (data_source_id, blob_id) DO UPDATE SET metadata = excluded.metadata, updated_at = excluded.updated_at"
                try await db.raw(query).run()
            }
            let ids: [JSONValue] = drafts.map { .string($0.blobId) }
            try await ActivityStore.record([NewActivity(dataSourceId: dataSourceId, actorId: userId, type: .blobAdded,
                                                        details: .object(["blobIds": .array(ids)]))], now: now, on: db)
        }
    }

    /// Saves a blob with its content: upserts the row and moves the staged file into the content store in one
    /// transaction that holds the hash's lock, so a concurrent removal of the same content cannot slip in between.
    /// Returns the content hash the blob had before when it differs from the new one: after the commit, pass it to
    /// `BlobContentStore.removeUnreferenced`. On failure the caller discards the staged file.
    public func persist(_ draft: BlobDraft, content staged: StagedBlobContent, contentType: String, dataSourceId: Int64,
                        by userId: Int64, now: Date, contentStore: BlobContentStore) async throws -> String? {
        var metadata = draft.metadata
        metadata["filesize"] = .int(staged.length)
        let encoded = try JSONColumn.encode(metadata)
        return try await metastore.write { db in
            try await BlobContentStore.lock(hash: staged.sha256, on: db)
            // On PostgreSQL the row is locked, so a concurrent replacement of the same blob is seen, not overwritten
            // unnoticed (its file would never be removed). SQLite's single writer needs no lock.
            let lock: SQLQueryString = db.dialect.name == "postgresql" ? " FOR UPDATE" : ""
            let previous = try await db.raw("""
                SELECT content_hash FROM blobs WHERE data_source_id = \(bind: dataSourceId) AND blob_id = \(bind: draft.blobId)\(lock)
                """).first().flatMap { try $0.optionalString("content_hash") }
            try await db.raw("""
                INSERT INTO blobs (data_source_id, blob_id, metadata, content_hash, content_length, content_type, created_by,
                                   created_at, updated_at)
                VALUES (\(bind: dataSourceId), \(bind: draft.blobId), \(bind: encoded), \(bind: staged.sha256), \(bind: staged.length),
                        \(bind: contentType), \(bind: userId), \(bind: now.millis), \(bind: now.millis))
                ON CONFLICT (data_source_id, blob_id) DO UPDATE SET metadata = excluded.metadata, content_hash = excluded.content_hash,
                    content_length = excluded.content_length, content_type = excluded.content_type, updated_at = excluded.updated_at
                """).run()
            try await ActivityStore.record([NewActivity(
                dataSourceId: dataSourceId, actorId: userId, type: .blobAdded,
                details: .object(["blobIds": .array([.string(draft.blobId)]), "contentLength": .int(staged.length),
                                  "sha256": .string(staged.sha256)]))], now: now, on: db)
            try await contentStore.place(staged)
            return previous == staged.sha256 ? nil : previous
        }
    }

    public func blob(dataSourceId: Int64, blobId: String) async throws -> Blob? {
        try await metastore.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM blobs WHERE data_source_id = \(bind: dataSourceId) AND blob_id = \(bind: blobId)
                """).first().map(Self.blob(from:))
        }
    }

    /// The tags saved with a data source's blobs (every blob's, or one blob's), by blob id in id order, for
    /// `GET /dataSource/{id}/tags?blobId=…&blobTagsOnly=…`. Blob tags are free text kept in the metadata.
    public func tags(dataSourceId: Int64, blobId: String? = nil) async throws -> [(blobId: String, tags: [String])] {
        let filter: SQLQueryString = blobId.map { " AND blob_id = \(bind: $0)" } ?? ""
        return try await metastore.read { db in
            try await db.raw("""
                SELECT blob_id, metadata FROM blobs WHERE data_source_id = \(bind: dataSourceId)\(filter) ORDER BY blob_id
                """).all().compactMap { row in
                let tags = BlobDraft(blobId: "", metadata: try JSONColumn.decode([String: JSONValue].self, from: try row.string("metadata"))).tags
                return tags.isEmpty ? nil : (blobId: try row.string("blob_id"), tags: tags)
            }
        }
    }

    /// Deletes the blob and records `blobRemoved`, in one transaction; 404 when there is no such blob. Returns its
    /// content hash: after the commit, pass it to `BlobContentStore.removeUnreferenced`.
    public func delete(dataSourceId: Int64, blobId: String, by userId: Int64, now: Date) async throws -> String? {
        try await metastore.write { db in
            guard let row = try await db.raw("""
                DELETE FROM blobs WHERE data_source_id = \(bind: dataSourceId) AND blob_id = \(bind: blobId) RETURNING content_hash
                """).first() else { throw Self.notFound }
            try await ActivityStore.record([NewActivity(dataSourceId: dataSourceId, actorId: userId, type: .blobRemoved,
                                                        details: .object(["blobIds": .array([.string(blobId)])]))], now: now, on: db)
            return try row.optionalString("content_hash")
        }
    }

    /// The content hashes a data source's blobs reference, for its hard delete: read them before the delete (the
    /// rows go with the data source by cascade), then, after the commit, pass them to
    /// `BlobContentStore.removeUnreferenced`, which keeps files other data sources still reference.
    public func contentHashes(dataSourceId: Int64) async throws -> [String] {
        try await metastore.read { db in try await Self.contentHashes(dataSourceId: dataSourceId, on: db) }
    }

    /// The same, inside a caller's transaction.
    public static func contentHashes(dataSourceId: Int64, on db: any SQLDatabase) async throws -> [String] {
        try await db.raw("""
            SELECT DISTINCT content_hash FROM blobs WHERE data_source_id = \(bind: dataSourceId) AND content_hash IS NOT NULL
            """).all().map { try $0.string("content_hash") }
    }

    static func blob(from row: any SQLRow) throws -> Blob {
        let content: BlobContent? = try row.optionalString("content_hash").map { hash in
            BlobContent(sha256: hash, length: try row.decode(column: "content_length", as: Int64?.self) ?? 0,
                        contentType: try row.optionalString("content_type") ?? "application/octet-stream")
        }
        return Blob(dataSourceId: try row.int64("data_source_id"), blobId: try row.string("blob_id"),
                    metadata: try JSONColumn.decode([String: JSONValue].self, from: try row.string("metadata")),
                    content: content, createdBy: try row.int64("created_by"), createdAt: try row.date("created_at"),
                    updatedAt: try row.date("updated_at"))
    }
}
