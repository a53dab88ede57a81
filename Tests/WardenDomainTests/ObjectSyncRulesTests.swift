import Foundation
import Testing
import WardenDomain

/// Object sync's rules, by tables: what a crawl changes, and what settings and presence make of states and sources.
@Suite struct ObjectSyncRulesTests {
    static func path(_ text: String) -> DataObjectPath { DataObjectPath(text.split(separator: "/").map(String.init)) }
    static let column = RemoteColumn(name: "id", remoteType: "integer", baseType: "int4", nullable: false)
    static let other = RemoteColumn(name: "name", remoteType: "text", baseType: "text", nullable: true)

    static func object(_ text: String, _ overrides: DataObjectOverrides = .init(), present: Bool = true, columns: [RemoteColumn]? = nil,
                       fingerprint: String? = nil, unread: Bool = false, source: Int64? = nil, active: Bool = true) -> StoredDataObject {
        let path = path(text)
        let columns = columns ?? (path.kind == .table ? [column] : nil)
        return StoredDataObject(path: path, overrides: overrides, present: present, columns: unread ? nil : columns,
                                fingerprint: fingerprint ?? columns.map { table($0).fingerprint }, dataSourceId: source, active: active)
    }

    static func stored(_ objects: [StoredDataObject]) -> [DataObjectPath: StoredDataObject] {
        Dictionary(uniqueKeysWithValues: objects.map { ($0.path, $0) })
    }

    static let base = [object("c", .init(isActive: true, activateNewChildren: true)), object("c/db"), object("c/db/s"), object("c/db/s/t")]

    /// A crawled table whose fingerprint is its column names.
    static func table(_ columns: [RemoteColumn]) -> CrawledTable {
        CrawledTable(columns: columns, fingerprint: columns.map(\.name).joined(separator: ","))
    }

    static func found(_ entries: [(String, [RemoteColumn]?)]) -> [DataObjectPath: CrawledTable?] {
        Dictionary(uniqueKeysWithValues: entries.map { (path($0.0), $0.1.map(table)) })
    }

    static let unchanged = found([("c/db", nil), ("c/db/s", nil), ("c/db/s/t", [column])])

    struct PlanCase: Sendable, CustomTestStringConvertible {
        var name: String
        var stored: [StoredDataObject]
        var found: [DataObjectPath: CrawledTable?]
        var root = "c"
        var skipped: [String] = []
        var inserted: [(String, isActive: Bool?)] = []
        var presence: [(String, Bool)] = []
        var columns: [String] = []
        var fingerprints: [String] = []
        var testDescription: String { name }
    }

    static let planCases: [PlanCase] = [
        PlanCase(name: "nothing changed: an empty plan", stored: base, found: unchanged),
        PlanCase(name: "a new table under an activating parent has no override", stored: base,
                 found: unchanged.merging(found([("c/db/s/u", [column])])) { a, _ in a }, inserted: [("c/db/s/u", nil)]),
        PlanCase(name: "a new table under a parent that does not activate new children arrives inactive",
                 stored: base.map { $0.path == path("c/db/s") ? object("c/db/s", .init(activateNewChildren: false)) : $0 },
                 found: unchanged.merging(found([("c/db/s/u", [column])])) { a, _ in a }, inserted: [("c/db/s/u", false)]),
        PlanCase(name: "new schema and table: parents first, each inherits", stored: base,
                 found: unchanged.merging(found([("c/db/n", nil), ("c/db/n/u", [column])])) { a, _ in a },
                 inserted: [("c/db/n", nil), ("c/db/n/u", nil)]),
        PlanCase(name: "a table gone", stored: base, found: found([("c/db", nil), ("c/db/s", nil)]), presence: [("c/db/s/t", false)]),
        PlanCase(name: "a table back", stored: base.map { $0.path.kind == .table ? object("c/db/s/t", present: false) : $0 },
                 found: unchanged, presence: [("c/db/s/t", true)]),
        PlanCase(name: "a column added", stored: base, found: found([("c/db", nil), ("c/db/s", nil), ("c/db/s/t", [column, other])]),
                 columns: ["c/db/s/t"]),
        PlanCase(name: "another fingerprint, the same columns: only the fingerprint is recorded",
                 stored: base.map { $0.path.kind == .table ? object("c/db/s/t", fingerprint: "older") : $0 }, found: unchanged,
                 fingerprints: ["c/db/s/t"]),
        PlanCase(name: "another fingerprint, columns not read: taken as changed",
                 stored: base.map { $0.path.kind == .table ? object("c/db/s/t", fingerprint: "older", unread: true) : $0 }, found: unchanged,
                 columns: ["c/db/s/t"]),
        PlanCase(name: "outside the crawled root: untouched", stored: base + [object("c/db/x"), object("c/db/x/y")], found: unchanged,
                 root: "c/db/s"),
        PlanCase(name: "below a skipped (inactive) container: untouched", stored: base + [object("c/db/x", active: false), object("c/db/x/y")],
                 found: unchanged.merging(found([("c/db/x", nil), ("c/db/x/z", [column])])) { a, _ in a }, skipped: ["c/db/x"]),
    ]

