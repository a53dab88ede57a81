/// A warehouse technology with its own `/{tech}/handler` routes.
public enum Technology: String, Sendable, CaseIterable, Codable {
    case redshift, snowflake, databricks, trino, asa, postgresql

    /// The `blobHandlerType` the API shows for sources of this technology.
    public var blobHandlerType: String {
        switch self {
        case .redshift: "Redshift"
        case .snowflake: "Snowflake"
        case .databricks: "Databricks"
        case .trino: "Trino"
        case .asa: "Azure Synapse Analytics"
        case .postgresql: "PostgreSQL"
        }
    }

    public var defaultPort: Int {
        switch self {
        case .redshift: 5439
        case .snowflake, .databricks: 443
        case .trino: 8080
        case .asa: 1433
        case .postgresql: 5432
        }
    }

    /// Whether Warden can talk to this warehouse yet; the others answer 501 naming the missing connector.
    public var hasConnector: Bool {
        switch self {
        case .redshift, .postgresql, .snowflake, .databricks: true
        case .trino, .asa: false
        }
    }

    /// The protocol a connector for this technology speaks.
    public var wireProtocol: String {
        switch self {
        case .redshift, .postgresql: "PostgreSQL wire protocol"
        case .snowflake: "Snowflake connector protocol (HTTPS)"
        case .databricks: "Databricks SQL Statement Execution API (HTTP)"
        case .trino: "Trino client REST protocol (HTTP)"
        case .asa: "TDS (SQL Server) protocol"
        }
    }

    public var missingConnector: WardenError {
        .notImplemented("The \(rawValue) connector is not built yet: Warden cannot connect to \(blobHandlerType) warehouses "
                        + "(\(wireProtocol)) in this version", code: .connectorNotImplemented)
    }
}
