/// What keeps the memberships of `policy`-governed data sources true to their policies: given the policies, the
/// users as the policies see them and the current memberships, which memberships end and which begin. Pure; the
/// store reads the inputs and writes the outcome in the transaction of the change that called for it.
public enum SubscriptionReconciliation {
    /// One user's standing on one data source.
    public struct Pair: Hashable, Sendable {
        public var dataSourceId: Int64
        public var userId: Int64

        public init(dataSourceId: Int64, userId: Int64) {
            self.dataSourceId = dataSourceId
            self.userId = userId
        }
    }

    /// A user's current membership of a data source.
    public struct Member: Equatable, Sendable {
        public var subscriptionId: Int64
        public var state: MemberState
        public var origin: SubscriptionOrigin

        public init(subscriptionId: Int64, state: MemberState, origin: SubscriptionOrigin) {
            self.subscriptionId = subscriptionId
            self.state = state
            self.origin = origin
        }
    }

    /// A user as the policies see them.
    public struct User: Sendable {
        public var subject: SubscriptionSubject
        public var disabled: Bool

        public init(subject: SubscriptionSubject, disabled: Bool) {
            self.subject = subject
            self.disabled = disabled
        }
    }

    public struct Outcome: Equatable, Sendable {
        /// Memberships that end, with the state they had.
        public var revoked: [(Pair, Member)] = []
        /// Users who become subscribers (origin `policy`).
        public var added: [Pair] = []

        public static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.added == rhs.added && lhs.revoked.map(\.0) == rhs.revoked.map(\.0) && lhs.revoked.map(\.1) == rhs.revoked.map(\.1)
        }
    }

    /// A subscriber or a waiting requester the policy no longer admits loses access, unless an owner granted it.
    /// A user the policy admits and who has no membership gains one when the policy subscribes automatically and
    /// the user is not disabled. Owners, experts and ingest users are never touched: their standing is an owner's
    /// decision. The order is that of the inputs (sources, then users by id), so that outcomes are reproducible.
    public static func decide(policies: [(dataSourceId: Int64, policy: SubscriptionPolicy)], users: [Int64: User],
                              members: [Pair: Member]) -> Outcome {
        var outcome = Outcome()
        let userIds = users.keys.sorted()
        for (dataSourceId, policy) in policies {
            for userId in userIds {
                guard let user = users[userId] else { continue }
                let pair = Pair(dataSourceId: dataSourceId, userId: userId)
                let admitted = policy.admits(user.subject)
                if let member = members[pair] {
                    if !admitted, member.origin != .owner, member.state == .subscribed || member.state == .pending {
                        outcome.revoked.append((pair, member))
                    }
                } else if admitted, policy.subscribesAutomatically, !user.disabled {
                    outcome.added.append(pair)
                }
            }
        }
        return outcome
    }
}
