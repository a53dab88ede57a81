import Foundation
import Testing
import WardenDomain

@Suite struct NameTemplateTests {
    let armyRecords = TableReference(schema: "army", table: "army_records")

    @Test(arguments: [
        ("<Schema> <Tablename>", "Army Army Records"),
        ("<tablename>", "army_records"),
        ("<schema>", "army"),
        ("<Schema>", "Army"),
        ("<schema>_<tablename>", "army_army_records"),
        ("<Database>: <Tablename>", "Test Db: Army Records"),
        ("fixed", "fixed"),
    ])
    func placeholdersAreReplaced(format: String, expected: String) {
        #expect(NameTemplate.apply(format, table: armyRecords, database: "test_db") == expected)
    }

    @Test func metadataNamesWinOverTheTemplate() throws {
        let metadata = try HandlerMetadata.parse(Fixtures.metadata(["dataSourceName": .string("Given"), "bodataTableName": .string("given_sql")]),
                                                 path: "m", technology: .redshift, passwordRequired: true)

        let names = DataSourceNames(metadata: metadata, template: NameTemplate())

        #expect(names.name == "Given")
        #expect(names.sqlTableName == "given_sql")
        #expect(names.sqlSchemaName == "army")
        #expect(names.schemaProjectName == "Army")
    }
}

@Suite struct HandlerMetadataTests {
    @Test func parsesTheSpecificationsExample() throws {
        let metadata = try HandlerMetadata.parse(Fixtures.metadata(), path: "handler[0].metadata", technology: .redshift, passwordRequired: true)

        #expect(metadata.connectionString() == "user@redshift.database.example.io:5439/test")
        #expect(metadata.table == TableReference(schema: "army", table: "army_records"))
        #expect(metadata.password == "yourpassword")
        #expect(metadata.stored["password"] == nil)
        #expect(metadata.stored["staleDataTolerance"] == .int(86400))
        #expect(metadata.settings(technology: .redshift, storedPassword: nil).ssl)
    }

    @Test func reportsEveryMissingOrWrongFieldWithItsPath() {
        let error = #expect(throws: WardenError.self) {
            try HandlerMetadata.parse(["hostname": .int(5), "port": .string("x"), "ssl": .string("yes")], path: "handler[1].metadata",
                                      technology: .redshift, passwordRequired: true)
        }

        let fields = Set(error?.fields.map(\.field) ?? [])
        #expect(fields.isSuperset(of: ["handler[1].metadata.hostname", "handler[1].metadata.port", "handler[1].metadata.ssl",
                                       "handler[1].metadata.database", "handler[1].metadata.username", "handler[1].metadata.password",
                                       "handler[1].metadata.schema", "handler[1].metadata.table"]))
    }

    @Test func passwordsMayBeOmittedOnUpdate() throws {
        var object = Fixtures.metadata()
        object["password"] = nil

        let metadata = try HandlerMetadata.parse(object, path: "m", technology: .redshift, passwordRequired: false)

        #expect(metadata.password == nil)
        #expect(metadata.settings(technology: .redshift, storedPassword: "kept").password == "kept")
    }

    @Test func certificatesComeFromCaAndInlineUserFiles() throws {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
        let metadata = try HandlerMetadata.parse(Fixtures.metadata([
            "ca": .array([.string(pem)]),
            "userFiles": .array([.object(["keyName": .string("cert"), "content": .string(pem)]), .object(["keyName": .string("other")])]),
        ]), path: "m", technology: .redshift, passwordRequired: true)

        #expect(metadata.trustedCertificates == [pem, pem])
    }

    @Test func theRemoteKeyIgnoresHostCaseButNotTableCase() throws {
        var upper = Fixtures.metadata()
        upper["hostname"] = .string("REDSHIFT.database.example.io")
        var otherTable = Fixtures.metadata()
        otherTable["table"] = .string("Army_Records")

        let base = try HandlerMetadata.parse(Fixtures.metadata(), path: "m", technology: .redshift, passwordRequired: true)
        let sameHost = try HandlerMetadata.parse(upper, path: "m", technology: .redshift, passwordRequired: true)
        let differentTable = try HandlerMetadata.parse(otherTable, path: "m", technology: .redshift, passwordRequired: true)

        #expect(base.remoteKey(technology: .redshift) == sameHost.remoteKey(technology: .redshift))
        #expect(base.remoteKey(technology: .redshift) != differentTable.remoteKey(technology: .redshift))
        #expect(base.remoteKey(technology: .redshift) != base.remoteKey(technology: .postgresql))
    }

    @Test func controlCharactersInNamesAreRefused() {
        #expect(throws: WardenError.self) {
            try HandlerMetadata.parse(Fixtures.metadata(["table": .string("bad\u{0}name")]), path: "m", technology: .redshift, passwordRequired: true)
        }
    }
}

