/// Maps a warehouse catalog's base type name to the API's `dataType` vocabulary.
///
/// The vocabulary is the PostgreSQL-style names the specification's data dictionaries show
/// (`text`, `integer`, `timestamp with time zone`, `json` …), plus `binary` and `array` for the two
/// families that have no honest textual or numeric reading. Anything not in the table is `text`:
/// every warehouse value can be read as text, so that is the one safe default for policies.
///
/// | `dataType`                  | PostgreSQL / Redshift base types (`pg_type.typname`)                        |
/// |-----------------------------|-----------------------------------------------------------------------------|
/// | `smallint`                  | `int2`                                                                      |
/// | `integer`                   | `int4`                                                                      |
/// | `bigint`                    | `int8`, `oid`                                                               |
/// | `real`                      | `float4`                                                                    |
/// | `double precision`          | `float8`                                                                    |
/// | `numeric`                   | `numeric`, `money`                                                          |
/// | `boolean`                   | `bool`                                                                      |
/// | `text`                      | `text`, `varchar`, `bpchar`, `char`, `name`, `citext`, `uuid`, `inet`, `cidr`, `macaddr`, `xml`, `bit`, `varbit`, enums, … (the default) |
/// | `date`                      | `date`                                                                      |
/// | `time`                      | `time`, `timetz`                                                            |
/// | `timestamp`                 | `timestamp`                                                                 |
/// | `timestamp with time zone`  | `timestamptz`                                                               |
/// | `interval`                  | `interval`, Redshift `intervaly2m`, `intervald2s`                           |
/// | `json`                      | `json`, `jsonb`, Redshift `super`                                           |
/// | `binary`                    | `bytea`, Redshift `varbyte`, `geometry`, `geography`, `hllsketch`           |
/// | `array`                     | any array type (`_int4`, `_text`, … or a name ending in `[]`)               |
///
/// The SQL-standard spellings (`integer`, `character varying`, `timestamp with time zone` …) map the same
/// way, so a catalog that reports those instead of `typname`s needs no second table.
public enum TypeMapping {
    /// The fallback for every type the table does not name.
    public static let defaultDataType = "text"

    /// Lower-case base type name → `dataType`.
    public static let dataTypes: [String: String] = [
        // Integers. `oid` is an unsigned 32-bit number, so only bigint holds every value.
        "int2": "smallint", "smallint": "smallint",
        "int4": "integer", "int": "integer", "integer": "integer",
        "int8": "bigint", "bigint": "bigint", "oid": "bigint",
        // Floating point and exact numbers. `money` is exact, with a locale-dependent text form.
        "float4": "real", "real": "real",
        "float8": "double precision", "double precision": "double precision",
        "numeric": "numeric", "decimal": "numeric", "money": "numeric",
        "bool": "boolean", "boolean": "boolean",
        // Character types.
        "text": "text", "varchar": "text", "character varying": "text", "bpchar": "text", "character": "text",
        "char": "text", "name": "text", "citext": "text",
        // Date and time. A time of day keeps `time` with or without a zone: the vocabulary has no `time with time zone`.
        "date": "date",
        "time": "time", "timetz": "time", "time without time zone": "time", "time with time zone": "time",
        "timestamp": "timestamp", "timestamp without time zone": "timestamp",
        "timestamptz": "timestamp with time zone", "timestamp with time zone": "timestamp with time zone",
        "interval": "interval", "intervaly2m": "interval", "intervald2s": "interval",
        // Semi-structured values. Redshift's SUPER holds JSON-like documents.
        "json": "json", "jsonb": "json", "super": "json",
        // Opaque bytes. Redshift's spatial and sketch types are binary encodings with no useful text reading.
        "bytea": "binary", "varbyte": "binary", "varbinary": "binary", "binary varying": "binary",
        "geometry": "binary", "geography": "binary", "hllsketch": "binary",
        // Snowflake (`information_schema.columns.data_type`): NUMBER is exact, FLOAT is a double, TIMESTAMP_NTZ has no
        // zone while _LTZ and _TZ name an instant, VARIANT and OBJECT hold documents.
        "number": "numeric", "fixed": "numeric", "float": "double precision",
        "timestamp_ntz": "timestamp", "datetime": "timestamp", "timestamp_ltz": "timestamp with time zone",
        "timestamp_tz": "timestamp with time zone", "variant": "json", "object": "json", "binary": "binary", "array": "array",
        // Databricks (`information_schema.columns.data_type`): its FLOAT is four bytes, so its connector reports it as `real`.
        "tinyint": "smallint", "byte": "smallint", "short": "smallint", "long": "bigint", "double": "double precision",
        "string": "text", "map": "json", "struct": "json",
    ]

    /// The `dataType` for a base type name such as `int4`, `_text` or `character varying`; unknown names give `text`.
    public static func dataType(forBaseType baseType: String) -> String {
        let name = baseType.lowercased()
        // PostgreSQL names an array type after its element type with a leading underscore (`_int4`);
        // format_type and information_schema spell it with a trailing `[]`.
        if name.hasPrefix("_") || name.hasSuffix("[]") { return "array" }
        return dataTypes[name] ?? defaultDataType
    }
}
