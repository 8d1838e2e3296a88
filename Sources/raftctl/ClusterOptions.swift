import ArgumentParser
import ClusterConfig
import KeyValueClient
import RaftClient
import RaftCore
import RaftSecurity

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How raftctl finds the cluster: options every command that talks to a group shares.
struct ClusterOptions: ParsableArguments {
    @Option(help: "The cluster's configuration file (default: cluster.yaml, unless --endpoints is given).")
    var config: String?

    @Option(
        help: ArgumentHelp(
            "Client addresses of the nodes, comma-separated, in the order of the cluster's nodes.",
            discussion: "Leader hints name nodes by position, so list every node in configuration order.",
            valueName: "host:port,..."
        )
    )
    var endpoints: String?

    @Option(help: "The group to address (default: the first configured group; \"kv\" with --endpoints).")
    var group: String?

    @Option(help: ArgumentHelp("Give up after this long (e.g. 500ms, 5s, 1m).", valueName: "duration"))
    var timeout: DurationArgument = DurationArgument(.seconds(5))

    @Option(help: ArgumentHelp(
        "The cluster CA's certificate: speak TLS (default: tls.ca of the configuration, when it has tls).",
        valueName: "pem"
    ))
    var cacert: String?

    @Option(help: ArgumentHelp("A client certificate to authenticate with (with --key).", valueName: "pem"))
    var cert: String?

    @Option(help: ArgumentHelp("The private key of --cert.", valueName: "pem"))
    var key: String?

    @Option(help: ArgumentHelp(
        "A bearer token to authenticate with (default: the RAFTHOST_TOKEN environment variable).",
        valueName: "token"
    ))
    var token: String?

    func validate() throws {
        if (cert == nil) != (key == nil) {
            throw ValidationError("--cert and --key go together")
        }
        if config != nil, endpoints != nil {
            throw ValidationError("--config and --endpoints exclude each other")
        }
        if let endpoints {
            _ = try Self.parseEndpoints(endpoints)
        }
    }

    /// A client of the chosen group. The caller closes it.
    func makeClient() throws -> RaftClient {
        var configuration = RaftClient.Configuration()
        configuration.tls = try clientTLS()
        configuration.token = bearerToken()
        return RaftClient(endpoints: try endpointList(), group: try groupName(), configuration: configuration)
    }

    /// TLS to the nodes: `--cacert` (with `--cert` and `--key`), or else the CA of the
    /// configuration's `tls` section (unless the nodes were given as addresses, so that no
    /// configuration is read); `nil` for plaintext.
    func clientTLS(addressesGiven: Bool = false) throws -> ClientTLS? {
        var caFile = cacert
        if caFile == nil, endpoints == nil, !addressesGiven {
            caFile = try loadCluster().tls?.caFile
        }
        guard let caFile else {
            if cert != nil { throw ValidationError("--cert needs --cacert (or a configuration with tls)") }
            return nil
        }
        do {
            return try ClientTLS(caFile: caFile, certificate: cert, key: key)
        } catch {
            throw RaftCtlError(.usage, "\(error)")
        }
    }

    /// `--token`, else `RAFTHOST_TOKEN`.
    func bearerToken() -> String? {
        if let token { return token }
        guard let value = getenv("RAFTHOST_TOKEN") else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Every node's client endpoint, in configuration order.
    func endpointList() throws -> [RaftClient.Endpoint] {
        if let endpoints {
            return try Self.parseEndpoints(endpoints)
        }
        return try loadCluster().nodes.map(RaftClient.Endpoint.init)
    }

    /// The group to address: `--group`, checked against the configuration when there is one.
    func groupName() throws -> String {
        if endpoints != nil {
            return group ?? "kv"
        }
        let cluster = try loadCluster()
        if let group, !cluster.groups.contains(where: { $0.name == group }) {
            let names = cluster.groups.map(\.name).joined(separator: ", ")
            throw ValidationError("--group: the cluster has no group '\(group)' (it has: \(names))")
        }
        return group ?? cluster.groups.first?.name ?? "kv"
    }

    private func loadCluster() throws -> ClusterConfiguration {
        try ClusterConfiguration.load(path: config ?? "cluster.yaml")
    }

    /// Runs `body` with a key/value client whose calls end at `--timeout` from now.
    func withKeyValueClient<Result>(
        _ body: (KeyValueClient, ContinuousClock.Instant) async throws -> Result
    ) async throws -> Result {
        let client = KeyValueClient(try makeClient())
        let deadline = ContinuousClock.now + timeout.duration
        do {
            let result = try await body(client, deadline)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// `host:port,host:port,...`; node `i` (1-based) is the `i`-th address.
    static func parseEndpoints(_ text: String) throws -> [RaftClient.Endpoint] {
        let addresses = text.split(separator: ",", omittingEmptySubsequences: false)
        var endpoints: [RaftClient.Endpoint] = []
        for (index, address) in addresses.enumerated() {
            let address = address.trimmingPrefixAndSuffix(" ")
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                (1...65535).contains(port)
            else {
                throw ValidationError("--endpoints: '\(address)' is not host:port")
            }
            var host = address[..<colon]
            if host.hasPrefix("["), host.hasSuffix("]") {
                host = host.dropFirst().dropLast()
            }
            guard !host.isEmpty else {
                throw ValidationError("--endpoints: '\(address)' has no host")
            }
            endpoints.append(RaftClient.Endpoint(node: NodeID(UInt64(index + 1)), host: String(host), port: port))
        }
        return endpoints
    }
}

extension Substring {
    fileprivate func trimmingPrefixAndSuffix(_ character: Character) -> Substring {
        var result = self
        while result.first == character { result = result.dropFirst() }
        while result.last == character { result = result.dropLast() }
        return result
    }
}

/// A duration on the command line: a decimal number and a unit, `ms`, `s` or `m`.
struct DurationArgument: ExpressibleByArgument, Hashable {
    var duration: Duration

    init(_ duration: Duration) {
        self.duration = duration
    }

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        // "ms" before "s", so the longer suffix wins.
        guard let unit = units.first(where: { argument.hasSuffix($0.suffix) }),
            let value = Double(argument.dropLast(unit.suffix.count)), value.isFinite, value > 0
        else {
            return nil
        }
        duration = .milliseconds(Int64((value * unit.seconds * 1000).rounded()))
        guard duration > .zero else { return nil }
    }

    var defaultValueDescription: String {
        "\(duration.components.seconds)s"
    }
}

/// How a read is answered: `linearizable` (through the leader, never behind) or `stale` (from
/// the asked node's own state, possibly behind).
enum ConsistencyArgument: String, ExpressibleByArgument, CaseIterable {
    case linearizable, stale
}
