import Foundation

/// A data object as the metastore keeps it.
public struct StoredDataObject: Sendable, Equatable {
    public var path: DataObjectPath
    public var overrides: DataObjectOverrides
    /// Whether the last crawl that covered it found it in the warehouse.
    public var present: Bool
    /// A table's columns as last crawled, when they were read (containers: nil), and their fingerprint.
    public var columns: [RemoteColumn]?
    public var fingerprint: String?
    public var dataSourceId: Int64?
    public var active: Bool

    public init(path: DataObjectPath, overrides: DataObjectOverrides, present: Bool = true, columns: [RemoteColumn]? = nil,
                fingerprint: String? = nil, dataSourceId: Int64? = nil, active: Bool = true) {
        self.path = path
        self.overrides = overrides
        self.present = present
        self.columns = columns
        self.fingerprint = fingerprint
        self.dataSourceId = dataSourceId
        self.active = active
    }
}

/// A table as a crawl read it: its fingerprint, which is what a re-crawl compares, and its columns (read only for
/// new and changed tables: empty otherwise).
public struct CrawledTable: Sendable, Equatable {
    public var columns: [RemoteColumn]
    public var fingerprint: String

    public init(columns: [RemoteColumn], fingerprint: String) {
        self.columns = columns
        self.fingerprint = fingerprint
    }
}

/// Object sync: how a crawl's findings and the settings change the stored hierarchy and its data sources. Pure, so
/// the rules are tested by tables; the store applies a plan in one transaction.
public enum ObjectSync {
    /// What a crawl changes under `root`. `found` holds every database, schema and table the crawl saw (tables with
    /// their columns; containers with nil). Objects under a container the crawl skipped are left as they are.
    public struct CrawlPlan: Sendable, Equatable {
        public var inserted: [StoredDataObject] = []
        /// Objects found again (true) or no longer found (false).
        public var presence: [(path: DataObjectPath, present: Bool)] = []
        /// Tables whose columns changed.
        public var columns: [(path: DataObjectPath, table: CrawledTable)] = []
        /// Tables whose fingerprint changed but not their columns (a change to the table that is not about them).
        public var fingerprints: [(path: DataObjectPath, fingerprint: String)] = []

        public init() {}

        public var isEmpty: Bool { inserted.isEmpty && presence.isEmpty && columns.isEmpty && fingerprints.isEmpty }

        public static func == (lhs: CrawlPlan, rhs: CrawlPlan) -> Bool {
            lhs.inserted == rhs.inserted && lhs.presence.map(\.path) == rhs.presence.map(\.path)
                && lhs.presence.map(\.present) == rhs.presence.map(\.present)
                && lhs.columns.map(\.path) == rhs.columns.map(\.path) && lhs.columns.map(\.table) == rhs.columns.map(\.table)
                && lhs.fingerprints.map(\.path) == rhs.fingerprints.map(\.path)
        }
    }

    /// `stored` holds the root's lineage and every stored object under it; `skipped` the containers not crawled
    /// (inactive ones, unless the crawl was forced recursive).
    public static func plan(root: DataObjectPath, found: [DataObjectPath: CrawledTable?], stored: [DataObjectPath: StoredDataObject],
                            skipped: Set<DataObjectPath> = []) -> CrawlPlan {
        var plan = CrawlPlan()
        func isSkipped(_ path: DataObjectPath) -> Bool { path.lineage.dropLast().contains { skipped.contains($0) } }
        var overrides = stored.mapValues(\.overrides)
        // Parents before children, so a new child reads its new parent's settings.
        for path in found.keys.sorted(by: { ($0.segments.count, $0) < ($1.segments.count, $1) })
        where root.contains(path) && path != root && !isSkipped(path) {
            let table = found[path] ?? nil
            if let existing = stored[path] {
                if !existing.present { plan.presence.append((path, true)) }
                if let table, existing.fingerprint != table.fingerprint {
                    // The stored columns, when the caller read them, tell a change of columns from one of something else.
                    if existing.columns == table.columns { plan.fingerprints.append((path, table.fingerprint)) } else { plan.columns.append((path, table)) }
                }
                continue
            }
            let parent = EffectiveSettings(chain: path.parent!.lineage.map { overrides[$0] ?? DataObjectOverrides() })
            // A new child of an object that does not activate new children arrives inactive, as its own setting.
            let own = parent.activateNewChildren ? DataObjectOverrides() : DataObjectOverrides(isActive: false)
            overrides[path] = own
            plan.inserted.append(StoredDataObject(path: path, overrides: own, present: true, columns: table?.columns, fingerprint: table?.fingerprint,
                                                  active: false))
        }
        for (path, object) in stored.sorted(by: { $0.key < $1.key })
        where root.contains(path) && path != root && object.present && found[path] == nil && !isSkipped(path) {
            plan.presence.append((path, false))
        }
        return plan
    }

    /// What the objects' settings and presence make of their states and data sources.
    public struct Reconciliation: Sendable, Equatable {
        /// Objects whose state changes.
        public var states: [DataObjectPath: Bool] = [:]
        /// Active tables without a data source: create one.
        public var create: [DataObjectPath] = []
        /// Data sources to disable (their table inactive or gone) and to enable again.
        public var disable: [Int64] = []
        public var enable: [Int64] = []

        public init() {}
    }

    /// `objects` is every object of one connection; `disabled` the disabled state of their data sources.
    public static func reconcile(_ objects: [DataObjectPath: StoredDataObject], disabled: [Int64: Bool]) -> Reconciliation {
        var result = Reconciliation()
        for path in objects.keys.sorted() {
            let object = objects[path]!
            let state = isActive(path, objects)
            if state != object.active { result.states[path] = state }
            guard path.kind == .table else { continue }
            switch (state, object.dataSourceId) {
            case (true, nil): result.create.append(path)
            case (true, let id?) where disabled[id] == true: result.enable.append(id)
            case (false, let id?) where disabled[id] == false: result.disable.append(id)
            default: break
            }
        }
        return result
    }

    /// An object is active when it and every ancestor are present and the nearest `isActive` set on the way up (itself
    /// first) is true; none set: active.
    static func isActive(_ path: DataObjectPath, _ objects: [DataObjectPath: StoredDataObject]) -> Bool {
        var setting: Bool? = nil
        for ancestor in path.lineage.reversed() {
            guard let object = objects[ancestor] else { continue }
            if !object.present { return false }
            if setting == nil { setting = object.overrides.isActive }
        }
        return setting ?? true
    }
}

/// What a crawl reads from one database: its schemas, each table's fingerprint (a value that changes whenever its
/// columns may have: on PostgreSQL the versions of its catalog rows, elsewhere a digest of the columns), which a
/// re-crawl compares first, and, when read, their columns in catalog order.
public struct RemoteCatalog: Sendable, Equatable {
    public var schemas: [String]
    public var fingerprints: [TableReference: String]
    /// Every table's columns (`Connector.catalog`), or none (`Connector.catalogFingerprints`).
    public var tables: [TableReference: [RemoteColumn]]

    public init(schemas: [String], fingerprints: [TableReference: String], tables: [TableReference: [RemoteColumn]]) {
        self.schemas = schemas
        self.fingerprints = fingerprints
        self.tables = tables
    }
}
