import ArgumentParser
import ClusterConfig
import RaftClient
import RaftCore
import RaftSecurity

/// How the commands that use the nodes' HTTP API (`status`, `call`) find it: the `http` address of
/// each node of `--config`, or `--http-endpoints`. They share ``ClusterOptions`` for the rest.
struct HTTPOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "HTTP addresses of the nodes, comma-separated, in node order, instead of --config.",
            valueName: "host:port,..."
        )
    )
    var httpEndpoints: String?

    /// One node's HTTP API.
    struct Node: Sendable {
        /// The node's id in the configuration, or `n1`, `n2`, ... by position in `--http-endpoints`.
        var name: String
        var host: String
        var port: Int
        /// TLS to the node, `nil` for plaintext.
        var tls: ClientTLS? = nil
        /// The bearer token requests carry.
        var token: String? = nil

        /// `host:port`, with an IPv6 address in brackets.
        var address: String { hostAndPort(host, port) }
    }

    /// Rejects the cluster options that name no HTTP address: `--endpoints` (the native client
    /// protocol), and `--config` together with `--http-endpoints`.
    func validate(with cluster: ClusterOptions, command: String) throws {
        if cluster.endpoints != nil {
            throw ValidationError(
                "\(command) asks the nodes' HTTP API: use --config or --http-endpoints, not --endpoints"
            )
        }
        if cluster.config != nil, httpEndpoints != nil {
            throw ValidationError("--config and --http-endpoints exclude each other")
        }
    }

    /// Every node's HTTP API, in node order.
    func nodes(cluster: ClusterOptions) throws -> [Node] {
        let tls = try cluster.clientTLS(addressesGiven: httpEndpoints != nil)
        let token = cluster.bearerToken()
        if let httpEndpoints {
            return try ClusterOptions.parseEndpoints(httpEndpoints).map {
                Node(name: "n\($0.node.rawValue)", host: $0.host, port: $0.port, tls: tls, token: token)
            }
        }
        let configuration = try ClusterConfiguration.load(path: cluster.config ?? "cluster.yaml")
        return configuration.nodes.map {
            Node(name: $0.id, host: $0.http.host, port: $0.http.port, tls: tls, token: token)
        }
    }

    /// The group to address: `--group`, checked against the configuration when there is one;
    /// without it, the configuration's first group, or "kv" with `--http-endpoints`.
    func groupName(cluster: ClusterOptions) throws -> String {
        if httpEndpoints != nil {
            return cluster.group ?? "kv"
        }
        return try cluster.groupName()
    }
}