@Suite struct SQLIdentifierTests {
    @Test(arguments: [("plain", "\"plain\""), ("we\"ird", "\"we\"\"ird\""), ("Mixed Case", "\"Mixed Case\"")])
    func quotingDoublesEmbeddedQuotes(name: String, quoted: String) {
        #expect(SQLIdentifier.quoted(name) == quoted)
    }

    @Test func lengthIsBoundedInBytes() {
        #expect(SQLIdentifier.isAcceptable(String(repeating: "a", count: 127)))
        #expect(!SQLIdentifier.isAcceptable(String(repeating: "a", count: 128)))
        #expect(!SQLIdentifier.isAcceptable(""))
        #expect(!SQLIdentifier.isAcceptable("tab\there"))
    }
}

@Suite struct DictionaryColumnTests {
    @Test func parsesColumnsAndDerivesTypes() {
        var validator = Validator()
        let columns = DictionaryColumn.parse([
            .object(["name": .string("a"), "dataType": .string("text"), "remoteType": .string("varchar(10)")]),
            .object(["name": .string("b"), "dataType": .string("integer")]),
            .object(["name": .string("c"), "dataType": .string("text"), "nullable": .bool(false)]),
        ], path: "metadata", into: &validator)
        let dictionary = DataDictionary(id: 1, dataSourceId: 1, columns: columns, createdAt: Date(), updatedAt: Date())

        #expect(validator.problems.isEmpty)
        #expect(columns[1].remoteType == "integer")
        #expect(dictionary.types == ["text", "integer"])
    }

    @Test func repeatedAndIncompleteColumnsAreReported() {
        var validator = Validator()
        _ = DictionaryColumn.parse([
            .object(["name": .string("a"), "dataType": .string("text")]),
            .object(["name": .string("a"), "dataType": .string("text")]),
            .object(["dataType": .string("text")]),
            .string("nope"),
        ], path: "metadata", into: &validator)

        #expect(validator.problems.map(\.field) == ["metadata[1].name", "metadata[2].name", "metadata[3]"])
    }
}

@Suite struct TechnologyTests {
    @Test(arguments: Technology.allCases)
    func missingConnectorsAre501sNamingTheTechnology(technology: Technology) {
        let error = technology.missingConnector

        #expect(error.kind == .notImplemented)
        #expect(error.message.contains(technology.rawValue))
        #expect(technology.hasConnector == [.redshift, .postgresql, .snowflake, .databricks].contains(technology))
    }
}

enum Fixtures {
    /// The first handler of the specification's Redshift example.
    static func metadata(_ overrides: [String: JSONValue] = [:]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [
            "ssl": .bool(true), "userFiles": .array([]), "port": .int(5439), "hostname": .string("redshift.database.example.io"),
            "database": .string("test"), "username": .string("user"), "password": .string("yourpassword"),
            "schemaProjectName": .string("Army"), "staleDataTolerance": .int(86400), "table": .string("army_records"),
            "schema": .string("army"), "nativeViewName": .string("army_records_immuta"),
        ]
        object.merge(overrides) { _, new in new }
        return object
    }
}
