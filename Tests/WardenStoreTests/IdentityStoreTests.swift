import Foundation
import Testing
import WardenDomain
import WardenStore
import WardenTestSupport

@Suite struct IdentityStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: TestMetastores.kinds)
    func migrationsAreIdempotent(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let again = try await metastore.migrate()

            #expect(again.isEmpty)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func duplicateUseridIsAConflict(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            _ = try await store.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)

            let error = await #expect(throws: WardenError.self) {
                _ = try await store.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            }

            #expect(error?.kind == .conflict)
            #expect(error?.code.rawValue == "user.conflict")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func userRoundTripsEveryField(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            let profile = UserProfile(name: "Alice", email: "alice@example.com", phone: "123", organization: "Org",
                                      externalUserIds: ["redshiftUser": "alice_rs", "postgresUser": "alice"])

            let created = try await store.createUser(NewUser(userid: "alice", profile: profile, permissions: [.audit, .governance]),
                                                     passwordHash: "h", now: now)
            let read = try #require(try await store.user(userid: "alice"))

            #expect(read == created)
            #expect(read.profile == profile)
            #expect(read.permissions == [.audit, .governance])
            #expect(read.createdAt == now)
            #expect(try await store.credentials(userid: "alice")?.passwordHash == "h")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func searchFiltersSortsAndPages(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            for (index, name) in ["Carol", "alice", "Bob", "Dave_x", "Eve%"].enumerated() {
                let permissions: [Permission] = index.isMultiple(of: 2) ? [.userAdmin] : []
                _ = try await store.createUser(NewUser(userid: name.lowercased(), profile: UserProfile(name: name, email: "\(name.lowercased())@example.com"),
                                                       permissions: permissions), passwordHash: nil, now: now.addingTimeInterval(Double(index)))
            }
            _ = try await store.setDisabled(userid: "bob", true, now: now)

            let all = try await store.searchUsers(UserSearch())
            let withDisabled = try await store.searchUsers(UserSearch(includeDisabled: true))
            let admins = try await store.searchUsers(UserSearch(permission: .userAdmin))
            let underscore = try await store.searchUsers(UserSearch(name: "_"))
            let percent = try await store.searchUsers(UserSearch(name: "%"))
            let newestFirst = try await store.searchUsers(UserSearch(sortField: .createdAt, sortOrder: .desc, paging: Paging(size: 2, offset: 1)))

            #expect(all.items.map(\.userid) == ["alice", "carol", "dave_x", "eve%"])
            #expect(withDisabled.count == 5)
            #expect(Set(admins.items.map(\.userid)) == ["carol", "eve%"])
            #expect(underscore.items.map(\.userid) == ["dave_x"])
            #expect(percent.items.map(\.userid) == ["eve%"])
            #expect(newestFirst.count == 4)
            #expect(newestFirst.items.map(\.userid) == ["dave_x", "alice"])
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func effectiveAttributesMergeOwnAndGroups(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            let alice = try await store.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let hr = try await store.createGroup(GroupChanges(name: "HR"), now: now)
            let membership = try await store.addMember(groupId: hr.id, userid: "alice", now: now)
            try await store.addAttribute(.user(alice.id), key: "Department", value: "Finance", now: now)
            try await store.addAttribute(.user(alice.id), key: "Department", value: "Finance", now: now)
            try await store.addAttribute(.group(hr.id), key: "Department", value: "HR", now: now)
            try await store.addAttribute(.group(hr.id), key: "Region", value: "EU", now: now)

            let details = try #require(try await store.details(userid: "alice"))

            #expect(details.ownAttributes == ["Department": ["Finance"]])
            #expect(details.effectiveAttributes == ["Department": ["Finance", "HR"], "Region": ["EU"]])
            #expect(details.groups.map(\.name) == ["HR"])

            _ = try await store.removeMember(groupId: hr.id, membershipId: membership.id, now: now)
            let after = try #require(try await store.details(userid: "alice"))

            #expect(after.effectiveAttributes == ["Department": ["Finance"]])
            #expect(after.groups.isEmpty)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func deletingAGroupRemovesItsMembershipsAndAttributes(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            _ = try await store.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let group = try await store.createGroup(GroupChanges(name: "alpha"), now: now)
            _ = try await store.addMember(groupId: group.id, userid: "alice", now: now)
            try await store.addAttribute(.group(group.id), key: "k", value: "v", now: now)

            _ = try await store.deleteGroup(id: group.id, now: now)

            #expect(try await store.group(id: group.id) == nil)
            #expect(try await store.details(userid: "alice")?.effectiveAttributes == [:])
            #expect(try await store.attributes(ofGroups: [group.id]).isEmpty)
            let recreated = try await store.createGroup(GroupChanges(name: "alpha"), now: now)
            #expect(try await store.members(groupId: recreated.id, paging: Paging(size: 10, offset: 0)).count == 0)
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func groupNamesAndMembershipsAreUnique(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            _ = try await store.createUser(NewUser(userid: "alice"), passwordHash: nil, now: now)
            let group = try await store.createGroup(GroupChanges(name: "alpha"), now: now)
            _ = try await store.addMember(groupId: group.id, userid: "alice", now: now)

            let duplicateGroup = await #expect(throws: WardenError.self) {
                _ = try await store.createGroup(GroupChanges(name: "alpha"), now: now)
            }
            let duplicateMember = await #expect(throws: WardenError.self) {
                _ = try await store.addMember(groupId: group.id, userid: "alice", now: now)
            }

            #expect(duplicateGroup?.code.rawValue == "group.conflict")
            #expect(duplicateMember?.code.rawValue == "group.member_conflict")
        }
    }

    @Test(arguments: TestMetastores.kinds)
    func concurrentCreationsLoseAndDuplicateNothing(kind: MetastoreKind) async throws {
        try await TestMetastores.withMetastore(kind) { metastore in
            let store = IdentityStore(metastore: metastore)
            let now = self.now

            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        _ = try await store.createUser(NewUser(userid: "user\(index)"), passwordHash: nil, now: now)
                        do {
                            _ = try await store.createUser(NewUser(userid: "same"), passwordHash: nil, now: now)
                            return 0
                        } catch let error as WardenError where error.kind == .conflict {
                            return 1
                        }
                    }
                }
                return try await group.reduce(0, +)
            }

            let page = try await store.searchUsers(UserSearch(paging: Paging(size: 1000, offset: 0)))
            #expect(page.count == 101)
            #expect(Set(page.items.map(\.userid)).count == 101)
            #expect(conflicts == 99)
        }
    }
}
