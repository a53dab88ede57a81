/// Documented size limits on what clients store. Each is checked where the field is parsed, with a 400 naming the
/// limit, so no request can make every later answer (a search hit carries the description) carry megabytes.
public enum Limits {
    /// A data source's or a column's description, in UTF-8 bytes.
    public static let descriptionBytes = 16_384
    /// A data source's documentation (Markdown), in UTF-8 bytes.
    public static let documentationBytes = 1_000_000
    /// Columns in one dictionary.
    public static let dictionaryColumns = 5_000
    /// Tags attached in one request.
    public static let tagsPerRequest = 1_000
    /// Data sources named in one schema-monitoring request.
    public static let bulkDataSources = 10_000
}
