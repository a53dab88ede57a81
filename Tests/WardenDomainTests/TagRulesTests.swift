import Foundation
import Testing
import WardenDomain

@Suite struct TagNameTests {
    @Test(arguments: ["PII", "PII.Email", "Discovered.Entity.Medicare Number", "a.b.c.d.e", "Émile.Zoë", "x-1.y_2.z/3",
                      String(repeating: "a", count: 128), Array(repeating: String(repeating: "b", count: 127), count: 4).joined(separator: ".")])
    func validNamesAreAccepted(name: String) throws {
        let tag = try TagName(name)

        #expect(tag.value == name)
    }

    @Test(arguments: [
        ("", "must not be empty"),
        (".PII", "must not have an empty segment (leading, trailing or doubled dots)"),
        ("PII.", "must not have an empty segment (leading, trailing or doubled dots)"),
        ("PII..Email", "must not have an empty segment (leading, trailing or doubled dots)"),
        (".", "must not have an empty segment (leading, trailing or doubled dots)"),
        (String(repeating: "a", count: 129), "must have segments of at most 128 characters"),
        (Array(repeating: String(repeating: "b", count: 128), count: 4).joined(separator: "."), "must be at most 512 characters"),
        ("PII.E\u{0}mail", "must not contain control characters"),
        ("PII\n.Email", "must not contain control characters"),
        ("PII. Email", "must not have segments that start or end with whitespace"),
        ("PII .Email", "must not have segments that start or end with whitespace"),
        (" ", "must not have segments that start or end with whitespace"),
    ])
    func invalidNamesSayWhy(name: String, problem: String) {
        let error = #expect(throws: WardenError.self) { try TagName(name, field: "tags[3].name") }

        #expect(error?.kind == .badRequest)
        #expect(error?.fields == [FieldError(field: "tags[3].name", message: problem)])
        #expect(error?.message == "`tags[3].name` \(problem)")
    }

    @Test func theHierarchyFollowsTheDots() throws {
        let name = try TagName("PII.Contact.Email")

        #expect(name.displayName == "Email")
        #expect(name.depth == 3)
        #expect(name.parent == (try TagName("PII.Contact")))
        #expect(name.ancestors.map(\.value) == ["PII", "PII.Contact"])
        #expect(try TagName("PII").parent == nil)
        #expect(try TagName("PII").ancestors.isEmpty)
        #expect(try TagName("PII").displayName == "PII")
    }

    @Test func descendantsAreBelowWholeSegmentsOnly() throws {
        let pii = try TagName("PII")

        #expect(try TagName("PII.Email").isDescendant(of: pii))
        #expect(try TagName("PII.Email.Work").isDescendant(of: pii))
        #expect(try !TagName("PIIX.Email").isDescendant(of: pii))
        #expect(try !TagName("pii.Email").isDescendant(of: pii), "names are case-sensitive")
        #expect(!pii.isDescendant(of: pii))
        #expect(pii.isWithin(pii))
        #expect(try !TagName("PII").isWithin(TagName("PII.Email")))
    }

    @Test func ancestorsAreAddedOnceParentsFirst() throws {
        let names = try ["B.Y.Z", "A.X", "B.Y", "A.X"].map { try TagName($0) }

        let expanded = TagName.withAncestors(names).map(\.value)

        #expect(expanded == ["A", "B", "A.X", "B.Y", "B.Y.Z"])
    }

    @Test func namesAreKeptInNormalFormC() throws {
        let decomposed = try TagName("Cafe\u{301}")

        #expect(decomposed.value.unicodeScalars.count == 4)
        #expect(decomposed.value == "Café")
    }
}

@Suite struct TagCreationTests {
    @Test func everyProblemIsReportedWithItsPath() {
        let error = #expect(throws: WardenError.self) {
            try TagCreation.parse(tags: [("Root.A", nil), ("Other.B", nil), ("Root..C", nil), ("Root.D", 0)],
                                  rootTag: (name: "Root", deleteHierarchy: true, source: "catalog"))
        }

        #expect(error?.fields.map(\.field) == ["rootTag.source", "tags[1].name", "tags[2].name", "tags[3].id"])
        #expect(error?.fields.first { $0.field == "tags[1].name" }?.message == "must be the root tag Root or lie below it")
    }

    @Test func tagsAreRequiredUnlessARootIsGiven() throws {
        #expect(throws: WardenError.self) { try TagCreation.parse(tags: [], rootTag: nil) }

        let clearing = try TagCreation.parse(tags: [], rootTag: (name: "Root", deleteHierarchy: true, source: nil))

        #expect(clearing.items.isEmpty)
        #expect(clearing.namesToEnsure.map(\.value) == ["Root"])
    }

    @Test func namesToEnsureIncludeTheRootAndEveryAncestor() throws {
        let creation = try TagCreation.parse(tags: [("Root.A.B", nil), ("Root.C", 7), ("Root.A.B", nil)],
                                             rootTag: (name: "Root", deleteHierarchy: false, source: "curated"))

        #expect(creation.namesToEnsure.map(\.value) == ["Root", "Root.A", "Root.C", "Root.A.B"])
        #expect(creation.requestedNames.map(\.value) == ["Root.A.B", "Root.C"])
        #expect(creation.items.map(\.id) == [nil, 7, nil])
    }
}

@Suite struct TaggedModelTests {
    @Test func dataSourcesAndColumnsAreParsed() throws {
        #expect(try TaggedModel.parse(modelType: "datasource", modelId: "49") == .dataSource(49))
        #expect(try TaggedModel.parse(modelType: "dataSource", modelId: "49") == .dataSource(49))
        #expect(try TaggedModel.parse(modelType: "column", modelId: "49_OBJECTID") == .column(dataSourceId: 49, name: "OBJECTID"))
        #expect(try TaggedModel.parse(modelType: "column", modelId: "6_country_code") == .column(dataSourceId: 6, name: "country_code"))
        #expect(TaggedModel.column(dataSourceId: 6, name: "country_code").modelId == "6_country_code")
        #expect(TaggedModel.column(dataSourceId: 6, name: "country_code").modelType == "column")
        #expect(TaggedModel.dataSource(6).modelId == "6")
    }

    @Test(arguments: [("datasource", "abc"), ("datasource", "0"), ("datasource", "-3"), ("column", "49"), ("column", "49_"),
                      ("column", "x_name"), ("widget", "1")])
    func unusableModelsAreNotFound(type: String, id: String) {
        let error = #expect(throws: WardenError.self) { try TaggedModel.parse(modelType: type, modelId: id) }

        #expect(error?.kind == .notFound)
    }

    @Test(arguments: ["project", "purpose", "user", "group", "global-policy"])
    func modelTypesWardenCannotTagAreNotImplemented(type: String) {
        let error = #expect(throws: WardenError.self) { try TaggedModel.parse(modelType: type, modelId: "1") }

        #expect(error?.kind == .notImplemented)
        #expect(error?.code.rawValue == "tag.model_type_not_implemented")
    }
}
