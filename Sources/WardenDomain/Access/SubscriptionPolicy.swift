import Foundation

/// How users come to be subscribed to a data source.
public enum SubscriptionType: String, Sendable, CaseIterable, Codable {
    /// Anyone may subscribe.
    case automatic
    /// Anyone may ask; the request waits for approvals.
    case approval
    /// Only those meeting the policy's conditions may subscribe (after approvals, when it has any).
    case policy
    /// Only the data source's owners add members.
    case manual

    /// The type with its article, for messages ("an automatic", "a policy").
    var withArticle: String {
        switch self {
        case .automatic, .approval: "an \(rawValue)"
        case .policy, .manual: "a \(rawValue)"
        }
    }
}

/// What happens when a user or group asks to subscribe.
public enum SubscriptionDecision: Sendable, Equatable {
    /// Access at once.
    case subscribe
    /// A pending request waiting for these approvals.
    case request([ApprovalRequirement])
    /// A sentence for `denialReasoning`.
    case refuse(reason: String)
}

/// A data source's subscription policy: who may subscribe, and how.
public struct SubscriptionPolicy: Sendable, Equatable {
    public var type: SubscriptionType
    /// For `policy`: users who meet the conditions get access without asking, when no approvals are needed.
    public var automaticSubscription: Bool
    /// For `policy`: whether users who do not meet the conditions may still find the source.
    public var allowDiscovery: Bool
    /// Whether the policy merges (with OR) with other subscription policies on the same source.
    public var shareResponsibility: Bool
    public var approvals: [ApprovalRequirement]
    /// The `exceptions` conditions, for `policy`.
    public var exceptions: SubscriptionCondition?
    /// The `advanced` conditions, for `policy`.
    public var advanced: SubscriptionCondition?
    public var description: String?

    public init(type: SubscriptionType, automaticSubscription: Bool = true, allowDiscovery: Bool = false, shareResponsibility: Bool = false,
                approvals: [ApprovalRequirement] = [], exceptions: SubscriptionCondition? = nil, advanced: SubscriptionCondition? = nil,
                description: String? = nil) {
        self.type = type
        self.automaticSubscription = automaticSubscription
        self.allowDiscovery = allowDiscovery
        self.shareResponsibility = shareResponsibility
        self.approvals = approvals
        self.exceptions = exceptions
        self.advanced = advanced
        self.description = description
    }

    /// Warden's default for a data source registered without a policy: manual (only owners add members; secure by default).
    public static let `default` = SubscriptionPolicy(type: .manual)

    /// The most approvals one policy may require.
    public static let maxApprovals = 10

    // MARK: - Rules

    /// The condition a subject must meet: exceptions AND advanced when both are given, either alone, or nil.
    public var condition: SubscriptionCondition? {
        switch (exceptions, advanced) {
        case (let exceptions?, let advanced?): .all([exceptions, advanced])
        case (let exceptions?, nil): exceptions
        case (nil, let advanced?): advanced
        case (nil, nil): nil
        }
    }

    /// Whether users who are not members may find the source in search: false only for `policy` without allowDiscovery.
    public var isDiscoverable: Bool { type != .policy || allowDiscovery }

    /// Whether the subject meets the policy's condition (true when there is none, and for types other than `policy`).
    public func admits(_ subject: SubscriptionSubject) -> Bool {
        guard type == .policy, let condition else { return true }
        return condition.isSatisfied(by: subject)
    }

    /// What happens when `subject` asks to subscribe.
    public func decide(for subject: SubscriptionSubject) -> SubscriptionDecision {
        switch type {
        case .automatic:
            return .subscribe
        case .approval:
            return .request(approvals.isEmpty ? [.owner] : approvals)
        case .policy:
            guard admits(subject) else {
                let text = condition?.advancedText ?? ""
                return .refuse(reason: "The requester does not meet the subscription policy: \(text)")
            }
            return approvals.isEmpty ? .subscribe : .request(approvals)
        case .manual:
            return .refuse(reason: "Only the data source's owners can add members (manual subscription policy)")
        }
    }

    /// Whether the policy subscribes admitted users without being asked (type policy with automaticSubscription and no approvals).
    public var subscribesAutomatically: Bool { type == .policy && automaticSubscription && approvals.isEmpty }

    // MARK: - JSON

