public import Foundation

/// Which relationships of a data source `GET /dataSource/{id}/lineage/{type}` returns.
public enum LineageType: String, Sendable, CaseIterable {
    case parents, children, all
}

/// One recorded derivation: `childId` is derived from `parentId`.
public struct LineageLink: Sendable, Equatable {
    public var parentId: Int64
    public var childId: Int64
    /// The user who recorded it, when they still exist.
    public var createdBy: Int64?
    public var createdByUserid: String?
    public var createdAt: Date

    public init(parentId: Int64, childId: Int64, createdBy: Int64?, createdByUserid: String?, createdAt: Date) {
        self.parentId = parentId
        self.childId = childId
        self.createdBy = createdBy
        self.createdByUserid = createdByUserid
        self.createdAt = createdAt
    }
}

/// A relationship seen from one data source: the link, the data source at its other end, and the caller's
/// standing on that source (so the route can hide sources the caller may not know of).
public struct LineageEntry: Sendable, Equatable {
    public var link: LineageLink
    public var other: DataSource
    public var callerState: MemberState?

    public init(link: LineageLink, other: DataSource, callerState: MemberState?) {
        self.link = link
        self.other = other
        self.callerState = callerState
    }
}
