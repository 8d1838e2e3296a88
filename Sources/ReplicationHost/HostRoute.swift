package import NIOHTTP1

/// The routes the host serves itself, whatever its plugins: ``HTTPAPI`` dispatches on them,
/// and a test checks that `openapi.yaml` describes each of them (with every plugin's own
/// routes, which come from its `HTTPRoutable` declaration). A new host route is a new case:
/// the compiler then asks for its handler, the test for its description.
package enum HostRoute: String, CaseIterable, Sendable {
    case console = "GET /"
    case cluster = "GET /v1/cluster"
    case openAPI = "GET /v1/openapi.yaml"
    case status = "GET /v1/status"
    case metrics = "GET /metrics"
    case command = "POST /v1/groups/{group}/command"
    case query = "POST /v1/groups/{group}/query"

    package var method: HTTPMethod {
        HTTPMethod(rawValue: String(rawValue.prefix { $0 != " " }))
    }

    /// The path pattern: literal segments and `{name}` parameters, one segment each.
    package var path: String {
        String(rawValue.drop { $0 != " " }.dropFirst())
    }

    /// Each route's pattern split into segments, once (matching runs on every request).
    private static let patterns: [(route: HostRoute, segments: [String])] = allCases.map { route in
        (route, route.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init))
    }

    /// The route whose path matches `segments` (percent-decoded), and its parameters.
    static func match(_ segments: [String]) -> (route: HostRoute, parameters: [String: String])? {
        for (route, pattern) in patterns where pattern.count == segments.count {
            var parameters: [String: String] = [:]
            let matched = zip(pattern, segments).allSatisfy { expected, actual in
                guard expected.hasPrefix("{") && expected.hasSuffix("}") else { return expected == actual }
                parameters[String(expected.dropFirst().dropLast())] = actual
                return true
            }
            if matched { return (route, parameters) }
        }
        return nil
    }
}
