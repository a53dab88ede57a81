import Foundation
import Hummingbird
import WardenDomain
import WardenStore

/// `/tag`: the tag vocabulary (a hierarchy of dotted names) and the tags of data sources and their columns.
struct TagRoutes {
    let service: TagService

    func register(on api: RouterGroup<AuthenticatedContext>) {
        api.post("/tag", use: create)
        api.get("/tag", use: search)
        // `DELETE /tag/{tag}` in the documentation. Hummingbird's router allows one parameter name per position,
        // and `/tag/{modelType}/{modelId}` holds this one, so the tag name arrives as `modelType`.
        api.delete("/tag/{modelType}", use: delete)
        api.post("/tag/{modelType}/{modelId}", use: attach)
        api.delete("/tag/{modelType}/{modelId}/{tag}", use: detach)
        api.get("/dataSource/{dataSourceId}/tags", use: dataSourceTags)
    }

    // MARK: The vocabulary

    /// Creates tags and their missing ancestors; existing tags are returned as they are.
    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> [TagPayload] {
        // Asked before the body is read, so a refused caller learns nothing from a validation error.
        try context.principal.require(.governance)
        let input = try await request.decodeJSON(as: CreateTagsInput.self, context: context)
        let creation = try TagCreation.parse(tags: (input.tags ?? []).map { ($0.name, $0.id) },
                                             rootTag: input.rootTag.map { ($0.name, $0.deleteHierarchy ?? false, $0.source) })
        return try await service.create(creation, caller: context.principal).map { TagPayload($0) }
    }

    /// Any caller may read the vocabulary: it is what they tag with and search by.
    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> [TagPayload] {
        let query = QueryReader(request: request)
        let limit = try query.int("limit") ?? TagSearch.defaultLimit
        guard (1...TagSearch.maxLimit).contains(limit) else {
            throw Self.invalidQuery("limit", "must be an integer between 1 and \(TagSearch.maxLimit)")
        }
        // Accepted for compatibility: matching is always by substring, and Warden has no system tags.
        _ = try query.bool("fuzzySearch")
        _ = try query.bool("includeAllSystemTags")
        // Repeated keys, not comma lists: tag names may contain commas.
        let hierarchies = request.uri.queryParameters.getAll("excludedHierarchies") + request.uri.queryParameters.getAll("excludedHierarchies[]")
        var excluded: [TagName] = []
        for name in hierarchies where !name.isEmpty {
            guard let tagName = try? TagName(name) else {
                throw Self.invalidQuery("excludedHierarchies", "must list tag names; \"\(name)\" is not one")
            }
            excluded.append(tagName)
        }
        let search = TagSearch(searchText: query.string("searchText"), source: query.string("source"),
                               excludedSource: query.string("excludedSource"), excludedHierarchies: excluded, limit: limit)
        return try await service.search(search).map { TagPayload($0) }
    }

    /// Deletes the tag and everything below it, with their attachments. Answers the deleted tag (`deleted: true`).
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> TagPayload {
        try context.principal.require(.governance)
        let name = try Self.tagName(context.parameters, "modelType", notFound: TagStore.notFound)
        return TagPayload(try await service.delete(name, caller: context.principal), deleted: true)
    }

    // MARK: Attachments

    /// Attaches existing tags to a data source or column: all of them, or none when any is unknown.
    @Sendable func attach(_ request: Request, context: AuthenticatedContext) async throws -> [TagAttachmentPayload] {
        let model = try Self.model(context)
        return try await service.attach(to: model, caller: context.principal) {
            let input = try await request.decodeJSON(as: [TagInput].self, context: context)
            var validator = Validator()
            validator.check(!input.isEmpty, "tags", "must list at least one tag, as [{\"name\": …}]")
            validator.check(input.count <= Limits.tagsPerRequest, "tags", "must list at most \(Limits.tagsPerRequest) tags")
            var names: [TagName] = []
            for (index, item) in input.enumerated() {
                do throws(WardenError) {
                    names.append(try TagName(item.name, field: "[\(index)].name"))
                } catch {
                    validator.append(error.fields, prefix: "")
                }
            }
            try validator.finish()
            return names
        }.map(TagAttachmentPayload.init)
    }

    /// Removes one tag from a data source or column and answers the tags that remain.
    @Sendable func detach(_ request: Request, context: AuthenticatedContext) async throws -> [TagAttachmentPayload] {
        let model = try Self.model(context)
        let name = try Self.tagName(context.parameters, "tag", notFound: TagStore.notAttached)
        return try await service.detach(name, from: model, caller: context.principal).map(TagAttachmentPayload.init)
    }

    /// The tags of a data source and of its columns, for anyone who may see the source.
    @Sendable func dataSourceTags(_ request: Request, context: AuthenticatedContext) async throws -> DataSourceTagsPayload {
        let id = try context.parameters.id("dataSourceId", notFound: DataSourceStore.notFound)
        let query = QueryReader(request: request)
        let blobTagsOnly = try query.bool("blobTagsOnly") ?? false
        let blobId = query.string("blobId")
        if let blobId, !Text.isPrintable(blobId, maxLength: 1024) {
            throw Self.invalidQuery("blobId", "must be 1 to 1024 printable characters")
        }
        let (attachments, blobTags) = try await service.tags(ofDataSource: id, blobId: blobId, blobTagsOnly: blobTagsOnly,
                                                             caller: context.principal)
        // Blob tags are free text stored with each blob; `blobId` narrows them to one blob.
        return DataSourceTagsPayload(tags: attachments.map { .attachment(TagAttachmentPayload($0)) } + blobTags.flatMap { blob in
            blob.tags.map { TagEntryPayload.blob(BlobTagPayload(name: $0, modelId: blob.blobId)) }
        })
    }

    /// The model of `/tag/{modelType}/{modelId}…`.
    private static func model(_ context: AuthenticatedContext) throws -> TaggedModel {
        try TaggedModel.parse(modelType: try context.parameters.string("modelType"), modelId: try context.parameters.string("modelId"))
    }

    /// A path segment holding a tag name (URL-encoded); a segment that cannot be a tag name names nothing, so `notFound`.
    private static func tagName(_ parameters: Parameters, _ parameter: String, notFound: WardenError) throws -> TagName {
        let raw = try parameters.string(parameter)
        guard let name = try? TagName(raw) else { throw notFound }
        return name
    }

    private static func invalidQuery(_ name: String, _ message: String) -> WardenError {
        .badRequest("Query parameter `\(name)` \(message)", code: .requestInvalidQuery, fields: [FieldError(field: name, message: message)])
    }
}
