/// The filters of `GET /bim/user`.
public struct UserSearch: Sendable, Equatable {
    public enum SortField: String, Sendable, CaseIterable {
        case name, createdAt, iamid, email, username, userid, lastLogin
    }

    public var name: String?
    public var email: String?
    public var userid: String?
    public var permission: Permission?
    public var includeDisabled: Bool
    public var excludeSystemGenerated: Bool
    public var sortField: SortField
    public var sortOrder: SortOrder
    public var paging: Paging

    public init(name: String? = nil, email: String? = nil, userid: String? = nil, permission: Permission? = nil,
                includeDisabled: Bool = false, excludeSystemGenerated: Bool = false,
                sortField: SortField = .name, sortOrder: SortOrder = .asc, paging: Paging = Paging(size: 25, offset: 0)) {
        self.name = name
        self.email = email
        self.userid = userid
        self.permission = permission
        self.includeDisabled = includeDisabled
        self.excludeSystemGenerated = excludeSystemGenerated
        self.sortField = sortField
        self.sortOrder = sortOrder
        self.paging = paging
    }
}

/// One page of results and the total that matched.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var count: Int

    public init(items: [Item], count: Int) {
        self.items = items
        self.count = count
    }
}
