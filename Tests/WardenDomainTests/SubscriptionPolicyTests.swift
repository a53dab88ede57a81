import Foundation
import Testing
import WardenDomain

// Suites are named SubscriptionPolicy… so that `swift test --filter SubscriptionPolicy` runs them all.

private func group(_ name: String, iam: String? = nil) -> SubscriptionCondition { .inGroup(name: name, iam: iam) }
private func attribute(_ key: String, _ value: String? = nil) -> SubscriptionCondition { .hasAttribute(key: key, value: value) }
private let a = group("a"), b = group("b"), c = group("c"), d = group("d")

private func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

private let advancedPath = "subscriptionPolicy.advanced"

// MARK: - The advanced syntax

@Suite struct SubscriptionPolicyAdvancedSyntaxTests {
    @Test(arguments: [
        // Calls
        ("@isInGroups('Engineers')", group("Engineers")),
        ("@hasAttribute('Dept')", attribute("Dept")),
        ("@hasAttribute('Dept','HR')", attribute("Dept", "HR")),
        ("@isInGroups('a','b')", .all([a, b])),
        ("@isInGroups('a', 'b', 'c')", .all([a, b, c])),
        ("@isInGroups('Engineers') AND @hasAttribute('Dept','HR')", .all([group("Engineers"), attribute("Dept", "HR")])),
        ("@isInGroups('a','b') AND @isInGroups('c')", .all([.all([a, b]), c])),
        // Precedence: NOT, then AND, then OR; lists are not flattened across parentheses
        ("@isInGroups('a') OR @isInGroups('b') AND @isInGroups('c')", .any([a, .all([b, c])])),
        ("@isInGroups('a') AND @isInGroups('b') OR @isInGroups('c')", .any([.all([a, b]), c])),
        ("@isInGroups('a') AND @isInGroups('b') OR @isInGroups('c') AND @isInGroups('d')", .any([.all([a, b]), .all([c, d])])),
        ("(@isInGroups('a') OR @isInGroups('b')) AND @isInGroups('c')", .all([.any([a, b]), c])),
        ("@isInGroups('a') OR @isInGroups('b') OR @isInGroups('c')", .any([a, b, c])),
        ("@isInGroups('a') AND @isInGroups('b') AND @isInGroups('c')", .all([a, b, c])),
        ("(@isInGroups('a') OR @isInGroups('b')) OR @isInGroups('c')", .any([.any([a, b]), c])),
        ("@isInGroups('a') AND (@isInGroups('b') AND @isInGroups('c'))", .all([a, .all([b, c])])),
        ("NOT @isInGroups('a') AND @isInGroups('b')", .all([.not(a), b])),
        ("NOT @isInGroups('a') OR @isInGroups('b')", .any([.not(a), b])),
        ("NOT (@isInGroups('a') AND @isInGroups('b'))", .not(.all([a, b]))),
        ("NOT NOT @isInGroups('a')", .not(.not(a))),
        ("NOT @isInGroups('a','b')", .not(.all([a, b]))),
        ("@isInGroups('a') AND NOT @isInGroups('b')", .all([a, .not(b)])),
        ("((@isInGroups('a')))", a),
        ("NOT(@isInGroups('a'))", .not(a)),
        ("(@isInGroups('a'))OR(@isInGroups('b'))", .any([a, b])),
        // Keywords and function names in lower case
        ("@isInGroups('a') and not @isInGroups('b') or @isInGroups('c')", .any([.all([a, .not(b)]), c])),
        ("@isInGroups('a') And @isInGroups('b') oR @isInGroups('c')", .any([.all([a, b]), c])),
        ("@isingroups('a') AND @hasattribute('k','v')", .all([a, attribute("k", "v")])),
        // Quotes and escapes
        (#"@isInGroups("double")"#, group("double")),
        ("@isInGroups('O''Brien')", group("O'Brien")),
        (#"@isInGroups("say ""hi""")"#, group(#"say "hi""#)),
        (#"@isInGroups("it's")"#, group("it's")),
        (#"@isInGroups('say "hi"')"#, group(#"say "hi""#)),
        (#"@isInGroups('a\'b')"#, group("a'b")),
        (#"@isInGroups('back\\slash')"#, group(#"back\slash"#)),
        (#"@isInGroups('\x')"#, group("x")),
        ("@isInGroups('a,b (c) AND NOT d')", group("a,b (c) AND NOT d")),
        ("@isInGroups('AND')", group("AND")),
        ("@isInGroups('  padded  ')", group("  padded  ")),
        ("@hasAttribute('Zoë Émile','Ünïcödé 東京')", attribute("Zoë Émile", "Ünïcödé 東京")),
        // Whitespace anywhere between tokens
        ("  \n\t@isInGroups ( 'a' , 'b' )\tAND\n@hasAttribute( 'k' )  ", .all([.all([a, b]), attribute("k")])),
    ] as [(String, SubscriptionCondition)])
    func validExpressionsParse(text: String, expected: SubscriptionCondition) throws {
        let condition = try SubscriptionCondition.parse(advanced: text, path: advancedPath)

        #expect(condition == expected)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("  \n\t ", "is empty"),
        ("AND @isInGroups('a')", "unexpected 'AND' at position 1; expected a condition"),
        ("and @isInGroups('a')", "unexpected 'and' at position 1"),
        ("OR", "unexpected 'OR' at position 1"),
        ("@isInGroups('a') AND", "ends at position 21 where a condition (@isInGroups(…), @hasAttribute(…), NOT or '(') is expected"),
        ("NOT", "ends at position 4 where a condition"),
        ("(@isInGroups('a')", "expected ')' at position 18 to close the '(' at position 1, found the end"),
        ("(@isInGroups('a') OR (@isInGroups('b')", "expected ')' at position 39 to close the '(' at position 22, found the end"),
        ("(@isInGroups('a') OR (@isInGroups('b'))", "expected ')' at position 40 to close the '(' at position 1, found the end"),
        ("(@isInGroups('a') @isInGroups('b'))", "expected ')' at position 19 to close the '(' at position 1, found '@isInGroups'"),
        ("@isInGroups('a'))", "unexpected ')' at position 17; expected AND, OR or the end"),
        ("@isInGroups('a') @isInGroups('b')", "unexpected '@isInGroups' at position 18; expected AND, OR or the end"),
        ("@isInGroups('a') XOR @isInGroups('b')", "unexpected 'XOR' at position 18"),
        ("@isInGroups('a') AND AND @isInGroups('b')", "unexpected 'AND' at position 22"),
        ("@isInGroups('a') AND OR @isInGroups('b')", "unexpected 'OR' at position 22"),
        ("()", "unexpected ')' at position 2"),
        ("isInGroups('a')", "unexpected 'isInGroups' at position 1"),
        ("'a'", "unexpected a string at position 1"),
        ("@isInGroups('abc", "unterminated string starting at position 13"),
        (#"@isInGroups("abc')"#, "unterminated string starting at position 13"),
        (#"@isInGroups('abc\"#, "unterminated string starting at position 13"),
        ("@isInGroups('a') AND @hasAttribute('k", "unterminated string starting at position 36"),
        ("@bogus('a')", "unknown function '@bogus' at position 1; allowed: @isInGroups, @hasAttribute"),
        ("@isInGroups('a') OR @hasPurpose('p')", "unknown function '@hasPurpose' at position 21"),
        ("@IsInGroups('a')", "unknown function '@IsInGroups' at position 1"),
        ("@ISINGROUPS('a')", "unknown function '@ISINGROUPS' at position 1"),
        ("@ isInGroups('a')", "expected a function name after '@' at position 1"),
        ("@isInGroups 'a'", "expected '(' after @isInGroups at position 13, found a string"),
        ("@hasAttribute", "expected '(' after @hasAttribute at position 14, found the end"),
        ("@isInGroups()", "@isInGroups needs at least one quoted argument at position 13"),
        ("@hasAttribute()", "@hasAttribute needs at least one quoted argument at position 15"),
        ("@isInGroups(a)", "expected a quoted string at position 13, found 'a'"),
        ("@isInGroups('a',)", "expected a quoted string at position 17, found ')'"),
        ("@isInGroups('a' 'b')", "expected ',' or ')' at position 17, found a string"),
        ("@isInGroups('a'", "expected ',' or ')' at position 16, found the end"),
        ("@isInGroups('')", "empty string at position 13; group names must not be empty"),
        ("@isInGroups('a','')", "empty string at position 17; group names must not be empty"),
        ("@hasAttribute('')", "empty string at position 15; attribute names must not be empty"),
        ("@hasAttribute('k','')", "empty string at position 19; attribute values must not be empty"),
        ("@hasAttribute('k','v','w')", "@hasAttribute at position 1 takes a name and an optional value, not 3 arguments"),
        ("@isInGroups('a') & @isInGroups('b')", "unexpected character '&' at position 18"),
        ("@isInGroups('a') && @isInGroups('b')", "unexpected character '&' at position 18"),
        ("@isInGroups('a')\u{0}", "unexpected character 'U+0' at position 17"),
        ("Zoë @isInGroups('a')", "unexpected 'Zoë' at position 1"),
        ("@isInGroups('Zoë') )", "unexpected ')' at position 20"),
    ])
    func invalidExpressionsPointAtTheProblem(text: String, problem: String) {
        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(advanced: text, path: advancedPath) }

        #expect(error?.kind == .badRequest)
        #expect(error?.fields.count == 1)
        #expect(error?.fields.first?.field == advancedPath)
        #expect(error?.fields.first?.message.hasPrefix(problem) == true, "\(error?.fields.first?.message ?? "no error")")
        #expect(error?.message == "`\(advancedPath)` \(error?.fields.first?.message ?? "")")
    }

    @Test func errorsNameThePathTheyAreGiven() {
        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(advanced: "(", path: "actions[0].advanced") }

        #expect(error?.fields.map(\.field) == ["actions[0].advanced"])
        #expect(error?.message.hasPrefix("`actions[0].advanced` ends at position 2") == true)
    }

    @Test(arguments: [1, 2, 49, 50])
    func nestingUpToTheLimitIsAccepted(depth: Int) throws {
        let parentheses = String(repeating: "(", count: depth) + "@isInGroups('a')" + String(repeating: ")", count: depth)
        let nots = String(repeating: "NOT ", count: depth) + "@isInGroups('a')"
        let mixed = String(repeating: "NOT (", count: depth / 2) + "@isInGroups('a')" + String(repeating: ")", count: depth / 2)

        #expect(try SubscriptionCondition.parse(advanced: parentheses, path: advancedPath) == a)
        let negated = try SubscriptionCondition.parse(advanced: nots, path: advancedPath)
        #expect(negated == (0..<depth).reduce(a) { condition, _ in .not(condition) })
        let mixedResult = try SubscriptionCondition.parse(advanced: mixed, path: advancedPath)
        #expect(mixedResult == (0..<depth / 2).reduce(a) { condition, _ in .not(condition) })
    }

    @Test(arguments: [
        (String(repeating: "(", count: 51) + "@isInGroups('a')" + String(repeating: ")", count: 51), 51),
        (String(repeating: "NOT ", count: 51) + "@isInGroups('a')", 201),
        (String(repeating: "NOT (", count: 26) + "@isInGroups('a')" + String(repeating: ")", count: 26), 126),
        (String(repeating: "(", count: 5_000), 51),
        (String(repeating: "NOT ", count: 2_499), 201),
    ])
    func nestingBeyondTheLimitIsRefusedWithoutRecursingFurther(text: String, position: Int) {
        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(advanced: text, path: advancedPath) }

        #expect(error?.kind == .badRequest)
        #expect(error?.fields == [FieldError(field: advancedPath, message: "nests deeper than 50 levels at position \(position)")])
    }

    @Test func textUpToTenThousandCharactersIsAccepted() throws {
        let name = String(repeating: "g", count: 10_000 - "@isInGroups('')".count)
        let text = "@isInGroups('\(name)')"

        #expect(text.count == 10_000)
        #expect(try SubscriptionCondition.parse(advanced: text, path: advancedPath) == group(name))
    }

    @Test func longerTextIsRefusedBeforeParsing() {
        let text = "@isInGroups('" + String(repeating: "g", count: 10_000) + "')"

        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(advanced: text, path: advancedPath) }

        #expect(error?.fields == [FieldError(field: advancedPath, message: "must be at most 10000 characters, not 10015")])
    }

    @Test func longFlatListsParseWithinTheLengthLimit() throws {
        let names = (0..<400).map { "g\($0)" }
        let text = names.map { "@isInGroups('\($0)')" }.joined(separator: " OR ")

        let condition = try SubscriptionCondition.parse(advanced: text, path: advancedPath)

        #expect(condition == .any(names.map { group($0) }))
    }
}

// MARK: - Rendering back to the advanced syntax

@Suite struct SubscriptionPolicyAdvancedTextTests {
    @Test(arguments: [
        (group("a"), "@isInGroups('a')"),
        (attribute("Dept"), "@hasAttribute('Dept')"),
        (attribute("Dept", "HR"), "@hasAttribute('Dept','HR')"),
        (.all([a, b]), "@isInGroups('a','b')"),
        (.all([a, attribute("k")]), "@isInGroups('a') AND @hasAttribute('k')"),
        (.any([a, b]), "@isInGroups('a') OR @isInGroups('b')"),
        (.any([.all([a, attribute("k")]), c]), "@isInGroups('a') AND @hasAttribute('k') OR @isInGroups('c')"),
        (.all([.any([a, b]), attribute("k")]), "(@isInGroups('a') OR @isInGroups('b')) AND @hasAttribute('k')"),
        (.any([.any([a, b]), c]), "(@isInGroups('a') OR @isInGroups('b')) OR @isInGroups('c')"),
        (.all([.all([a, attribute("k")]), c]), "(@isInGroups('a') AND @hasAttribute('k')) AND @isInGroups('c')"),
        (.all([.all([a, b]), attribute("k")]), "@isInGroups('a','b') AND @hasAttribute('k')"),
        (.not(a), "NOT @isInGroups('a')"),
        (.not(.not(a)), "NOT NOT @isInGroups('a')"),
        (.not(.any([a, b])), "NOT (@isInGroups('a') OR @isInGroups('b'))"),
        (.not(.all([a, attribute("k")])), "NOT (@isInGroups('a') AND @hasAttribute('k'))"),
        (.not(.all([a, b])), "NOT @isInGroups('a','b')"),
        (.any([.not(a), .all([.not(b), c])]), "NOT @isInGroups('a') OR NOT @isInGroups('b') AND @isInGroups('c')"),
        (group("O'Brien"), "@isInGroups('O''Brien')"),
        (group(#"back\slash"#), #"@isInGroups('back\\slash')"#),
        (group(#"say "hi""#), #"@isInGroups('say "hi"')"#),
        // Shapes the syntax cannot say render by meaning
        (group("a", iam: "okta"), "@isInGroups('a')"),
        (.all([group("a", iam: "okta"), b]), "@isInGroups('a') AND @isInGroups('b')"),
        (.all([a]), "@isInGroups('a')"),
        (.any([.all([a, attribute("k")])]), "@isInGroups('a') AND @hasAttribute('k')"),
        (.all([.any([.any([a, b])]), c]), "(@isInGroups('a') OR @isInGroups('b')) AND @isInGroups('c')"),
        (.all([]), "()"),
        (.any([]), "()"),
    ] as [(SubscriptionCondition, String)])
    func conditionsRenderInTheAdvancedSyntax(condition: SubscriptionCondition, text: String) {
        #expect(condition.advancedText == text)
    }

    @Test(arguments: [
        a, attribute("Dept"), attribute("Dept", "HR"), attribute("k'ey", #"va\lue"#), group(#"x"y"#), group("AND OR NOT ()"),
        .all([a, b]), .all([a, b, c, d]), .any([a, b]), .any([a, b, c]),
        .any([a, .all([b, c])]), .any([.all([a, b]), c]), .all([.any([a, b]), c]), .all([.any([a, b]), .any([c, d])]),
        .any([.any([a, b]), c]), .all([.all([a, attribute("k")]), c]), .all([a, .all([b, c])]), .all([.all([a, b]), attribute("k")]),
        .not(a), .not(.not(a)), .not(.all([a, b])), .not(.any([a, b])), .not(.all([a, attribute("k")])),
        .all([.not(a), .not(.any([b, c]))]), .any([.not(.all([a, b])), .not(.not(c))]),
        .all([.any([.all([a, .not(b)]), c]), .not(.any([d, attribute("k", "v")]))]),
    ] as [SubscriptionCondition])
    func parsingTheRenderedTextGivesTheConditionBack(condition: SubscriptionCondition) throws {
        let parsed = try SubscriptionCondition.parse(advanced: condition.advancedText, path: advancedPath)

        #expect(parsed == condition, "\(condition.advancedText)")
    }

    @Test func randomConditionsInParsedFormSurviveTheRoundTrip() throws {
        var random = SplitMix64(seed: 20_240_611)

        for _ in 0..<1_000 {
            let condition = randomCondition(depth: 4, canonical: true, using: &random)

            let parsed = try SubscriptionCondition.parse(advanced: condition.advancedText, path: advancedPath)

            #expect(parsed == condition, "\(condition.advancedText)")
        }
    }

    @Test func anyRenderedConditionKeepsItsMeaning() throws {
        var random = SplitMix64(seed: 7)
        let subjects = SubscriptionPolicyEvaluationTests.Person.allCases.map(\.subject) + randomSubjects(count: 20, using: &random)

        for _ in 0..<500 {
            // Not canonical: single-element lists and IAM-less groups only, so that the text can say everything.
            let condition = randomCondition(depth: 4, canonical: false, using: &random)

            let parsed = try SubscriptionCondition.parse(advanced: condition.advancedText, path: advancedPath)

            for subject in subjects {
                #expect(parsed.isSatisfied(by: subject) == condition.isSatisfied(by: subject), "\(condition.advancedText)")
            }
        }
    }
}

private let trickyNames = ["a", "b", "Engineers", "O'Brien", #"say "hi""#, #"back\slash"#, "AND", "not", "x,y", "(p)", " spaced ", "Zoë"]

/// A condition the parser could produce (`canonical`: lists of two or more, groups without an IAM), or any condition
/// whose meaning the text can carry (single-element lists too).
private func randomCondition(depth: Int, canonical: Bool, using random: inout SplitMix64) -> SubscriptionCondition {
    let leafOnly = depth == 0
    switch Int.random(in: 0..<(leafOnly ? 3 : 6), using: &random) {
    case 0:
        return group(trickyNames.randomElement(using: &random)!)
    case 1:
        return attribute(trickyNames.randomElement(using: &random)!)
    case 2:
        return attribute(trickyNames.randomElement(using: &random)!, trickyNames.randomElement(using: &random)!)
    case 3:
        return .not(randomCondition(depth: depth - 1, canonical: canonical, using: &random))
    default:
        let count = Int.random(in: (canonical ? 2 : 1)...4, using: &random)
        let operands = (0..<count).map { _ in randomCondition(depth: depth - 1, canonical: canonical, using: &random) }
        return Bool.random(using: &random) ? .all(operands) : .any(operands)
    }
}

private func randomSubjects(count: Int, using random: inout SplitMix64) -> [SubscriptionSubject] {
    (0..<count).map { _ in
        let groups = trickyNames.filter { _ in Bool.random(using: &random) }
        let keys = trickyNames.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }
        let attributes = Dictionary(uniqueKeysWithValues: keys.map { key in
            (key, trickyNames.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }.sorted())
        })
        return SubscriptionSubject(groups: Set(groups.map { .init(name: $0, iamid: "okta") }), attributes: attributes)
    }
}

// MARK: - Evaluation

@Suite struct SubscriptionPolicyEvaluationTests {
    enum Person: String, CaseIterable, Sendable {
        case nobody, engineer, hrAnalyst, emptyValues

        var subject: SubscriptionSubject {
            switch self {
            case .nobody:
                SubscriptionSubject(groups: [], attributes: [:])
            case .engineer:
                SubscriptionSubject(groups: [.init(name: "Engineers", iamid: "okta"), .init(name: "Staff", iamid: "bim")],
                                    attributes: ["Dept": ["IT"], "Clearance": ["L1", "L2"]])
            case .hrAnalyst:
                SubscriptionSubject(groups: [.init(name: "Staff", iamid: "bim")], attributes: ["Dept": ["HR"]])
            case .emptyValues:
                SubscriptionSubject(groups: [], attributes: ["Dept": []])
            }
        }
    }

    @Test(arguments: [
        // Groups: exact names, any IAM or the given one
        (group("Engineers"), .engineer, true),
        (group("Engineers"), .hrAnalyst, false),
        (group("Engineers"), .nobody, false),
        (group("engineers"), .engineer, false),
        (group("Engineers "), .engineer, false),
        (group("Engineers", iam: "okta"), .engineer, true),
        (group("Engineers", iam: "bim"), .engineer, false),
        (group("Staff", iam: "bim"), .engineer, true),
        (group("Staff", iam: "BIM"), .engineer, false),
        // Attributes: any value of the key, or the exact value
        (attribute("Dept"), .engineer, true),
        (attribute("Dept"), .hrAnalyst, true),
        (attribute("Dept"), .nobody, false),
        (attribute("Dept"), .emptyValues, false),
        (attribute("Dept", "HR"), .hrAnalyst, true),
        (attribute("Dept", "HR"), .engineer, false),
        (attribute("Dept", "hr"), .hrAnalyst, false),
        (attribute("dept", "HR"), .hrAnalyst, false),
        (attribute("Clearance", "L2"), .engineer, true),
        (attribute("Clearance", "L3"), .engineer, false),
        (attribute("Region"), .engineer, false),
        // Combinations
        (.all([group("Staff"), attribute("Dept", "HR")]), .hrAnalyst, true),
        (.all([group("Staff"), attribute("Dept", "HR")]), .engineer, false),
        (.any([group("Engineers"), attribute("Dept", "HR")]), .engineer, true),
        (.any([group("Engineers"), attribute("Dept", "HR")]), .hrAnalyst, true),
        (.any([group("Engineers"), attribute("Dept", "HR")]), .nobody, false),
        (.not(group("Engineers")), .engineer, false),
        (.not(group("Engineers")), .nobody, true),
        (.not(.not(attribute("Dept"))), .hrAnalyst, true),
        (.all([group("Staff"), .not(group("Engineers"))]), .hrAnalyst, true),
        (.all([group("Staff"), .not(group("Engineers"))]), .engineer, false),
        (.any([.all([group("Engineers"), attribute("Clearance", "L3")]), attribute("Dept", "HR")]), .engineer, false),
        (.any([.all([group("Engineers"), attribute("Clearance", "L2")]), attribute("Dept", "HR")]), .engineer, true),
        // Empty lists: all of nothing holds, any of nothing does not
        (.all([]), .nobody, true),
        (.any([]), .nobody, false),
    ] as [(SubscriptionCondition, Person, Bool)])
    func conditionsAreEvaluatedForTheSubject(condition: SubscriptionCondition, person: Person, expected: Bool) {
        #expect(condition.isSatisfied(by: person.subject) == expected)
    }
}

// MARK: - The exceptions form

@Suite struct SubscriptionPolicyExceptionsTests {
    static let path = "subscriptionPolicy.exceptions"

    @Test(arguments: [
        (#"{"operator":"or","conditions":[{"type":"groups","group":{"name":"group01","iam":"okta"}}]}"#, group("group01", iam: "okta")),
        (#"{"conditions":[{"type":"groups","group":{"name":"group01"}}]}"#, group("group01")),
        (#"{"conditions":[{"type":"groups","group":{"name":"group01","iam":""}}]}"#, group("group01")),
        (#"{"conditions":[{"type":"groups","group":{"name":"group01","iam":null,"id":4},"field":"x"}]}"#, group("group01")),
        (#"{"conditions":[{"type":"authorizations","authorization":{"auth":"Department","value":"HR"}}]}"#, attribute("Department", "HR")),
        (#"{"conditions":[{"type":"authorizations","authorization":{"auth":"Department"}}]}"#, attribute("Department")),
        (#"{"conditions":[{"type":"authorizations","authorization":{"auth":"Department","value":""}}]}"#, attribute("Department")),
        (#"{"conditions":[{"type":"attributes","authorization":{"auth":"Department","value":"HR","iam":"okta"}}]}"#, attribute("Department", "HR")),
        (#"{"conditions":[{"type":"attributes","attribute":{"auth":"Department","value":"HR"}}]}"#, attribute("Department", "HR")),
        (#"{"operator":"or","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"groups","group":{"name":"b"}}]}"#, .any([a, b])),
        (#"{"conditions":[{"type":"groups","group":{"name":"a"}},{"type":"groups","group":{"name":"b"}}]}"#, .any([a, b])),
        (#"{"operator":"and","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"authorizations","authorization":{"auth":"k"}}]}"#,
         .all([a, attribute("k")])),
        (#"{"operator":"AND","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"groups","group":{"name":"b"}}]}"#, .all([a, b])),
        (#"{"operator":"Or","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"groups","group":{"name":"b"}}]}"#, .any([a, b])),
        (#"{"operator":"and","conditions":[{"type":"groups","group":{"name":"a"}}],"unknown":true}"#, a),
    ])
    func validExceptionsParse(text: String, expected: SubscriptionCondition) throws {
        let condition = try SubscriptionCondition.parse(exceptions: json(text), path: Self.path)

        #expect(condition == expected)
    }

    @Test(arguments: [
        (#"[]"#, [path], "must be an object with operator and conditions, not an array"),
        (#"{}"#, ["\(path).conditions"], "is required"),
        (#"{"conditions":null}"#, ["\(path).conditions"], "is required"),
        (#"{"conditions":[]}"#, ["\(path).conditions"], "must not be empty"),
        (#"{"conditions":{}}"#, ["\(path).conditions"], "must be an array, not an object"),
        (#"{"operator":"xor","conditions":[{"type":"groups","group":{"name":"a"}}]}"#, ["\(path).operator"], #"must be "and" or "or""#),
        (#"{"operator":1,"conditions":[{"type":"groups","group":{"name":"a"}}]}"#, ["\(path).operator"], "must be a string, not a number"),
        (#"{"conditions":["a"]}"#, ["\(path).conditions[0]"], "must be an object with a type, not a string"),
        (#"{"conditions":[{"group":{"name":"a"}}]}"#, ["\(path).conditions[0].type"], "is required"),
        (#"{"conditions":[{"type":"users","user":{"name":"a"}}]}"#, ["\(path).conditions[0].type"],
         "must be one of: groups, authorizations, attributes"),
        (#"{"conditions":[{"type":"Groups","group":{"name":"a"}}]}"#, ["\(path).conditions[0].type"], "must be one of"),
        (#"{"conditions":[{"type":"groups"}]}"#, ["\(path).conditions[0].group"], "is required"),
        (#"{"conditions":[{"type":"groups","group":"a"}]}"#, ["\(path).conditions[0].group"], "must be an object, not a string"),
        (#"{"conditions":[{"type":"groups","group":{"iam":"okta"}}]}"#, ["\(path).conditions[0].group.name"], "is required"),
        (#"{"conditions":[{"type":"groups","group":{"name":""}}]}"#, ["\(path).conditions[0].group.name"], "must not be empty"),
        (#"{"conditions":[{"type":"groups","group":{"name":"a","iam":7}}]}"#, ["\(path).conditions[0].group.iam"], "must be a string"),
        (#"{"conditions":[{"type":"authorizations","authorization":{"value":"HR"}}]}"#, ["\(path).conditions[0].authorization.auth"],
         "is required"),
        (#"{"conditions":[{"type":"authorizations","authorization":{"auth":"k","value":["HR"]}}]}"#,
         ["\(path).conditions[0].authorization.value"], "must be a string, not an array"),
        (#"{"conditions":[{"type":"authorizations"}]}"#, ["\(path).conditions[0].authorization"], "is required"),
        (#"{"operator":"nand","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"groups"},{"type":"x"}]}"#,
         ["\(path).operator", "\(path).conditions[1].group", "\(path).conditions[2].type"], #"must be "and" or "or""#),
    ])
    func invalidExceptionsNameEveryProblem(text: String, fields: [String], firstProblem: String) throws {
        let value = try json(text)

        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(exceptions: value, path: Self.path) }

        #expect(error?.kind == .badRequest)
        #expect(error?.fields.map(\.field) == fields)
        #expect(error?.fields.first?.message.hasPrefix(firstProblem) == true, "\(error?.fields.first?.message ?? "no error")")
    }

    @Test func atMostOneHundredConditionsAreAccepted() throws {
        func exceptions(_ count: Int) -> JSONValue {
            .object(["conditions": .array((0..<count).map { .object(["type": .string("groups"), "group": .object(["name": .string("g\($0)")])]) })])
        }

        #expect(try SubscriptionCondition.parse(exceptions: exceptions(100), path: Self.path) == .any((0..<100).map { group("g\($0)") }))
        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(exceptions: exceptions(101), path: Self.path) }
        #expect(error?.fields == [FieldError(field: "\(Self.path).conditions", message: "must have at most 100 conditions, not 101")])
    }

    @Test(arguments: [
        #"{"conditions":[{"type":"purposes","value":"Research"}]}"#,
        #"{"operator":"and","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"purposes","value":"Research"}]}"#,
    ])
    func purposeConditionsAreNotImplemented(text: String) throws {
        let value = try json(text)

        let error = #expect(throws: WardenError.self) { try SubscriptionCondition.parse(exceptions: value, path: Self.path) }

        #expect(error?.kind == .notImplemented)
        #expect(error?.code.rawValue == "subscriptionPolicy.purposes_not_implemented")
        #expect(error?.message.contains("purposes") == true)
    }

    @Test(arguments: [
        a, group("a", iam: "okta"), attribute("k"), attribute("k", "v"), .any([a, b]), .all([group("a", iam: "okta"), attribute("k", "v")]),
        .any([a, attribute("k"), group("c", iam: "ldap")]),
    ] as [SubscriptionCondition])
    func flatConditionsSurviveTheObjectForm(condition: SubscriptionCondition) throws {
        let form = try #require(condition.exceptionsJSON)

        #expect(try SubscriptionCondition.parse(exceptions: form, path: Self.path) == condition)
    }

    @Test func theObjectFormIsTheAPIs() {
        let condition = SubscriptionCondition.all([group("group01", iam: "okta"), attribute("Department", "HR"), group("g2"), attribute("k")])

        #expect(condition.exceptionsJSON == .object([
            "operator": .string("and"),
            "conditions": .array([
                .object(["type": .string("groups"), "group": .object(["name": .string("group01"), "iam": .string("okta")])]),
                .object(["type": .string("authorizations"), "authorization": .object(["auth": .string("Department"), "value": .string("HR")])]),
                .object(["type": .string("groups"), "group": .object(["name": .string("g2")])]),
                .object(["type": .string("authorizations"), "authorization": .object(["auth": .string("k")])]),
            ]),
        ]))
    }

    @Test(arguments: [.not(a), .any([a, .all([b, c])]), .all([a, .not(b)]), .all([]), .any([])] as [SubscriptionCondition])
    func conditionsThatAreNotFlatListsHaveNoObjectForm(condition: SubscriptionCondition) {
        #expect(condition.exceptionsJSON == nil)
    }
}

// MARK: - Approvals

@Suite struct SubscriptionPolicyApprovalTests {
    @Test(arguments: [
        ("OWNER", ApprovalRequirement.Approver.owner),
        ("Owner", .owner),
        ("owner", .owner),
        ("GOVERNANCE", .permission(.governance)),
        ("governance", .permission(.governance)),
        ("User_Admin", .permission(.userAdmin)),
        ("APPLICATION_ADMIN", .permission(.applicationAdmin)),
    ] as [(String, ApprovalRequirement.Approver)])
    func approversAreNamedCaseInsensitively(name: String, approver: ApprovalRequirement.Approver) {
        #expect(ApprovalRequirement.approver(named: name) == approver)
    }

    @Test(arguments: ["", "OWNERS", "ADMIN", " OWNER", "USER ADMIN", "subscribed"])
    func unknownApproversAreNil(name: String) {
        #expect(ApprovalRequirement.approver(named: name) == nil)
    }

    @Test(arguments: [ApprovalRequirement.Approver.owner] + Permission.allCases.map { .permission($0) })
    func requiredPermissionNamesTheApproverAsTheAPIDoes(approver: ApprovalRequirement.Approver) {
        let requirement = ApprovalRequirement(approver: approver)

        #expect(ApprovalRequirement.approver(named: requirement.requiredPermission) == approver)
        if case .permission(let permission) = approver {
            #expect(requirement.requiredPermission == permission.rawValue)
        } else {
            #expect(requirement.requiredPermission == "OWNER")
        }
    }

    @Test func jsonHasEveryField() {
        let owner = ApprovalRequirement(approver: .owner)
        let specific = ApprovalRequirement(approver: .permission(.governance), specificApproverRequired: true, specificApprover: 12)

        #expect(owner.json == .object(["requiredPermission": .string("OWNER"), "specificApproverRequired": .bool(false),
                                       "specificApprover": .null]))
        #expect(specific.json == .object(["requiredPermission": .string("GOVERNANCE"), "specificApproverRequired": .bool(true),
                                          "specificApprover": .int(12)]))
    }
}

// MARK: - Parsing policies

@Suite struct SubscriptionPolicyParsingTests {
    static let path = "subscriptionPolicy"

    @Test(arguments: [
        // Defaults and inference
        (#"{}"#, SubscriptionPolicy(type: .automatic)),
        (#"{"type":"subscription"}"#, SubscriptionPolicy(type: .automatic)),
        (#"{"subscriptionType":"automatic"}"#, SubscriptionPolicy(type: .automatic)),
        (#"{"subscriptionType":"manual"}"#, SubscriptionPolicy(type: .manual)),
        (#"{"subscriptionType":"manual","approvals":[]}"#, SubscriptionPolicy(type: .manual)),
        (#"{"subscriptionType":"approval"}"#, SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner)])),
        (#"{"subscriptionType":"approval","approvals":[]}"#, SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner)])),
        (#"{"approvals":[{"requiredPermission":"GOVERNANCE"}]}"#,
         SubscriptionPolicy(type: .approval, approvals: [.init(approver: .permission(.governance))])),
        (#"{"advanced":"@isInGroups('a')"}"#, SubscriptionPolicy(type: .policy, advanced: a)),
        (#"{"exceptions":{"conditions":[{"type":"groups","group":{"name":"a"}}]}}"#, SubscriptionPolicy(type: .policy, exceptions: a)),
        (#"{"exceptions":null,"advanced":null,"approvals":null,"description":null,"subscriptionType":null,"automaticSubscription":null}"#,
         SubscriptionPolicy(type: .automatic)),
        // Flags
        (#"{"subscriptionType":"automatic","automaticSubscription":false,"allowDiscovery":true,"shareResponsibility":true}"#,
         SubscriptionPolicy(type: .automatic, automaticSubscription: false, allowDiscovery: true, shareResponsibility: true)),
        (#"{"subscriptionType":"manual","description":"Owners add members"}"#, SubscriptionPolicy(type: .manual, description: "Owners add members")),
        // Unknown keys are ignored
        (#"{"subscriptionType":"automatic","accessGrant":"READ","staged":true,"whatever":{"x":[1]}}"#, SubscriptionPolicy(type: .automatic)),
        // Approvals
        (#"{"subscriptionType":"approval","approvals":[{"requiredPermission":"owner","ownerModelId":null,"ownerModelName":null}]}"#,
         SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner)])),
        (#"{"approvals":[{"requiredPermission":"OWNER","specificApproverRequired":true,"specificApprover":12},{"requiredPermission":"OWNER"}]}"#,
         SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner, specificApproverRequired: true, specificApprover: 12),
                                                         .init(approver: .owner)])),
        // The requester names the approver when none is set.
        (#"{"approvals":[{"requiredPermission":"GOVERNANCE","specificApproverRequired":true}]}"#,
         SubscriptionPolicy(type: .approval, approvals: [.init(approver: .permission(.governance), specificApproverRequired: true)])),
        (#"{"approvals":[{"requiredPermission":"AUDIT","specificApprover":"7","specificApproverRequired":false}]}"#,
         SubscriptionPolicy(type: .approval, approvals: [.init(approver: .permission(.audit), specificApprover: 7)])),
        // Policies, with everything
        (#"""
         {"type":"subscription","subscriptionType":"policy","automaticSubscription":false,"allowDiscovery":true,"shareResponsibility":true,
          "advanced":"@isInGroups('Engineers') AND @hasAttribute('Dept','HR')",
          "exceptions":{"operator":"or","conditions":[{"type":"groups","group":{"name":"group01","iam":"okta"}},
                                                      {"type":"authorizations","authorization":{"auth":"Department","value":"HR"}}]},
          "approvals":[{"specificApproverRequired":false,"requiredPermission":"OWNER","specificApprover":12}],
          "description":"Engineers in HR"}
         """#,
         SubscriptionPolicy(type: .policy, automaticSubscription: false, allowDiscovery: true, shareResponsibility: true,
                            approvals: [.init(approver: .owner, specificApprover: 12)],
                            exceptions: .any([group("group01", iam: "okta"), attribute("Department", "HR")]),
                            advanced: .all([group("Engineers"), attribute("Dept", "HR")]), description: "Engineers in HR")),
        (#"{"subscriptionType":"policy","approvals":[{"requiredPermission":"GOVERNANCE"}],"advanced":"NOT @isInGroups('a')"}"#,
         SubscriptionPolicy(type: .policy, approvals: [.init(approver: .permission(.governance))], advanced: .not(a))),
    ] as [(String, SubscriptionPolicy)])
    func validPoliciesParse(text: String, expected: SubscriptionPolicy) throws {
        let policy = try SubscriptionPolicy.parse(json(text), path: Self.path)

        #expect(policy == expected)
    }

    @Test(arguments: [
        // Shape and enums
        (#""automatic""#, ["subscriptionPolicy"], "must be an object, not a string"),
        (#"null"#, ["subscriptionPolicy"], "must be an object, not null"),
        (#"{"type":"masking"}"#, ["subscriptionPolicy.type"], #"must be "subscription""#),
        (#"{"type":3}"#, ["subscriptionPolicy.type"], "must be a string, not a number"),
        (#"{"subscriptionType":"Automatic"}"#, ["subscriptionPolicy.subscriptionType"], "must be one of: automatic, approval, policy, manual"),
        (#"{"subscriptionType":"open"}"#, ["subscriptionPolicy.subscriptionType"], "must be one of: automatic, approval, policy, manual"),
        (#"{"subscriptionType":1}"#, ["subscriptionPolicy.subscriptionType"], "must be a string, not a number"),
        (#"{"automaticSubscription":"yes"}"#, ["subscriptionPolicy.automaticSubscription"], "must be a boolean, not a string"),
        (#"{"allowDiscovery":1}"#, ["subscriptionPolicy.allowDiscovery"], "must be a boolean, not a number"),
        (#"{"shareResponsibility":[]}"#, ["subscriptionPolicy.shareResponsibility"], "must be a boolean, not an array"),
        (#"{"description":5}"#, ["subscriptionPolicy.description"], "must be a string, not a number"),
        // Combinations that would be ignored silently
        (#"{"subscriptionType":"policy"}"#, ["subscriptionPolicy.subscriptionType"], "is policy, which needs exceptions or advanced"),
        (#"{"subscriptionType":"policy","approvals":[{"requiredPermission":"OWNER"}]}"#, ["subscriptionPolicy.subscriptionType"],
         "is policy, which needs exceptions or advanced"),
        (#"{"subscriptionType":"automatic","advanced":"@isInGroups('a')"}"#, ["subscriptionPolicy.advanced"],
         "must not be given for an automatic subscription policy; only policy subscriptions have conditions"),
        (#"{"subscriptionType":"automatic","exceptions":{"conditions":[{"type":"groups","group":{"name":"a"}}]}}"#,
         ["subscriptionPolicy.exceptions"], "must not be given for an automatic subscription policy"),
        (#"{"subscriptionType":"manual","advanced":"@isInGroups('a')"}"#, ["subscriptionPolicy.advanced"],
         "must not be given for a manual subscription policy"),
        (#"{"subscriptionType":"manual","exceptions":{"conditions":[{"type":"groups","group":{"name":"a"}}]},"advanced":"@isInGroups('b')"}"#,
         ["subscriptionPolicy.exceptions", "subscriptionPolicy.advanced"], "must not be given for a manual subscription policy"),
        (#"{"subscriptionType":"approval","advanced":"@isInGroups('a')"}"#, ["subscriptionPolicy.advanced"],
         "must not be given for an approval subscription policy"),
        (#"{"approvals":[{"requiredPermission":"OWNER"}],"advanced":"@isInGroups('a')"}"#, ["subscriptionPolicy.advanced"],
         "must not be given for an approval subscription policy"),
        (#"{"subscriptionType":"manual","approvals":[{"requiredPermission":"OWNER"}]}"#, ["subscriptionPolicy.approvals"],
         "must be empty for a manual subscription policy; only approval and policy subscriptions have approvals"),
        (#"{"subscriptionType":"automatic","approvals":[{"requiredPermission":"OWNER"}]}"#, ["subscriptionPolicy.approvals"],
         "must be empty for an automatic subscription policy"),
        // Approvals
        (#"{"approvals":{"requiredPermission":"OWNER"}}"#, ["subscriptionPolicy.approvals"], "must be an array, not an object"),
        (#"{"approvals":["OWNER"]}"#, ["subscriptionPolicy.approvals[0]"], "must be an object with requiredPermission, not a string"),
        (#"{"approvals":[{}]}"#, ["subscriptionPolicy.approvals[0].requiredPermission"], "is required"),
        (#"{"approvals":[{"requiredPermission":""}]}"#, ["subscriptionPolicy.approvals[0].requiredPermission"], "must not be empty"),
        (#"{"approvals":[{"requiredPermission":"OWNER"},{"requiredPermission":"BOSS"}]}"#,
         ["subscriptionPolicy.approvals[1].requiredPermission"], "must be one of: OWNER, APPLICATION_ADMIN, AUDIT, GOVERNANCE"),
        (#"{"approvals":[{"requiredPermission":true}]}"#, ["subscriptionPolicy.approvals[0].requiredPermission"], "must be a string"),
        (#"{"approvals":[{"requiredPermission":"OWNER","specificApprover":0}]}"#, ["subscriptionPolicy.approvals[0].specificApprover"],
         "must be a user's profile id (a positive integer)"),
        (#"{"approvals":[{"requiredPermission":"OWNER","specificApprover":-5}]}"#, ["subscriptionPolicy.approvals[0].specificApprover"],
         "must be a user's profile id"),
        (#"{"approvals":[{"requiredPermission":"OWNER","specificApprover":1.5}]}"#, ["subscriptionPolicy.approvals[0].specificApprover"],
         "must be an integer, not a number"),
        (#"{"approvals":[{"requiredPermission":"OWNER","specificApproverRequired":"yes"}]}"#,
         ["subscriptionPolicy.approvals[0].specificApproverRequired"], "must be a boolean, not a string"),
        (#"{"approvals":[{"requiredPermission":"OWNER"},{"requiredPermission":"GOVERNANCE"},{"requiredPermission":"owner"}]}"#,
         ["subscriptionPolicy.approvals[2]"], "repeats subscriptionPolicy.approvals[0]; each approval must be different"),
        (#"{"approvals":[{"requiredPermission":"AUDIT","specificApprover":3},{"requiredPermission":"AUDIT","specificApprover":"3"}]}"#,
         ["subscriptionPolicy.approvals[1]"], "repeats subscriptionPolicy.approvals[0]"),
        // Conditions
        (#"{"advanced":""}"#, ["subscriptionPolicy.advanced"], "is empty"),
        (#"{"advanced":"@isInGroups('a') AND"}"#, ["subscriptionPolicy.advanced"], "ends at position 21"),
        (#"{"subscriptionType":"policy","advanced":"@isInGroup('a')"}"#, ["subscriptionPolicy.advanced"],
         "unknown function '@isInGroup' at position 1"),
        (#"{"advanced":["@isInGroups('a')"]}"#, ["subscriptionPolicy.advanced"],
         "must be a string, not an array"),
        (#"{"exceptions":{"conditions":[{"type":"groups","group":{"name":""}}]}}"#,
         ["subscriptionPolicy.exceptions.conditions[0].group.name"], "must not be empty"),
        (#"{"exceptions":"@isInGroups('a')"}"#, ["subscriptionPolicy.exceptions"], "must be an object with operator and conditions"),
        // Every problem at once
        (#"{"type":"rule","subscriptionType":"policy","allowDiscovery":"no","approvals":[{"requiredPermission":"X"}],"advanced":"(","description":1}"#,
         ["subscriptionPolicy.type", "subscriptionPolicy.allowDiscovery", "subscriptionPolicy.description",
          "subscriptionPolicy.approvals[0].requiredPermission", "subscriptionPolicy.advanced"], #"must be "subscription""#),
    ])
    func invalidPoliciesNameEveryProblem(text: String, fields: [String], firstProblem: String) throws {
        let value = try json(text)

        let error = #expect(throws: WardenError.self) { try SubscriptionPolicy.parse(value, path: Self.path) }

        #expect(error?.kind == .badRequest)
        #expect(error?.code.rawValue == "request.validation_failed")
        #expect(error?.fields.map(\.field) == fields)
        #expect(error?.fields.first?.message.hasPrefix(firstProblem) == true, "\(error?.fields.first?.message ?? "no error")")
    }

    @Test func atMostTenApprovalsAreAccepted() throws {
        func policy(approvals count: Int) -> JSONValue {
            .object(["approvals": .array((1...count).map {
                .object(["requiredPermission": .string("OWNER"), "specificApprover": .int(Int64($0))])
            })])
        }

        #expect(try SubscriptionPolicy.parse(policy(approvals: 10), path: Self.path).approvals.count == 10)
        let error = #expect(throws: WardenError.self) { try SubscriptionPolicy.parse(policy(approvals: 11), path: Self.path) }
        #expect(error?.fields == [FieldError(field: "subscriptionPolicy.approvals", message: "must have at most 10 approvals, not 11")])
    }

    @Test func anEmptyPathNamesFieldsAtTheTop() throws {
        let value = try json(#"{"subscriptionType":"manual","advanced":"@isInGroups('a')","approvals":[{"requiredPermission":"X"}]}"#)

        let error = #expect(throws: WardenError.self) { try SubscriptionPolicy.parse(value, path: "") }

        #expect(error?.fields.map(\.field) == ["approvals[0].requiredPermission", "advanced", "approvals"])
    }

    @Test(arguments: [
        #"{"exceptions":{"conditions":[{"type":"purposes","value":"Research"}]}}"#,
        #"{"subscriptionType":"policy","exceptions":{"operator":"and","conditions":[{"type":"groups","group":{"name":"a"}},{"type":"purposes"}]}}"#,
    ])
    func purposeConditionsAreNotImplemented(text: String) throws {
        let value = try json(text)

        let error = #expect(throws: WardenError.self) { try SubscriptionPolicy.parse(value, path: Self.path) }

        #expect(error?.kind == .notImplemented)
        #expect(error?.code.rawValue == "subscriptionPolicy.purposes_not_implemented")
    }

    @Test func theDefaultIsManual() {
        #expect(SubscriptionPolicy.default == SubscriptionPolicy(type: .manual, automaticSubscription: true, allowDiscovery: false,
                                                                 shareResponsibility: false, approvals: [], exceptions: nil,
                                                                 advanced: nil, description: nil))
        #expect(SubscriptionPolicy.default.decide(for: SubscriptionSubject(groups: [], attributes: [:])) != .subscribe)
    }
}

// MARK: - Decisions

@Suite struct SubscriptionPolicyDecisionTests {
    typealias Person = SubscriptionPolicyEvaluationTests.Person

    static let hrStaff = SubscriptionCondition.all([group("Staff"), attribute("Dept", "HR")])
    static let governance = ApprovalRequirement(approver: .permission(.governance))
    static let manualReason = "Only the data source's owners can add members (manual subscription policy)"

    @Test(arguments: [
        (SubscriptionPolicy(type: .automatic), Person.nobody, SubscriptionDecision.subscribe),
        (SubscriptionPolicy(type: .automatic, automaticSubscription: false), .engineer, .subscribe),
        (SubscriptionPolicy(type: .approval, approvals: [governance]), .engineer, .request([governance])),
        (SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner), governance]), .nobody,
         .request([.init(approver: .owner), governance])),
        (SubscriptionPolicy(type: .approval), .engineer, .request([.init(approver: .owner)])),
        (SubscriptionPolicy(type: .policy, advanced: hrStaff), .hrAnalyst, .subscribe),
        (SubscriptionPolicy(type: .policy, automaticSubscription: false, advanced: hrStaff), .hrAnalyst, .subscribe),
        (SubscriptionPolicy(type: .policy, advanced: hrStaff), .engineer,
         .refuse(reason: "The requester does not meet the subscription policy: @isInGroups('Staff') AND @hasAttribute('Dept','HR')")),
        (SubscriptionPolicy(type: .policy, advanced: hrStaff), .nobody,
         .refuse(reason: "The requester does not meet the subscription policy: @isInGroups('Staff') AND @hasAttribute('Dept','HR')")),
        (SubscriptionPolicy(type: .policy, approvals: [governance], advanced: hrStaff), .hrAnalyst, .request([governance])),
        (SubscriptionPolicy(type: .policy, approvals: [governance], advanced: hrStaff), .engineer,
         .refuse(reason: "The requester does not meet the subscription policy: @isInGroups('Staff') AND @hasAttribute('Dept','HR')")),
        (SubscriptionPolicy(type: .policy, exceptions: .any([group("Engineers"), attribute("Dept", "HR")])), .engineer, .subscribe),
        (SubscriptionPolicy(type: .policy, exceptions: .any([group("Engineers"), attribute("Dept", "HR")])), .hrAnalyst, .subscribe),
        (SubscriptionPolicy(type: .policy, exceptions: .any([group("Engineers"), attribute("Dept", "HR")])), .nobody,
         .refuse(reason: "The requester does not meet the subscription policy: @isInGroups('Engineers') OR @hasAttribute('Dept','HR')")),
        // Exceptions AND advanced: both must hold
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff"), advanced: .not(group("Engineers"))), .hrAnalyst, .subscribe),
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff"), advanced: .not(group("Engineers"))), .engineer,
         .refuse(reason: "The requester does not meet the subscription policy: @isInGroups('Staff') AND NOT @isInGroups('Engineers')")),
        (SubscriptionPolicy(type: .policy, exceptions: .any([a, b]), advanced: c), .nobody,
         .refuse(reason: "The requester does not meet the subscription policy: "
                 + "(@isInGroups('a') OR @isInGroups('b')) AND @isInGroups('c')")),
        // A policy without conditions (only constructible in code) admits everyone
        (SubscriptionPolicy(type: .policy), .nobody, .subscribe),
        (SubscriptionPolicy(type: .manual), .engineer, .refuse(reason: manualReason)),
        (SubscriptionPolicy(type: .manual), .nobody, .refuse(reason: manualReason)),
    ] as [(SubscriptionPolicy, Person, SubscriptionDecision)])
    func decisionsFollowTheType(policy: SubscriptionPolicy, person: Person, expected: SubscriptionDecision) {
        #expect(policy.decide(for: person.subject) == expected)
    }

    @Test(arguments: [
        (SubscriptionPolicy(type: .automatic, exceptions: group("Staff")), Person.nobody, true),
        (SubscriptionPolicy(type: .approval, advanced: group("Staff")), .nobody, true),
        (SubscriptionPolicy(type: .manual, advanced: group("Staff")), .nobody, true),
        (SubscriptionPolicy(type: .policy), .nobody, true),
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff")), .hrAnalyst, true),
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff")), .nobody, false),
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff"), advanced: attribute("Dept", "IT")), .engineer, true),
        (SubscriptionPolicy(type: .policy, exceptions: group("Staff"), advanced: attribute("Dept", "IT")), .hrAnalyst, false),
    ] as [(SubscriptionPolicy, Person, Bool)])
    func onlyPoliciesLimitWhoIsAdmitted(policy: SubscriptionPolicy, person: Person, expected: Bool) {
        #expect(policy.admits(person.subject) == expected)
    }

    @Test func theConditionJoinsExceptionsAndAdvanced() {
        #expect(SubscriptionPolicy(type: .policy).condition == nil)
        #expect(SubscriptionPolicy(type: .policy, exceptions: a).condition == a)
        #expect(SubscriptionPolicy(type: .policy, advanced: b).condition == b)
        #expect(SubscriptionPolicy(type: .policy, exceptions: .any([a, c]), advanced: b).condition == .all([.any([a, c]), b]))
    }

    @Test(arguments: [
        (SubscriptionPolicy(type: .automatic), true, false),
        (SubscriptionPolicy(type: .automatic, automaticSubscription: true, allowDiscovery: false), true, false),
        (SubscriptionPolicy(type: .approval), true, false),
        (SubscriptionPolicy(type: .manual), true, false),
        (SubscriptionPolicy(type: .manual, allowDiscovery: false), true, false),
        (SubscriptionPolicy(type: .policy, advanced: a), false, true),
        (SubscriptionPolicy(type: .policy, allowDiscovery: true, advanced: a), true, true),
        (SubscriptionPolicy(type: .policy, automaticSubscription: false, advanced: a), false, false),
        (SubscriptionPolicy(type: .policy, approvals: [governance], advanced: a), false, false),
        (SubscriptionPolicy(type: .policy, automaticSubscription: true, allowDiscovery: true, approvals: [governance], exceptions: a),
         true, false),
    ] as [(SubscriptionPolicy, Bool, Bool)])
    func discoveryAndAutomaticSubscriptionDependOnTheType(policy: SubscriptionPolicy, discoverable: Bool, automatic: Bool) {
        #expect(policy.isDiscoverable == discoverable)
        #expect(policy.subscribesAutomatically == automatic)
    }
}

// MARK: - The canonical JSON

@Suite struct SubscriptionPolicyJSONTests {
    @Test(arguments: [
        SubscriptionPolicy.default,
        SubscriptionPolicy(type: .automatic),
        SubscriptionPolicy(type: .automatic, automaticSubscription: false, allowDiscovery: true, shareResponsibility: true, description: "Open"),
        SubscriptionPolicy(type: .manual, description: ""),
        SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner)]),
        SubscriptionPolicy(type: .approval, approvals: [.init(approver: .owner, specificApproverRequired: true, specificApprover: 12),
                                                        .init(approver: .permission(.governance)),
                                                        .init(approver: .permission(.userAdmin), specificApprover: 4)]),
        SubscriptionPolicy(type: .policy, advanced: .all([group("Engineers"), attribute("Dept", "HR")])),
        SubscriptionPolicy(type: .policy, exceptions: group("group01", iam: "okta")),
        SubscriptionPolicy(type: .policy, exceptions: .any([group("group01", iam: "okta"), attribute("Department", "HR"), attribute("k")])),
        SubscriptionPolicy(type: .policy, exceptions: .all([a, b])),
        SubscriptionPolicy(type: .policy, automaticSubscription: false, allowDiscovery: true, shareResponsibility: true,
                           approvals: [.init(approver: .permission(.governance))], exceptions: .all([a, attribute("k", "v")]),
                           advanced: .any([.not(group("O'Brien")), .all([.any([b, c]), attribute(#"x\y"#)])]),
                           description: "Everything at once"),
    ])
    func parsingTheJSONGivesThePolicyBack(policy: SubscriptionPolicy) throws {
        let encoded = try JSONEncoder().encode(policy.json)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: encoded)

        let parsed = try SubscriptionPolicy.parse(decoded, path: "subscriptionPolicy")

        #expect(parsed == policy)
        #expect(parsed.json == policy.json)
    }

    @Test func theJSONIsTheAPIsForm() {
        let policy = SubscriptionPolicy(type: .policy, automaticSubscription: false,
                                        approvals: [.init(approver: .owner, specificApprover: 12)],
                                        exceptions: .any([group("group01", iam: "okta"), attribute("Department", "HR")]),
                                        advanced: .all([group("Engineers"), attribute("Dept", "HR")]), description: "HR engineers")

        #expect(policy.json == .object([
            "type": .string("subscription"),
            "subscriptionType": .string("policy"),
            "automaticSubscription": .bool(false),
            "allowDiscovery": .bool(false),
            "shareResponsibility": .bool(false),
            "approvals": .array([.object(["requiredPermission": .string("OWNER"), "specificApproverRequired": .bool(false),
                                          "specificApprover": .int(12)])]),
            "exceptions": .object([
                "operator": .string("or"),
                "conditions": .array([
                    .object(["type": .string("groups"), "group": .object(["name": .string("group01"), "iam": .string("okta")])]),
                    .object(["type": .string("authorizations"),
                             "authorization": .object(["auth": .string("Department"), "value": .string("HR")])]),
                ]),
            ]),
            "advanced": .string("@isInGroups('Engineers') AND @hasAttribute('Dept','HR')"),
            "description": .string("HR engineers"),
        ]))
    }

    @Test func optionalPartsAreLeftOutWhenUnset() {
        #expect(SubscriptionPolicy.default.json == .object([
            "type": .string("subscription"),
            "subscriptionType": .string("manual"),
            "automaticSubscription": .bool(true),
            "allowDiscovery": .bool(false),
            "shareResponsibility": .bool(false),
        ]))
    }

    @Test(arguments: [
        (SubscriptionCondition.not(a), nil as SubscriptionCondition?, "NOT @isInGroups('a')"),
        (.any([a, .all([b, c])]), nil, "@isInGroups('a') OR @isInGroups('b','c')"),
        (.not(a), attribute("k"), "NOT @isInGroups('a') AND @hasAttribute('k')"),
        (.any([a, .all([b, attribute("k")])]), .any([c, d]),
         "(@isInGroups('a') OR @isInGroups('b') AND @hasAttribute('k')) AND (@isInGroups('c') OR @isInGroups('d'))"),
    ] as [(SubscriptionCondition, SubscriptionCondition?, String)])
    func exceptionsWithoutAnObjectFormMoveIntoAdvancedKeepingTheirMeaning(exceptions: SubscriptionCondition,
                                                                          advanced: SubscriptionCondition?, text: String) throws {
        let policy = SubscriptionPolicy(type: .policy, exceptions: exceptions, advanced: advanced)

        let json = policy.json
        let parsed = try SubscriptionPolicy.parse(json, path: "subscriptionPolicy")

        #expect(json.objectValue?["exceptions"] == nil)
        #expect(json.objectValue?["advanced"] == .string(text))
        #expect(parsed.exceptions == nil)
        #expect(parsed.condition == policy.condition)
        for person in SubscriptionPolicyEvaluationTests.Person.allCases {
            #expect(parsed.decide(for: person.subject) == policy.decide(for: person.subject))
        }
    }

    @Test func theBriefsExampleParses() throws {
        let value = try json(#"""
        { "type": "subscription",
          "subscriptionType": "policy",
          "automaticSubscription": true,
          "allowDiscovery": false,
          "shareResponsibility": false,
          "accessGrant": "READ",
          "advanced": "@isInGroups('Engineers') AND @hasAttribute('Dept','HR')",
          "exceptions": {"operator": "or", "conditions": [{"type":"groups","group":{"name":"group01","iam":"okta"}},
                                                           {"type":"authorizations","authorization":{"auth":"Department","value":"HR"}}]},
          "approvals": [{"specificApproverRequired": false, "requiredPermission": "OWNER", "ownerModelId": null, "ownerModelName": null}],
          "description": "…" }
        """#)

        let policy = try SubscriptionPolicy.parse(value, path: "subscriptionPolicy")

        #expect(policy.type == .policy)
        #expect(policy.approvals == [ApprovalRequirement(approver: .owner)])
        #expect(policy.condition == .all([.any([group("group01", iam: "okta"), attribute("Department", "HR")]),
                                          .all([group("Engineers"), attribute("Dept", "HR")])]))
        #expect(policy.description == "…")
        let hrEngineer = SubscriptionSubject(groups: [.init(name: "Engineers", iamid: "bim"), .init(name: "group01", iamid: "okta")],
                                             attributes: ["Dept": ["HR"]])
        #expect(policy.decide(for: hrEngineer) == .request([ApprovalRequirement(approver: .owner)]))
        #expect(!policy.subscribesAutomatically)
        #expect(!policy.isDiscoverable)
    }
}
