import Foundation

extension SubscriptionCondition {
    /// The longest `advanced` text accepted, in characters.
    public static let maxAdvancedLength = 10_000
    /// The deepest nesting of parentheses and NOTs accepted in `advanced`.
    public static let maxAdvancedDepth = 50
    /// The most conditions accepted in `exceptions`.
    public static let maxExceptionConditions = 100

    /// Parses the `advanced` text. `path` is the JSON path used in error fields (e.g. "subscriptionPolicy.advanced").
    ///
    /// ```
    /// expr  := and ('OR' and)*
    /// and   := unary ('AND' unary)*
    /// unary := 'NOT' unary | '(' expr ')' | call
    /// call  := '@' name '(' string (',' string)* ')'
    /// ```
    /// Keywords are case-insensitive. Strings are single- or double-quoted; a doubled quote stands for itself and a
    /// backslash escapes the next character. `@isInGroups('a', 'b', …)` means membership of every group listed;
    /// `@hasAttribute('Key')` any value of the attribute, `@hasAttribute('Key', 'Value')` that value.
    public static func parse(advanced text: String, path: String) throws(WardenError) -> SubscriptionCondition {
        var validator = Validator()
        let condition = parse(advanced: text, path: path, into: &validator)
        try validator.finish()
        guard let condition else { throw .badRequest("`\(path)` is invalid", fields: validator.problems) }
        return condition
    }

    /// Parses the `exceptions` object.
    public static func parse(exceptions value: JSONValue, path: String) throws(WardenError) -> SubscriptionCondition {
        var validator = Validator()
        let condition = try parse(exceptions: value, path: path, into: &validator)
        try validator.finish()
        guard let condition else { throw .badRequest("`\(path)` is invalid", fields: validator.problems) }
        return condition
    }

    /// Like `parse(advanced:path:)`, adding the problem to `validator` (and returning nil) instead of throwing.
    static func parse(advanced text: String, path: String, into validator: inout Validator) -> SubscriptionCondition? {
        let characters = Array(text)
        if characters.allSatisfy(\.isWhitespace) {
            validator.add(path, "is empty")
            return nil
        }
        if characters.count > maxAdvancedLength {
            validator.add(path, "must be at most \(maxAdvancedLength) characters, not \(characters.count)")
            return nil
        }
        var parser = AdvancedParser(characters: characters)
        do {
            return try parser.parseWhole()
        } catch {
            validator.add(path, error.message)
            return nil
        }
    }

    /// Like `parse(exceptions:path:)`, adding problems to `validator` (and returning nil) instead of throwing;
    /// throws only `notImplemented`, for purpose conditions.
    static func parse(exceptions value: JSONValue, path: String,
                      into validator: inout Validator) throws(WardenError) -> SubscriptionCondition? {
        guard let object = value.objectValue else {
            validator.add(path, "must be an object with operator and conditions, not \(value.typeName)")
            return nil
        }
        var fields = JSONFields(object, path: path, validator: validator)
        let operatorName = fields.string("operator")
        let items = fields.array("conditions")
        validator = fields.validator

        var isAnd = false
        if let operatorName {
            switch operatorName.lowercased() {
            case "and": isAnd = true
            case "or": isAnd = false
            default: validator.add("\(path).operator", "must be \"and\" or \"or\"")
            }
        }
        guard let items else {
            let isMissing = switch object["conditions"] {
            case .none, .some(.null): true
            default: false // of the wrong type, which `array` reported
            }
            if isMissing { validator.add("\(path).conditions", "is required") }
            return nil
        }
        guard !items.isEmpty else {
            validator.add("\(path).conditions", "must not be empty")
            return nil
        }
        guard items.count <= maxExceptionConditions else {
            validator.add("\(path).conditions", "must have at most \(maxExceptionConditions) conditions, not \(items.count)")
            return nil
        }

        var conditions: [SubscriptionCondition] = []
        for (index, item) in items.enumerated() {
            if let condition = try parse(exceptionCondition: item, path: "\(path).conditions[\(index)]", into: &validator) {
                conditions.append(condition)
            }
        }
        guard conditions.count == items.count else { return nil }
        if conditions.count == 1 { return conditions[0] }
        return isAnd ? .all(conditions) : .any(conditions)
    }