    /// The canonical API form: always `type` ("subscription"), `subscriptionType`, `automaticSubscription`, `allowDiscovery` and
    /// `shareResponsibility`; `approvals` when non-empty; `exceptions` in its object form and `advanced` as text when set;
    /// `description` when set. `parse(json) == self` for every policy `parse` returns.
    ///
    /// Exceptions that have no object form (a NOT, nested AND/OR) are written into `advanced` instead, ANDed with it,
    /// which keeps their meaning though not their place.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string("subscription"),
            "subscriptionType": .string(type.rawValue),
            "automaticSubscription": .bool(automaticSubscription),
            "allowDiscovery": .bool(allowDiscovery),
            "shareResponsibility": .bool(shareResponsibility),
        ]
        if !approvals.isEmpty { object["approvals"] = .array(approvals.map(\.json)) }
        var advancedCondition = advanced
        if let exceptions {
            if let form = exceptions.exceptionsJSON {
                object["exceptions"] = form
            } else {
                advancedCondition = advanced.map { .all([exceptions, $0]) } ?? exceptions
            }
        }
        if let advancedCondition { object["advanced"] = .string(advancedCondition.advancedText) }
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    /// Parses the API form. Unknown keys are ignored; known keys of the wrong type, unknown enum values, invalid
    /// conditions and combinations that would be ignored silently are reported together in one 400 with their paths.
    /// Purpose conditions are `notImplemented`.
    ///
    /// Without `subscriptionType` the type is inferred: approvals → approval, conditions → policy, otherwise automatic.
    public static func parse(_ value: JSONValue, path: String) throws(WardenError) -> SubscriptionPolicy {
        func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        var validator = Validator()
        guard let object = value.objectValue else {
            validator.add(path, "must be an object, not \(value.typeName)")
            try validator.finish()
            return .default
        }

        var fields = JSONFields(object, path: path, validator: validator)
        if let marker = fields.string("type") {
            fields.validator.check(marker == "subscription", field("type"), "must be \"subscription\"")
        }
        let typeName = fields.string("subscriptionType")
        let automaticSubscription = fields.bool("automaticSubscription") ?? true
        let allowDiscovery = fields.bool("allowDiscovery") ?? false
        let shareResponsibility = fields.bool("shareResponsibility") ?? false
        let approvalItems = fields.array("approvals") ?? []
        let advancedText = fields.string("advanced")
        let description = fields.string("description")
        validator = fields.validator

        let approvals = ApprovalRequirement.parse(approvalItems, path: field("approvals"), into: &validator)
        let exceptionsValue = Self.given(object["exceptions"])
        var exceptions: SubscriptionCondition?
        if let exceptionsValue {
            exceptions = try SubscriptionCondition.parse(exceptions: exceptionsValue, path: field("exceptions"), into: &validator)
        }
        var advanced: SubscriptionCondition?
        if let advancedText {
            advanced = SubscriptionCondition.parse(advanced: advancedText, path: field("advanced"), into: &validator)
        }

        // Presence, not validity, decides the type, so that a malformed condition is reported as such.
        let advancedGiven = Self.given(object["advanced"]) != nil
        let hasConditions = exceptionsValue != nil || advancedGiven
        let type: SubscriptionType?
        if let typeName {
            type = SubscriptionType(rawValue: typeName)
            validator.check(type != nil, field("subscriptionType"), "must be one of: automatic, approval, policy, manual")
        } else {
            type = !approvalItems.isEmpty ? .approval : hasConditions ? .policy : .automatic
        }
        switch type {
        case .policy?:
            validator.check(hasConditions, field("subscriptionType"),
                            "is policy, which needs exceptions or advanced to say who may subscribe")
        case let type?:
            let only = "only policy subscriptions have conditions"
            validator.check(exceptionsValue == nil, field("exceptions"),
                            "must not be given for \(type.withArticle) subscription policy; \(only)")
            validator.check(!advancedGiven, field("advanced"),
                            "must not be given for \(type.withArticle) subscription policy; \(only)")
            if type != .approval {
                validator.check(approvalItems.isEmpty, field("approvals"), "must be empty for \(type.withArticle) subscription policy; "
                                + "only approval and policy subscriptions have approvals")
            }
        case nil:
            break
        }
        try validator.finish()

        guard let type else { return .default } // unreachable: an unknown type is reported above
        return SubscriptionPolicy(
            type: type, automaticSubscription: automaticSubscription, allowDiscovery: allowDiscovery,
            shareResponsibility: shareResponsibility, approvals: type == .approval && approvals.isEmpty ? [.owner] : approvals,
            exceptions: exceptions, advanced: advanced, description: description)
    }

    /// A key's value unless it is missing or null.
    private static func given(_ value: JSONValue?) -> JSONValue? {
        if case .some(.null) = value { return nil }
        return value
    }
}
