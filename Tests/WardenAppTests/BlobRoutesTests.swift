import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import SQLKit
import Testing
import WardenApp
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct BlobRoutesTests {
    @Test(arguments: TestMetastores.kinds)
    func savingMetadataReportsInsertedFailedAndIdlessEntries(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])

            let reply = try await server.call(.post, "/dataSource/\(id)/blobs", json: """
                [{"blobId": "testblob", "filename": "testfile", "tags": ["update"], "visibility": {}, "metadata": {},
                  "date": "2021-10-21", "filesize": 2},
                 {"filename": "no id"},
                 {"blobId": "bad//id"},
                 {"blobId": "reports/2021/q3.csv", "tags": ["finance", "update", "finance"], "crawler": {"run": 7}},
                 {"blobId": "testblob"},
                 5,
                 {"blobId": "dated", "date": "yesterday", "filesize": -1}]
                """).expect(.ok).object
            let nested = try await server.call(.get, "/dataSource/\(id)/blob/reports/2021/q3.csv").expect(.ok)
            try await server.call(.post, "/dataSource/\(id)/blobs", json: #"[{"blobId": "testblob", "filename": "renamed"}]"#).expect(.ok)
            let renamed = try await server.call(.get, "/dataSource/\(id)/blob/testblob").expect(.ok).object
            let activities = try await ActivityStore(metastore: server.metastore).activities(dataSourceId: Int64(id),
                                                                                           paging: Paging(size: 10, offset: 0))

            #expect(reply["blobsWithoutIds"] as? Int == 1)
            #expect(reply["blobsInserted"] as? [String] == ["testblob", "reports/2021/q3.csv"])
            #expect(reply["tags"] as? [String] == ["update", "finance"])
            let errors = try #require(reply["blobsInError"] as? [[String: Any]])
            #expect(errors.compactMap { $0["index"] as? Int } == [2, 4, 5, 6])
            #expect(errors.first?["blobId"] as? String == "bad//id")
            #expect((errors.last?["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["date", "filesize"])
            #expect(nested.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(nested.object["hasContent"] as? Bool == false)
            #expect(nested.object["tags"] as? [String] == ["finance", "update"])
            #expect((nested.object["crawler"] as? [String: Any])?["run"] as? Int == 7)
            #expect(renamed["filename"] as? String == "renamed")
            #expect(activities.items.filter { $0.type == .blobAdded }.count == 2)
            try await server.call(.post, "/dataSource/\(id)/blobs", json: #"{"blobs": 1}"#).expect(.ok)
            try await server.call(.post, "/dataSource/\(id)/blobs", json: #""text""#).expect(.badRequest)
            try await server.call(.post, "/dataSource/999999/blobs", json: "[]").expect(.notFound, code: "dataSource.not_found")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func persistedContentStreamsBackWithItsLengthTypeAndName(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let text = "quarterly figures, ünïcode included\n"

            let saved = try await server.persist(id, query: "blobId=reports/2021/q3%20final.txt&filename=q3%20final.txt&tags=finance,q3",
                                                 body: text, headers: [.contentType: "text/plain; charset=utf-8",
                                                                       BlobRoutesTests.metadataHeader: #"{"tags": ["audit"], "date": "2021-10-26"}"#])
                .expect(.ok).object
            let content = try await server.call(.get, "/dataSource/\(id)/blob/reports/2021/q3%20final.txt").expect(.ok)
            let metadata = try await server.call(.get, "/dataSource/\(id)/blob/reports/2021/q3%20final.txt?metadataOnly=true").expect(.ok).object

            let sha = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(saved["blobsInserted"] as? [String] == ["reports/2021/q3 final.txt"])
            #expect(saved["blobsWithoutIds"] as? Int == 0)
            #expect((saved["blobsInError"] as? [Any])?.isEmpty == true)
            #expect(saved["tags"] as? [String] == ["finance", "q3"])
            #expect(content.text == text)
            #expect(content.headers[.contentLength] == String(Data(text.utf8).count))
            #expect(content.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(content.headers[.eTag] == "\"\(sha)\"")
            #expect(content.headers[.contentDisposition] == "attachment; filename=\"q3 final.txt\"; filename*=UTF-8''q3%20final.txt")
            #expect(metadata["sha256"] as? String == sha)
            #expect(metadata["contentLength"] as? Int == Data(text.utf8).count)
            #expect(metadata["filesize"] as? Int == Data(text.utf8).count)
            #expect(metadata["date"] as? String == "2021-10-26")
            #expect(metadata["hasContent"] as? Bool == true)
            #expect(FileManager.default.fileExists(atPath: "\(server.config.dataDirectory)/blobs/\(sha.prefix(2))/\(sha.dropFirst(2))"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.config.dataDirectory + "/blobs/tmp").isEmpty)

            // The spec's JSON body names the file but carries no bytes: Warden says where the id and the content go.
            try await server.call(.post, "/dataSource/\(id)/persistBlob", json: #"{"blobId": "x", "file": "pov-queries.dbc"}"#)
                .expect(.badRequest, code: "request.validation_failed")
            try await server.persist(id, query: "blobId=sized&filesize=3", body: "four").expect(.badRequest, code: "request.validation_failed")
            try await server.persist(id, query: "blobId=a//b", body: "x").expect(.badRequest, code: "request.validation_failed")
            try await server.persist(id, query: "", body: "x", headers: [BlobRoutesTests.metadataHeader: "[1]"])
                .expect(.badRequest, code: "request.invalid_header")
            try await server.persist(id, query: "", body: "empty blob", headers: [BlobRoutesTests.metadataHeader: #"{"blobId": "via/header"}"#])
                .expect(.ok)
            let empty = try await server.persist(id, query: "blobId=empty", body: "").expect(.ok)
            #expect(empty.object["blobsInserted"] as? [String] == ["empty"])
            let emptyContent = try await server.call(.get, "/dataSource/\(id)/blob/empty").expect(.ok)
            #expect(emptyContent.body.isEmpty)
            #expect(emptyContent.headers[.contentLength] == "0")
            #expect(try await server.call(.get, "/dataSource/\(id)/blob/via/header").expect(.ok).text == "empty blob")
            try await server.call(.get, "/dataSource/\(id)/blob/sized").expect(.notFound, code: "blob.not_found")
            try await server.call(.get, "/dataSource/\(id)/blob/nothing/here").expect(.notFound, code: "blob.not_found")
        }
    }

    /// The upload streams from a generator and the download is hashed as it arrives, so neither side of the test
    /// holds 50 MiB. The server is a child `warden serve` process, so its memory is its own: the peak resident set
    /// (`VmHWM`) must grow by far less than the blob's size.
    @Test(arguments: TestMetastores.kinds)
    func fiftyMebibytesRoundTripWhileTheServersPeakMemoryBarelyMoves(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        let dataDirectory = try TestMetastores.temporaryDirectory()
        let server = try WardenProcess(dataDirectory: dataDirectory,
                                       metastore: try await TestMetastores.freshLocation(kind))
        defer { server.kill() }
        try await server.waitUntilReady()
        let created = try await server.request(.post, "/postgresql/handler", json: warehouse.registrationPayload(tables: ["data"]))
        let id = try #require((created.object["dataSources"] as? [[String: Any]])?.first?["dataSourceId"] as? Int)
        let base = "http://127.0.0.1:\(server.port)/dataSource/\(id)"
        let size = 50 * 1024 * 1024
        // Warm up every code path first, so the baseline includes the code and pools a transfer needs.
        _ = try await Self.upload(PatternChunks(total: 3 * 1024 * 1024), to: base + "/persistBlob?blobId=warmup")
        _ = try await Self.download(base + "/blob/warmup")
        let before = try #require(Self.memory(of: server.process.processIdentifier))

        let uploaded = try await Self.upload(PatternChunks(total: size), to: base + "/persistBlob?blobId=big/file.bin&filename=file.bin")
        let downloaded = try await Self.download(base + "/blob/big/file.bin")
        let after = try #require(Self.memory(of: server.process.processIdentifier))

        #expect(uploaded.status == 200, "\(uploaded.body)")
        #expect(uploaded.body.contains("\"blobsInserted\":[\"big/file.bin\"]"))
        #expect(downloaded.status == 200)
        #expect(downloaded.contentLength == String(size))
        #expect(downloaded.contentType == "application/x-test-pattern")
        #expect(downloaded.length == size)
        #expect(downloaded.sha256 == PatternChunks(total: size).sha256())
        let growth = after.peak - before.peak
        #expect(growth < 20 * 1024 * 1024, "peak resident memory grew by \(growth / 1024) KiB for a \(size / 1024) KiB blob")
    }

    @Test(arguments: TestMetastores.kinds)
    func contentOverTheLimitIs413AndLeavesNoFile(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind, configure: { $0.maxBlobSize = 1000 }) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let port = try #require(server.client.port)

            let declared = try await server.persist(id, query: "blobId=declared", body: String(repeating: "x", count: 5000))
                .expect(.contentTooLarge, code: "blob.too_large")
            // Without a Content-Length the limit is found while streaming: the upload is cut off and its file removed.
            let streamed = try await Self.upload(PatternChunks(total: 5000, chunk: 500, knownLength: false),
                                                 to: "http://127.0.0.1:\(port)/dataSource/\(id)/persistBlob?blobId=streamed",
                                                 authorization: TestServer.adminKey)
            let exact = try await server.persist(id, query: "blobId=exact", body: String(repeating: "x", count: 1000)).expect(.ok)

            #expect((declared.object["message"] as? String)?.contains("1000 bytes") == true)
            #expect(streamed.status == 413, "\(streamed.body)")
            #expect(streamed.body.contains("blob.too_large"))
            #expect(exact.object["blobsInserted"] as? [String] == ["exact"])
            try await server.call(.get, "/dataSource/\(id)/blob/declared").expect(.notFound)
            try await server.call(.get, "/dataSource/\(id)/blob/streamed").expect(.notFound)
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.config.dataDirectory + "/blobs/tmp").isEmpty)
            #expect(try Self.storedFiles(server).count == 1)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func identicalContentIsStoredOnceAndRemovedWithItsLastBlob(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let ids = try await server.registerArmy(warehouse)
            let id = try #require(ids["data"])
            let other = try #require(ids["army_records"])

            try await server.persist(id, query: "blobId=a", body: "same bytes").expect(.ok)
            try await server.persist(id, query: "blobId=b/c", body: "same bytes").expect(.ok)
            try await server.persist(other, query: "blobId=elsewhere", body: "same bytes").expect(.ok)
            let shared = try Self.storedFiles(server)
            try await server.persist(id, query: "blobId=a", body: "new bytes").expect(.ok)
            let afterReplace = try Self.storedFiles(server)
            try await server.call(.delete, "/dataSource/\(id)/blob/b/c").expect(.ok)
            let afterFirstDelete = try Self.storedFiles(server)
            try await server.call(.delete, "/dataSource/\(id)/blob/b/c").expect(.notFound, code: "blob.not_found")

            // The hard delete of a data source: hashes first, rows by cascade, then the files nobody references.
            let hashes = try await BlobStore(metastore: server.metastore).contentHashes(dataSourceId: Int64(other))
            try await server.metastore.write { db in try await db.raw("DELETE FROM data_sources WHERE id = \(bind: other)").run() }
            await BlobContentStore(directory: server.config.dataDirectory + "/blobs", logger: TestMetastores.logger)
                .removeUnreferenced(hashes, on: server.metastore)
            let afterHardDelete = try Self.storedFiles(server)
            let delete = try await server.call(.delete, "/dataSource/\(id)/blob/a").expect(.ok)

            #expect(shared.count == 1)
            #expect(afterReplace.count == 2)
            #expect(afterFirstDelete.count == 2)
            #expect(hashes.count == 1)
            #expect(afterHardDelete.count == 1)
            #expect(try Self.storedFiles(server).isEmpty)
            #expect(delete.body.isEmpty)
            try await server.call(.get, "/dataSource/\(id)/blob/a").expect(.notFound, code: "blob.not_found")
            let removals = try await server.metastore.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM activities WHERE data_source_id = \(bind: id) AND type = 'blobRemoved'")
                    .first()!.decode(column: "n", as: Int.self)
            }
            #expect(removals == 2)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func onlyMembersReadBlobsAndOnlyOwnersAndExpertsChangeThem(kind: MetastoreKind) async throws {
        let warehouse = try await TestWarehouse.army()
        try await TestServer.run(kind) { server in
            let id = try #require(try await server.registerArmy(warehouse, tables: ["data"])["data"])
            let hidden = try #require(try await server.registerArmy(warehouse, tables: ["army_records"], isPrivate: true)["army_records"])
            try await server.persist(id, query: "blobId=doc", body: "content").expect(.ok)
            try await server.persist(hidden, query: "blobId=doc", body: "secret").expect(.ok)
            let reader = try await server.userWithKey("reader")
            let expert = try await server.userWithKey("expert")
            try await blobTestMembership(server, userid: "expert", dataSourceId: id, state: "expert")

            try await server.call(.get, "/dataSource/\(id)/blob/doc", auth: reader).expect(.forbidden, code: "blob.subscription_required")
            try await server.call(.get, "/dataSource/\(hidden)/blob/doc", auth: reader).expect(.notFound, code: "dataSource.not_found")
            try await server.call(.post, "/dataSource/\(id)/blobs", auth: reader, json: #"[{"blobId": "x"}]"#).expect(.forbidden)
            try await server.call(.post, "/dataSource/\(hidden)/blobs", auth: reader, json: #"[{"blobId": "x"}]"#).expect(.notFound)
            try await server.persist(id, query: "blobId=x", body: "x", auth: reader).expect(.forbidden)
            try await server.call(.delete, "/dataSource/\(id)/blob/doc", auth: reader).expect(.forbidden)
            try await server.call(.delete, "/dataSource/\(hidden)/blob/doc", auth: reader).expect(.notFound)
            try await blobTestMembership(server, userid: "reader", dataSourceId: id, state: "subscribed")
            let read = try await server.call(.get, "/dataSource/\(id)/blob/doc", auth: reader).expect(.ok)
            try await server.call(.delete, "/dataSource/\(id)/blob/doc", auth: reader).expect(.forbidden)
            try await server.persist(id, query: "blobId=by-expert", body: "e", auth: expert).expect(.ok)
            try await server.call(.delete, "/dataSource/\(id)/blob/doc", auth: expert).expect(.ok)

            #expect(read.text == "content")
            #expect(try await server.call(.get, "/dataSource/\(hidden)/blob/doc").expect(.ok).text == "secret")
        }
    }

    @Test func theBlobLimitComesFromTheEnvironment() throws {
        let defaults = try AppConfig.load(environment: [:])
        let configured = try AppConfig.load(environment: ["WARDEN_MAX_BLOB_SIZE": "2048"])
        let error = #expect(throws: ConfigError.self) { try AppConfig.load(environment: ["WARDEN_MAX_BLOB_SIZE": "lots"]) }

        #expect(defaults.maxBlobSize == 1 << 30)
        #expect(configured.maxBlobSize == 2048)
        #expect(error?.description.contains("WARDEN_MAX_BLOB_SIZE") == true)
    }

    // MARK: Helpers

    static let metadataHeader = HTTPField.Name("X-Blob-Metadata")!

    /// Files in the content store (outside its temporary folder).
    static func storedFiles(_ server: TestServer) throws -> [String] {
        let root = server.config.dataDirectory + "/blobs"
        return try FileManager.default.contentsOfDirectory(atPath: root).filter { $0 != "tmp" }.flatMap { folder in
            try FileManager.default.contentsOfDirectory(atPath: root + "/" + folder).map { folder + $0 }
        }
    }

    struct Upload {
        var status: UInt
        var body: String
    }

    /// Streams `chunks` as the body of a `persistBlob` request.
    static func upload(_ chunks: PatternChunks, to url: String, authorization: String = WardenProcess.adminKey) async throws -> Upload {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/x-test-pattern")
        request.body = .stream(chunks, length: chunks.knownLength ? .known(Int64(chunks.total)) : .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 1024 * 1024)
        return Upload(status: response.status.code, body: String(buffer: body))
    }

    struct Download {
        var status: UInt
        var contentLength: String?
        var contentType: String?
        var length: Int
        var sha256: String
    }

    /// Reads a response body chunk by chunk, hashing it: the test never holds the whole body.
    static func download(_ url: String) async throws -> Download {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: WardenProcess.adminKey)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        var hasher = SHA256()
        var length = 0
        for try await chunk in response.body {
            length += chunk.readableBytes
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return Download(status: response.status.code, contentLength: response.headers.first(name: "Content-Length"),
                        contentType: response.headers.first(name: "Content-Type"), length: length,
                        sha256: hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// Current and peak resident memory of a process, in bytes, from `/proc/<pid>/status`.
    static func memory(of pid: Int32) -> (current: Int, peak: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ key: String) -> Int? {
            status.split(separator: "\n").first { $0.hasPrefix(key + ":") }
                .flatMap { Int($0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces).dropLast(3)) }
        }
        guard let current = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
        return (current * 1024, peak * 1024)
    }
}

/// A deterministic, non-repeating body produced chunk by chunk: a 1 MiB pseudo-random block with each chunk's
/// index written into its first bytes, so no two chunks are equal and nothing larger than a chunk exists at once.
struct PatternChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int
    var chunk: Int = 256 * 1024
    var knownLength = true

    static let block: [UInt8] = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<(1024 * 1024)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }()

    func makeAsyncIterator() -> Iterator { Iterator(total: total, chunk: chunk) }

    struct Iterator: AsyncIteratorProtocol {
        let total: Int
        let chunk: Int
        var offset = 0
        var index: UInt64 = 0

        mutating func next() async -> ByteBuffer? { nextChunk() }

        mutating func nextChunk() -> ByteBuffer? {
            guard offset < total else { return nil }
            let count = Swift.min(chunk, total - offset)
            let start = offset % PatternChunks.block.count
            var buffer = ByteBuffer()
            buffer.reserveCapacity(count)
            var remaining = count
            var position = start
            while remaining > 0 {
                let take = Swift.min(remaining, PatternChunks.block.count - position)
                buffer.writeBytes(PatternChunks.block[position..<(position + take)])
                remaining -= take
                position = 0
            }
            withUnsafeBytes(of: index.littleEndian) { stamp in
                _ = buffer.setBytes(stamp.prefix(count), at: buffer.readerIndex)
            }
            offset += count
            index += 1
            return buffer
        }
    }

    /// The SHA-256 of the whole body, computed chunk by chunk.
    func sha256() -> String {
        var iterator = makeAsyncIterator()
        var hasher = SHA256()
        while let buffer = iterator.nextChunk() {
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

extension TestServer {
    /// `persistBlob` with `body` as the content and `query` as the metadata.
    @discardableResult
    func persist(_ dataSourceId: Int, query: String, body: String, headers: HTTPFields = [:], auth: String = TestServer.adminKey) async throws -> Reply {
        var headers = headers
        if headers[.contentType] == nil { headers[.contentType] = "application/octet-stream" }
        return try await call(.post, "/dataSource/\(dataSourceId)/persistBlob?\(query)", auth: auth, json: body, headers: headers)
    }
}

/// Makes `userid` a member of the data source through the owner's access route.
func blobTestMembership(_ server: TestServer, userid: String, dataSourceId: Int, state: String) async throws {
    let users = try await server.call(.get, "/bim/user?userid=\(userid)").expect(.ok).object["hits"] as? [[String: Any]]
    let profileId = try #require(users?.first?["id"] as? Int)
    try await server.call(.post, "/dataSource/\(dataSourceId)/access", json: #"{"profileId": \#(profileId), "state": "\#(state)"}"#).expect(.ok)
}
