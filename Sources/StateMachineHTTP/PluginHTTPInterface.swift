package import StateMachineAPI

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything the host serves over HTTP for one plugin, with the plugin's types erased to
/// bytes: its own routes (``HTTPRoutable``) and the JSON forms of its commands, queries and
/// responses where those types are `Codable`.
package struct PluginHTTPInterface: Sendable {
    package enum Kind: Sendable {
        case command
        case query
    }

    package enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    package struct Route: Sendable {
        package let method: String
        package let pattern: [Segment]
        /// The request as the plugin's encoded command or query.
        package let operation: @Sendable (PluginRequest) throws(HTTPRouteError) -> (kind: Kind, bytes: [UInt8])
        /// The plugin's encoded response as the route's answer; throws when it does not decode.
        package let response: @Sendable ([UInt8], PluginRequest) throws -> PluginResponse
    }

    /// What a request path and method find.
    package enum Match: Sendable {
        case route(Route, parameters: [String: String])
        /// The path is a route's, the method is not: the methods it has.
        case methodNotAllowed(allowed: [String])
        case none
    }

    package let routes: [Route]
    /// JSON to the plugin's encoded command; nil when `Command` is not `Decodable`.
    package let commandFromJSON: (@Sendable ([UInt8]) throws -> [UInt8])?
    /// JSON to the plugin's encoded query; nil when `Query` is not `Decodable`.
    package let queryFromJSON: (@Sendable ([UInt8]) throws -> [UInt8])?
    /// The plugin's encoded response as JSON; nil when `Response` is not `Encodable`.
    package let responseToJSON: (@Sendable ([UInt8]) throws -> [UInt8])?

    package init(for type: any StateMachine.Type) {
        self = Self.make(type)
    }

    /// A plugin loaded at run time: its binary encoding on the generic endpoints, no JSON and
    /// no routes of its own.
    package static let bytesOnly = PluginHTTPInterface(
        routes: [],
        commandFromJSON: nil,
        queryFromJSON: nil,
        responseToJSON: nil
    )

    private init(
        routes: [Route],
        commandFromJSON: (@Sendable ([UInt8]) throws -> [UInt8])?,
        queryFromJSON: (@Sendable ([UInt8]) throws -> [UInt8])?,
        responseToJSON: (@Sendable ([UInt8]) throws -> [UInt8])?
    ) {
        self.routes = routes
        self.commandFromJSON = commandFromJSON
        self.queryFromJSON = queryFromJSON
        self.responseToJSON = responseToJSON
    }

    private static func make<Machine: StateMachine>(_ type: Machine.Type) -> PluginHTTPInterface {
        let routes = (type as? any HTTPRoutable.Type).map { erasedRoutes($0) } ?? []
        return PluginHTTPInterface(
            routes: routes,
            commandFromJSON: jsonDecoder(Machine.Command.self),
            queryFromJSON: jsonDecoder(Machine.Query.self),
            responseToJSON: jsonEncoder(Machine.Response.self)
        )
    }

    private static func erasedRoutes<Machine: HTTPRoutable>(_ type: Machine.Type) -> [Route] {
        Machine.httpRoutes.map { route in
            Route(
                method: route.method.uppercased(),
                pattern: parse(route.pattern),
                operation: { (request) throws(HTTPRouteError) in
                    switch try route.operation(request) {
                    case .command(let command): (.command, command.encoded())
                    case .query(let query): (.query, query.encoded())
                    }
                },
                response: { bytes, request in
                    route.response(try Machine.Response(decoding: bytes), request)
                }
            )
        }
    }

    /// Decodes JSON into `Value` and encodes it with its binary codec, when `Value` is `Decodable`.
    private static func jsonDecoder<Value: BinaryCodable>(
        _ type: Value.Type
    ) -> (@Sendable ([UInt8]) throws -> [UInt8])? {
        guard type is any Decodable.Type else { return nil }
        return { json in
            // Cast again here: a metatype existential is not Sendable.
            guard let decodable = Value.self as? any Decodable.Type else { return [] }
            let decoded = try JSONDecoder().decode(decodable, from: Data(json))
            guard let value = decoded as? Value else {
                throw HTTPRouteError(status: 500, "decoded a \(Swift.type(of: decoded)), not a \(Value.self)")
            }
            return value.encoded()
        }
    }

    /// Decodes `Value` from its binary codec and writes it as JSON, when `Value` is `Encodable`.
    private static func jsonEncoder<Value: BinaryCodable>(
        _ type: Value.Type
    ) -> (@Sendable ([UInt8]) throws -> [UInt8])? {
        guard type is any Encodable.Type else { return nil }
        return { bytes in
            guard let encodable = try Value(decoding: bytes) as? any Encodable else {
                throw HTTPRouteError(status: 500, "\(Value.self) is not Encodable")
            }
            return try JSONBody.encode(encodable)
        }
    }

    private static func parse(_ pattern: String) -> [Segment] {
        pattern.split(separator: "/").map { segment in
            if segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2 {
                return .parameter(String(segment.dropFirst().dropLast()))
            }
            return .literal(String(segment))
        }
    }

    /// The first route whose pattern matches `path` (percent-decoded segments) and `method`.
    package func match(method: String, path: [String]) -> Match {
        // The method first: on every request, so the other routes' parameters are not built.
        for route in routes where route.method == method {
            if let parameters = Self.parameters(of: route.pattern, in: path) {
                return .route(route, parameters: parameters)
            }
        }
        var allowed: [String] = []
        for route in routes where !allowed.contains(route.method) {
            if Self.parameters(of: route.pattern, in: path) != nil { allowed.append(route.method) }
        }
        return allowed.isEmpty ? .none : .methodNotAllowed(allowed: allowed)
    }

    private static func parameters(of pattern: [Segment], in path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, value) in zip(pattern, path) {
            switch segment {
            case .literal(let literal):
                guard literal == value else { return nil }
            case .parameter(let name):
                parameters[name] = value
            }
        }
        return parameters
    }
}
