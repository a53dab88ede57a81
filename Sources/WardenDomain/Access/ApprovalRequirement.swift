import Foundation

/// One approval an access request needs before the requester is subscribed: from a data source owner,
/// or from anyone holding a permission, optionally narrowed to one specific user.
public struct ApprovalRequirement: Sendable, Equatable, Hashable {
    /// Who may approve: the data source's owners, or holders of an application permission.
    public enum Approver: Sendable, Equatable, Hashable {
        case owner
        case permission(Permission)
    }

    public var approver: Approver
    /// Whether only `specificApprover` may give this approval.
    public var specificApproverRequired: Bool
    /// A user's profile id.
    public var specificApprover: Int64?

    public init(approver: Approver, specificApproverRequired: Bool = false, specificApprover: Int64? = nil) {
        self.approver = approver
        self.specificApproverRequired = specificApproverRequired
        self.specificApprover = specificApprover
    }

    /// An approval by any of the data source's owners: what an approval policy without approvals asks for.
    public static let owner = ApprovalRequirement(approver: .owner)

    /// "OWNER" or the permission's raw value, as the API spells it.
    public var requiredPermission: String {
        switch approver {
        case .owner: "OWNER"
        case .permission(let permission): permission.rawValue
        }
    }

    /// Parses "OWNER"/"Owner"/"owner" or any Permission raw value (case-insensitive); nil otherwise.
    public static func approver(named name: String) -> Approver? {
        let upper = name.uppercased()
        if upper == "OWNER" { return .owner }
        return Permission(rawValue: upper).map(Approver.permission)
    }

    /// The names `approver(named:)` accepts, for error messages.
    static let approverNames = "OWNER, " + Permission.allNames

    /// `{"requiredPermission": "...", "specificApproverRequired": bool, "specificApprover": id|null}`
    public var json: JSONValue {
        .object([
            "requiredPermission": .string(requiredPermission),
            "specificApproverRequired": .bool(specificApproverRequired),
            "specificApprover": specificApprover.map(JSONValue.int) ?? .null,
        ])
    }

    /// Approvals from client JSON, every problem added to `validator` under `path` (e.g. `subscriptionPolicy.approvals`).
    static func parse(_ items: [JSONValue], path: String, into validator: inout Validator) -> [ApprovalRequirement] {
        validator.check(items.count <= SubscriptionPolicy.maxApprovals, path,
                        "must have at most \(SubscriptionPolicy.maxApprovals) approvals, not \(items.count)")
        var requirements: [ApprovalRequirement] = []
        var firstIndex: [ApprovalRequirement: Int] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let object = item.objectValue else {
                validator.add(itemPath, "must be an object with requiredPermission, not \(item.typeName)")
                continue
            }
            var fields = JSONFields(object, path: itemPath, validator: validator)
            let permissionName = fields.string("requiredPermission", required: true)
            let specificRequired = fields.bool("specificApproverRequired") ?? false
            let specificApprover = fields.int("specificApprover")
            validator = fields.validator

            var approver: Approver?
            if let permissionName, !permissionName.isEmpty {
                approver = Self.approver(named: permissionName)
                validator.check(approver != nil, "\(itemPath).requiredPermission", "must be one of: \(approverNames)")
            }
            // A required specific approver left unnamed is named by each requester when they subscribe.
            if let specificApprover {
                validator.check(specificApprover > 0, "\(itemPath).specificApprover", "must be a user's profile id (a positive integer)")
            }
            guard let approver, specificApprover.map({ $0 > 0 }) ?? true else { continue }

            let requirement = ApprovalRequirement(approver: approver, specificApproverRequired: specificRequired,
                                                  specificApprover: specificApprover.map(Int64.init))
            if let earlier = firstIndex[requirement] {
                validator.add(itemPath, "repeats \(path)[\(earlier)]; each approval must be different")
                continue
            }
            firstIndex[requirement] = index
            requirements.append(requirement)
        }
        return requirements
    }
}
