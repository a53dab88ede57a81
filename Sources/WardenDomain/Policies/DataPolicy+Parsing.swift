import Foundation

/// Reads policy JSON (the forms of `policy-model.md`) into typed entries.
///
/// Two modes. `strict` is for what a client sends: every problem is a 400 naming its field. Otherwise, for what the
/// metastore holds (perhaps written by a later version), nothing is rejected: a rule that cannot be read becomes
/// `notUnderstood`, which fails closed, and an exception that cannot be read excepts no one.
public struct PolicyReader {
    public static let maxEntries = 100
    public static let maxRules = 100
    public static let maxFields = 1000
    public static let maxConditions = 100
    public static let maxRegexLength = 1000
    public static let maxConstantLength = 1000

    /// Global policies name tags where local ones name columns.
    public var global: Bool
    /// The source's columns, when known (local policies): names must be among them and masks must suit their types.
    public var columns: [PolicyColumn]?
    public var strict: Bool

    public init(global: Bool, columns: [PolicyColumn]?, strict: Bool) {
        self.global = global
        self.columns = columns
        self.strict = strict
    }

    /// `jsonPolicies` or `actions`.
    public func entries(_ items: [JSONValue], path: String, into validator: inout Validator) -> [PolicyEntry] {
        guard items.count <= Self.maxEntries else {
            validator.add(path, "must have at most \(Self.maxEntries) entries, not \(items.count)")
            return []
        }
        return items.enumerated().compactMap { index, item in entry(item, path: "\(path)[\(index)]", into: &validator) }
    }