    private static func parse(exceptionCondition item: JSONValue, path: String,
                              into validator: inout Validator) throws(WardenError) -> SubscriptionCondition? {
        guard let object = item.objectValue else {
            validator.add(path, "must be an object with a type, not \(item.typeName)")
            return nil
        }
        var fields = JSONFields(object, path: path, validator: validator)
        let type = fields.string("type", required: true)
        validator = fields.validator
        guard let type, !type.isEmpty else { return nil }

        switch type {
        case "groups":
            guard let group = nestedObject(object, "group", path: path, into: &validator) else { return nil }
            var groupFields = JSONFields(group, path: "\(path).group", validator: validator)
            let name = groupFields.string("name", required: true)
            let iam = groupFields.string("iam")
            validator = groupFields.validator
            guard let name, !name.isEmpty else { return nil }
            // Clients strip or blank the IAM (the API stopped returning it); blank means any IAM.
            return .inGroup(name: name, iam: iam.flatMap { $0.isEmpty ? nil : $0 })
        case "authorizations", "attributes":
            let key = object["authorization"] == nil && object["attribute"] != nil ? "attribute" : "authorization"
            guard let authorization = nestedObject(object, key, path: path, into: &validator) else { return nil }
            var attributeFields = JSONFields(authorization, path: "\(path).\(key)", validator: validator)
            let auth = attributeFields.string("auth", required: true)
            let value = attributeFields.string("value")
            validator = attributeFields.validator
            guard let auth, !auth.isEmpty else { return nil }
            // A blank value, like a missing one, means any value of the attribute.
            return .hasAttribute(key: auth, value: value.flatMap { $0.isEmpty ? nil : $0 })
        case "purposes":
            throw WardenError.notImplemented(
                "Purpose conditions in subscription policies need projects and purposes, which Warden does not have yet",
                code: .subscriptionPolicyPurposesNotImplemented)
        default:
            validator.add("\(path).type", "must be one of: groups, authorizations, attributes")
            return nil
        }
    }

    private static func nestedObject(_ object: [String: JSONValue], _ key: String, path: String,
                                     into validator: inout Validator) -> [String: JSONValue]? {
        switch object[key] {
        case .none, .some(.null):
            validator.add("\(path).\(key)", "is required")
            return nil
        case .some(.object(let value)):
            return value
        case .some(let other):
            validator.add("\(path).\(key)", "must be an object, not \(other.typeName)")
            return nil
        }
    }
}

/// A syntax error in `advanced` text; its message names a 1-based character position.
struct AdvancedSyntaxError: Error {
    var message: String
}

/// A recursive-descent parser over the characters of `advanced` text, reading one token ahead.
private struct AdvancedParser {
    enum Kind: Equatable {
        case function(String)
        case open, close, comma
        case string(String)
        case word(String)
        case end
    }

    struct Token {
        var kind: Kind
        /// 1-based position of the token's first character; one past the text for `end`.
        var position: Int

        var isEnd: Bool { kind == .end }

        func isKeyword(_ keyword: String) -> Bool {
            if case .word(let word) = kind { word.uppercased() == keyword } else { false }
        }

        /// How an error message names what was found.
        var described: String {
            switch kind {
            case .function(let name): "'@\(name)'"
            case .open: "'('"
            case .close: "')'"
            case .comma: "','"
            case .string: "a string"
            case .word(let word): "'\(word)'"
            case .end: "the end"
            }
        }
    }

    static let functions = "@isInGroups, @hasAttribute"
    static let conditionStart = "a condition (@isInGroups(…), @hasAttribute(…), NOT or '(')"

    let characters: [Character]
    var index = 0
    var lookahead: Token?

    init(characters: [Character]) {
        self.characters = characters
    }

    mutating func parseWhole() throws(AdvancedSyntaxError) -> SubscriptionCondition {
        let condition = try parseOr(depth: 0)
        let rest = try next()
        guard rest.isEnd else {
            throw AdvancedSyntaxError(message: "unexpected \(rest.described) at position \(rest.position); expected AND, OR or the end")
        }
        return condition
    }

    // MARK: Grammar

    private mutating func parseOr(depth: Int) throws(AdvancedSyntaxError) -> SubscriptionCondition {
        var operands = [try parseAnd(depth: depth)]
        while try peek().isKeyword("OR") {
            _ = try next()
            operands.append(try parseAnd(depth: depth))
        }
        return operands.count == 1 ? operands[0] : .any(operands)
    }

    private mutating func parseAnd(depth: Int) throws(AdvancedSyntaxError) -> SubscriptionCondition {
        var operands = [try parseUnary(depth: depth)]
        while try peek().isKeyword("AND") {
            _ = try next()
            operands.append(try parseUnary(depth: depth))
        }
        return operands.count == 1 ? operands[0] : .all(operands)
    }

    private mutating func parseUnary(depth: Int) throws(AdvancedSyntaxError) -> SubscriptionCondition {
        let token = try next()
        switch token.kind {
        case .word where token.isKeyword("NOT"):
            try checkDepth(depth, at: token)
            return .not(try parseUnary(depth: depth + 1))
        case .open:
            try checkDepth(depth, at: token)
            let inner = try parseOr(depth: depth + 1)
            let close = try next()
            guard close.kind == .close else {
                throw AdvancedSyntaxError(message: "expected ')' at position \(close.position) to close the '(' at position "
                                          + "\(token.position), found \(close.described)")
            }
            return inner
        case .function(let name):
            return try parseCall(name, at: token)
        case .end:
            throw AdvancedSyntaxError(message: "ends at position \(token.position) where \(Self.conditionStart) is expected")
        default:
            throw AdvancedSyntaxError(message: "unexpected \(token.described) at position \(token.position); "
                                      + "expected \(Self.conditionStart)")
        }
    }

