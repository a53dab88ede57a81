/// Attributes ("authorizations") as the API shows them: each key maps to its distinct values, sorted.
public typealias AttributeMap = [String: [String]]

public enum Attributes {
    /// Builds a map from `(key, value)` pairs, removing duplicate values.
    public static func map(_ pairs: some Sequence<(key: String, value: String)>) -> AttributeMap {
        var result: [String: Set<String>] = [:]
        for pair in pairs { result[pair.key, default: []].insert(pair.value) }
        return result.mapValues { $0.sorted() }
    }

    /// A user's effective attributes: their own merged with those of every group they belong to.
    public static func merge(_ maps: [AttributeMap]) -> AttributeMap {
        map(maps.lazy.flatMap { map in map.lazy.flatMap { key, values in values.map { (key: key, value: $0) } } })
    }

    /// Attribute keys and values are free text, but bounded and printable.
    public static func validate(key: String, value: String?) throws(WardenError) {
        var validator = Validator()
        validator.check(Text.isPrintable(key, maxLength: 128), "key", "must be 1 to 128 printable characters")
        if let value {
            validator.check(Text.isPrintable(value, maxLength: 256), "value", "must be 1 to 256 printable characters")
        }
        try validator.finish()
    }
}
