public import StateMachineAPI

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An HTTP request as a plugin's route sees it: plain values, no networking types.
public struct PluginRequest: Sendable {
    /// `GET`, `PUT`, `POST`, `DELETE`, ... in upper case.
    public var method: String
    /// The values of the route's `{name}` path parameters, percent-decoded.
    public var parameters: [String: String]
    /// The decoded query parameters.
    public var query: [String: String]
    /// The request body as sent.
    public var body: [UInt8]
    private var headerFields: [(name: String, value: String)]

    public init(
        method: String,
        parameters: [String: String] = [:],
        query: [String: String] = [:],
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = []
    ) {
        self.method = method
        self.parameters = parameters
        self.query = query
        self.headerFields = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive), if any.
    public func header(_ name: String) -> String? {
        let lowercased = name.lowercased()
        return headerFields.first { $0.name.lowercased() == lowercased }?.value
    }

    /// The path parameter `name`; routes only run when every parameter of their pattern is set.
    public func parameter(_ name: String) throws(HTTPRouteError) -> String {
        guard let value = parameters[name], !value.isEmpty else {
            throw HTTPRouteError(status: 400, "the \(name) is empty")
        }
        return value
    }

    /// The body as UTF-8 text.
    public func text() throws(HTTPRouteError) -> String {
        guard let text = String(validating: body, as: UTF8.self) else {
            throw HTTPRouteError(status: 400, "the body must be UTF-8")
        }
        return text
    }

    /// The body decoded from JSON; a body that does not decode is a 400 with `expected` in it.
    public func json<Value: Decodable>(_ type: Value.Type, expected: String) throws(HTTPRouteError) -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw HTTPRouteError(status: 400, "expected \(expected): \(error)")
        }
    }
}

/// What a route answers: a status, a content type and a body.
public struct PluginResponse: Sendable, Hashable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// `value` as JSON (sorted keys, no escaped slashes, a final newline).
    public static func json(_ status: Int = 200, _ value: some Encodable) -> PluginResponse {
        do {
            return PluginResponse(status: status, contentType: "application/json", body: try JSONBody.encode(value))
        } catch {
            return PluginResponse.error(500, "the answer could not be encoded as JSON: \(error)")
        }
    }

    /// `{"error": message}` with `status`.
    public static func error(_ status: Int, _ message: String) -> PluginResponse {
        PluginResponse(
            status: status,
            contentType: "application/json",
            body: (try? JSONBody.encode(["error": message])) ?? Array(#"{"error":"?"}"#.utf8)
        )
    }

    /// Raw bytes (`application/octet-stream` unless told otherwise).
    public static func bytes(
        _ status: Int = 200,
        _ body: [UInt8],
        contentType: String = "application/octet-stream"
    ) -> PluginResponse {
        PluginResponse(status: status, contentType: contentType, body: body)
    }
}

/// A request a route refuses: the host answers `{"error": message}` with `status` (400 unless
/// said otherwise) and nothing reaches the group.
public struct HTTPRouteError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int = 400, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status): \(message)" }
}

/// One HTTP route of a plugin, served under `/v1/groups/{group}/` for every group that runs
/// the plugin: a method, a path pattern, how a request becomes a command or a query, and how
/// the plugin's response becomes an HTTP answer.
///
/// ```swift
/// extension Counter: HTTPRoutable {
///     public static var httpRoutes: [HTTPRoute<Counter>] {
///         [
///             .command("POST", "counter/add/{amount}") { request in
///                 guard let amount = Int(try request.parameter("amount")) else {
///                     throw HTTPRouteError("the amount must be an integer")
///                 }
///                 return Command(add: amount)
///             } response: { response, _ in .json(response) },
///         ]
///     }
/// }
/// ```
///
/// A pattern is path segments separated by `/`; a segment `{name}` matches any one segment
/// (percent-decoded: a key with `/` in it is sent as `%2F`) and is available as
/// `request.parameters["name"]`. A query route also accepts `?consistency=stale` (a read of the
/// answering node's state, possibly behind) or `?consistency=linearizable` (the default).
public struct HTTPRoute<Machine: StateMachine>: Sendable {
    /// What a request asks of the group.
    public enum Operation: Sendable {
        case command(Machine.Command)
        case query(Machine.Query)
    }

    /// `GET`, `PUT`, `POST`, `DELETE`, ...
    public let method: String
    /// The path below `/v1/groups/{group}/`, e.g. `kv/{key}/append`.
    public let pattern: String
    let operation: @Sendable (PluginRequest) throws(HTTPRouteError) -> Operation
    let response: @Sendable (Machine.Response, PluginRequest) -> PluginResponse

    /// A route whose requests become commands, written to the log and applied exactly once.
    public static func command(
        _ method: String,
        _ pattern: String,
        _ request: @escaping @Sendable (PluginRequest) throws(HTTPRouteError) -> Machine.Command,
        response: @escaping @Sendable (Machine.Response, PluginRequest) -> PluginResponse
    ) -> HTTPRoute {
        HTTPRoute(
            method: method,
            pattern: pattern,
            operation: { (http) throws(HTTPRouteError) in
                .command(try request(http))
            },
            response: response
        )
    }

    /// A route whose requests become queries, served without writing the log.
    public static func query(
        _ method: String,
        _ pattern: String,
        _ request: @escaping @Sendable (PluginRequest) throws(HTTPRouteError) -> Machine.Query,
        response: @escaping @Sendable (Machine.Response, PluginRequest) -> PluginResponse
    ) -> HTTPRoute {
        HTTPRoute(
            method: method,
            pattern: pattern,
            operation: { (http) throws(HTTPRouteError) in
                .query(try request(http))
            },
            response: response
        )
    }
}

/// A state machine that declares HTTP routes of its own, besides the generic
/// `POST /v1/groups/{group}/command` and `/query` endpoints every plugin has.
public protocol HTTPRoutable: StateMachine {
    /// The plugin's routes, matched in order.
    static var httpRoutes: [HTTPRoute<Self>] { get }
}

/// The JSON encoding every answer of the API uses.
enum JSONBody {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0A]
    }
}
