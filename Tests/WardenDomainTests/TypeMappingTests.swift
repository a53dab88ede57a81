import Testing
import WardenDomain

@Suite struct TypeMappingTests {
    @Test(arguments: [
        ("int2", "smallint"), ("int4", "integer"), ("int8", "bigint"), ("oid", "bigint"),
        ("float4", "real"), ("float8", "double precision"), ("numeric", "numeric"), ("money", "numeric"),
        ("bool", "boolean"),
        ("varchar", "text"), ("bpchar", "text"), ("text", "text"), ("name", "text"), ("char", "text"), ("citext", "text"),
        ("date", "date"), ("time", "time"), ("timetz", "time"),
        ("timestamp", "timestamp"), ("timestamptz", "timestamp with time zone"),
        ("interval", "interval"), ("intervaly2m", "interval"), ("intervald2s", "interval"),
        ("json", "json"), ("jsonb", "json"), ("super", "json"),
        ("uuid", "text"), ("inet", "text"), ("cidr", "text"), ("xml", "text"),
        ("bytea", "binary"), ("varbyte", "binary"), ("geometry", "binary"), ("geography", "binary"), ("hllsketch", "binary"),
    ])
    func catalogBaseTypesMapToTheVocabulary(baseType: String, dataType: String) {
        #expect(TypeMapping.dataType(forBaseType: baseType) == dataType)
    }

    @Test(arguments: [
        ("integer", "integer"), ("character varying", "text"), ("double precision", "double precision"),
        ("timestamp with time zone", "timestamp with time zone"), ("timestamp without time zone", "timestamp"),
        ("boolean", "boolean"), ("decimal", "numeric"),
    ])
    func sqlStandardSpellingsMapLikeTheirTypnames(name: String, dataType: String) {
        #expect(TypeMapping.dataType(forBaseType: name) == dataType)
    }

    @Test(arguments: ["_int4", "_text", "_jsonb", "integer[]", "character varying(20)[]"])
    func arraysAreArrays(baseType: String) {
        #expect(TypeMapping.dataType(forBaseType: baseType) == "array")
    }

    @Test(arguments: ["mood_enum", "hstore", "tsvector", "point", "", "some type nobody made"])
    func unknownTypesAreText(baseType: String) {
        #expect(TypeMapping.dataType(forBaseType: baseType) == "text")
    }

    @Test func namesAreCaseInsensitive() {
        #expect(TypeMapping.dataType(forBaseType: "INT8") == "bigint")
        #expect(TypeMapping.dataType(forBaseType: "TimestampTZ") == "timestamp with time zone")
    }

    @Test func everyMappedTypeIsInTheVocabulary() {
        let vocabulary: Set = [
            "smallint", "integer", "bigint", "real", "double precision", "numeric", "boolean", "text", "date", "time",
            "timestamp", "timestamp with time zone", "interval", "json", "binary", "array",
        ]

        #expect(Set(TypeMapping.dataTypes.values).subtracting(vocabulary).isEmpty)
    }
}
