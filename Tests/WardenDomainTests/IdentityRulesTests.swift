import Foundation
import Testing
import WardenDomain

@Suite struct ValidatorTests {
    @Test func reportsEveryProblemAtOnce() {
        var validator = Validator()
        validator.check(false, "userid", "is required")
        validator.check(true, "name", "never reported")
        validator.add("profile.email", "must be an e-mail address")

        let error = #expect(throws: WardenError.self) { try validator.finish() }

        #expect(error?.kind == .badRequest)
        #expect(error?.fields.map(\.field) == ["userid", "profile.email"])
        #expect(error?.message == "Invalid request: `userid` is required; `profile.email` must be an e-mail address")
    }

    @Test func oneProblemReadsAsOneSentence() {
        var validator = Validator()
        validator.add("name", "must be 1 to 256 printable characters")

        let error = #expect(throws: WardenError.self) { try validator.finish() }

        #expect(error?.message == "`name` must be 1 to 256 printable characters")
    }
}

@Suite struct PermissionTests {
    @Test func decodesKnownNames() throws {
        let decoded = try JSONDecoder().decode([Permission].self, from: Data(#"["USER_ADMIN","AUDIT"]"#.utf8))

        #expect(decoded == [.userAdmin, .audit])
    }

    @Test func unknownNamesListTheValidOnes() {
        #expect {
            try JSONDecoder().decode([Permission].self, from: Data(#"["ROOT"]"#.utf8))
        } throws: { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return false }
            return context.debugDescription.contains("USER_ADMIN")
        }
    }

    @Test func principalsNameTheMissingPermission() {
        let principal = Principal(userId: 1, userid: "a", permissions: [.audit], projectId: nil, credential: .apiKey(id: "k"))

        let error = #expect(throws: WardenError.self) { try principal.require(.userAdmin) }

        #expect(error?.kind == .forbidden)
        #expect(error?.message.contains("USER_ADMIN") == true)
    }
}

@Suite struct AttributeTests {
    @Test func mergeUnionsValuesPerKeySorted() {
        let merged = Attributes.merge([["Department": ["HR"], "Region": ["EU"]], ["Department": ["Finance", "HR"]], [:]])

        #expect(merged == ["Department": ["Finance", "HR"], "Region": ["EU"]])
    }

    @Test(arguments: [("", "v"), ("k", ""), (String(repeating: "k", count: 129), "v"), ("k\u{7}", "v")])
    func rejectsEmptyLongOrControlText(key: String, value: String) {
        #expect(throws: WardenError.self) { try Attributes.validate(key: key, value: value) }
    }

    @Test func acceptsSpacesAndUnicode() throws {
        try Attributes.validate(key: "Security Classification", value: "Propriétaire")
    }
}

@Suite struct UserRulesTests {
    @Test(arguments: [
        ("alice", true), ("alice@example.com", true), ("", false), ("has space", false), ("a/b", false),
        (String(repeating: "x", count: 256), false), ("tab\there", false), ("authenticate", false),
    ])
    func userids(userid: String, valid: Bool) {
        #expect(Users.isValidUserid(userid) == valid)
    }

    @Test(arguments: [("a@b.co", true), ("a@b", false), ("@b.co", false), ("a b@c.co", false), ("a@.co", false)])
    func emails(email: String, valid: Bool) {
        #expect(Text.looksLikeEmail(email) == valid)
    }

    @Test func newUserValidationCollectsAllFields() {
        let user = NewUser(userid: "a b", password: "short",
                           profile: UserProfile(email: "nope", about: String(repeating: "x", count: 2000), externalUserIds: ["xUser": "x"]))

        let error = #expect(throws: WardenError.self) { try user.validate() }

        #expect(Set(error?.fields.map(\.field) ?? []) == ["userid", "password", "profile.email", "profile.about", "profile.externalUserIds.xUser"])
    }

    @Test func unknownWarehouseAccountKeysAreRejected() {
        let update = ProfileUpdate(externalUserIds: ["redshfitUser": "typo"])

        let error = #expect(throws: WardenError.self) { try update.validate() }

        #expect(error?.fields.first?.field == "externalUserIds.redshfitUser")
    }

    @Test func profileUpdatesKeepAbsentAndClearNull() {
        let profile = UserProfile(name: "Alice", email: "a@x.io", phone: "1", externalUserIds: ["redshiftUser": "a", "postgresUser": "p"])
        let update = ProfileUpdate(name: .some("Alicia"), phone: .some(nil), externalUserIds: ["redshiftUser": nil, "snowflakeUser": "A"])

        let result = update.applied(to: profile)

        #expect(result.name == "Alicia")
        #expect(result.email == "a@x.io")
        #expect(result.phone == nil)
        #expect(result.externalUserIds == ["postgresUser": "p", "snowflakeUser": "A"])
    }

    @Test func newUsersDeduplicateAndSortPermissions() {
        #expect(NewUser(userid: "a", permissions: [.userAdmin, .audit, .userAdmin]).permissions == [.audit, .userAdmin])
    }
}

@Suite struct PagingTests {
    @Test func defaultsApplyWhenAbsent() throws {
        #expect(try Paging.parse(size: nil, offset: nil, defaultSize: 25) == Paging(size: 25, offset: 0))
    }

    @Test(arguments: [(-1, 0), (1001, 0), (10, -5)])
    func outOfRangeValuesAreRejected(size: Int, offset: Int) {
        #expect(throws: WardenError.self) { try Paging.parse(size: size, offset: offset, defaultSize: 10) }
    }
}
