import Foundation
import Testing
import WardenDomain

@Suite struct JobStateMachineTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    typealias Event = JobStateMachine.Event

    /// (state, event, attempts, maxAttempts) → (state, attempts, seconds until the retry), or nil when impossible.
    static let table: [(JobState, Event, Int, Int, (JobState, Int, TimeInterval?)?)] = [
        (.created, .claim, 0, 5, (.active, 1, nil)),
        (.retry, .claim, 2, 5, (.active, 3, nil)),
        (.active, .claim, 1, 5, (.active, 2, nil)),  // an expired lease taken over counts as another attempt
        (.active, .succeed, 1, 5, (.completed, 1, nil)),
        (.active, .fail(permanent: false), 1, 5, (.retry, 1, 2)),
        (.active, .fail(permanent: false), 3, 5, (.retry, 3, 8)),
        (.active, .fail(permanent: false), 9, 10, (.retry, 9, 300)),  // the backoff is capped at five minutes
        (.active, .fail(permanent: false), 5, 5, (.failed, 5, nil)),  // no attempts left
        (.active, .fail(permanent: true), 1, 5, (.failed, 1, nil)),  // waiting cannot help
        (.active, .wait, 3, 5, (.retry, 2, 1)),  // busy: soon again, the attempt not counted
        (.active, .wait, 5, 5, (.retry, 4, 1)),  // however many attempts were spent
        (.created, .cancel, 0, 5, (.cancelled, 0, nil)),
        (.retry, .cancel, 1, 5, (.cancelled, 1, nil)),
        (.active, .cancel, 1, 5, (.cancelled, 1, nil)),
        (.created, .succeed, 0, 5, nil),
        (.created, .fail(permanent: false), 0, 5, nil),
        (.retry, .wait, 1, 5, nil),
        (.retry, .succeed, 1, 5, nil),
        (.completed, .claim, 1, 5, nil),
        (.completed, .fail(permanent: false), 1, 5, nil),
        (.failed, .claim, 5, 5, nil),
        (.failed, .cancel, 5, 5, nil),
        (.cancelled, .claim, 0, 5, nil),
        (.expired, .claim, 0, 5, nil),
    ]

    @Test(arguments: table.indices)
    func eachEventMovesTheJobAsTheTableSays(row: Int) {
        let (state, event, attempts, maxAttempts, expected) = Self.table[row]
        let transition = JobStateMachine.transition(from: state, on: event, attempts: attempts, maxAttempts: maxAttempts, now: Self.now)
        #expect(transition == expected.map {
            JobStateMachine.Transition(state: $0.0, attempts: $0.1, runAfter: $0.2.map { Self.now.addingTimeInterval($0) })
        }, "\(state) on \(event)")
    }

    /// Every final state is final for every event.
    @Test(arguments: JobState.allCases.filter(\.isFinal))
    func aFinalJobNeverChanges(state: JobState) {
        for event: Event in [.claim, .succeed, .fail(permanent: false), .fail(permanent: true), .wait, .cancel] {
            #expect(JobStateMachine.transition(from: state, on: event, attempts: 1, maxAttempts: 5, now: Self.now) == nil)
        }
    }

    struct Unexpected: Error {}

    static let errors: [(String, any Error, Event?)] = [
        ("lease lost", WardenError(.conflict, code: .jobLeaseLost, message: "taken over"), nil),
        ("unreachable warehouse", WardenError(.badRequest, code: .warehouseUnreachable, message: "m", isTransient: true), .fail(permanent: false)),
        ("invalid identifier", WardenError(.badRequest, code: .warehouseInvalidIdentifier, message: "m"), .fail(permanent: true)),
        ("missing record", WardenError.notFound("gone", code: .dataSourceNotFound), .fail(permanent: true)),
        ("unavailable", WardenError(.unavailable, code: .warehouseShuttingDown, message: "m"), .fail(permanent: false)),
        ("unexpected", Unexpected(), .fail(permanent: false)),
        ("busy", WardenError(.unavailable, code: .jobBusy, message: "a refresh runs"), .wait),
    ]

    @Test(arguments: errors.indices)
    func aFailedRunIsRetriedOnlyWhenItsErrorSaysWaitingMayHelp(row: Int) {
        let (name, error, expected) = Self.errors[row]
        #expect(JobStateMachine.event(after: error) == expected, "\(name)")
    }
}

