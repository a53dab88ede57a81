/// The catalog of error codes: each is stable and machine-readable, and means one thing. Clients see the raw
/// value in `code`; call sites name a member, never a literal, so a code cannot drift or be reused by accident.
extension WardenError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// The code of an HTTP status the framework answered with (405, say), for statuses no route names.
        public static func http(_ status: Int) -> Code { Code("http.\(status)") }


        public static let apikeyNotFound = Code("apikey.not_found")

        public static let attributeNotFound = Code("attribute.not_found")
        public static let attributeValueRequired = Code("attribute.value_required")

        public static let authForbidden = Code("auth.forbidden")
        public static let authInvalidApikey = Code("auth.invalid_apikey")
        public static let authInvalidCredentials = Code("auth.invalid_credentials")
        public static let authPermissionRequired = Code("auth.permission_required")
        public static let authUnauthorized = Code("auth.unauthorized")

        public static let blobContentMissing = Code("blob.content_missing")
        public static let blobInvalidHash = Code("blob.invalid_hash")
        public static let blobNotFound = Code("blob.not_found")
        public static let blobSubscriptionRequired = Code("blob.subscription_required")
        public static let blobTooLarge = Code("blob.too_large")

        public static let bulkUnknownAction = Code("bulk.unknown_action")

        public static let columnNotFound = Code("column.not_found")

        public static let configInvalid = Code("config.invalid")

        public static let connectorNotImplemented = Code("connector.not_implemented")

        public static let connectionConflict = Code("connection.conflict")
        public static let connectionNotFound = Code("connection.not_found")
        public static let crawlAtTable = Code("connection.crawl_at_table")

        public static let dataObjectNotFound = Code("dataObject.not_found")

        public static let dataSourceConflict = Code("dataSource.conflict")
        public static let dataSourceFilterNotImplemented = Code("dataSource.filter_not_implemented")
        public static let dataSourceNotFound = Code("dataSource.not_found")
        public static let dataSourceRestored = Code("dataSource.restored")
        public static let dataSourceRoleRequired = Code("dataSource.role_required")
        public static let dataSourceSchemaEvolutionNotFound = Code("dataSource.schema_evolution_not_found")

        public static let dictionaryConflict = Code("dictionary.conflict")
        public static let dictionaryNotFound = Code("dictionary.not_found")
        public static let dictionaryRoleRequired = Code("dictionary.role_required")
        public static let dictionarySubscriptionRequired = Code("dictionary.subscription_required")

        public static let featureNotImplemented = Code("feature.not_implemented")

        public static let groupConflict = Code("group.conflict")
        public static let groupMemberConflict = Code("group.member_conflict")
        public static let groupMemberNotFound = Code("group.member_not_found")
        public static let groupNotFound = Code("group.not_found")

        public static let handlerDuplicateNames = Code("handler.duplicate_names")
        public static let handlerDuplicateTables = Code("handler.duplicate_tables")
        public static let handlerNotFound = Code("handler.not_found")

        public static let iamNotFound = Code("iam.not_found")

        public static let `internal` = Code("internal")

        public static let jobBusy = Code("job.busy")
        public static let jobInvalidPayload = Code("job.invalid_payload")
        public static let jobLeaseLost = Code("job.lease_lost")

        public static let lineageCycle = Code("lineage.cycle")
        public static let lineageInvalidType = Code("lineage.invalid_type")
        public static let lineageNotFound = Code("lineage.not_found")
        public static let lineageSelfParent = Code("lineage.self_parent")

        public static let metastoreClosed = Code("metastore.closed")
        public static let metastoreConflict = Code("metastore.conflict")
        public static let metastoreCorrupt = Code("metastore.corrupt")
        public static let metastoreError = Code("metastore.error")
        public static let metastoreMasterKeyMismatch = Code("metastore.master_key_mismatch")

        public static let policyConflict = Code("policy.conflict")
        public static let policyNotApplicable = Code("policy.not_applicable")
        public static let policyNotFound = Code("policy.not_found")
        public static let policyTypeNotImplemented = Code("policy.type_not_implemented")

        public static let projectLastOwner = Code("project.last_owner")
        public static let projectMemberConflict = Code("project.member_conflict")
        public static let projectMemberNotFound = Code("project.member_not_found")
        public static let projectNotFound = Code("project.not_found")
        public static let projectRoleRequired = Code("project.role_required")

        public static let purposeInUse = Code("purpose.in_use")
        public static let purposeNotFound = Code("purpose.not_found")
        public static let purposeUnknown = Code("purpose.unknown")

        public static let requestBodyRequired = Code("request.body_required")
        public static let requestInvalid = Code("request.invalid")
        public static let requestInvalidHeader = Code("request.invalid_header")
        public static let requestInvalidJson = Code("request.invalid_json")
        public static let requestInvalidPath = Code("request.invalid_path")
        public static let requestInvalidQuery = Code("request.invalid_query")
        public static let requestMalformedJson = Code("request.malformed_json")
        public static let requestNulCharacter = Code("request.nul_character")
        public static let requestTooLarge = Code("request.too_large")
        public static let requestValidationFailed = Code("request.validation_failed")

        public static let routeNotFound = Code("route.not_found")
        public static let routeParameterMissing = Code("route.parameter_missing")

        public static let secretBadKey = Code("secret.bad_key")
        public static let secretTampered = Code("secret.tampered")

        public static let subscriptionAlreadyDecided = Code("subscription.already_decided")
        public static let subscriptionApprovalForbidden = Code("subscription.approval_forbidden")
        public static let subscriptionGroupForbidden = Code("subscription.group_forbidden")
        public static let subscriptionLastOwner = Code("subscription.last_owner")
        public static let subscriptionNotFound = Code("subscription.not_found")
        public static let subscriptionOwnRequest = Code("subscription.own_request")
        public static let subscriptionRefused = Code("subscription.refused")

        public static let subscriptionPolicyPurposesNotImplemented = Code("subscriptionPolicy.purposes_not_implemented")

        public static let tagModelTypeNotFound = Code("tag.model_type_not_found")
        public static let tagModelTypeNotImplemented = Code("tag.model_type_not_implemented")
        public static let tagNotAttached = Code("tag.not_attached")
        public static let tagNotFound = Code("tag.not_found")
        public static let tagUnknown = Code("tag.unknown")

        public static let taskDecideWithSubscriptionRoutes = Code("task.decide_with_subscription_routes")
        public static let taskDeleteForbidden = Code("task.delete_forbidden")
        public static let taskNoTarget = Code("task.no_target")
        public static let taskNotAddressed = Code("task.not_addressed")
        public static let taskNotFound = Code("task.not_found")
        public static let taskSchemaEvolutionNotImplemented = Code("task.schema_evolution_not_implemented")

        public static let technologyNotFound = Code("technology.not_found")

        public static let unmaskNotAllowed = Code("unmask.not_allowed")
        public static let unmaskNotReversible = Code("unmask.not_reversible")
        public static let unmaskTaskUnreadable = Code("unmask.task_unreadable")

        public static let userConflict = Code("user.conflict")
        public static let userNotFound = Code("user.not_found")
        public static let userSelfLockout = Code("user.self_lockout")

        public static let warehouseAuthenticationFailed = Code("warehouse.authentication_failed")
        public static let warehouseDatabaseNotFound = Code("warehouse.database_not_found")
        public static let warehouseInvalidIdentifier = Code("warehouse.invalid_identifier")
        public static let warehouseMissingPrivileges = Code("warehouse.missing_privileges")
        public static let warehouseNameTaken = Code("warehouse.name_taken")
        public static let warehouseQueryFailed = Code("warehouse.query_failed")
        public static let warehouseShuttingDown = Code("warehouse.shutting_down")
        public static let warehouseTableNotFound = Code("warehouse.table_not_found")
        public static let warehouseTimeout = Code("warehouse.timeout")
        public static let warehouseTlsFailed = Code("warehouse.tls_failed")
        public static let warehouseUnreachable = Code("warehouse.unreachable")
    }
}
