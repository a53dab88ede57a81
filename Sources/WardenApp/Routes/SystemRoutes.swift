import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import WardenStore
import Yams

/// Unauthenticated routes about the server itself: health and the API description.
struct SystemRoutes {
    let metastore: Metastore
    let openAPIJSON: ByteBuffer

    struct Health: ResponseEncodable {
        var status: String
        var version: String
        var metastore: String
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/health", use: health)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAPIJSON))
        }
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<Health> {
        do {
            try await metastore.ping()
            return EditedResponse(status: .ok, response: Health(status: "ok", version: WardenVersion.current, metastore: metastore.kind.rawValue))
        } catch {
            context.logger.error("health check failed", metadata: ["cause": .string("\(error)")])
            return EditedResponse(status: .serviceUnavailable,
                                  response: Health(status: "unavailable", version: WardenVersion.current, metastore: metastore.kind.rawValue))
        }
    }
}

/// The OpenAPI document shipped with the server (`openapi.yaml`), converted once to JSON.
public enum OpenAPIDocument {
    public static func yamlText() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw ConfigError(problems: ["openapi.yaml is missing from the build"])
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The document as a JSON-compatible tree (YAML mapping keys are turned into strings).
    public static func tree() throws -> [String: Any] {
        guard let document = jsonCompatible(try Yams.load(yaml: yamlText())) as? [String: Any] else {
            throw ConfigError(problems: ["openapi.yaml is not a mapping"])
        }
        return document
    }

    static func json() throws -> ByteBuffer {
        ByteBuffer(data: try JSONSerialization.data(withJSONObject: try tree(), options: [.sortedKeys]))
    }

    private static func jsonCompatible(_ value: Any?) -> Any {
        switch value {
        case let mapping as [AnyHashable: Any]:
            var result: [String: Any] = [:]
            for (key, item) in mapping { result["\(key.base)"] = jsonCompatible(item) }
            return result
        case let sequence as [Any]:
            return sequence.map { jsonCompatible($0) }
        case let date as Date:
            return date.formatted(Date.ISO8601FormatStyle())
        case .some(let value):
            return value
        case .none:
            return NSNull()
        }
    }
}