    func entry(_ item: JSONValue, path: String, into validator: inout Validator) -> PolicyEntry? {
        guard let object = item.objectValue else {
            if strict { validator.add(path, "must be an object with a type and rules, not \(item.typeName)") }
            return strict ? nil : PolicyEntry(type: nil, typeName: "", rules: [notUnderstood(item, "the entry is not an object")], description: nil)
        }
        var fields = JSONFields(object, path: path)
        let typeName = fields.string("type", required: true) ?? ""
        let description = fields.string("description")
        let rules = fields.array("rules")
        var problems = fields.validator
        let type = DataPolicyType(rawValue: typeName)
        if type == nil, !typeName.isEmpty {
            problems.add("\(path).type", "must be one of: " + DataPolicyType.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if rules == nil, object["rules"] == nil || object["rules"] == .null { problems.add("\(path).rules", "is required") }
        if let rules, rules.isEmpty { problems.add("\(path).rules", "must not be empty") }
        if let rules, rules.count > Self.maxRules { problems.add("\(path).rules", "must have at most \(Self.maxRules) rules") }
        guard problems.problems.isEmpty, let type, let rules else {
            if strict {
                validator.append(problems.problems, prefix: "")
                return nil
            }
            return PolicyEntry(type: type, typeName: typeName, rules: [notUnderstood(item, problems.problems.first?.message ?? "unreadable")],
                               description: description)
        }
        let parsed = rules.enumerated().compactMap { index, rule in self.rule(rule, of: type, path: "\(path).rules[\(index)]", into: &validator) }
        return PolicyEntry(type: type, typeName: typeName, rules: parsed, description: description)
    }

    /// A rule that fails closed, naming the columns (or tags) its JSON lists, if any can be found.
    func notUnderstood(_ json: JSONValue, _ reason: String) -> PolicyRule {
        let fields = json.objectValue?["config"]?.objectValue?["fields"]?.arrayValue?
            .compactMap { $0.stringValue ?? $0.objectValue?["name"]?.stringValue } ?? []
        return PolicyRule(action: .notUnderstood(reason: reason, columns: fields), exceptions: nil, json: json)
    }

    func rule(_ item: JSONValue, of type: DataPolicyType, path: String, into validator: inout Validator) -> PolicyRule? {
        var problems = Validator()
        let action = self.action(item, of: type, path: path, into: &problems)
        let exceptions = item.objectValue.flatMap { self.exceptions($0["exceptions"], path: "\(path).exceptions", into: &problems) }
        if strict {
            validator.append(problems.problems, prefix: "")
            guard problems.problems.isEmpty, let action else { return nil }
            return PolicyRule(action: action, exceptions: exceptions, json: item)
        }
        guard let action else { return notUnderstood(item, problems.problems.first.map { "`\($0.field)` \($0.message)" } ?? "unreadable") }
        return PolicyRule(action: action, exceptions: exceptions, json: item)
    }

    // MARK: Actions

    func action(_ item: JSONValue, of type: DataPolicyType, path: String, into validator: inout Validator) -> RuleAction? {
        guard let object = item.objectValue else {
            validator.add(path, "must be an object with a type and config, not \(item.typeName)")
            return nil
        }
        var fields = JSONFields(object, path: path, validator: validator)
        let ruleType = fields.string("type", required: true)
        validator = fields.validator
        guard let ruleType else { return nil }
        let allowed: [String] = switch type {
        case .masking: ["masking"]
        case .rowOrObjectRestriction: ["visibility", "where"]
        case .time: ["time"]
        case .minimization: ["minimization"]
        case .prerequisite: ["prerequisite"]
        }
        guard allowed.contains(ruleType) else {
            validator.add("\(path).type", "must be " + allowed.map { "\"\($0)\"" }.joined(separator: " or ") + " in a \(type.rawValue) policy")
            return nil
        }
        guard let config = object["config"]?.objectValue else {
            validator.add("\(path).config", object["config"] == nil || object["config"] == .null ? "is required" : "must be an object")
            return nil
        }
        let configPath = "\(path).config"
        switch ruleType {
        case "masking": return masking(config, path: configPath, into: &validator)
        case "visibility": return visibility(config, path: configPath, into: &validator)
        case "where":
            var configFields = JSONFields(config, path: configPath, validator: validator)
            let text = configFields.string("predicate", required: true)
            validator = configFields.validator
            guard let text else { return nil }
            return RowPredicate.parse(text, path: "\(configPath).predicate", columns: columns?.map(\.name), into: &validator).map(RuleAction.predicate)
        case "time": return time(config, path: configPath, into: &validator)
        case "minimization":
            var configFields = JSONFields(config, path: configPath, validator: validator)
            let percent = configFields.int("percent", required: true)
            let column = configFields.string("hashPhrase")
            validator = configFields.validator
            if let percent { validator.check((1...100).contains(percent), "\(configPath).percent", "must be 1 to 100") }
            let name = column.flatMap { self.column($0, path: "\(configPath).hashPhrase", into: &validator) }
            guard let percent, (1...100).contains(percent), column == nil || name != nil else { return nil }
            return .minimization(percent: percent, column: name)
        default:
            return prerequisite(config, path: configPath, into: &validator)
        }
    }

    func masking(_ config: [String: JSONValue], path: String, into validator: inout Validator) -> RuleAction? {
        var fields = JSONFields(config, path: path, validator: validator)
        let names = fields.array("fields")
        let predicateText = fields.string("conditionalPredicate")
        validator = fields.validator
        guard let names else {
            if config["fields"] == nil || config["fields"] == .null { validator.add("\(path).fields", "is required") }
            return nil
        }
        guard !names.isEmpty, names.count <= Self.maxFields else {
            validator.add("\(path).fields", names.isEmpty ? "must not be empty" : "must list at most \(Self.maxFields) \(global ? "tags" : "columns")")
            return nil
        }
        var targets: [(index: Int, name: String)] = []
        for (index, name) in names.enumerated() {
            // Global policies' clients send tags as objects (`{"name": "Discovered.Passport", "displayName": …}`).
            guard let text = name.stringValue ?? name.objectValue?["name"]?.stringValue else {
                validator.add("\(path).fields[\(index)]", "must be a name, or an object with a name, not \(name.typeName)")
                continue
            }
            if let resolved = column(text, path: "\(path).fields[\(index)]", into: &validator) { targets.append((index, resolved)) }
        }
        let method = maskingMethod(config["maskingConfig"], path: "\(path).maskingConfig", into: &validator)
        let condition = predicateText.flatMap { RowPredicate.parse($0, path: "\(path).conditionalPredicate", columns: columns?.map(\.name), into: &validator) }
        if let method, let columns, !global {
            for target in targets {
                if let column = columns.named(target.name), !method.applies(to: column.dataType) {
                    validator.add("\(path).fields[\(target.index)]", "is \(column.dataType), which \(method.actionType) masking cannot apply to")
                }
            }
        }
        guard let method, targets.count == names.count, predicateText == nil || condition != nil else { return nil }
        return .mask(columns: targets.map(\.name), method: method, when: condition)
    }

    func maskingMethod(_ value: JSONValue?, path: String, into validator: inout Validator) -> MaskingMethod? {
        guard let object = value?.objectValue else {
            validator.add(path, value == nil || value == .null ? "is required" : "must be an object with a type")
            return nil
        }
        var fields = JSONFields(object, path: path, validator: validator)
        let type = fields.string("type", required: true)
        validator = fields.validator
        let metadata: [String: JSONValue]
        switch object["metadata"] {
        case .none, .some(.null): metadata = [:]
        case .some(.object(let value)): metadata = value
        case .some(let other):
            validator.add("\(path).metadata", "must be an object, not \(other.typeName)")
            return nil
        }
        let metadataPath = "\(path).metadata"
        func constant() -> MaskingMethod? {
            switch metadata["constant"] {
            case .some(.null): return .null
            case .some(.string(let text)):
                guard text.utf8.count <= Self.maxConstantLength, !text.contains("\0") else {
                    validator.add("\(metadataPath).constant", "must be at most \(Self.maxConstantLength) bytes, without NUL")
                    return nil
                }
                return .constant(text)
            case .some(.int(let number)): return .constant(String(number))
            case .some(.double(let number)): return .constant(String(number))
            case .some(let other):
                validator.add("\(metadataPath).constant", "must be a string or null, not \(other.typeName)")
                return nil
            case .none: return nil
            }
        }
        switch type {
        case nil:
            return nil
        case "Consistent Value":
            return metadata["constant"] == nil ? .hash : constant()
        case "Hash":
            return .hash
        case "Null":
            return .null
        case "Constant":
            if metadata["constant"] == nil { validator.add("\(metadataPath).constant", "is required") }
            return constant()
        case "Regular Expression":
            var meta = JSONFields(metadata, path: metadataPath, validator: validator)
            let pattern = meta.string("regex", required: true)
            let replacement = meta.string("replacement") ?? ""
            let flags = meta.string("flags") ?? ""
            validator = meta.validator
            guard let pattern else { return nil }
            guard pattern.count <= Self.maxRegexLength, (try? NSRegularExpression(pattern: pattern)) != nil else {
                validator.add("\(metadataPath).regex", "must be a valid regular expression of at most \(Self.maxRegexLength) characters")
                return nil
            }
            guard flags.allSatisfy({ $0 == "g" || $0 == "i" }) else {
                validator.add("\(metadataPath).flags", "may hold only g (every match) and i (ignore case)")
                return nil
            }
            guard replacement.count <= Self.maxConstantLength, !replacement.contains("\0") else {
                validator.add("\(metadataPath).replacement", "must be at most \(Self.maxConstantLength) characters, without NUL")
                return nil
            }
            return .regex(pattern: pattern, replacement: replacement, global: flags.contains("g"), caseInsensitive: flags.contains("i"))
        case "Grouping":
            let bucket: Double? = switch metadata["bucketSize"] {
            case .some(.int(let value)): Double(value)
            case .some(.double(let value)): value
            default: nil
            }
            let precision = metadata["timePrecision"]?.stringValue
            switch (bucket, precision) {
            case (let size?, nil) where size > 0 && size.isFinite:
                return .bucket(size)
            case (nil, let name?):
                guard let precision = MaskingMethod.TimePrecision(rawValue: name) else {
                    validator.add("\(metadataPath).timePrecision", "must be one of: year, month, day, hour")
                    return nil
                }
                return .truncate(precision)
            default:
                validator.add(metadataPath, "must have either a positive bucketSize or a timePrecision")
                return nil
            }
        case "Reversible":
            return .reversible
        case let other?:
            validator.add("\(path).type", "\"\(other)\" is not a masking type: use Consistent Value, Hash, Null, Constant, "
                          + "Regular Expression, Grouping or Reversible")
            return nil
        }
    }

    func visibility(_ config: [String: JSONValue], path: String, into validator: inout Validator) -> RuleAction? {
        guard let (op, conditions) = qualifications(config, path: path, into: &validator) else { return nil }
        var parsed: [VisibilityCondition] = []
        for (index, item) in conditions.enumerated() {
            let itemPath = "\(path).qualifications.conditions[\(index)]"
            guard let object = item.objectValue else {
                validator.add(itemPath, "must be an object, not \(item.typeName)")
                continue
            }
            var fields = JSONFields(object, path: itemPath, validator: validator)
            let type = fields.string("type", required: true)
            let field = fields.string("field", required: true)
            validator = fields.validator
            guard let type, let field, let name = column(field, path: "\(itemPath).field", into: &validator) else { continue }
            switch type {
            case "authorizations", "attributes":
                let key = object["authorization"]?.objectValue?["auth"]?.stringValue ?? object["attribute"]?.objectValue?["auth"]?.stringValue
                guard let key, !key.isEmpty else {
                    validator.add("\(itemPath).authorization.auth", "is required")
                    continue
                }
                parsed.append(.attribute(key: key, column: name))
            case "groups":
                parsed.append(.groups(column: name))
            default:
                validator.add("\(itemPath).type", "must be authorizations or groups")
            }
        }
        guard parsed.count == conditions.count else { return nil }
        return .visibility(op: op, conditions: parsed)
    }

    func time(_ config: [String: JSONValue], path: String, into validator: inout Validator) -> RuleAction? {
        var fields = JSONFields(config, path: path, validator: validator)
        let seconds = fields.int("filterSeconds", required: true)
        let direction = fields.string("isOlderOrNewer") ?? "newer"
        let columnName = fields.string("eventTimeColumn")
        validator = fields.validator
        let maxSeconds = 200 * 365 * 86_400
        if let seconds { validator.check((1...maxSeconds).contains(seconds), "\(path).filterSeconds", "must be 1 to \(maxSeconds)") }
        validator.check(direction == "newer" || direction == "older", "\(path).isOlderOrNewer", "must be \"newer\" or \"older\"")
        var column: String?
        if let columnName {
            column = self.column(columnName, path: "\(path).eventTimeColumn", into: &validator, asColumn: true)
            if let column, let known = columns?.named(column), TypeFamily(known.dataType) != .time {
                validator.add("\(path).eventTimeColumn", "is \(known.dataType), not a date or timestamp")
                return nil
            }
        }
        guard let seconds, (1...maxSeconds).contains(seconds), direction == "newer" || direction == "older", columnName == nil || column != nil else {
            return nil
        }
        return .time(seconds: seconds, newer: direction == "newer", column: column)
    }

    func prerequisite(_ config: [String: JSONValue], path: String, into validator: inout Validator) -> RuleAction? {
        guard let (op, conditions) = qualifications(config, path: path, into: &validator) else { return nil }
        var purposes: [String] = []
        for (index, item) in conditions.enumerated() {
            let itemPath = "\(path).qualifications.conditions[\(index)]"
            guard let object = item.objectValue, object["type"]?.stringValue == "purposes" else {
                validator.add("\(itemPath).type", "must be purposes")
                continue
            }
            guard let purpose = Self.purposeName(object), Text.isPrintable(purpose, maxLength: 255) else {
                validator.add("\(itemPath).value", "must name a purpose")
                continue
            }
            purposes.append(purpose)
        }
        guard purposes.count == conditions.count else { return nil }
        return .prerequisite(op: op, purposes: purposes)
    }

    /// `{"value": "Name"}` or `{"purpose": {"name": "Name"}}`.
    static func purposeName(_ object: [String: JSONValue]) -> String? {
        object["value"]?.stringValue ?? object["purpose"]?.objectValue?["name"]?.stringValue
    }

    func qualifications(_ config: [String: JSONValue], path: String,
                        into validator: inout Validator) -> (LogicalOperator, [JSONValue])? {
        guard let object = config["qualifications"]?.objectValue else {
            validator.add("\(path).qualifications", config["qualifications"] == nil ? "is required" : "must be an object with operator and conditions")
            return nil
        }
        var fields = JSONFields(object, path: "\(path).qualifications", validator: validator)
        let name = fields.string("operator") ?? "and"
        let conditions = fields.array("conditions")
        validator = fields.validator
        guard let op = LogicalOperator(rawValue: name.lowercased()) else {
            validator.add("\(path).qualifications.operator", "must be \"and\" or \"or\"")
            return nil
        }
        guard let conditions, !conditions.isEmpty, conditions.count <= Self.maxConditions else {
            validator.add("\(path).qualifications.conditions", "must list 1 to \(Self.maxConditions) conditions")
            return nil
        }
        return (op, conditions)
    }

    /// A column (local) or tag (global) a rule names, checked against what is known.
    func column(_ name: String, path: String, into validator: inout Validator, asColumn: Bool = false) -> String? {
        if global, !asColumn {
            guard let tag = try? TagName(name) else {
                validator.add(path, TagName.problem(in: name).map { "must name a tag, and \($0)" } ?? "must name a tag")
                return nil
            }
            return tag.value
        }
        guard !name.isEmpty, name.utf8.count <= 1024, !name.contains("\0") else {
            validator.add(path, "must name a column")
            return nil
        }
        guard let columns else { return name }
        guard let column = columns.named(name) else {
            validator.add(path, "the data source has no column \(name)")
            return nil
        }
        return column.name
    }

    // MARK: Exceptions

    func exceptions(_ value: JSONValue?, path: String, into validator: inout Validator) -> PolicyExceptions? {
        guard let value, value != .null else { return nil }
        guard let object = value.objectValue else {
            validator.add(path, "must be null or an object with operator and conditions")
            return nil
        }
        let op = LogicalOperator(rawValue: object["operator"]?.stringValue?.lowercased() ?? "or")
        if op == nil { validator.add("\(path).operator", "must be \"and\" or \"or\"") }
        guard let items = object["conditions"]?.arrayValue, !items.isEmpty, items.count <= Self.maxConditions else {
            validator.add("\(path).conditions", "must list 1 to \(Self.maxConditions) conditions")
            return nil
        }
        var conditions: [ExceptionCondition] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path).conditions[\(index)]"
            let object = item.objectValue ?? [:]
            switch object["type"]?.stringValue {
            case "groups":
                if let name = object["group"]?.objectValue?["name"]?.stringValue, !name.isEmpty {
                    conditions.append(.group(name))
                    continue
                }
                validator.add("\(itemPath).group.name", "is required")
            case "authorizations", "attributes":
                let authorization = object["authorization"]?.objectValue ?? object["attribute"]?.objectValue
                if let key = authorization?["auth"]?.stringValue, !key.isEmpty {
                    let value = authorization?["value"]?.stringValue
                    conditions.append(.attribute(key: key, value: value.flatMap { $0.isEmpty ? nil : $0 }))
                    continue
                }
                validator.add("\(itemPath).authorization.auth", "is required")
            case "purposes":
                if let purpose = Self.purposeName(object), !purpose.isEmpty {
                    conditions.append(.purpose(purpose))
                    continue
                }
                validator.add("\(itemPath).value", "must name a purpose")
            default:
                validator.add("\(itemPath).type", "must be groups, authorizations or purposes")
            }
            if !strict { conditions.append(.notUnderstood(String(describing: item).prefix(200).description)) }
        }
        return PolicyExceptions(op: op ?? .or, conditions: conditions)
    }