@Suite struct SubscriptionReconciliationTests {
    typealias R = SubscriptionReconciliation
    static let analysts = SubscriptionSubject.GroupRef(name: "analysts", iamid: "bim")
    static let inAnalysts = SubscriptionPolicy(type: .policy, automaticSubscription: true, advanced: .inGroup(name: "analysts", iam: nil))
    static let inAnalystsNotAutomatic = SubscriptionPolicy(type: .policy, automaticSubscription: false,
                                                           advanced: .inGroup(name: "analysts", iam: nil))

    static func user(inGroup: Bool, disabled: Bool = false) -> R.User {
        R.User(subject: SubscriptionSubject(groups: inGroup ? [analysts] : [], attributes: [:]), disabled: disabled)
    }

    static func member(_ state: MemberState, _ origin: SubscriptionOrigin) -> R.Member {
        R.Member(subscriptionId: 7, state: state, origin: origin)
    }

    enum Expected: Equatable { case revoked, added, untouched }

    /// (policy, user qualifies, user disabled, current membership) → what happens to that user on that source.
    static let table: [(String, SubscriptionPolicy, Bool, Bool, R.Member?, Expected)] = [
        ("qualifying newcomer joins", inAnalysts, true, false, nil, .added),
        ("disabled newcomer does not", inAnalysts, true, true, nil, .untouched),
        ("no automatic subscription", inAnalystsNotAutomatic, true, false, nil, .untouched),
        ("non-qualifying newcomer stays out", inAnalysts, false, false, nil, .untouched),
        ("qualifying member stays", inAnalysts, true, false, member(.subscribed, .policy), .untouched),
        ("policy member who left the group loses access", inAnalysts, false, false, member(.subscribed, .policy), .revoked),
        ("requester who left the group loses the request", inAnalysts, false, false, member(.pending, .request), .revoked),
        ("an owner's grant is left alone", inAnalysts, false, false, member(.subscribed, .owner), .untouched),
        ("an owner is never removed", inAnalysts, false, false, member(.owner, .request), .untouched),
        ("an expert is never removed", inAnalysts, false, false, member(.expert, .policy), .untouched),
        ("disabled members are judged by the policy alone", inAnalysts, true, true, member(.subscribed, .policy), .untouched),
    ]

    @Test(arguments: table.indices)
    func eachMembershipMovesAsTheTableSays(row: Int) {
        let (name, policy, qualifies, disabled, current, expected) = Self.table[row]
        let pair = R.Pair(dataSourceId: 1, userId: 10)
        let outcome = R.decide(policies: [(1, policy)], users: [10: Self.user(inGroup: qualifies, disabled: disabled)],
                               members: current.map { [pair: $0] } ?? [:])
        let actual: Expected = outcome.added == [pair] ? .added : outcome.revoked.map(\.0) == [pair] ? .revoked : .untouched
        #expect(actual == expected, "\(name)")
        #expect(outcome.added.count + outcome.revoked.count <= 1, "\(name)")
    }

    /// Several sources and users at once: each pair is decided on its own, in a reproducible order.
    @Test func manySourcesAndUsersAreDecidedPairByPairInOrder() {
        let users: [Int64: R.User] = [3: Self.user(inGroup: true), 1: Self.user(inGroup: false), 2: Self.user(inGroup: true)]
        let members = [R.Pair(dataSourceId: 20, userId: 1): Self.member(.subscribed, .policy)]
        let outcome = R.decide(policies: [(20, Self.inAnalysts), (10, Self.inAnalysts)], users: users, members: members)
        #expect(outcome.added == [R.Pair(dataSourceId: 20, userId: 2), R.Pair(dataSourceId: 20, userId: 3),
                                  R.Pair(dataSourceId: 10, userId: 2), R.Pair(dataSourceId: 10, userId: 3)])
        #expect(outcome.revoked.map(\.0) == [R.Pair(dataSourceId: 20, userId: 1)])
    }
}
