import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
import ServiceLifecycle
import WardenConnectors
public import WardenDomain
public import WardenStore

/// The running parts of Warden, assembled from configuration.
public struct WardenServer: Sendable {
    public let application: Application<RouterResponder<AppRequestContext>>
    public let metastore: Metastore
    /// Routes as registered, for the test that keeps `openapi.yaml` complete.
    public let routes: [String]
    /// The admin API key when this start created it, printed once by the executable.
    public let generatedAdminKey: String?
}

/// Opens and migrates the metastore, bootstraps the admin, and builds the HTTP application.
/// This function is the dependency graph: read it top to bottom.
public func buildServer(config: AppConfig, logger: Logger, clock: any WardenClock = SystemClock(), ids: any IdGenerator = RandomIdGenerator(),
                        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> WardenServer {
    let metastore = try await Metastore.open(config.metastore, logger: logger)
    do {
        try await metastore.migrate(now: clock.now())
        let secrets = try SecretBox(masterKey: try config.resolveMasterKey())
        try await metastore.verifyMasterKey(secrets, now: clock.now())

        let identity = IdentityStore(metastore: metastore)
        let credentials = CredentialStore(metastore: metastore)
        let auth = AuthService(identity: identity, credentials: credentials, hasher: PasswordHasher(rounds: config.passwordRounds),
                               clock: clock, idGenerator: ids, tokenTTL: config.tokenTTL)
        let generatedKey = try await Bootstrap(identity: identity, credentials: credentials, auth: auth, clock: clock, logger: logger)
            .run(adminAPIKey: config.adminAPIKey, dataDirectory: config.dataDirectory)

        let connectors = WarehouseConnectors(logger: logger, connectTimeout: config.warehouseConnectTimeout,
                                             operationTimeout: config.warehouseOperationTimeout)
        let dataSources = DataSourceStore(metastore: metastore, secrets: secrets)
        let dictionaries = DictionaryStore(metastore: metastore)
        let tags = TagStore(metastore: metastore)
        let jobs = JobStore(metastore: metastore)
        let blobs = BlobStore(metastore: metastore)
        let blobContent = BlobContentStore(directory: config.dataDirectory + "/blobs", logger: logger)
        try blobContent.prepare(now: clock.now())
        let lineage = LineageStore(metastore: metastore)
        let projects = ProjectStore(metastore: metastore)
        let access = DataSourceAccess(dataSources: dataSources, clock: clock)
        let jobSignal = JobSignal()
        let handlers = HandlerService(dataSources: dataSources, access: access, dictionaries: dictionaries, jobs: jobs, connectors: connectors, secrets: secrets,
                                      signal: jobSignal, clock: clock, idGenerator: ids)
        let policyStore = PolicyStore(metastore: metastore, ids: ids)
        let policies = PolicyService(policies: policyStore, dataSources: dataSources, identity: identity,
                                     projects: projects, access: access, signal: jobSignal, clock: clock)
        let enforcement = EnforcementService(policies: policyStore, dataSources: dataSources, identity: identity,
                                             projects: projects, keys: DataSourceKeyStore(metastore: metastore, secrets: secrets),
                                             jobs: jobs, connectors: connectors, clock: clock)
        let dataSourceService = DataSourceService(dataSources: dataSources, access: access, dictionaries: dictionaries, tags: tags, blobs: blobs,
                                                  blobContent: blobContent, metastore: metastore, jobs: jobs, connectors: connectors,
                                                  signal: jobSignal, activities: ActivityStore(metastore: metastore), policies: policies, enforcement: enforcement,
                                                  clock: clock, idGenerator: ids)
        let subscriptions = SubscriptionStore(metastore: metastore)
        let tasks = TaskStore(metastore: metastore)
        let unmasking = UnmaskService(policies: policies, dataSources: dataSources, identity: identity, tasks: tasks,
                                      keys: DataSourceKeyStore(metastore: metastore, secrets: secrets), access: access, clock: clock)
        let accessService = AccessService(dataSources: dataSources, access: access, identity: identity, subscriptions: subscriptions, tasks: tasks,
                                          unmasking: unmasking, clock: clock)
        let connectionService = ConnectionService(connections: ConnectionStore(metastore: metastore, secrets: secrets, dataSources: dataSources),
                                                  dataSources: dataSources, identity: identity, jobs: jobs, connectors: connectors,
                                                  signal: jobSignal, clock: clock, idGenerator: ids)
        let monitoring = SchemaMonitoringService(dataSources: dataSources, dictionaries: dictionaries, access: access, jobs: jobs,
                                                 connectors: connectors, signal: jobSignal, clock: clock, idGenerator: ids,
                                                 maskNewColumns: config.maskNewColumns)
        let runner = JobRunner(dataSources: dataSources, dictionaries: dictionaries, handlers: handlers, bulk: dataSourceService,
                               connectors: connectors, secrets: secrets, subscriptions: subscriptions,
                               enforcement: enforcement, connections: connectionService, monitoring: monitoring,
                               clock: clock)

        let router = Router(context: AppRequestContext.self)
        router.add(middleware: RequestIdMiddleware(bodyLimit: config.maxBodySize))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: InputGuardMiddleware())
        router.add(middleware: AuthMiddleware(auth: auth))
        let api = router.group(context: AuthenticatedContext.self)

        SystemRoutes(metastore: metastore, openAPIJSON: try OpenAPIDocument.json()).register(on: router)
        BimRoutes(identity: IdentityService(identity: identity, auth: auth, projects: projects, clock: clock), auth: auth)
            .register(public: router, api: api)
        HandlerRoutes(service: handlers).register(on: api)
        DictionaryRoutes(service: DictionaryService(dictionaries: dictionaries, tags: tags, access: access, clock: clock)).register(on: api)
        TagRoutes(service: TagService(tags: tags, blobs: blobs, access: access, clock: clock)).register(on: api)
        JobRoutes(service: JobService(jobs: jobs)).register(on: api)
        BlobRoutes(service: BlobService(access: access, blobs: blobs, content: blobContent, metastore: metastore,
                                        maxBlobSize: config.maxBlobSize, clock: clock)).register(on: api)
        LineageRoutes(service: LineageService(access: access, lineage: lineage, clock: clock)).register(on: api)
        DataSourceRoutes(service: dataSourceService).register(on: api)
        AccessRoutes(service: accessService).register(on: api)
        TaskRoutes(service: accessService).register(on: api)
        UnmaskRoutes(service: unmasking).register(on: api)
        VisibilityRoutes(service: VisibilityService(policies: policies, dataSources: dataSources, connectors: connectors, clock: clock)).register(on: api)
        ProjectRoutes(service: ProjectService(purposes: PurposeStore(metastore: metastore), projects: projects, identity: identity,
                                              access: access, clock: clock)).register(on: api)
        PolicyRoutes(service: policies).register(on: api)
        DataRoutes(service: connectionService).register(on: api)
        SchemaMonitoringRoutes(service: monitoring).register(on: api)

        // Services stop in reverse order: the server drains first, then the worker, then connections close.
        var services: [any Service] = [CleanupService(name: "metastore") { await metastore.close() },
                                       CleanupService(name: "warehouse connections") { await connectors.shutdown() }]
        if config.jobConcurrency > 0 {
            services.append(JobWorker(jobs: jobs, runner: runner, signal: jobSignal, concurrency: config.jobConcurrency,
                                      lease: TimeInterval(config.jobLeaseSeconds), pollInterval: config.jobPollInterval,
                                      clock: clock, logger: logger))
            services.append(PeriodicService.scheduling(.subscriptionExpiry, every: config.subscriptionExpiryInterval, jobs: jobs,
                                                       signal: jobSignal, clock: clock, logger: logger))
            services.append(PeriodicService.queueingViewRefreshes(every: config.viewRefreshInterval, jobs: jobs, signal: jobSignal,
                                                                  clock: clock, logger: logger))
            services.append(PeriodicService.scheduling(.schemaMonitoring, every: config.schemaMonitoringInterval, jobs: jobs,
                                                       signal: jobSignal, clock: clock, logger: logger))
        }

        let routes = router.routes.map { "\($0.method.rawValue) \($0.path)" }
        let application = Application(
            router: router,
            server: config.http.server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Warden",
                                 availableConnectionsDelegate: MaximumAvailableConnections(config.http.maxConnections)),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.port) },
            logger: logger)
        return WardenServer(application: application, metastore: metastore, routes: routes, generatedAdminKey: generatedKey)
    } catch {
        await metastore.close()
        throw error
    }
}
