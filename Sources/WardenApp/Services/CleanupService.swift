import ServiceLifecycle

/// Releases a resource once graceful shutdown begins. Listed before the HTTP server in the application's
/// services, it runs after the server has drained, since services stop in reverse order.
struct CleanupService: Service {
    /// What it closes: service logs name services by their description.
    let name: String
    let cleanup: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await cleanup()
    }
}
