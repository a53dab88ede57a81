import Foundation
import Testing
import WardenDomain

/// The native view of one source with a policy of every kind, rendered for each warehouse and compared with the files
/// under `NativeViews/` (`WARDEN_UPDATE_GOLDEN=1` rewrites them). A change to a view's SQL shows in review as a diff.
@Suite struct NativeViewGoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("NativeViews")

    static func view(_ warehouse: NativeView.Warehouse, columns: [PolicyColumn]? = nil, values: [String]? = nil) -> NativeView {
        let columns = columns ?? [
            PolicyColumn(name: "id", dataType: "bigint"), PolicyColumn(name: "email", dataType: "text", tags: [try! TagName("PII.Email")]),
            PolicyColumn(name: "ssn", dataType: "text"), PolicyColumn(name: "name", dataType: "text"), PolicyColumn(name: "Nick \"Name\"; --", dataType: "text"),
            PolicyColumn(name: "salary", dataType: "numeric"), PolicyColumn(name: "born", dataType: "date"), PolicyColumn(name: "state", dataType: "text"),
            PolicyColumn(name: "dept", dataType: "text"), PolicyColumn(name: "created_at", dataType: "timestamp"), PolicyColumn(name: "token", dataType: "text"),
        ]
        func rule(_ action: RuleAction, _ exceptions: PolicyExceptions? = nil) -> PolicyRule {
            PolicyRule(action: action, exceptions: exceptions, json: .null)
        }
        var validator = Validator()
        let owner = RowPredicate.parse("dept = 'HR' OR name = @username", path: "p", columns: nil, into: &validator)!
        let when = RowPredicate.parse("state = 'CA' AND @hasAttribute('Clearance', 'High')", path: "p", columns: nil, into: &validator)!
        let rules: [PolicyRule]
        if let values {
            // One constant mask per column, each value its own: the hostile-value property.
            rules = zip(columns, values).map { rule(.mask(columns: [$0.name], method: .constant($1), when: nil)) }
        } else {
            rules = [
                rule(.mask(columns: ["email"], method: .hash, when: nil), PolicyExceptions(op: .or, conditions: [.group("HQ"), .purpose("Audit")])),
                rule(.mask(columns: ["ssn"], method: .null, when: nil), PolicyExceptions(op: .and, conditions: [.attribute(key: "Clearance", value: nil)])),
                rule(.mask(columns: ["name"], method: .regex(pattern: "[0-9]", replacement: "#", global: true, caseInsensitive: false), when: nil)),
                rule(.mask(columns: ["Nick \"Name\"; --"], method: .regex(pattern: "^(.)", replacement: "\\1*", global: false, caseInsensitive: true), when: nil)),
                rule(.mask(columns: ["salary"], method: .bucket(10_000), when: nil)),
                rule(.mask(columns: ["born"], method: .truncate(.year), when: when)),
                rule(.mask(columns: ["token"], method: .reversible, when: nil)),
                rule(.mask(columns: ["dept"], method: .constant("it's \\ redacted"), when: nil)),
                rule(.visibility(op: .or, conditions: [.attribute(key: "State", column: "state"), .groups(column: "dept")])),
                rule(.predicate(owner), PolicyExceptions(op: .or, conditions: [.attribute(key: "Role", value: "Admin")])),
                rule(.time(seconds: 86_400 * 90, newer: true, column: "created_at")),
                rule(.minimization(percent: 25, column: "id")),
                rule(.prerequisite(op: .or, purposes: ["Research.Health", "Audit"])),
            ]
        }
        let policy = DataPolicy(id: 1, kind: .local(dataSourceId: 42), name: "every kind",
                                entries: [PolicyEntry(type: .masking, typeName: "masking", rules: rules, description: nil)], createdAt: Date(timeIntervalSince1970: 0))
        return NativeView(warehouse: warehouse, dataSourceId: 42, table: TableReference(schema: "Sales", table: "people; --"),
                          viewSchema: "warden", viewName: "People", target: PolicyTarget(dataSourceId: 42, columns: columns), policies: [policy],
                          subjects: [.init(role: "alice", username: "alice", groups: ["HQ"], attributes: ["State": ["CA"]], purposes: [], subscribed: true),
                                     .init(role: "Bob \"B\"", username: "bob", groups: [], attributes: [:], purposes: ["Audit"], subscribed: true),
                                     .init(role: "carol", username: "carol", groups: [], attributes: [:], purposes: [], subscribed: false)])
    }

    static func rendered(_ view: NativeView) -> String {
        (view.setup + view.viewStatements).map { $0 + ";" }.joined(separator: "\n\n") + "\n"
    }

    @Test(arguments: [NativeView.Warehouse.postgresql, .redshift])
    func eachWarehouseRendersItsGoldenView(warehouse: NativeView.Warehouse) throws {
        let file = Self.directory.appendingPathComponent("every-kind.\(warehouse.rawValue).sql")
        let text = Self.rendered(Self.view(warehouse))
        if ProcessInfo.processInfo.environment["WARDEN_UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: file, encoding: .utf8)
        #expect(text == golden, "the rendered view differs from \(file.lastPathComponent); WARDEN_UPDATE_GOLDEN=1 rewrites it")
    }

    @Test func neitherViewHoldsAKeyAndRedshiftFailsClosedWhereItCannotMask() {
        let redshift = Self.view(.redshift)
        let definition = redshift.definition
        #expect(!definition.contains("security_barrier"))
        #expect(redshift.viewStatements.contains { $0.hasSuffix("WITH NO SCHEMA BINDING") })
        #expect(definition.contains("SHA2((SELECT k.salt FROM warden_system.source_keys k WHERE k.data_source_id = 42) || "))
        // Reversible and a first-match-only regular expression cannot be computed on Redshift: NULL, never the value.
        #expect(definition.contains(#"CASE WHEN TRUE THEN CAST(NULL AS VARCHAR(65535)) ELSE CAST(t."token" AS VARCHAR(65535)) END"#))
        #expect(definition.contains(#"CASE WHEN TRUE THEN CAST(NULL AS VARCHAR(65535)) ELSE CAST(t."Nick ""Name""; --" AS VARCHAR(65535)) END"#))
        #expect(definition.contains(#"'it''s \\ redacted'"#), "Redshift literals double backslashes")
        // explain says so, for each mask Redshift cannot compute.
        let firstOnly = MaskingMethod.regex(pattern: "a", replacement: "b", global: false, caseInsensitive: false)
        #expect(NativeView.Warehouse.redshift.failsClosed(.reversible) != nil && NativeView.Warehouse.redshift.failsClosed(firstOnly) != nil)
        #expect(NativeView.Warehouse.redshift.failsClosed(.hash) == nil)
        #expect([MaskingMethod.reversible, firstOnly, .hash].allSatisfy { NativeView.Warehouse.postgresql.failsClosed($0) == nil })
        let postgres = Self.view(.postgresql)
        #expect(postgres.viewStatements.contains { $0.contains("WITH (security_barrier)") })
        #expect(postgres.definition.contains(#"'it''s \ redacted'"#), "PostgreSQL literals are standard-conforming")
        for view in [redshift, postgres] {
            #expect(view.grantees == ["Bob \"B\"", "alice"])
            #expect(view.viewStatements.contains(#"GRANT SELECT ON "warden"."People" TO "Bob ""B""""#))
            #expect(!view.viewStatements.contains { $0.contains("carol") }, "an unsubscribed role gets no grant")
        }
    }

    @Test func namesPastTheWarehouseLimitAreRefused() {
        let long = String(repeating: "é", count: 40)
        #expect(Self.view(.postgresql).problem(withName: long) == "is longer than 63 bytes")
        #expect(Self.view(.redshift).problem(withName: long) == nil)
        #expect(Self.view(.redshift).problem(withName: long + long) == "is longer than 127 bytes")
        #expect(Self.view(.postgresql).problem(withName: "a\u{0}b") == "holds a NUL character")
        #expect(NativeView.folded("Warden", "People") == NativeView.folded("warden", "PEOPLE"))
    }
}