    @Test(arguments: planCases)
    func crawlPlans(_ test: PlanCase) {
        let plan = ObjectSync.plan(root: Self.path(test.root), found: test.found, stored: Self.stored(test.stored),
                                   skipped: Set(test.skipped.map(Self.path)))
        #expect(plan.inserted.map(\.path) == test.inserted.map { Self.path($0.0) })
        #expect(plan.inserted.map(\.overrides.isActive) == test.inserted.map(\.isActive))
        #expect(plan.presence.map(\.path) == test.presence.map { Self.path($0.0) })
        #expect(plan.presence.map(\.present) == test.presence.map(\.1))
        #expect(plan.columns.map(\.path) == test.columns.map(Self.path))
        #expect(plan.fingerprints.map(\.path) == test.fingerprints.map(Self.path))
        #expect(plan.isEmpty == (test.inserted.isEmpty && test.presence.isEmpty && test.columns.isEmpty && test.fingerprints.isEmpty))
    }

    struct StateCase: Sendable, CustomTestStringConvertible {
        var name: String
        var objects: [StoredDataObject]
        var disabled: [Int64: Bool] = [:]
        var active: [String]
        var create: [String] = []
        var disable: [Int64] = []
        var enable: [Int64] = []
        var testDescription: String { name }
    }

    static let stateCases: [StateCase] = [
        StateCase(name: "all active: the table gets a source", objects: base, active: ["c", "c/db", "c/db/s", "c/db/s/t"], create: ["c/db/s/t"]),
        StateCase(name: "an inactive schema deactivates its tables and disables their sources",
                  objects: [base[0], base[1], object("c/db/s", .init(isActive: false)), object("c/db/s/t", source: 7)], disabled: [7: false],
                  active: ["c", "c/db"], disable: [7]),
        StateCase(name: "the nearest setting wins: a table set active under an inactive schema",
                  objects: [base[0], base[1], object("c/db/s", .init(isActive: false)), object("c/db/s/t", .init(isActive: true), source: 7)],
                  disabled: [7: true], active: ["c", "c/db", "c/db/s/t"], enable: [7]),
        StateCase(name: "a table gone is inactive whatever its settings", objects: [base[0], base[1], base[2], object("c/db/s/t", present: false, source: 7)],
                  disabled: [7: false], active: ["c", "c/db", "c/db/s"], disable: [7]),
        StateCase(name: "a schema gone takes its tables", objects: [base[0], base[1], object("c/db/s", present: false), object("c/db/s/t")],
                  active: ["c", "c/db"]),
        StateCase(name: "an inactive connection deactivates everything",
                  objects: [object("c", .init(isActive: false, activateNewChildren: true)), base[1], base[2], base[3]], active: []),
        StateCase(name: "an enabled source of an active table stays as it is", objects: [base[0], base[1], base[2], object("c/db/s/t", source: 7)],
                  disabled: [7: false], active: ["c", "c/db", "c/db/s", "c/db/s/t"]),
    ]

    @Test(arguments: stateCases)
    func statesAndSources(_ test: StateCase) {
        // Stored states are the opposite of the expected ones, so every object shows up as changed.
        let expected = Set(test.active.map(Self.path))
        let objects = test.objects.map { object in
            var object = object
            object.active = !expected.contains(object.path)
            return object
        }
        let result = ObjectSync.reconcile(Self.stored(objects), disabled: test.disabled)
        #expect(Set(result.states.filter(\.value).keys) == expected)
        #expect(result.states.count == objects.count)
        #expect(result.create == test.create.map(Self.path))
        #expect(result.disable == test.disable)
        #expect(result.enable == test.enable)
    }

    @Test func settingsInForceLayerTheChainAndOnlyAddPeople() {
        let alice = SettingsPrincipal(id: 1, type: .user)
        let team = SettingsPrincipal(id: 1, type: .group)
        let settings = EffectiveSettings(chain: [
            DataObjectOverrides(isActive: true, activateNewChildren: true, dataOwners: [alice], infrastructureAdmins: [alice]),
            DataObjectOverrides(isActive: false, dataOwners: [team, alice]),
            DataObjectOverrides(),
        ])
        #expect(settings == EffectiveSettings(chain: [DataObjectOverrides(isActive: false, activateNewChildren: true, dataOwners: [alice, team],
                                                                          infrastructureAdmins: [alice])]))
        let json = settings.json(overriddenBelow: ["isActive"])
        #expect(json.objectValue?["isActive"] == .object(["value": .bool(false), "hasDescendantsWithOverrides": .bool(true)]))
        #expect(json.objectValue?["dataOwners"]?.objectValue?["value"] == .array([
            .object(["id": .int(1), "type": .string("user")]), .object(["id": .int(1), "type": .string("group")]),
        ]))
    }

    @Test func overridesAreParsedStrictly() {
        var validator = Validator()
        let parsed = DataObjectOverrides.parse(.object([
            "isActive": .string("yes"), "dataOwners": .array([.object(["id": .int(0), "type": .string("user")]), .string("x")]),
            "color": .string("red"),
        ]), path: "overrides", into: &validator)
        #expect(Set(validator.problems.map(\.field)) == ["overrides.isActive", "overrides.dataOwners[0]", "overrides.dataOwners[1]", "overrides.color"])
        #expect(parsed.dataOwners == [])
        var fine = Validator()
        let good = DataObjectOverrides.parse(.object(["activateNewChildren": .bool(false)]), path: "overrides", into: &fine)
        #expect(fine.problems.isEmpty)
        #expect(good.names == ["activateNewChildren"])
        #expect(DataObjectOverrides.decode(good.json) == good)
    }

    @Test(arguments: [([String](), false), (["c"], true), (["c", "d", "s", "t"], true), (["c", "d", "s", "t", "x"], false),
                      (["c", ""], false), (["c", "a\u{1}b"], false), (["c", "Sales.EU", "Orders 2024 ü"], true)])
    func objectPaths(_ segments: [String], valid: Bool) {
        #expect(((try? DataObjectPath.parse(segments)) != nil) == valid)
    }
}