    private func checkDepth(_ depth: Int, at token: Token) throws(AdvancedSyntaxError) {
        let limit = SubscriptionCondition.maxAdvancedDepth
        guard depth < limit else {
            throw AdvancedSyntaxError(message: "nests deeper than \(limit) levels at position \(token.position)")
        }
    }

    private mutating func parseCall(_ name: String, at token: Token) throws(AdvancedSyntaxError) -> SubscriptionCondition {
        let isGroups: Bool
        switch name {
        case "isInGroups", "isingroups": isGroups = true
        case "hasAttribute", "hasattribute": isGroups = false
        default:
            throw AdvancedSyntaxError(message: "unknown function '@\(name)' at position \(token.position); allowed: \(Self.functions)")
        }
        let function = isGroups ? "@isInGroups" : "@hasAttribute"
        let open = try next()
        guard open.kind == .open else {
            throw AdvancedSyntaxError(message: "expected '(' after \(function) at position \(open.position), found \(open.described)")
        }
        var arguments: [String] = []
        while true {
            let argument = try next()
            guard case .string(let value) = argument.kind else {
                let message = argument.kind == .close && arguments.isEmpty
                    ? "\(function) needs at least one quoted argument at position \(argument.position)"
                    : "expected a quoted string at position \(argument.position), found \(argument.described)"
                throw AdvancedSyntaxError(message: message)
            }
            guard !value.isEmpty else {
                let what = isGroups ? "group names" : (arguments.isEmpty ? "attribute names" : "attribute values")
                throw AdvancedSyntaxError(message: "empty string at position \(argument.position); \(what) must not be empty")
            }
            arguments.append(value)
            let separator = try next()
            if separator.kind == .comma { continue }
            if separator.kind == .close { break }
            throw AdvancedSyntaxError(message: "expected ',' or ')' at position \(separator.position), found \(separator.described)")
        }
        if isGroups {
            return arguments.count == 1 ? .inGroup(name: arguments[0], iam: nil) : .all(arguments.map { .inGroup(name: $0, iam: nil) })
        }
        guard arguments.count <= 2 else {
            throw AdvancedSyntaxError(message: "@hasAttribute at position \(token.position) takes a name and an optional value, "
                                      + "not \(arguments.count) arguments")
        }
        return .hasAttribute(key: arguments[0], value: arguments.count == 2 ? arguments[1] : nil)
    }

    // MARK: Tokens

    private mutating func peek() throws(AdvancedSyntaxError) -> Token {
        if let lookahead { return lookahead }
        let token = try lex()
        lookahead = token
        return token
    }

    private mutating func next() throws(AdvancedSyntaxError) -> Token {
        let token = try peek()
        lookahead = nil
        return token
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    private mutating func lex() throws(AdvancedSyntaxError) -> Token {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        let position = index + 1
        guard index < characters.count else { return Token(kind: .end, position: position) }
        let character = characters[index]
        switch character {
        case "(":
            index += 1
            return Token(kind: .open, position: position)
        case ")":
            index += 1
            return Token(kind: .close, position: position)
        case ",":
            index += 1
            return Token(kind: .comma, position: position)
        case "@":
            index += 1
            let name = readName()
            guard !name.isEmpty else {
                throw AdvancedSyntaxError(message: "expected a function name after '@' at position \(position); allowed: \(Self.functions)")
            }
            return Token(kind: .function(name), position: position)
        case "'", "\"":
            return Token(kind: .string(try readString(quote: character, position: position)), position: position)
        case _ where Self.isNameCharacter(character):
            return Token(kind: .word(readName()), position: position)
        default:
            let shown = character.unicodeScalars.contains { $0.properties.generalCategory == .control }
                ? "U+" + String(character.unicodeScalars.first!.value, radix: 16, uppercase: true) : String(character)
            throw AdvancedSyntaxError(message: "unexpected character '\(shown)' at position \(position)")
        }
    }

    private mutating func readName() -> String {
        let start = index
        while index < characters.count, Self.isNameCharacter(characters[index]) { index += 1 }
        return String(characters[start..<index])
    }

    /// Reads a quoted string whose opening quote is at `index`.
    private mutating func readString(quote: Character, position: Int) throws(AdvancedSyntaxError) -> String {
        index += 1
        var value = ""
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                guard index + 1 < characters.count else { break }
                value.append(characters[index + 1])
                index += 2
            } else if character == quote {
                if index + 1 < characters.count, characters[index + 1] == quote {
                    value.append(quote)
                    index += 2
                } else {
                    index += 1
                    return value
                }
            } else {
                value.append(character)
                index += 1
            }
        }
        throw AdvancedSyntaxError(message: "unterminated string starting at position \(position)")
    }
}
