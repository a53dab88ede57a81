import ServiceLifecycle
import WardenStore

/// Closes the metastore after the HTTP server has drained: listed before the server, it is shut down after it.
struct MetastoreService: Service {
    let metastore: Metastore

    func run() async throws {
        try? await gracefulShutdown()
        await metastore.close()
    }
}
