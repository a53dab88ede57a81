import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WardenApp
import WardenDomain
import WardenStore

@main
struct Warden: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Warden: a self-hosted data-access-governance control plane.",
        version: WardenVersion.current,
        subcommands: [Serve.self, Migrate.self, Admin.self],
        defaultSubcommand: Serve.self)
}

/// Flags shared by every command; each overrides its WARDEN_* environment variable.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Address to listen on (WARDEN_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (WARDEN_PORT, default 8080).") var port: String?
    @Option(help: "Directory for the SQLite metastore and keys (WARDEN_DATA_DIR, default ./.warden).") var dataDir: String?
    @Option(help: "SQLite path or postgres:// URL (WARDEN_DATABASE_URL).") var databaseURL: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (WARDEN_LOG_LEVEL).") var logLevel: String?

    func load() throws -> (AppConfig, Logger) {
        let config: AppConfig
        do {
            config = try AppConfig.load(flags: ConfigFlags(host: host, port: port, dataDirectory: dataDir,
                                                           databaseURL: databaseURL, logLevel: logLevel))
        } catch {
            throw OperatorError(message: error.description)
        }
        var logger = Logger(label: "warden")
        logger.logLevel = config.logLevel
        return (config, logger)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the API server (migrates the metastore first).")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let (config, logger) = try options.load()
        let started = ContinuousClock.now
        let server: WardenServer
        do {
            server = try await buildServer(config: config, logger: logger) { port in
                let elapsed = ContinuousClock.now - started
                announce("Warden \(WardenVersion.current) listening on http://\(config.host):\(port) (metastore: \(config.metastore.kind.rawValue), ready in \(elapsed.formatted(.units(allowed: [.milliseconds]))))")
            }
        } catch let error as WardenError {
            throw OperatorError(message: error.message)
        } catch let error as ConfigError {
            throw OperatorError(message: error.description)
        }
        if let key = server.generatedAdminKey {
            announce("""
                Created the admin user. Its API key (shown once, also saved to \(config.dataDirectory)/admin-api-key):
                \(key)
                """)
        }
        let group = ServiceGroup(configuration: .init(services: [server.application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending metastore migrations and exit.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let (config, logger) = try options.load()
        let applied = try await AdminTasks.migrate(config: config, logger: logger)
        print(applied.isEmpty ? "The metastore is up to date." : "Applied: " + applied.joined(separator: ", "))
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Administrative tasks.", subcommands: [CreateAPIKey.self])

    struct CreateAPIKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-api-key", abstract: "Create an API key for a user and print it.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "The userid the key belongs to.") var user: String
        @Option(help: "A name for the key.") var name: String?

        func run() async throws {
            let (config, logger) = try options.load()
            do {
                print(try await AdminTasks.createAPIKey(config: config, userid: user, name: name, logger: logger))
            } catch let error as WardenError {
                throw OperatorError(message: error.message)
            }
        }
    }
}

/// A failure explained to the operator in plain words, without usage text.
struct OperatorError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Writes a line to standard output at once: `print` is block-buffered when the output is a file or pipe,
/// and supervisors (and tests) wait for these lines.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