    // MARK: Circumstances

    /// `circumstances`: absent is everywhere, `null` where applied, a list the conditions.
    public func scope(_ value: JSONValue?, path: String, into validator: inout Validator) -> PolicyScope {
        guard let value else { return .everywhere }
        guard case .array(let items) = value else {
            if value != .null { validator.add(path, "must be null or an array of circumstances") }
            return .whereApplied
        }
        guard items.count <= Self.maxConditions else {
            validator.add(path, "must list at most \(Self.maxConditions) circumstances")
            return .whereApplied
        }
        if items.isEmpty { return .everywhere }
        var parsed: [(op: LogicalOperator, circumstance: Circumstance)] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            let object = item.objectValue ?? [:]
            guard let op = LogicalOperator(rawValue: object["operator"]?.stringValue?.lowercased() ?? "or") else {
                validator.add("\(itemPath).operator", "must be \"and\" or \"or\"")
                continue
            }
            func tag(_ key: String) -> TagName? {
                guard let name = object[key]?.objectValue?["name"]?.stringValue, let tag = try? TagName(name) else {
                    validator.add("\(itemPath).\(key).name", "must name a tag")
                    return nil
                }
                return tag
            }
            switch object["type"]?.stringValue {
            case "tags":
                if let tag = tag("tag") { parsed.append((op, .sourceTag(tag))) }
            case "columnTags":
                if let tag = tag("columnTag") { parsed.append((op, .columnTag(tag))) }
            case "columnRegex":
                let regex = object["columnRegex"]?.objectValue
                guard let pattern = regex?["regex"]?.stringValue, pattern.count <= Self.maxRegexLength,
                      (try? NSRegularExpression(pattern: pattern)) != nil else {
                    validator.add("\(itemPath).columnRegex.regex", "must be a valid regular expression of at most \(Self.maxRegexLength) characters")
                    continue
                }
                let caseInsensitive: Bool
                switch regex?["caseInsensitive"] {
                case .none, .some(.null): caseInsensitive = false
                case .some(.bool(let value)): caseInsensitive = value
                default:
                    validator.add("\(itemPath).columnRegex.caseInsensitive", "must be a boolean")
                    continue
                }
                parsed.append((op, .columnRegex(pattern: pattern, caseInsensitive: caseInsensitive)))
            case "time":
                func date(_ key: String) -> Date?? {
                    switch object[key] {
                    case .none, .some(.null): return .some(nil)
                    case .some(.string(let text)):
                        if let date = ISODate.parse(text) { return .some(date) }
                        fallthrough
                    default:
                        validator.add("\(itemPath).\(key)", "must be an ISO 8601 date and time")
                        return nil
                    }
                }
                guard let start = date("startDate"), let end = date("endDate") else { continue }
                if let start, let end, end <= start {
                    validator.add("\(itemPath).endDate", "must be after startDate")
                    continue
                }
                parsed.append((op, .time(start: start, end: end)))
            default:
                validator.add("\(itemPath).type", "must be tags, columnTags, columnRegex or time")
            }
        }
        return .when(parsed)
    }
}
