import ClusterConfig
import Foundation
import Logging
import RaftSecurity
import ReplicationHost
import ServiceLifecycle
import Synchronization

/// The service behind `rafthost up`: owns one `serve` child process of `executable` per node.
final class ClusterSupervisor: Service {
    private let configuration: ClusterConfiguration
    private let configPath: String
    private let executable: String
    private let logLevel: Logger.Level
    private let logFormat: LogFormat
    private let startupTimeout: Duration
    private let logger: Logger
    private let output = Mutex(FileHandle.standardOutput)

    init(
        configuration: ClusterConfiguration,
        configPath: String,
        executable: String,
        logLevel: Logger.Level,
        logFormat: LogFormat,
        startupTimeout: Duration,
        logger: Logger
    ) {
        self.configuration = configuration
        self.configPath = configPath
        self.executable = executable
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.startupTimeout = startupTimeout
        self.logger = logger
    }

    struct StartupFailure: Error, CustomStringConvertible {
        var description: String
    }

    func run() async throws {
        let started = ContinuousClock.now
        var children: [Child] = []
        defer { stop(children) }
        for node in configuration.nodes {
            children.append(try launch(node))
        }
        let leaders: [String: String]
        do {
            leaders = try await cancelWhenGracefulShutdown { [children] in try await self.waitForLeaders(children) }
        } catch is CancellationError {
            print("stopping the cluster before every group had a leader")
            return
        }
        printSummary(leaders: leaders, after: ContinuousClock.now - started)
        // Serve until Ctrl-C or SIGTERM; the deferred stop then ends the children.
        try? await gracefulShutdown()
        print("stopping the cluster")
    }

    // MARK: - Children

    /// A running `serve`.
    private struct Child {
        var node: String
        var process: Process
        /// Signalled once the process has exited and its exit was reported.
        var exited: DispatchSemaphore
        /// Signalled once everything the process printed was forwarded.
        var drained: DispatchSemaphore
    }

    private func launch(_ node: ClusterConfiguration.Node) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "serve", "--config", configPath, "--node", node.id, "--log-level", logLevel.rawValue,
            "--log-format", logFormat.rawValue,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let pending = Mutex<[UInt8]>([])
        let exited = DispatchSemaphore(value: 0)
        let drained = DispatchSemaphore(value: 0)
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            }
            let lines = pending.withLock { pending -> [String] in
                pending.append(contentsOf: data)
                if data.isEmpty, !pending.isEmpty { pending.append(UInt8(ascii: "\n")) }
                guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
                let complete = pending[...last]
                pending.removeSubrange(...last)
                return complete.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    .dropLast().map { String(decoding: $0, as: UTF8.self) }
            }
            for line in lines {
                forward(line, of: node.id)
            }
            if data.isEmpty {
                drained.signal()
            }
        }
        process.terminationHandler = { [self] process in
            print("[\(node.id)] exited with status \(process.terminationStatus)")
            exited.signal()
        }
        try process.run()
        logger.info("started node", metadata: ["node": "\(node.id)", "pid": "\(process.processIdentifier)"])
        return Child(node: node.id, process: process, exited: exited, drained: drained)
    }

    /// Asks every child to stop gracefully, then kills the ones still running after ten seconds.
    private func stop(_ children: [Child]) {
        for child in children where child.process.isRunning {
            kill(child.process.processIdentifier, SIGTERM)
        }
        let deadline = DispatchTime.now() + .seconds(10)
        for child in children {
            if child.exited.wait(timeout: deadline) == .timedOut {
                print("[\(child.node)] did not stop in time: killing it")
                kill(child.process.processIdentifier, SIGKILL)
                child.exited.wait()
            }
            // The last lines a node printed arrive after its exit.
            _ = child.drained.wait(timeout: .now() + .seconds(1))
        }
    }

    // MARK: - Leaders

    /// Polls each node's client port until every group has a node that confirms it leads.
    private func waitForLeaders(_ children: [Child]) async throws -> [String: String] {
        // With TLS, the probe dials as the first node: `up` runs every node, so it has their keys,
        // and with auth on a node's certificate may read.
        let probeTLS = try configuration.tls.map { section in
            ClientTLS(node: try NodeTLS(configuration: section, node: configuration.nodes[0].id))
        }
        let deadline = ContinuousClock.now + startupTimeout
        var leaders: [String: String] = [:]
        while leaders.count < configuration.groups.count {
            guard children.contains(where: { $0.process.isRunning }) else {
                throw StartupFailure(description: "every node exited before the cluster was up")
            }
            guard ContinuousClock.now < deadline else {
                let missing = configuration.groups.map(\.name).filter { leaders[$0] == nil }
                throw StartupFailure(
                    description: "no leader within \(startupTimeout) in: \(missing.joined(separator: ", "))"
                )
            }
            for group in configuration.groups where leaders[group.name] == nil {
                for node in configuration.nodes {
                    let answer = await ClientPortProbe.leadership(
                        of: group.name,
                        host: node.client.host,
                        port: node.client.port,
                        timeout: .seconds(1),
                        tls: probeTLS
                    )
                    if answer == .leader {
                        leaders[group.name] = node.id
                        break
                    }
                }
            }
            if leaders.count < configuration.groups.count {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return leaders
    }

    private func printSummary(leaders: [String: String], after elapsed: Duration) {
        var lines = ["", "cluster \"\(configuration.name)\" is up: every group has a leader after \(elapsed)"]
        for node in configuration.nodes {
            lines.append("  \(node.id)  peer \(node.peer)  client \(node.client)  http \(node.http)")
        }
        for group in configuration.groups {
            lines.append("  group \(group.name) (\(group.stateMachine)): leader \(leaders[group.name] ?? "?")")
        }
        lines.append("data: \(configuration.dataDirectory)")
        if configuration.groups.contains(where: { $0.stateMachine == "KeyValueStore" }) {
            // raftctl is built next to the stock rafthost; a custom host's directory may lack it.
            let raftctl = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("raftctl")
            if FileManager.default.isExecutableFile(atPath: raftctl.path) {
                var credentials = ""
                if let client = configuration.auth?.clients.first(where: { $0.role >= .write && $0.certificate != nil }),
                    let files = client.certificate
                {
                    credentials = " --cert \(files.certificate) --key \(files.key)"
                }
                lines.append("try:  \(raftctl.path) kv put hello world --config \(configPath)\(credentials)")
            } else {
                logger.info(
                    "no raftctl next to the executable: no example command",
                    metadata: ["path": "\(raftctl.path)"]
                )
            }
        }
        if let tls = configuration.tls, let first = configuration.nodes.first {
            var credentials = ""
            if let files = configuration.auth?.clients.first(where: { $0.certificate != nil })?.certificate {
                credentials = " --cert \(files.certificate) --key \(files.key)"
            }
            lines.append("TLS:  curl --cacert \(tls.caFile)\(credentials) https://\(first.http)/v1/status")
        }
        lines.append("press Ctrl-C to stop the cluster")
        for line in lines { print(line) }
    }

    /// Passes on a line a child printed: a JSON log line as it is, on standard error (it has its
    /// `raft.node` field); any other line prefixed with the node's id, on standard output.
    private func forward(_ line: String, of node: String) {
        if logFormat == .json, line.hasPrefix("{") {
            StandardError.writeLine(line)
        } else {
            print("[\(node)] \(line)")
        }
    }

    private func print(_ line: String) {
        output.withLock { $0.write(Data((line + "\n").utf8)) }
    }
}
