import Foundation
import Testing
import WardenDomain

/// When a project's purposes count in a decision, by table: every condition must hold, and any one missing
/// leaves none.
@Suite struct ProjectContextTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var status: ProjectStatus = .open
        var state: MemberState? = .subscribed
        var acknowledged = true
        var expiration: Date?
        var includesDataSource = true
        var purposes = ["Research"]
        var counts: [String]
        var why: String?

        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "member who acknowledged, source in project", counts: ["Research"]),
        Case(name: "owner", state: .owner, counts: ["Research"]),
        Case(name: "expert", state: .expert, counts: ["Research"]),
        Case(name: "future expiration", expiration: now.addingTimeInterval(60), counts: ["Research"]),
        Case(name: "not a member", state: nil, counts: [], why: "not a member of project P"),
        Case(name: "pending member", state: .pending, counts: [], why: "not a member of project P"),
        Case(name: "expired membership", expiration: now, counts: [], why: "not a member of project P"),
        Case(name: "closed project", status: .closed, counts: [], why: "project P is closed"),
        Case(name: "not acknowledged", acknowledged: false, counts: [], why: "the purposes of project P are not acknowledged"),
        Case(name: "source not in project", includesDataSource: false, counts: [], why: "the data source is not in project P"),
        Case(name: "no purposes", purposes: [], counts: [], why: "project P has no purposes"),
    ]

    @Test(arguments: cases)
    func purposesCountOnlyWhenEveryConditionHolds(_ testCase: Case) {
        let project = Project(id: 1, name: "P", projectKey: "P", description: nil, documentation: nil, status: testCase.status,
                              purposes: testCase.purposes, allowMaskedJoins: false, createdBy: 1, createdAt: Self.now, updatedAt: Self.now)
        let member = testCase.state.map {
            ProjectMember(id: 1, projectId: 1, user: PersonSummary(id: 2, name: nil, email: nil), state: $0,
                          acknowledgedAt: testCase.acknowledged ? Self.now : nil, expiration: testCase.expiration,
                          createdAt: Self.now, updatedAt: Self.now)
        }
        let context = ProjectContext(project: project, member: member, includesDataSource: testCase.includesDataSource)
        #expect(context.purposes(at: Self.now) == testCase.counts)
        #expect(context.whyNoPurposes(at: Self.now) == testCase.why)
    }
}

/// Purpose restrictions by table: acting under a purpose or one below it satisfies a rule that asks for it.
@Suite struct PurposeRestrictionTests {
    @Test(arguments: [
        (LogicalOperator.or, ["Research"], ["Research"], true),
        (.or, ["Research"], ["Research.Clinical"], true),
        (.or, ["Research.Clinical"], ["Research"], false),
        (.or, ["Research"], ["ResearchX"], false),
        (.or, ["A", "B"], ["B"], true),
        (.and, ["A", "B"], ["B"], false),
        (.and, ["A", "B"], ["A.x", "B"], true),
        (.or, ["A"], [], false),
    ])
    func actingUnderSatisfiesWhatItShould(op: LogicalOperator, asked: [String], actingUnder: [String], satisfied: Bool) {
        #expect(PurposeRestriction(policyId: 1, op: op, purposes: asked).isSatisfied(byActingUnder: actingUnder) == satisfied)
    }
}
