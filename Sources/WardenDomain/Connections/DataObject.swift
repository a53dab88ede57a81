import Foundation

/// Where a data object sits in a connection's hierarchy: the connection key, then the database, schema and table
/// names as the warehouse spells them (`["prod", "sales", "public", "orders"]`).
public struct DataObjectPath: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var segments: [String]

    public init(_ segments: [String]) { self.segments = segments }

    public var connectionKey: String { segments[0] }
    public var kind: DataObjectKind { DataObjectKind.allCases[segments.count - 1] }
    public var parent: DataObjectPath? { segments.count > 1 ? DataObjectPath(Array(segments.dropLast())) : nil }
    public var name: String { segments[segments.count - 1] }
    /// This path and every ancestor, the connection first.
    public var lineage: [DataObjectPath] { (1...segments.count).map { DataObjectPath(Array(segments.prefix($0))) } }

    public func child(_ name: String) -> DataObjectPath { DataObjectPath(segments + [name]) }

    public func contains(_ other: DataObjectPath) -> Bool {
        other.segments.count >= segments.count && Array(other.segments.prefix(segments.count)) == segments
    }

    public var description: String { segments.joined(separator: "/") }

    public static func < (lhs: DataObjectPath, rhs: DataObjectPath) -> Bool { lhs.segments.lexicographicallyPrecedes(rhs.segments) }

    /// A path from URL segments (already percent-decoded one by one): 1 to 4 names, each 1 to 255 characters without
    /// control characters, so it means one object whatever the names hold (spaces, dots, slashes encoded as %2F).
    public static func parse(_ segments: [String]) throws(WardenError) -> DataObjectPath {
        guard (1...DataObjectKind.allCases.count).contains(segments.count) else {
            throw WardenError.badRequest("An object path has 1 to 4 names (connection, database, schema, table); this one has \(segments.count)",
                                         code: .requestValidationFailed)
        }
        for segment in segments where !Text.isPrintable(segment, maxLength: 255) {
            throw WardenError.badRequest("Every name of an object path must be 1 to 255 printable characters", code: .requestValidationFailed)
        }
        return DataObjectPath(segments)
    }
}

public enum DataObjectKind: String, Sendable, CaseIterable {
    case connection, database, schema, table
}

/// A user or group named in a data object's settings.
public struct SettingsPrincipal: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable { case user, group }
    public var id: Int64
    public var type: Kind

    public init(id: Int64, type: Kind) {
        self.id = id
        self.type = type
    }
}

/// The settings an object sets for itself and its descendants. On the connection every one is set; below it, only
/// those that differ from the parent (the documented `overrides`).
public struct DataObjectOverrides: Sendable, Equatable {
    public var isActive: Bool?
    public var activateNewChildren: Bool?
    public var dataOwners: [SettingsPrincipal]?
    public var infrastructureAdmins: [SettingsPrincipal]?

    public init(isActive: Bool? = nil, activateNewChildren: Bool? = nil, dataOwners: [SettingsPrincipal]? = nil,
                infrastructureAdmins: [SettingsPrincipal]? = nil) {
        self.isActive = isActive
        self.activateNewChildren = activateNewChildren
        self.dataOwners = dataOwners
        self.infrastructureAdmins = infrastructureAdmins
    }

    public static let keys = ["isActive", "activateNewChildren", "dataOwners", "infrastructureAdmins"]

    /// The names of the settings this object sets, in the documented order.
    public var names: [String] {
        [isActive.map { _ in "isActive" }, activateNewChildren.map { _ in "activateNewChildren" }, dataOwners.map { _ in "dataOwners" },
         infrastructureAdmins.map { _ in "infrastructureAdmins" }].compactMap { $0 }
    }

    /// `other`'s settings laid over these: owners and admins are added, never removed.
    public func merging(_ other: DataObjectOverrides) -> DataObjectOverrides {
        DataObjectOverrides(isActive: other.isActive ?? isActive, activateNewChildren: other.activateNewChildren ?? activateNewChildren,
                            dataOwners: Self.union(dataOwners, other.dataOwners),
                            infrastructureAdmins: Self.union(infrastructureAdmins, other.infrastructureAdmins))
    }

