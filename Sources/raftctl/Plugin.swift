import ArgumentParser
import ClusterConfig
import Foundation
import WasmPlugins

/// `raftctl plugin`: the code of `WasmFromLog` groups, whose WebAssembly module comes through
/// their log.
struct Plugin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Deploy WebAssembly code to a WasmFromLog group.",
        subcommands: [PluginDeploy.self]
    )

    // See RaftCtl: lets the cluster options come between `plugin` and the operation too.
    @OptionGroup var cluster: ClusterOptions
}

/// `raftctl plugin deploy --group G module.wasm [--fuel N] [--memory 16MiB]`: replaces the code
/// (and the state) of a `WasmFromLog` group with one replicated command.
///
/// The module is loaded here first with the checks every replica makes
/// (`WasmFromLog.validate`); one that fails is not sent, and the exit status is 2 with the
/// reason. Otherwise the deploy command (`WasmFromLog.deployCommand`) goes to
/// `POST /v1/groups/{group}/command` as `application/octet-stream`, with one random client id and
/// sequence number 1, through ``Call/post(path:headers:body:to:timeout:outcomeUnknown:)``: the
/// same retries, the same exit statuses as `raftctl call`.
struct PluginDeploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Replace the WebAssembly code of a WasmFromLog group, through its log.",
        discussion: """
            Checks the module as every replica will (an ABI version 1 plugin that imports \
            nothing), then proposes it to the group as one replicated command: every replica \
            switches to the new code, with an empty state, at the same log index. Prints the \
            module's name and size and the node's answer. Exit status 0 when deployed, 2 when the \
            module does not load (nothing is sent) or a node refuses the deploy, 3 when no node \
            answers before --timeout (whether it was deployed is then unknown).
            """
    )

    /// `--config`, `--group` and `--timeout`.
    @OptionGroup var cluster: ClusterOptions

    /// `--http-endpoints`, instead of `--config`.
    @OptionGroup var http: HTTPOptions

    @Argument(help: ArgumentHelp("The WebAssembly module to deploy.", valueName: "module.wasm"))
    var module: String

    @Option(help: "Instructions each call of the module may run (roughly one per WebAssembly operator).")
    var fuel: UInt64 = 100_000_000

    @Option(help: ArgumentHelp("The most memory the module's instance may have (at least 64KiB).", valueName: "size"))
    var memory = SizeArgument(16 << 20)

    func validate() throws {
        try http.validate(with: cluster, command: "plugin deploy")
    }

    func run() async throws {
        print(try await deploy())
    }

    /// Loads and checks the module, sends the deploy, and returns what to print.
    func deploy() async throws -> String {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: module)))
        } catch {
            throw RaftCtlError(.usage, "cannot read \(module): \(error.localizedDescription)")
        }
        let loaded: WasmPluginModule
        do {
            loaded = try WasmFromLog.validate(module: bytes, path: module, fuel: fuel, memoryBytes: memory.bytes)
        } catch {
            throw RaftCtlError(.usage, "\(error.message); nothing was deployed")
        }
        let nodes = try http.nodes(cluster: cluster)
        let group = try http.groupName(cluster: cluster)
        try checkGroupRunsWasmFromLog(group)
        let answer = try await Call.post(
            path: "/v1/groups/\(Call.pathSegment(group))/command",
            headers: [
                ("Content-Type", "application/octet-stream"),
                ("Raft-Client-ID", "\(UInt64.random(in: 1...UInt64.max))"),
                ("Raft-Sequence", "1"),
            ],
            body: WasmFromLog.deployCommand(module: bytes, fuel: fuel, memoryBytes: memory.bytes),
            to: nodes,
            timeout: cluster.timeout.duration,
            outcomeUnknown: true
        )
        return "\(module): \(loaded.name), \(bytes.count) bytes, to group \(group): "
            + String(decoding: answer, as: UTF8.self)
    }

    /// With `--config`, refuses a group that does not run `WasmFromLog`: its plugin would take
    /// the deploy for one of its own commands.
    private func checkGroupRunsWasmFromLog(_ group: String) throws {
        guard http.httpEndpoints == nil else { return }
        let configuration = try ClusterConfiguration.load(path: cluster.config ?? "cluster.yaml")
        if let found = configuration.groups.first(where: { $0.name == group }), found.stateMachine != WasmFromLog.name {
            throw RaftCtlError(
                .usage,
                "group \(group) runs \(found.stateMachine), not \(WasmFromLog.name): nothing was deployed"
            )
        }
    }
}

/// A size on the command line, as in cluster.yaml: bytes (`1048576`) or with a unit (`64KiB`,
/// `16MiB`, `1MB`).
struct SizeArgument: ExpressibleByArgument, Hashable {
    var bytes: Int

    init(_ bytes: Int) {
        self.bytes = bytes
    }

    init?(argument: String) {
        guard let bytes = ClusterConfiguration.parseSize(argument) else { return nil }
        self.bytes = bytes
    }

    var defaultValueDescription: String {
        bytes.isMultiple(of: 1 << 20) ? "\(bytes >> 20)MiB" : "\(bytes)"
    }
}
