package import ClusterConfig
import KeyValueStore
import LockService
import NIOCore
import NIOHTTP1
import RaftClient
import RaftCore
package import RaftReplica
import StateMachineAPI

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
/// Key/value (`KeyValueStore` groups; `/v1/kv/...` is the first group, which must be one):
/// - `GET /v1/kv/{key}[?consistency=stale]`: 200 and the raw value, 404 `{"error":"ErrNoKey"}`;
/// - `PUT /v1/kv/{key}` (body = value): 200 `{"ok":true}`;
/// - `POST /v1/kv/{key}/append` (body = value): 200 `{"ok":true}`;
/// - `DELETE /v1/kv/{key}`: 200 `{"ok":true}` or 404 `{"error":"ErrNoKey"}`;
/// - `POST /v1/kv/{key}/cas` with `{"expected": "old" | null, "new": "v"}`: 200
///   `{"swapped":true,"current":"v"}` or 409 `{"swapped":false,"current":"..." | null}`;
/// - the same under `/v1/groups/{group}/kv/{key}` for any key/value group.
///
/// Locks (`LockService` groups), under `/v1/groups/{group}/locks/{lock}`:
/// - `GET`: 200 `{"owner":..,"token":..,"expiresAt":..}` or 404 `{"error":"no holder"}`;
/// - `POST .../acquire` with `{"owner":"a","leaseMs":10000}`: 200 with the holder, 409
///   `{"error":"held","holder":{...}}` when someone else holds it;
/// - `POST .../renew` with `{"owner":"a","token":7,"leaseMs":10000}` and `POST .../release`
///   with `{"owner":"a","token":7}`: 200, or 409 `{"error":"not holder","holder":...}`.
///
/// `GET /v1/status` (JSON) and `GET /metrics` (Prometheus text). Keys and locks are one path
/// segment, percent-decoded (encode `/` as `%2F`). Errors are JSON `{"error": "..."}`: 400 bad
/// input, 404 unknown path or group, 405 wrong method, 413 body too large, 503 unavailable.
package struct HTTPAPI: Sendable {
    package typealias LocalSubmit = @Sendable (ClientRequest, String) async -> ClientResponse

    private let nodeID: String
    private let configuration: ClusterConfiguration
    private let status: @Sendable () -> [GroupStatus]
    private let local: LocalSubmit
    private let routers: [String: LeaderRouter]

    package init(
        nodeID: String,
        configuration: ClusterConfiguration,
        routers: [String: LeaderRouter],
        status: @escaping @Sendable () -> [GroupStatus],
        local: @escaping LocalSubmit
    ) {
        self.nodeID = nodeID
        self.configuration = configuration
        self.routers = routers
        self.status = status
        self.local = local
    }

    /// Answers one request.
    package func handle(_ request: HTTPRequest) async -> HTTPAnswer {
        let (path, query) = Self.split(request.uri)
        guard let segments = Self.segments(path) else {
            return .error(.badRequest, "the path is not valid percent-encoded UTF-8")
        }
        switch segments {
        case ["v1", "status"]:
            guard request.method == .GET else { return .methodNotAllowed(request.method) }
            return statusAnswer()
        case ["metrics"]:
            guard request.method == .GET else { return .methodNotAllowed(request.method) }
            return metricsAnswer()
        case _ where segments.count >= 3 && segments[0] == "v1" && segments[1] == "kv":
            guard let group = configuration.groups.first else { return .error(.notFound, "no groups") }
            return await keyValue(request, group: group, rest: Array(segments[2...]), query: query)
        case _ where segments.count >= 5 && segments[0] == "v1" && segments[1] == "groups":
            guard let group = configuration.groups.first(where: { $0.name == segments[2] }) else {
                return .error(.notFound, "this cluster has no group named \"\(segments[2])\"")
            }
            switch segments[3] {
            case "kv": return await keyValue(request, group: group, rest: Array(segments[4...]), query: query)
            case "locks": return await locks(request, group: group, rest: Array(segments[4...]), query: query)
            default: return .error(.notFound, "no such path: \(path)")
            }
        default:
            return .error(.notFound, "no such path: \(path)")
        }
    }

    // MARK: - Key/value

    private struct CompareAndSwapBody: Decodable {
        var expected: String?
        var new: String
    }

    private func keyValue(
        _ request: HTTPRequest,
        group: ClusterConfiguration.Group,
        rest: [String],
        query: [String: String]
    ) async -> HTTPAnswer {
        guard group.stateMachine == KeyValueStore.name else {
            return .error(.notFound, "group \"\(group.name)\" runs \(group.stateMachine), not \(KeyValueStore.name)")
        }
        let key = rest[0]
        guard !key.isEmpty else { return .error(.badRequest, "the key is empty") }
        let command: KeyValueStore.Command
        switch (rest.count, rest.dropFirst().first, request.method) {
        case (1, _, .GET):
            guard let consistency = Self.consistency(query) else { return Self.badConsistency(query) }
            let answer = await read(KeyValueStore.Query.get(key: key).encoded(), group: group, consistency)
            return answer.map(KeyValueStore.Response.self) { response in
                switch response {
                case .value(let value):
                    HTTPAnswer(.ok, contentType: "application/octet-stream", body: Array(value.utf8))
                case .noKey: .error(.notFound, "ErrNoKey")
                default: .error(.internalServerError, "unexpected answer to a get: \(response)")
                }
            }
        case (1, _, .PUT):
            guard let value = Self.text(request.body) else { return .error(.badRequest, "the value must be UTF-8") }
            command = .put(key: key, value: value)
        case (1, _, .DELETE):
            command = .delete(key: key)
        case (2, "append", .POST):
            guard let value = Self.text(request.body) else { return .error(.badRequest, "the value must be UTF-8") }
            command = .append(key: key, value: value)
        case (2, "cas", .POST):
            let body: CompareAndSwapBody
            do {
                body = try JSONDecoder().decode(CompareAndSwapBody.self, from: Data(request.body.readableBytesView))
            } catch {
                return .error(.badRequest, "expected {\"expected\": \"old\" | null, \"new\": \"value\"}: \(error)")
            }
            command = .compareAndSwap(key: key, expected: body.expected, new: body.new)
        case (1, _, _), (2, "append", _), (2, "cas", _):
            return .methodNotAllowed(request.method)
        default:
            return .error(.notFound, "no such path under /kv/: \(rest.joined(separator: "/"))")
        }
        let answer = await write(command.encoded(), group: group)
        return answer.map(KeyValueStore.Response.self) { response in
            switch response {
            case .ok: .okTrue
            case .noKey: .error(.notFound, "ErrNoKey")
            case .compareAndSwap(let swapped, let current):
                .json(swapped ? .ok : .conflict, CompareAndSwapAnswer(swapped: swapped, current: current))
            case .value: .error(.internalServerError, "unexpected answer to a command: \(response)")
            }
        }
    }

    private struct CompareAndSwapAnswer: Encodable {
        var swapped: Bool
        var current: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(swapped, forKey: .swapped)
            // `null`, not a missing member, for a missing key.
            try container.encode(current, forKey: .current)
        }

        enum CodingKeys: String, CodingKey { case swapped, current }
    }

    // MARK: - Locks

    private struct LockBody: Decodable {
        var owner: String
        var token: UInt64?
        var leaseMs: UInt64?
    }

    private struct HolderAnswer: Encodable {
        var owner: String
        var token: UInt64
        var expiresAt: UInt64

        init(_ holder: LockService.Holder) {
            owner = holder.owner
            token = holder.token
            expiresAt = holder.expiresAt
        }
    }

    private struct LockRefusal: Encodable {
        var error: String
        var holder: HolderAnswer?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(error, forKey: .error)
            try container.encode(holder, forKey: .holder)
        }

        enum CodingKeys: String, CodingKey { case error, holder }
    }

    private func locks(
        _ request: HTTPRequest,
        group: ClusterConfiguration.Group,
        rest: [String],
        query: [String: String]
    ) async -> HTTPAnswer {
        guard group.stateMachine == LockService.name else {
            return .error(.notFound, "group \"\(group.name)\" runs \(group.stateMachine), not \(LockService.name)")
        }
        let lock = rest[0]
        guard !lock.isEmpty else { return .error(.badRequest, "the lock name is empty") }
        switch (rest.count, rest.dropFirst().first, request.method) {
        case (1, _, .GET):
            guard let consistency = Self.consistency(query) else { return Self.badConsistency(query) }
            let answer = await read(LockService.Query.holder(lock: lock).encoded(), group: group, consistency)
            return answer.map(LockService.Response.self) { response in
                switch response {
                case .holder(let holder?): .json(.ok, HolderAnswer(holder))
                case .holder(nil): .error(.notFound, "no holder")
                default: .error(.internalServerError, "unexpected answer to a holder query: \(response)")
                }
            }
        case (2, let action?, .POST) where ["acquire", "renew", "release"].contains(action):
            let body: LockBody
            do {
                body = try JSONDecoder().decode(LockBody.self, from: Data(request.body.readableBytesView))
            } catch {
                return .error(.badRequest, "expected {\"owner\": \"...\", \"token\": n, \"leaseMs\": n}: \(error)")
            }
            let command: LockService.Command
            switch (action, body.token, body.leaseMs) {
            case ("acquire", _, let leaseMs?):
                command = .acquire(lock: lock, owner: body.owner, leaseMs: leaseMs)
            case ("renew", let token?, let leaseMs?):
                command = .renew(lock: lock, owner: body.owner, token: token, leaseMs: leaseMs)
            case ("release", let token?, _):
                command = .release(lock: lock, owner: body.owner, token: token)
            default:
                return .error(.badRequest, "\(action) needs owner, \(action == "acquire" ? "" : "token, ")leaseMs")
            }
            let answer = await write(command.encoded(), group: group)
            return answer.map(LockService.Response.self) { response in
                switch response {
                case .granted(let holder): .json(.ok, HolderAnswer(holder))
                case .released: .json(.ok, ["released": true])
                case .held(let holder): .json(.conflict, LockRefusal(error: "held", holder: HolderAnswer(holder)))
                case .notHolder(let current):
                    .json(.conflict, LockRefusal(error: "not holder", holder: current.map(HolderAnswer.init)))
                case .holder: .error(.internalServerError, "unexpected answer to a command: \(response)")
                }
            }
        case (1, _, _), (2, "acquire", _), (2, "renew", _), (2, "release", _):
            return .methodNotAllowed(request.method)
        default:
            return .error(.notFound, "no such path under /locks/: \(rest.joined(separator: "/"))")
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

        func map<Response: BinaryCodable>(_ type: Response.Type, _ body: (Response) -> HTTPAnswer) -> HTTPAnswer {
            switch self {
            case .failed(let answer):
                return answer
            case .answered(let bytes):
                guard let response = try? Response(decoding: bytes) else {
                    return .error(.badGateway, "the group's answer could not be decoded")
                }
                return body(response)
            }
        }
    }

    private var deadline: ContinuousClock.Instant { .now + configuration.requestTimeout }

    private func write(_ command: [UInt8], group: ClusterConfiguration.Group) async -> Outcome {
        guard let router = routers[group.name] else { return .failed(.error(.notFound, "no group \(group.name)")) }
        do {
            return .answered(try await router.submit(command, deadline: deadline))
        } catch {
            return .failed(Self.answer(for: error))
        }
    }

    private func read(
        _ query: [UInt8],
        group: ClusterConfiguration.Group,
        _ consistency: Replica.ReadConsistency
    ) async -> Outcome {
        if consistency == .stale {
            switch await local(.query(query, consistency: .stale), group.name) {
            case .ok(let bytes): return .answered(bytes)
            case .error(let error): return .failed(Self.answer(for: error))
            case .unknownGroup(let message): return .failed(Self.answer(for: RaftClientError(.unknownGroup, message)))
            }
        }
        guard let router = routers[group.name] else { return .failed(.error(.notFound, "no group \(group.name)")) }
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

    private func nodeName(_ id: NodeID?) -> String? {
        guard let id else { return nil }
        return configuration.nodes.first { $0.numericID == id.rawValue }?.id ?? "\(id.rawValue)"
    }

    private func statusAnswer() -> HTTPAnswer {
        let groups = status().map { group in
            NodeStatus.Group(
                name: group.name,
                stateMachine: configuration.groups.first { $0.name == group.name }?.stateMachine ?? "",
                role: group.role.rawValue,
                term: group.term,
                leader: nodeName(group.leader),
                commitIndex: group.commitIndex,
                appliedIndex: group.appliedIndex,
                lastIndex: group.lastIndex,
                snapshotIndex: group.snapshotIndex
            )
        }
        return .json(.ok, NodeStatus(node: nodeID, groups: groups))
    }

    /// The Prometheus text exposition (format 0.0.4), written by hand from ``GroupStatus``.
    private func metricsAnswer() -> HTTPAnswer {
        let groups = status()
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (GroupStatus) -> UInt64) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for group in groups {
                text += "\(name){node=\"\(Self.label(nodeID))\",group=\"\(Self.label(group.name))\"} \(value(group))\n"
            }
        }
        family("rafthost_term", "gauge", "The group's current Raft term on this node.") { $0.term }
        family("rafthost_is_leader", "gauge", "1 when this node leads the group, else 0.") {
            $0.role == .leader ? 1 : 0
        }
        family("rafthost_commit_index", "gauge", "The highest log index known committed.") { $0.commitIndex }
        family("rafthost_applied_index", "gauge", "The highest log index applied to the state machine.") {
            $0.appliedIndex
        }
        family("rafthost_last_index", "gauge", "The index of the last entry of the local log.") { $0.lastIndex }
        family("rafthost_snapshot_index", "gauge", "The last index covered by the local snapshot.") {
            $0.snapshotIndex
        }
        family("rafthost_fsyncs_total", "counter", "Storage syncs since the node started.") { UInt64($0.syncs) }
        family(
            "rafthost_proposals_total",
            "counter",
            "Client commands handed to this node (a follower forwards them)."
        ) {
            $0.metrics.proposals
        }
        family("rafthost_applied_entries_total", "counter", "Log entries applied on this node.") {
            $0.metrics.appliedEntries
        }
        family("rafthost_elections_total", "counter", "Elections this node started.") { $0.metrics.elections }
        family("rafthost_lease_reads_total", "counter", "Linearizable reads served from the leader's lease.") {
            $0.metrics.leaseReads
        }
        family("rafthost_lease_stalls_total", "counter", "Read leases given up because ticks ran late.") {
            $0.metrics.leaseStalls
        }
        family("rafthost_snapshots_total", "counter", "Snapshots this node took.") { $0.metrics.snapshots }
        family("rafthost_snapshot_bytes", "gauge", "Size of the last snapshot this node took.") {
            $0.metrics.lastSnapshotBytes
        }
        text += "# HELP rafthost_replication_lag_entries Entries a follower is behind the leader's log.\n"
        text += "# TYPE rafthost_replication_lag_entries gauge\n"
        for group in groups {
            for (peer, lag) in group.replicationLag.sorted(by: { $0.key < $1.key }) {
                text +=
                    "rafthost_replication_lag_entries{node=\"\(Self.label(nodeID))\",group=\"\(Self.label(group.name))\","
                    + "peer=\"\(Self.label(nodeName(peer) ?? "\(peer)"))\"} \(lag)\n"
            }
        }
        text += "# HELP rafthost_fsync_seconds Latency of the storage syncs (write + fsync) of a batch.\n"
        text += "# TYPE rafthost_fsync_seconds histogram\n"
        for group in groups {
            let labels = "node=\"\(Self.label(nodeID))\",group=\"\(Self.label(group.name))\""
            var cumulative: UInt64 = 0
            for (slot, count) in group.metrics.syncLatencyBuckets.enumerated() {
                cumulative += count
                let bound =
                    slot < GroupMetrics.syncLatencyBounds.count ? "\(GroupMetrics.syncLatencyBounds[slot])" : "+Inf"
                text += "rafthost_fsync_seconds_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "rafthost_fsync_seconds_sum{\(labels)} \(group.metrics.syncLatencySum)\n"
            text += "rafthost_fsync_seconds_count{\(labels)} \(group.metrics.syncCount)\n"
        }
        return HTTPAnswer(.ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }

    private static func label(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    // MARK: - Parsing

    /// The path and the decoded query parameters of a request target.
    static func split(_ uri: String) -> (path: Substring, query: [String: String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(parts[0]) else { continue }
            query[name] = parts.count > 1 ? percentDecoded(parts[1]) ?? "" : ""
        }
        return (uri[..<mark], query)
    }

    /// The path's segments, each percent-decoded; `nil` when one is not valid.
    static func segments(_ path: Substring) -> [String]? {
        var segments: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            guard let decoded = percentDecoded(segment) else { return nil }
            segments.append(decoded)
        }
        return segments
    }

    /// `%XX` escapes decoded into UTF-8; `nil` for a broken escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
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

    /// `{"ok":true}`, the answer to every successful write: encoded once, since it is the hot path.
    static let okTrue = json(.ok, ["ok": true])

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        json(status, ["error": message])
    }

    static func methodNotAllowed(_ method: HTTPMethod) -> HTTPAnswer {
        error(.methodNotAllowed, "method \(method) is not allowed here")
    }
}
