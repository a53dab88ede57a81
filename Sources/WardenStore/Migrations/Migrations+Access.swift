import Foundation

extension Migrations {
    /// Subscriptions as the access loop needs them. `data_source_members` is rebuilt because a member may now be a
    /// group (so `user_id` becomes nullable, which SQLite cannot alter in place); ids are kept, so subscription ids
    /// handed out before stay valid.
    /// - `origin` says how a member got in (`owner`: added by an owner, `request`: subscribed or approved,
    ///   `policy`: subscribed by a policy), so a policy re-evaluation removes only what a policy granted or allowed.
    /// - `subscription_approvals` holds one row per approval step of a request, so "who may approve" is a query.
    /// - `tasks` are requests to data source owners (access requests, query help, later unmasking and schema changes),
    ///   with `task_targets` naming the users asked when a task is addressed to people rather than to a permission.
    static let createAccess = Migration(id: 7, name: "CreateSubscriptionsApprovalsAndTasks") { ddl in
        var statements = [
            "ALTER TABLE data_sources ADD COLUMN subscription_type TEXT NOT NULL DEFAULT 'manual'",
            "ALTER TABLE data_sources ADD COLUMN subscription_policy TEXT",
            "ALTER TABLE data_sources ADD COLUMN discoverable BOOLEAN NOT NULL DEFAULT TRUE",
            "CREATE INDEX data_sources_subscription_type ON data_sources (subscription_type)",
            "ALTER TABLE data_source_members RENAME TO data_source_members_v1",
            """
            CREATE TABLE data_source_members (
                id \(ddl.autoId),
                data_source_id BIGINT NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
                user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
                group_id BIGINT REFERENCES user_groups (id) ON DELETE CASCADE,
                state TEXT NOT NULL,
                origin TEXT NOT NULL,
                approved BOOLEAN NOT NULL,
                admin_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
                expiration BIGINT,
                metadata TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                CHECK ((user_id IS NULL AND group_id IS NOT NULL) OR (user_id IS NOT NULL AND group_id IS NULL))
            )
            """,
            """
            INSERT INTO data_source_members (id, data_source_id, user_id, state, origin, approved, created_at, updated_at)
            SELECT id, data_source_id, user_id, state, 'owner', state <> 'pending', created_at, updated_at FROM data_source_members_v1
            """,
            "DROP TABLE data_source_members_v1",
            "CREATE UNIQUE INDEX data_source_members_source_user ON data_source_members (data_source_id, user_id)",
            "CREATE UNIQUE INDEX data_source_members_source_group ON data_source_members (data_source_id, group_id)",
            "CREATE INDEX data_source_members_user ON data_source_members (user_id)",
            "CREATE INDEX data_source_members_group ON data_source_members (group_id)",
            "CREATE INDEX data_source_members_expiration ON data_source_members (expiration)",
            """
            CREATE TABLE subscription_approvals (
                subscription_id BIGINT NOT NULL REFERENCES data_source_members (id) ON DELETE CASCADE,
                step INTEGER NOT NULL,
                required_permission TEXT NOT NULL,
                specific_approver_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
                state TEXT NOT NULL,
                approver_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
                reason TEXT,
                decided_at BIGINT,
                PRIMARY KEY (subscription_id, step)
            )
            """,
            "CREATE INDEX subscription_approvals_pending ON subscription_approvals (state, required_permission)",
            """
            CREATE TABLE tasks (
                id \(ddl.autoId),
                type TEXT NOT NULL,
                state TEXT NOT NULL,
                data_source_id BIGINT NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
                requester_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                subscription_id BIGINT REFERENCES data_source_members (id) ON DELETE SET NULL,
                reason TEXT,
                metadata TEXT,
                outcome TEXT,
                handled_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                completed_at BIGINT
            )
            """,
            "CREATE INDEX tasks_requester ON tasks (requester_id, state)",
            "CREATE INDEX tasks_data_source ON tasks (data_source_id, state)",
            "CREATE UNIQUE INDEX tasks_subscription ON tasks (subscription_id)",
            """
            CREATE TABLE task_targets (
                task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                PRIMARY KEY (task_id, user_id)
            )
            """,
            "CREATE INDEX task_targets_user ON task_targets (user_id)",
        ]
        if ddl.kind == .postgresql {
            // Rows were copied with their ids; the identity must continue after them.
            statements.insert("""
                SELECT setval(pg_get_serial_sequence('data_source_members', 'id'), COALESCE((SELECT MAX(id) FROM data_source_members), 0) + 1, false)
                """, at: statements.firstIndex(of: "DROP TABLE data_source_members_v1")!)
        }
        return statements
    }
}
