package import ClusterConfig
package import CoreMetrics
import NIOCore
import NIOHTTP1
import Prometheus
import RaftClient
import RaftCore
package import RaftReplica
package import RaftSecurity
package import StateMachineHTTP

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The routes of the HTTP/JSON API of one node.
///
/// Commands and linearizable reads go through a ``LeaderRouter`` of the group, that is through
/// `RaftClient` over the native client ports: whichever node a request reaches, the client
/// finds the leader, follows its hints and retries with the same client id and sequence
/// number, so a command is applied at most once and a request to a follower is served.
/// `?consistency=stale` reads are answered by this node's replica. Every request has
/// `requestTimeout` to complete; a command that cannot commit in time is answered with 503 and
/// its outcome is unknown, never with a false success.
///
/// Every group, whatever its plugin:
/// - `POST /v1/groups/{group}/command` and `POST /v1/groups/{group}/query[?consistency=stale]`:
///   the body is the plugin's binary encoding (`Content-Type: application/octet-stream`,
///   answered in kind) or, where its `Command`, `Query` and `Response` are `Codable`, their JSON
///   (`application/json`; 415 for a plugin that is not `Codable`). A command with the headers
///   `Raft-Client-ID` and `Raft-Sequence` is exactly-once across retries of the same pair, to
///   any node; without them the node gives it a session of its own for the request's lifetime.
/// - the plugin's own routes (`StateMachineHTTP`'s `HTTPRoutable`) under `/v1/groups/{group}/`,
///   and the first group's also under `/v1/` (so `/v1/kv/{key}` reaches the first group).
///
/// `GET /v1/status` (JSON), `GET /metrics` (Prometheus text), and for operators the console
/// (`GET /`), the cluster view it polls (`GET /v1/cluster`) and the OpenAPI description
/// (`GET /v1/openapi.yaml`): the host's own routes are the cases of ``HostRoute``. Path
/// parameters are one path segment, percent-decoded (encode `/` as `%2F`). Errors are JSON
/// `{"error": "..."}`: 400 bad input, 404 unknown path or group, 405 wrong method (with
/// `Allow`), 413 body too large, 415 unsupported content type, 503 unavailable.
package struct HTTPAPI: Sendable {
    package typealias LocalSubmit = @Sendable (ClientRequest, String) async -> ClientResponse

    private let nodeID: String
    private let configuration: ClusterConfiguration
    private let metricsFactory: any MetricsFactory
    private let status: @Sendable () -> [GroupStatus]
    /// Brings the node's metrics instruments up to date, before a scrape.
    private let recordMetrics: @Sendable () -> Void
    private let local: LocalSubmit
    private let routers: [String: LeaderRouter]
    /// Each group's plugin routes and JSON forms, by group name.
    private let interfaces: [String: PluginHTTPInterface]
    /// Members and leadership of each group (``MembershipHTTP``).
    private let membership: MembershipHTTP
    /// The console, the cluster view behind it and the OpenAPI description.
    private let operatorRoutes: OperatorRoutes

    package init(
        nodeID: String,
        configuration: ClusterConfiguration,
        metricsFactory: any MetricsFactory,
        routers: [String: LeaderRouter],
        interfaces: [String: PluginHTTPInterface],
        status: @escaping @Sendable () -> [GroupStatus],
        recordMetrics: @escaping @Sendable () -> Void,
        local: @escaping LocalSubmit,
        membership: MembershipHTTP = MembershipHTTP(
            members: { _ in nil },
            perform: { _, _ in .unknownGroup },
            backup: { _ in .failure(.unknownGroup) }
        ),
        nodeTLS: ClientTLS? = nil
    ) {
        self.membership = membership
        self.nodeID = nodeID
        self.configuration = configuration
        self.metricsFactory = metricsFactory
        self.routers = routers
        self.interfaces = interfaces
        self.status = status
        self.recordMetrics = recordMetrics
        self.local = local
        self.operatorRoutes = OperatorRoutes(nodeID: nodeID, configuration: configuration, status: status, tls: nodeTLS)
    }

    /// Answers one request.
    package func handle(_ request: HTTPRequest) async -> HTTPAnswer {
        switch resolve(request) {
        case .answer(let answer):
            return answer
        case .call(let call):
            return await perform(call)
        case .hostRoute(let route, let parameters, let path, let query):
            return await serve(route, parameters: parameters, request, path: path, query: query)
        }
    }

    /// Answers `request` without a task when that needs no suspension: a command or
    /// linearizable query of a group (a plugin route or the generic endpoints) goes from the
    /// caller's thread to the group's executor when this node leads, else to the leader the
    /// router's client last reached; a stale query goes to this node's executor; a request
    /// refused outright is answered at once. `reply` is then called exactly once, from any
    /// thread (from a task only when the request has to look for the leader, with the same
    /// session).
    ///
    /// - Returns: false, without calling `reply`, for a request ``handle(_:)`` must answer.
    package func handleWithoutTask(_ request: HTTPRequest, reply: @escaping @Sendable (HTTPAnswer) -> Void) -> Bool {
        let call: GroupCall
        switch resolve(request) {
        case .answer(let answer):
            reply(answer)
            return true
        case .hostRoute:
            return false
        case .call(let found):
            call = found
        }
        guard let router = routers[call.group] else { return false }
        let finish: LeaderRouter.Reply = { result in
            switch result {
            case .success(let bytes): reply(call.answer(bytes))
            case .failure(let error): reply(Self.answer(for: error))
            }
        }
        switch call.operation {
        case .command(let command, session: nil):
            router.submit(command, deadline: deadline, reply: finish)
        case .command(_, session: let session?):
            router.submit(session, deadline: deadline, reply: finish)
        case .query(let query, .linearizable):
            router.query(query, deadline: deadline, reply: finish)
        case .query(let query, .stale):
            router.staleQuery(query, reply: finish)
        }
        return true
    }

    /// What a request comes down to, found without suspending.
    private enum Resolution {
        case answer(HTTPAnswer)
        case call(GroupCall)
        /// One of the host's own routes other than the generic command and query.
        case hostRoute(HostRoute, parameters: [String: String], path: String, query: [String: String])
    }

    /// One command or query of a group, and how the group's encoded answer becomes the HTTP answer.
    private struct GroupCall: Sendable {
        enum Operation: Sendable {
            /// With the client's own session when it sent one, else one of the router's.
            case command([UInt8], session: Replica.ClientCommand?)
            case query([UInt8], Replica.ReadConsistency)
        }

        var group: String
        var operation: Operation
        var answer: @Sendable ([UInt8]) -> HTTPAnswer
    }

    private func resolve(_ request: HTTPRequest) -> Resolution {
        let (path, query) = Self.split(request.uri)
        guard let segments = Self.segments(path) else {
            return .answer(.error(.badRequest, "the path is not valid percent-encoded UTF-8"))
        }
        switch HostRoute.match(method: request.method, segments) {
        case .route(let route, let parameters) where route == .command || route == .query:
            return generic(route == .command ? .command : .query, request, group: parameters["group"], query: query)
        case .route(let route, let parameters):
            return .hostRoute(route, parameters: parameters, path: String(path), query: query)
        case .methodNotAllowed(let allowed):
            return .answer(.methodNotAllowed(request.method, allowed: allowed))
        case nil:
            break
        }
        switch segments {
        case _ where segments.count >= 4 && segments[0] == "v1" && segments[1] == "groups":
            guard let group = configuration.groups.first(where: { $0.name == segments[2] }) else {
                return .answer(.error(.notFound, "this cluster has no group named \"\(segments[2])\""))
            }
            return pluginRoute(request, group: group, path: Array(segments[3...]), query: query)
        case _ where segments.count >= 2 && segments[0] == "v1" && segments[1] != "groups":
            // The first group's plugin routes are also served under /v1/ (`/v1/kv/{key}`).
            guard let group = configuration.groups.first else { return .answer(.error(.notFound, "no groups")) }
            return pluginRoute(request, group: group, path: Array(segments[1...]), query: query)
        default:
            return .answer(.error(.notFound, "no such path: \(path)"))
        }
    }

    /// A route of the host's own (``HostRoute``), its method checked.
    private func serve(
        _ route: HostRoute,
        parameters: [String: String],
        _ request: HTTPRequest,
        path: String,
        query: [String: String]
    ) async -> HTTPAnswer {
        switch route {
        case .members, .addMember, .promoteMember, .removeMember, .leader, .transferLeader, .snapshot:
            return await membership.serve(route, parameters: parameters, request, path: path)
        case .status: return statusAnswer()
        case .metrics: return metricsAnswer()
        case .console: return OperatorRoutes.console
        case .openAPI: return OperatorRoutes.openAPI
        case .cluster: return await operatorRoutes.cluster()
        case .command, .query:
            // `resolve` takes these as group calls; named here so that the switch stays exhaustive.
            let kind: PluginHTTPInterface.Kind = route == .command ? .command : .query
            switch generic(kind, request, group: parameters["group"], query: query) {
            case .answer(let answer): return answer
            case .call(let call): return await perform(call)
            case .hostRoute: return .error(.internalServerError, "\(route) resolved to a host route")
            }
        }
    }

    // MARK: - Plugin routes

    /// A route the group's plugin declared (``StateMachineHTTP/HTTPRoutable``).
    private func pluginRoute(
        _ request: HTTPRequest,
        group: ClusterConfiguration.Group,
        path: [String],
        query: [String: String]
    ) -> Resolution {
        guard let interface = interfaces[group.name] else {
            return .answer(.error(.notFound, "this cluster has no group named \"\(group.name)\""))
        }
        let route: PluginHTTPInterface.Route
        let parameters: [String: String]
        switch interface.match(method: request.method.rawValue, path: path) {
        case .route(let found, let found2):
            route = found
            parameters = found2
        case .methodNotAllowed(let allowed):
            return .answer(.methodNotAllowed(request.method, allowed: allowed.map { HTTPMethod(rawValue: $0) }))
        case .none:
            return .answer(
                .error(
                    .notFound,
                    "no such path: /\(path.joined(separator: "/")) (group \"\(group.name)\" runs \(group.stateMachine))"
                )
            )
        }
        let pluginRequest = PluginRequest(
            method: request.method.rawValue,
            parameters: parameters,
            query: query,
            headers: request.headers.map { ($0.name, $0.value) },
            body: Array(request.body.readableBytesView)
        )
        let operation: (kind: PluginHTTPInterface.Kind, bytes: [UInt8])
        do {
            operation = try route.operation(pluginRequest)
        } catch {
            return .answer(HTTPAnswer(error.status, message: error.message))
        }
        let answer: @Sendable ([UInt8]) -> HTTPAnswer = { bytes in
            do {
                return HTTPAnswer(try route.response(bytes, pluginRequest))
            } catch {
                return .error(.badGateway, "the group's answer could not be decoded: \(error)")
            }
        }
        switch operation.kind {
        case .command:
            return .call(
                GroupCall(group: group.name, operation: .command(operation.bytes, session: nil), answer: answer)
            )
        case .query:
            guard let consistency = Self.consistency(query) else { return .answer(Self.badConsistency(query)) }
            return .call(GroupCall(group: group.name, operation: .query(operation.bytes, consistency), answer: answer))
        }
    }

    // MARK: - Generic command and query endpoints

    private enum BodyFormat {
        case binary
        case json
    }

    /// `POST /v1/groups/{group}/command` and `.../query`: the plugin's binary encoding, or its
    /// JSON form where its types are `Codable`.
    private func generic(
        _ kind: PluginHTTPInterface.Kind,
        _ request: HTTPRequest,
        group name: String?,
        query: [String: String]
    ) -> Resolution {
        guard let group = configuration.groups.first(where: { $0.name == name }), let interface = interfaces[group.name]
        else {
            return .answer(.error(.notFound, "this cluster has no group named \"\(name ?? "")\""))
        }
        let mediaType = request.headers["content-type"].first?
            .split(separator: ";").first.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
        let format: BodyFormat
        switch mediaType {
        case "application/octet-stream": format = .binary
        case "application/json": format = .json
        default:
            return .answer(
                .error(
                    .unsupportedMediaType,
                    "send the \(kind) as application/octet-stream (the plugin's binary encoding) or application/json"
                )
            )
        }
        let body = Array(request.body.readableBytesView)
        let encoded: [UInt8]
        switch format {
        case .binary:
            encoded = body
        case .json:
            let fromJSON = kind == .command ? interface.commandFromJSON : interface.queryFromJSON
            guard let fromJSON, interface.responseToJSON != nil else {
                return .answer(
                    .error(
                        .unsupportedMediaType,
                        "\(group.stateMachine) (group \"\(group.name)\") does not take JSON: its Command, Query and "
                            + "Response are not Codable; send its binary encoding as application/octet-stream"
                    )
                )
            }
            do {
                encoded = try fromJSON(body)
            } catch {
                return .answer(.error(.badRequest, "the body is not a \(group.stateMachine) \(kind) in JSON: \(error)"))
            }
        }
        let toJSON = format == .json ? interface.responseToJSON : nil
        let answer: @Sendable ([UInt8]) -> HTTPAnswer = { bytes in
            guard let toJSON else { return HTTPAnswer(.ok, contentType: "application/octet-stream", body: bytes) }
            do {
                return HTTPAnswer(.ok, contentType: "application/json", body: try toJSON(bytes))
            } catch {
                return .error(.badGateway, "the group's answer could not be decoded: \(error)")
            }
        }
        switch kind {
        case .command:
            let session: Replica.ClientCommand?
            do {
                session = try Self.session(request.headers, command: encoded)
            } catch {
                return .answer(.error(.badRequest, error.message))
            }
            return .call(GroupCall(group: group.name, operation: .command(encoded, session: session), answer: answer))
        case .query:
            guard let consistency = Self.consistency(query) else { return .answer(Self.badConsistency(query)) }
            return .call(GroupCall(group: group.name, operation: .query(encoded, consistency), answer: answer))
        }
    }

    /// The client id and sequence number of `Raft-Client-ID` and `Raft-Sequence`, which make a
    /// retried command exactly-once; nil when neither is sent.
    private static func session(
        _ headers: HTTPHeaders,
        command: [UInt8]
    ) throws(HTTPRouteError) -> Replica.ClientCommand? {
        let client = headers["raft-client-id"].first
        let sequence = headers["raft-sequence"].first
        switch (client, sequence) {
        case (nil, nil):
            return nil
        case (let client?, let sequence?):
            guard let clientID = UInt64(client), clientID != 0 else {
                throw HTTPRouteError("Raft-Client-ID must be a decimal number from 1 to \(UInt64.max)")
            }
            guard let number = UInt64(sequence), number != 0 else {
                throw HTTPRouteError("Raft-Sequence must be a decimal number from 1 to \(UInt64.max)")
            }
            return Replica.ClientCommand(clientID: clientID, sequence: number, command: command)
        default:
            throw HTTPRouteError("send both Raft-Client-ID and Raft-Sequence, or neither")
        }
    }

    /// `?consistency=linearizable` (the default) or `stale`; `nil` for anything else.
    private static func consistency(_ query: [String: String]) -> Replica.ReadConsistency? {
        switch query["consistency"] {
        case nil, "linearizable": .linearizable
        case "stale": .stale
        default: nil
        }
    }

    private static func badConsistency(_ query: [String: String]) -> HTTPAnswer {
        .error(.badRequest, "consistency must be linearizable or stale, not \"\(query["consistency"] ?? "")\"")
    }

    // MARK: - Reaching the group

    /// The plugin's encoded answer, or the HTTP answer that replaces it.
    private enum Outcome {
        case answered([UInt8])
        case failed(HTTPAnswer)
    }

    private var deadline: ContinuousClock.Instant { .now + configuration.requestTimeout }

    private func perform(_ call: GroupCall) async -> HTTPAnswer {
        let outcome: Outcome
        switch call.operation {
        case .command(let command, let session):
            outcome = await write(command, group: call.group, session: session)
        case .query(let query, let consistency):
            outcome = await read(query, group: call.group, consistency)
        }
        switch outcome {
        case .failed(let answer): return answer
        case .answered(let bytes): return call.answer(bytes)
        }
    }

    /// Applies `command` exactly once: with the client's own id and sequence number when it sent
    /// them (`session`), else with one of the router's sessions.
    private func write(_ command: [UInt8], group: String, session: Replica.ClientCommand?) async -> Outcome {
        guard let router = routers[group] else { return .failed(.error(.notFound, "no group \(group)")) }
        do {
            if let session {
                return .answered(try await router.submit(session, deadline: deadline))
            }
            return .answered(try await router.submit(command, deadline: deadline))
        } catch {
            return .failed(Self.answer(for: error))
        }
    }

    private func read(_ query: [UInt8], group: String, _ consistency: Replica.ReadConsistency) async -> Outcome {
        if consistency == .stale {
            switch await local(.query(query, consistency: .stale), group) {
            case .ok(let bytes): return .answered(bytes)
            case .error(let error): return .failed(Self.answer(for: error))
            case .unknownGroup(let message): return .failed(Self.answer(for: RaftClientError(.unknownGroup, message)))
            }
        }
        guard let router = routers[group] else { return .failed(.error(.notFound, "no group \(group)")) }
        do {
            return .answered(try await router.query(query, deadline: deadline))
        } catch {
            return .failed(Self.answer(for: error))
        }
    }

    /// The answer to a request that failed with `error`: the status is the one the error's code
    /// has in `ReplicaError.Code`'s table (through `RaftClientError.Code` for a client error).
    private static func answer(for error: any Error) -> HTTPAnswer {
        let (status, message) =
            switch error {
            case let error as RaftClientError: (error.code.httpStatus, error.message)
            case let error as ReplicaError: (error.code.httpStatus, "\(error)")
            default: (RaftClientError.Code.unavailable.httpStatus, "\(error)")
            }
        let httpStatus = HTTPResponseStatus(statusCode: status)
        return .error(httpStatus, httpStatus == .serviceUnavailable ? "unavailable: \(message)" : message)
    }

    // MARK: - Status and metrics

    private func statusAnswer() -> HTTPAnswer {
        .json(.ok, NodeStatus(node: nodeID, groups: status(), configuration: configuration))
    }

    /// The Prometheus text of the node's registry, when it records through one; a host that
    /// bootstrapped another swift-metrics backend exports its metrics its own way.
    private func metricsAnswer() -> HTTPAnswer {
        guard let prometheus = metricsFactory as? PrometheusMetricsFactory else {
            return .error(
                .notFound,
                "this process records its metrics through its own swift-metrics backend "
                    + "(\(type(of: metricsFactory))), not a Prometheus registry: nothing to export here"
            )
        }
        recordMetrics()
        return HTTPAnswer(
            .ok,
            contentType: "text/plain; version=0.0.4; charset=utf-8",
            body: prometheus.registry.emitToBuffer()
        )
    }

    // MARK: - Parsing

    // The request target is parsed over its UTF-8 bytes: the delimiters are ASCII, so every
    // split falls on a scalar boundary, and no grapheme breaking runs per request.

    /// The path and the decoded query parameters of a request target.
    static func split(_ uri: String) -> (path: Substring, query: [String: String]) {
        let utf8 = uri.utf8
        guard let mark = utf8.firstIndex(of: UInt8(ascii: "?")) else { return (uri[...], [:]) }
        var query: [String: String] = [:]
        for pair in uri[utf8.index(after: mark)...].utf8.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            guard let name = percentDecoded(Substring(pair[..<(equals ?? pair.endIndex)])) else { continue }
            query[name] = equals.map { percentDecoded(Substring(pair[pair.index(after: $0)...])) ?? "" } ?? ""
        }
        return (uri[..<mark], query)
    }

    /// The path's segments, each percent-decoded; `nil` when one is not valid.
    static func segments(_ path: Substring) -> [String]? {
        var segments: [String] = []
        for segment in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            guard let decoded = percentDecoded(Substring(segment)) else { return nil }
            segments.append(decoded)
        }
        return segments
    }

    /// `%XX` escapes decoded into UTF-8; `nil` for a broken escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func text(_ body: ByteBuffer) -> String? {
        String(validating: body.readableBytesView, as: UTF8.self)
    }
}

extension HTTPAnswer {
    /// A JSON answer; `value` is encoded with sorted keys.
    static func json(_ status: HTTPResponseStatus, _ value: some Encodable) -> HTTPAnswer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return HTTPAnswer(status, contentType: "application/json", body: Array(try encoder.encode(value)) + [0x0A])
        } catch {
            return HTTPAnswer(
                .internalServerError,
                contentType: "application/json",
                body: Array(#"{"error":"encoding"}"#.utf8)
            )
        }
    }

    /// A plugin route's answer.
    init(_ response: PluginResponse) {
        self.init(
            HTTPResponseStatus(statusCode: response.status),
            contentType: response.contentType,
            body: response.body
        )
    }

    /// `{"error": message}` with the numeric `status`.
    init(_ status: Int, message: String) {
        self.init(PluginResponse.error(status, message))
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        json(status, ["error": message])
    }

    /// 405, with the `Allow` header naming the methods the path has.
    static func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> HTTPAnswer {
        var answer = error(.methodNotAllowed, "method \(method) is not allowed here")
        answer.headers = [("allow", allowed.map(\.rawValue).joined(separator: ", "))]
        return answer
    }
}
