import ClusterConfig
import NIOCore
import NIOHTTP1
import NIOPosix
import RaftClient
import RaftSecurity

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What an operator looks at: the web console (`GET /`), the cluster view it polls
/// (`GET /v1/cluster`) and the OpenAPI description of the HTTP API (`GET /v1/openapi.yaml`).
struct OperatorRoutes: Sendable {
    /// How long the cluster view waits for another node's `/v1/status`: a node that does not
    /// answer in time is shown unreachable, and the console polls again a second later.
    static let statusTimeout: Duration = .milliseconds(800)

    static let console = HTTPAnswer(.ok, contentType: "text/html; charset=utf-8", body: Array(ConsolePage.html.utf8))
    static let openAPI = HTTPAnswer(
        .ok,
        contentType: "application/yaml",
        body: Array((OpenAPIDocument.yaml + "\n").utf8)
    )

    let nodeID: String
    let configuration: ClusterConfiguration
    let status: @Sendable () -> [GroupStatus]
    /// How this node reaches the others' HTTPS ports (its node certificate), when the cluster
    /// has TLS.
    var tls: ClientTLS? = nil

    /// `GET /v1/cluster`: every configured node's `/v1/status`, this node's own without a
    /// request, the others' asked for at once, with ``statusTimeout``.
    func cluster() async -> HTTPAnswer {
        let groups = status()
        let own = NodeStatus(node: nodeID, groups: groups, configuration: configuration)
        // The nodes of the file, then the members the groups' memberships add.
        var known: [(id: String, http: ClusterConfiguration.Address)] = configuration.nodes.map { ($0.id, $0.http) }
        for group in groups {
            for member in MemberDirectory(of: group.membership, configuration: configuration).members
            where !known.contains(where: { $0.id == member.name }) {
                if let http = ClusterConfiguration.Address(parsing: member.http) { known.append((member.name, http)) }
            }
        }
        let nodes = await withTaskGroup(of: (Int, ClusterView.Node).self) { group in
            for (index, member) in known.enumerated() {
                let address = member.http.description
                guard member.id != nodeID else {
                    group.addTask { (index, ClusterView.Node(id: member.id, http: address, status: own)) }
                    continue
                }
                group.addTask {
                    do {
                        let status = try await Self.fetchStatus(
                            host: member.http.host,
                            port: member.http.port,
                            tls: tls,
                            timeout: Self.statusTimeout
                        )
                        return (index, ClusterView.Node(id: member.id, http: address, status: status))
                    } catch {
                        return (index, ClusterView.Node(id: member.id, http: address, error: "\(error)"))
                    }
                }
            }
            var nodes: [(Int, ClusterView.Node)] = []
            for await node in group { nodes.append(node) }
            return nodes.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return .json(.ok, ClusterView(configuration: configuration, servedBy: nodeID, nodes: nodes))
    }

    /// Another node's `GET /v1/status`, on a connection of its own.
    private static func fetchStatus(
        host: String,
        port: Int,
        tls: ClientTLS?,
        timeout: Duration
    ) async throws -> NodeStatus {
        try await withThrowingTaskGroup(of: NodeStatus?.self) { group in
            group.addTask {
                let body = try await get("/v1/status", host: host, port: port, tls: tls, connectTimeout: timeout)
                return try JSONDecoder().decode(NodeStatus.self, from: Data(body))
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let status = try await group.next() ?? nil else {
                throw StatusFetchError(description: "no answer within \(timeout)")
            }
            return status
        }
    }

    private struct StatusFetchError: Error, CustomStringConvertible {
        var description: String
    }

    /// The body of a 200 answer to `GET path`; throws for any other status.
    private static func get(
        _ path: String,
        host: String,
        port: Int,
        tls: ClientTLS?,
        connectTimeout: Duration
    ) async throws -> [UInt8] {
        let (channel, identityCheck) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(connectTimeout))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let check = try tls?.addClientHandlers(to: channel)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    let asyncChannel = try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                    return (asyncChannel, check)
                }
            }
        return try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                try await identityCheck?.verify(channel.channel)
                let headers = HTTPHeaders([("host", "\(host):\(port)"), ("connection", "close")])
                try await outbound.write(
                    contentsOf: [
                        .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)), .end(nil),
                    ]
                )
                var status = HTTPResponseStatus.ok
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = head.status
                    case .body(let chunk): body += chunk.readableBytesView
                    case .end:
                        guard status == .ok else { throw StatusFetchError(description: "HTTP \(status.code)") }
                        return body
                    }
                }
                throw StatusFetchError(description: "the connection closed before the answer ended")
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}

/// The answer of `GET /v1/cluster`: every configured node, reachable or not, and per group
/// the leader and the recent leader changes that the reachable nodes know of.
struct ClusterView: Codable {
    struct Node: Codable {
        var id: String
        /// The node's HTTP address in `cluster.yaml`.
        var http: String
        var reachable: Bool
        /// Why the node's status could not be had, when it could not.
        var error: String?
        var status: NodeStatus?

        init(id: String, http: String, status: NodeStatus) {
            self.id = id
            self.http = http
            self.reachable = true
            self.status = status
        }

        init(id: String, http: String, error: String) {
            self.id = id
            self.http = http
            self.reachable = false
            self.error = error
        }
    }

    struct Group: Codable {
        var name: String
        var stateMachine: String
        /// The reachable node that leads the group in the highest term any of them reports;
        /// `null` while none does.
        var leader: String?
        /// The highest term a reachable node reports.
        var term: UInt64
        /// Every leader the reachable nodes learned of (one entry per term), newest first, with
        /// the earliest time a node learned of it.
        var leaderChanges: [NodeStatus.LeaderChange]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(stateMachine, forKey: .stateMachine)
            try container.encode(leader, forKey: .leader)
            try container.encode(term, forKey: .term)
            try container.encode(leaderChanges, forKey: .leaderChanges)
        }

        private enum CodingKeys: String, CodingKey { case name, stateMachine, leader, term, leaderChanges }
    }

    var cluster: String
    /// The node that answered.
    var servedBy: String
    /// Milliseconds since the Unix epoch, on the answering node's clock.
    var time: UInt64
    var nodes: [Node]
    var groups: [Group]

    init(configuration: ClusterConfiguration, servedBy: String, nodes: [Node]) {
        cluster = configuration.name
        self.servedBy = servedBy
        time = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        self.nodes = nodes
        groups = configuration.groups.map { group in
            // Each reachable node's view of the group, by node id.
            let byNode = nodes.compactMap { node in
                node.status?.groups.first { $0.name == group.name }.map { (node: node.id, group: $0) }
            }
            let views = byNode.map(\.group)
            let leader = byNode.filter { $0.group.role == "leader" }.max { $0.group.term < $1.group.term }?.node
            var changes: [UInt64: NodeStatus.LeaderChange] = [:]
            for change in views.flatMap({ $0.leaderChanges ?? [] }) {
                if let known = changes[change.term], known.at <= change.at { continue }
                changes[change.term] = change
            }
            return Group(
                name: group.name,
                stateMachine: group.stateMachine,
                leader: leader,
                term: views.map(\.term).max() ?? 0,
                leaderChanges: changes.values.sorted { $0.term > $1.term }.prefix(LeaderChange.kept).map { $0 }
            )
        }
    }
}