    public static func union(_ first: [SettingsPrincipal]?, _ second: [SettingsPrincipal]?) -> [SettingsPrincipal]? {
        guard let second else { return first }
        var seen = Set(first ?? [])
        return (first ?? []) + second.filter { seen.insert($0).inserted }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [:]
        if let isActive { object["isActive"] = .bool(isActive) }
        if let activateNewChildren { object["activateNewChildren"] = .bool(activateNewChildren) }
        if let dataOwners { object["dataOwners"] = Self.json(dataOwners) }
        if let infrastructureAdmins { object["infrastructureAdmins"] = Self.json(infrastructureAdmins) }
        return .object(object)
    }

    static func json(_ principals: [SettingsPrincipal]) -> JSONValue {
        .array(principals.map { .object(["id": .int($0.id), "type": .string($0.type.rawValue)]) })
    }

    /// Parses `{isActive?, activateNewChildren?, dataOwners?, infrastructureAdmins?}`, reporting problems under `path`.
    public static func parse(_ value: JSONValue?, path: String, into validator: inout Validator) -> DataObjectOverrides {
        guard let value, value != .null else { return DataObjectOverrides() }
        guard let object = value.objectValue else {
            validator.add(path, "must be an object")
            return DataObjectOverrides()
        }
        var fields = JSONFields(object, path: path, validator: validator)
        var overrides = DataObjectOverrides(isActive: fields.bool("isActive"), activateNewChildren: fields.bool("activateNewChildren"))
        for unknown in object.keys.sorted() where !keys.contains(unknown) {
            fields.validator.add("\(path).\(unknown)", "is not a setting (isActive, activateNewChildren, dataOwners, infrastructureAdmins)")
        }
        for key in ["dataOwners", "infrastructureAdmins"] {
            guard let items = fields.array(key) else { continue }
            var principals: [SettingsPrincipal] = []
            for (index, item) in items.enumerated() {
                guard case .object(let entry) = item, case .int(let id)? = entry["id"], id > 0,
                      let type = entry["type"]?.stringValue.flatMap(SettingsPrincipal.Kind.init(rawValue:)) else {
                    fields.validator.add("\(path).\(key)[\(index)]", "must be {\"id\": a positive integer, \"type\": \"user\" or \"group\"}")
                    continue
                }
                let principal = SettingsPrincipal(id: id, type: type)
                if !principals.contains(principal) { principals.append(principal) }
            }
            if key == "dataOwners" { overrides.dataOwners = principals } else { overrides.infrastructureAdmins = principals }
        }
        validator = fields.validator
        return overrides
    }

    /// Reads what `json` wrote (stored settings; trusted).
    public static func decode(_ value: JSONValue) -> DataObjectOverrides {
        var validator = Validator()
        return parse(value, path: "stored", into: &validator)
    }
}

/// One object's settings in force: its own overrides laid over its ancestors', the connection's first.
public struct EffectiveSettings: Sendable, Equatable {
    public var isActive: Bool
    public var activateNewChildren: Bool
    public var dataOwners: [SettingsPrincipal]
    public var infrastructureAdmins: [SettingsPrincipal]

    public init(chain: [DataObjectOverrides]) {
        let merged = chain.reduce(DataObjectOverrides()) { $0.merging($1) }
        isActive = merged.isActive ?? true
        activateNewChildren = merged.activateNewChildren ?? true
        dataOwners = merged.dataOwners ?? []
        infrastructureAdmins = merged.infrastructureAdmins ?? []
    }

    /// The documented `settings` object; `overridden` names the settings some descendant overrides.
    public func json(overriddenBelow overridden: Set<String>) -> JSONValue {
        func setting(_ name: String, _ value: JSONValue) -> JSONValue {
            .object(["value": value, "hasDescendantsWithOverrides": .bool(overridden.contains(name))])
        }
        return .object([
            "isActive": setting("isActive", .bool(isActive)),
            "activateNewChildren": setting("activateNewChildren", .bool(activateNewChildren)),
            "dataOwners": setting("dataOwners", DataObjectOverrides.json(dataOwners)),
            "infrastructureAdmins": setting("infrastructureAdmins", DataObjectOverrides.json(infrastructureAdmins)),
        ])
    }
}
