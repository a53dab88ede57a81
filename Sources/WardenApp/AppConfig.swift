public import Foundation
public import Logging
import WardenDomain
public import WardenStore

/// Values given on the command line; each overrides its environment variable.
public struct ConfigFlags: Sendable {
    public var host: String?
    public var port: String?
    public var dataDirectory: String?
    public var databaseURL: String?
    public var logLevel: String?

    public init(host: String? = nil, port: String? = nil, dataDirectory: String? = nil, databaseURL: String? = nil, logLevel: String? = nil) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.logLevel = logLevel
    }
}

/// Invalid configuration: every problem, so one failed start tells the operator everything.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var problems: [String]
    public var description: String {
        "Invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Warden's typed configuration. This is the only code that reads the environment.
public struct AppConfig: Sendable {
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var metastore: MetastoreLocation
    /// Base64 of 32 bytes; when nil, the key is kept in `<data-dir>/master.key`.
    public var masterKey: Data?
    public var adminAPIKey: String?
    public var tokenTTL: Int
    public var logLevel: Logger.Level
    public var maxBodySize: Int
    /// The largest blob content `persistBlob` accepts, in bytes; uploads stream to disk, so this bounds disk, not memory.
    public var maxBlobSize: Int
    /// PBKDF2 rounds for new password hashes; lowered only by tests.
    public var passwordRounds: Int
    /// Jobs run at once by this process's worker.
    public var jobConcurrency: Int
    /// How long a claimed job stays with its worker without a renewal; a crashed worker's jobs are retaken after it.
    public var jobLeaseSeconds: Int
    /// How often an idle worker looks for jobs enqueued by other processes.
    public var jobPollInterval: Duration
    public var warehouseConnectTimeout: Duration
    public var warehouseOperationTimeout: Duration
    /// How often expired subscriptions are ended, in seconds. Expired ones count for nothing even before that.
    public var subscriptionExpiryInterval: TimeInterval = 30
    /// Seconds between sweeps that queue native-view refreshes for changed data sources.
    public var viewRefreshInterval: TimeInterval = 2
    /// Seconds between scheduled schema-monitoring runs over every enabled source (default nightly).
    public var schemaMonitoringInterval: TimeInterval = 86_400
    /// Whether columns that appear in a warehouse table are masked to NULL until an owner reviews them.
    public var maskNewColumns = true
    /// Timeouts and the connection cap of the HTTP server.
    public var http = HTTPLimits()

    public init(host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = "./.warden",
                metastore: MetastoreLocation? = nil, masterKey: Data? = nil, adminAPIKey: String? = nil,
                tokenTTL: Int = 3600, logLevel: Logger.Level = .info, maxBodySize: Int = 10 * 1024 * 1024,
                maxBlobSize: Int = 1 << 30,
                passwordRounds: Int = PasswordHasher.recommendedRounds, jobConcurrency: Int = 2, jobLeaseSeconds: Int = 60,
                jobPollInterval: Duration = .seconds(1), warehouseConnectTimeout: Duration = .seconds(10),
                warehouseOperationTimeout: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.metastore = metastore ?? .sqlite(path: dataDirectory + "/warden.sqlite")
        self.masterKey = masterKey
        self.adminAPIKey = adminAPIKey
        self.tokenTTL = tokenTTL
        self.logLevel = logLevel
        self.maxBodySize = maxBodySize
        self.maxBlobSize = maxBlobSize
        self.passwordRounds = passwordRounds
        self.jobConcurrency = jobConcurrency
        self.jobLeaseSeconds = jobLeaseSeconds
        self.jobPollInterval = jobPollInterval
        self.warehouseConnectTimeout = warehouseConnectTimeout
        self.warehouseOperationTimeout = warehouseOperationTimeout
    }

    /// Reads flags and environment; throws one `ConfigError` naming every invalid setting.
    public static func load(flags: ConfigFlags = ConfigFlags(),
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> AppConfig {
        var problems: [String] = []
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag { return flag }
            if let value = environment[variable], !value.isEmpty { return value }
            return nil
        }
        var config = AppConfig()
        if let host = value(flags.host, "WARDEN_HOST") {
            if host.contains(" ") || host.isEmpty { problems.append("WARDEN_HOST (--host) must be a host name or address") } else { config.host = host }
        }
        if let port = value(flags.port, "WARDEN_PORT") {
            if let number = Int(port), (0...65535).contains(number) { config.port = number } else {
                problems.append("WARDEN_PORT (--port) must be a number from 0 to 65535, got \"\(port)\"")
            }
        }
        if let directory = value(flags.dataDirectory, "WARDEN_DATA_DIR") { config.dataDirectory = directory }
        config.metastore = .sqlite(path: config.dataDirectory + "/warden.sqlite")
        if let url = value(flags.databaseURL, "WARDEN_DATABASE_URL") {
            do {
                config.metastore = try MetastoreLocation.parse(url)
            } catch {
                problems.append("WARDEN_DATABASE_URL \(error.message)")
            }
        }
        if let key = value(nil, "WARDEN_MASTER_KEY") {
            if let data = Data(base64Encoded: key), data.count == 32 { config.masterKey = data } else {
                problems.append("WARDEN_MASTER_KEY must be the base64 encoding of exactly 32 bytes")
            }
        }
        if let key = value(nil, "WARDEN_ADMIN_API_KEY") {
            if key.count < 16 || key.contains(where: \.isWhitespace) {
                problems.append("WARDEN_ADMIN_API_KEY must be at least 16 characters without spaces")
            } else {
                config.adminAPIKey = key
            }
        }
        if let ttl = value(nil, "WARDEN_TOKEN_TTL") {
            if let seconds = Int(ttl), seconds > 0, seconds <= 31_536_000 { config.tokenTTL = seconds } else {
                problems.append("WARDEN_TOKEN_TTL must be a number of seconds from 1 to 31536000, got \"\(ttl)\"")
            }
        }
        if let level = value(flags.logLevel, "WARDEN_LOG_LEVEL") {
            if let parsed = Logger.Level(rawValue: level.lowercased()) { config.logLevel = parsed } else {
                problems.append("WARDEN_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
        }
        if let size = value(nil, "WARDEN_MAX_BODY_SIZE") {
            if let bytes = Int(size), bytes >= 1024 { config.maxBodySize = bytes } else {
                problems.append("WARDEN_MAX_BODY_SIZE must be a number of bytes, at least 1024")
            }
        }
        if let size = value(nil, "WARDEN_MAX_BLOB_SIZE") {
            if let bytes = Int(size), bytes >= 1 { config.maxBlobSize = bytes } else {
                problems.append("WARDEN_MAX_BLOB_SIZE must be a number of bytes, at least 1")
            }
        }
        func seconds(_ variable: String, range: ClosedRange<Int>, apply: (Int) -> Void) {
            guard let text = value(nil, variable) else { return }
            if let number = Int(text), range.contains(number) { apply(number) } else {
                problems.append("\(variable) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            }
        }
        seconds("WARDEN_JOB_CONCURRENCY", range: 0...64) { config.jobConcurrency = $0 }
        seconds("WARDEN_JOB_LEASE_SECONDS", range: 1...3600) { config.jobLeaseSeconds = $0 }
        seconds("WARDEN_WAREHOUSE_CONNECT_TIMEOUT", range: 1...600) { config.warehouseConnectTimeout = .seconds($0) }
        seconds("WARDEN_WAREHOUSE_TIMEOUT", range: 1...3600) { config.warehouseOperationTimeout = .seconds($0) }
        seconds("WARDEN_SUBSCRIPTION_EXPIRY_INTERVAL", range: 1...86_400) { config.subscriptionExpiryInterval = TimeInterval($0) }
        seconds("WARDEN_VIEW_REFRESH_INTERVAL", range: 1...86_400) { config.viewRefreshInterval = TimeInterval($0) }
        seconds("WARDEN_SCHEMA_MONITORING_INTERVAL", range: 60...2_592_000) { config.schemaMonitoringInterval = TimeInterval($0) }
        if let text = value(nil, "WARDEN_MASK_NEW_COLUMNS") {
            switch text.lowercased() {
            case "true", "1", "yes": config.maskNewColumns = true
            case "false", "0", "no": config.maskNewColumns = false
            default: problems.append("WARDEN_MASK_NEW_COLUMNS must be true or false, got \"\(text)\"")
            }
        }
        seconds("WARDEN_HTTP_IDLE_TIMEOUT", range: 1...3600) { config.http.idleTimeout = .seconds($0) }
        seconds("WARDEN_HTTP_HEADER_TIMEOUT", range: 1...600) { config.http.headerTimeout = .seconds($0) }
        seconds("WARDEN_HTTP_BODY_TIMEOUT", range: 1...86_400) { config.http.bodyTimeout = .seconds($0) }
        seconds("WARDEN_HTTP_MAX_CONNECTIONS", range: 1...1_000_000) { config.http.maxConnections = $0 }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return config
    }

    /// The master key: the configured one, or the one in `<data-dir>/master.key`, created (mode 0600) on first use.
    public func resolveMasterKey() throws -> Data {
        if let masterKey { return masterKey }
        let path = dataDirectory + "/master.key"
        if FileManager.default.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let data = Data(base64Encoded: text), data.count == 32 else {
                throw ConfigError(problems: ["\(path) must hold the base64 encoding of exactly 32 bytes"])
            }
            return data
        }
        let key = SecretBox.generateMasterKey()
        try SecretFile.write(key.base64EncodedString() + "\n", to: path)
        return key
    }
}

/// Files that hold secrets: created readable by the owner only.
enum SecretFile {
    static func write(_ contents: String, to path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError(problems: ["could not write \(path)"])
        }
    }
}

public enum WardenVersion {
    public static let current = "0.1.0"
}
