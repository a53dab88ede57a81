import Foundation

extension RowPredicate {
    public static let maxLength = 10_000
    public static let maxDepth = 50
    public static let maxListItems = 1000

    /// Parses a `where` predicate or a conditional mask's predicate; problems go to `validator` under `path`.
    ///
    /// ```
    /// expr     := and ('OR' and)*
    /// and      := unary ('AND' unary)*
    /// unary    := 'NOT' unary | '(' expr ')' | function | test
    /// test     := operand [ cmp operand | 'IS' ['NOT'] 'NULL' | ['NOT'] 'IN' '(' operand (',' operand)* ')'
    ///                     | ['NOT'] 'LIKE' operand | ['NOT'] 'BETWEEN' operand 'AND' operand ]
    /// operand  := column | "quoted column" | 'string' | number | TRUE | FALSE | NULL | @username | @columnTagged('Tag')
    /// function := @hasAttribute('Key' [, 'Value']) | @isInGroups('A', …) | @groupsContains(operand)
    ///           | @attributeValuesContains('Key', operand)
    /// ```
    /// Anything else (another function, a qualified name, arithmetic, a cast, a comment, a semicolon) is an error
    /// that names its position: the text is never pasted into SQL. When `columns` is given, every column must be one
    /// of them; an unquoted name matches case-insensitively, as SQL folds it.
    public static func parse(_ text: String, path: String, columns: [String]?, into validator: inout Validator) -> RowPredicate? {
        let characters = Array(text)
        if characters.allSatisfy(\.isWhitespace) {
            validator.add(path, "is empty")
            return nil
        }
        if characters.count > maxLength {
            validator.add(path, "must be at most \(maxLength) characters, not \(characters.count)")
            return nil
        }
        var parser = PredicateParser(characters: characters, columns: columns)
        do {
            return try parser.parseWhole()
        } catch {
            validator.add(path, error.message)
            return nil
        }
    }
}

struct PredicateSyntaxError: Error {
    var message: String
}

/// Recursive descent over the predicate's characters, one token ahead.
private struct PredicateParser {
    enum Kind: Equatable {
        case word(String)
        case quotedName(String)
        case string(String)
        case number(String)
        case function(String)
        case symbol(String)
        case end
    }

    struct Token {
        var kind: Kind
        var position: Int

        func isKeyword(_ keyword: String) -> Bool {
            if case .word(let word) = kind { word.uppercased() == keyword } else { false }
        }

        func isSymbol(_ symbol: String) -> Bool { kind == .symbol(symbol) }

        var described: String {
            switch kind {
            case .word(let word): "'\(word)'"
            case .quotedName(let name): "the name \"\(name)\""
            case .string: "a string"
            case .number(let text): "the number \(text)"
            case .function(let name): "'@\(name)'"
            case .symbol(let symbol): "'\(symbol)'"
            case .end: "the end"
            }
        }
    }

