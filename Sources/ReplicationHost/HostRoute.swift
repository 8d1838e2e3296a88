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
    case members = "GET /v1/groups/{group}/members"
    case addMember = "POST /v1/groups/{group}/members"
    case promoteMember = "POST /v1/groups/{group}/members/{name}/promote"
    case removeMember = "DELETE /v1/groups/{group}/members/{name}"
    case leader = "GET /v1/groups/{group}/leader"
    case transferLeader = "POST /v1/groups/{group}/leader"
    case snapshot = "GET /v1/groups/{group}/snapshot"

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

    /// What a request's method and path (percent-decoded segments) select.
    package enum Match: Sendable {
        case route(HostRoute, parameters: [String: String])
        /// The path is a host route's, the method none of its.
        case methodNotAllowed([HTTPMethod])
    }

    /// The route with `method` whose path matches `segments`, and its parameters; nil when no
    /// host route has that path.
    static func match(method: HTTPMethod, _ segments: [String]) -> Match? {
        var allowed: [HTTPMethod] = []
        for (route, pattern) in patterns where pattern.count == segments.count {
            var parameters: [String: String] = [:]
            let matched = zip(pattern, segments).allSatisfy { expected, actual in
                guard expected.hasPrefix("{") && expected.hasSuffix("}") else { return expected == actual }
                parameters[String(expected.dropFirst().dropLast())] = actual
                return true
            }
            guard matched else { continue }
            if route.method == method { return .route(route, parameters: parameters) }
            allowed.append(route.method)
        }
        return allowed.isEmpty ? nil : .methodNotAllowed(allowed)
    }
}