    static let keywords: Set<String> = ["AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "BETWEEN", "TRUE", "FALSE"]

    let characters: [Character]
    let columns: [String]?
    var index = 0
    var current = Token(kind: .end, position: 1)
    var depth = 0

    init(characters: [Character], columns: [String]?) {
        self.characters = characters
        self.columns = columns
    }

    mutating func parseWhole() throws(PredicateSyntaxError) -> RowPredicate {
        try advance()
        let predicate = try parseOr()
        guard current.kind == .end else { throw failure("expected AND, OR or the end, found \(current.described)") }
        return predicate
    }

    func failure(_ message: String, at position: Int? = nil) -> PredicateSyntaxError {
        PredicateSyntaxError(message: "at character \(position ?? current.position): \(message)")
    }

    // MARK: Grammar

    mutating func parseOr() throws(PredicateSyntaxError) -> RowPredicate {
        var items = [try parseAnd()]
        while current.isKeyword("OR") {
            try advance()
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    mutating func parseAnd() throws(PredicateSyntaxError) -> RowPredicate {
        var items = [try parseUnary()]
        while current.isKeyword("AND") {
            try advance()
            items.append(try parseUnary())
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    mutating func parseUnary() throws(PredicateSyntaxError) -> RowPredicate {
        depth += 1
        defer { depth -= 1 }
        guard depth <= RowPredicate.maxDepth else { throw failure("nests more than \(RowPredicate.maxDepth) levels deep") }
        if current.isKeyword("NOT") {
            try advance()
            return .not(try parseUnary())
        }
        if current.isSymbol("(") {
            try advance()
            let inner = try parseOr()
            try expect(")")
            return inner
        }
        if case .function(let name) = current.kind {
            switch name.lowercased() {
            case "hasattribute":
                let position = current.position
                try advance()
                let arguments = try stringArguments()
                guard (1...2).contains(arguments.count) else {
                    throw failure("@hasAttribute takes a key and an optional value", at: position)
                }
                return .userHasAttribute(key: arguments[0], value: arguments.count == 2 ? arguments[1] : nil)
            case "isingroups":
                let position = current.position
                try advance()
                let arguments = try stringArguments()
                guard !arguments.isEmpty else { throw failure("@isInGroups names at least one group", at: position) }
                return .userInGroups(arguments)
            case "groupscontains":
                try advance()
                try expect("(")
                let operand = try parseOperand()
                try expect(")")
                return .groupsContain(operand)
            case "attributevaluescontains":
                try advance()
                try expect("(")
                let key = try stringLiteral()
                try expect(",")
                let operand = try parseOperand()
                try expect(")")
                return .attributeValuesContain(key: key, operand)
            default:
                break // an operand function, or unknown: parseOperand says which
            }
        }
        return try parseTest()
    }

    mutating func parseTest() throws(PredicateSyntaxError) -> RowPredicate {
        let left = try parseOperand()
        if case .symbol(let symbol) = current.kind, let op = Self.comparison(symbol) {
            try advance()
            return .compare(left, op, try parseOperand())
        }
        if current.isKeyword("IS") {
            try advance()
            let negated = try skipKeyword("NOT")
            guard current.isKeyword("NULL") else { throw failure("expected NULL after IS, found \(current.described)") }
            try advance()
            return .isNull(left, negated: negated)
        }
        let negated = try skipKeyword("NOT")
        if current.isKeyword("IN") {
            try advance()
            try expect("(")
            var items = [try parseOperand()]
            while current.isSymbol(",") {
                try advance()
                items.append(try parseOperand())
                guard items.count <= RowPredicate.maxListItems else { throw failure("lists more than \(RowPredicate.maxListItems) values") }
            }
            try expect(")")
            return .inList(left, items, negated: negated)
        }
        if current.isKeyword("LIKE") {
            try advance()
            return .like(left, pattern: try parseOperand(), negated: negated)
        }
        if current.isKeyword("BETWEEN") {
            try advance()
            let low = try parseOperand()
            guard current.isKeyword("AND") else { throw failure("expected AND in BETWEEN, found \(current.described)") }
            try advance()
            return .between(left, low, try parseOperand(), negated: negated)
        }
        if negated { throw failure("expected IN, LIKE or BETWEEN after NOT, found \(current.described)") }
        return .truthy(left)
    }

    mutating func parseOperand() throws(PredicateSyntaxError) -> PredicateOperand {
        let token = current
        switch token.kind {
        case .word(let word):
            let upper = word.uppercased()
            try advance()
            switch upper {
            case "TRUE": return .bool(true)
            case "FALSE": return .bool(false)
            case "NULL": return .null
            default:
                if Self.keywords.contains(upper) { throw failure("expected a value, found \(token.described)", at: token.position) }
                if current.isSymbol(".") { throw failure("names only the data source's own columns, not \(word).…", at: token.position) }
                return .column(try column(word, quoted: false, at: token.position))
            }
        case .quotedName(let name):
            try advance()
            if current.isSymbol(".") { throw failure("names only the data source's own columns, not \"\(name)\".…", at: token.position) }
            return .column(try column(name, quoted: true, at: token.position))
        case .string(let text):
            try advance()
            return .string(text)
        case .number(let text):
            try advance()
            return .number(text)
        case .function(let name):
            switch name.lowercased() {
            case "username":
                try advance()
                return .username
            case "columntagged":
                try advance()
                try expect("(")
                let position = current.position
                let name = try stringLiteral()
                try expect(")")
                guard let tag = try? TagName(name) else { throw failure("'\(name)' is not a tag name", at: position) }
                return .columnTagged(tag)
            default:
                throw failure("@\(name) is not a function policies may use (@username, @hasAttribute, @isInGroups, "
                              + "@groupsContains, @attributeValuesContains, @columnTagged)", at: token.position)
            }
        case .symbol(let symbol):
            throw failure("expected a value, found '\(symbol)'", at: token.position)
        case .end:
            throw failure("expected a value, found the end")
        }
    }

    func column(_ name: String, quoted: Bool, at position: Int) throws(PredicateSyntaxError) -> String {
        guard let columns else { return name }
        if columns.contains(name) { return name }
        if !quoted {
            let matches = columns.filter { $0.caseInsensitiveCompare(name) == .orderedSame }
            if matches.count == 1 { return matches[0] }
        }
        throw failure("the data source has no column \(quoted ? "\"\(name)\"" : name)", at: position)
    }

    static func comparison(_ symbol: String) -> ComparisonOperator? {
        symbol == "!=" ? .notEqual : ComparisonOperator(rawValue: symbol)
    }

    mutating func skipKeyword(_ keyword: String) throws(PredicateSyntaxError) -> Bool {
        guard current.isKeyword(keyword) else { return false }
        try advance()
        return true
    }

    mutating func expect(_ symbol: String) throws(PredicateSyntaxError) {
        guard current.isSymbol(symbol) else { throw failure("expected '\(symbol)', found \(current.described)") }
        try advance()
    }

    mutating func stringLiteral() throws(PredicateSyntaxError) -> String {
        guard case .string(let text) = current.kind else { throw failure("expected a string, found \(current.described)") }
        try advance()
        return text
    }

    mutating func stringArguments() throws(PredicateSyntaxError) -> [String] {
        try expect("(")
        var arguments = [try stringLiteral()]
        while current.isSymbol(",") {
            try advance()
            arguments.append(try stringLiteral())
            guard arguments.count <= RowPredicate.maxListItems else { throw failure("lists more than \(RowPredicate.maxListItems) values") }
        }
        try expect(")")
        return arguments
    }

    // MARK: Tokens

    mutating func advance() throws(PredicateSyntaxError) {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        let start = index
        let position = start + 1
        guard index < characters.count else {
            current = Token(kind: .end, position: position)
            return
        }
        let character = characters[index]
        func isNameCharacter(_ c: Character) -> Bool { c == "_" || c == "$" || c.isLetter || c.isNumber }
        switch character {
        case "'", "\"":
            index += 1
            var text = ""
            while true {
                guard index < characters.count else {
                    throw failure(character == "'" ? "the string is not closed" : "the quoted name is not closed", at: position)
                }
                if characters[index] == character {
                    if index + 1 < characters.count, characters[index + 1] == character {
                        text.append(character)
                        index += 2
                        continue
                    }
                    index += 1
                    break
                }
                guard characters[index] != "\0" else { throw failure("contains a NUL character", at: index + 1) }
                text.append(characters[index])
                index += 1
            }
            if character == "\"" {
                guard !text.isEmpty else { throw failure("a quoted name is empty", at: position) }
                current = Token(kind: .quotedName(text), position: position)
            } else {
                current = Token(kind: .string(text), position: position)
            }
        case "@":
            index += 1
            let nameStart = index
            while index < characters.count, isNameCharacter(characters[index]) { index += 1 }
            guard index > nameStart else { throw failure("'@' must begin a function name", at: position) }
            current = Token(kind: .function(String(characters[nameStart..<index])), position: position)
        case "(", ")", ",", ".", "=":
            index += 1
            current = Token(kind: .symbol(String(character)), position: position)
        case "<", ">", "!":
            index += 1
            var symbol = String(character)
            if index < characters.count, characters[index] == "=" || (character == "<" && characters[index] == ">") {
                symbol.append(characters[index])
                index += 1
            }
            guard symbol != "!" else { throw failure("'!' must be followed by '='", at: position) }
            current = Token(kind: .symbol(symbol), position: position)
        case "-" where index + 1 < characters.count && characters[index + 1].isASCII && characters[index + 1].isNumber,
             _ where character.isASCII && character.isNumber:
            index += 1
            var sawPoint = false
            while index < characters.count {
                let next = characters[index]
                if next.isASCII, next.isNumber {
                    index += 1
                } else if next == ".", !sawPoint, index + 1 < characters.count, characters[index + 1].isASCII, characters[index + 1].isNumber {
                    sawPoint = true
                    index += 1
                } else {
                    break
                }
            }
            guard index >= characters.count || !isNameCharacter(characters[index]) else {
                throw failure("a number runs into a name", at: position)
            }
            current = Token(kind: .number(String(characters[start..<index])), position: position)
        case _ where character == "_" || character.isLetter:
            while index < characters.count, isNameCharacter(characters[index]) { index += 1 }
            current = Token(kind: .word(String(characters[start..<index])), position: position)
        default:
            throw failure("'\(character)' is not allowed in a policy predicate", at: position)
        }
    }
}
