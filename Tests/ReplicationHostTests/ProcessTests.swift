import ClusterConfig
import Foundation
import KeyValueStore
import NIOCore
import NIOPosix
import NIOSSL
import RaftClient
import RaftReplica
import RaftSecurity
import Synchronization
import Testing

@testable import ReplicationHost

/// Real `rafthost serve` processes on loopback, each with its log in the temporary directory.
/// Every process started is killed by pid in `killAll()`, which the test defers.
final class ProcessCluster: Sendable {
    struct Node: Sendable {
        var id: String
        var client: Int
        var http: Int
    }

    let directory: TemporaryDirectory
    let configPath: String
    let nodes: [Node]
    let executable: String
    private let running = Mutex<[String: Process]>([:])
    /// With `tls`: what clients speak to the nodes (the CA, no certificate) and the token of a
    /// client with role write; what the probes dial with (the certificate of n1).
    let clientTLS: ClientTLS?
    let token: String?
    let httpTLS: NIOSSLContext?
    private let probeTLS: ClientTLS?

    /// The token of the `writer` client of a cluster started with `tls`.
    static let writerToken = "process-writer-token"

    /// - Parameters:
    ///   - extraGroups: YAML list items of more groups after `kv`, at column 0.
    ///   - extraYAML: more top-level keys, such as `plugins:`.
    ///   - joining: nodes after the three founding ones, marked `join: true` (started empty, they
    ///     take part once a membership change adds them).
    ///   - maxRaftState: the kv group's `maxraftstate`.
    ///   - tls: TLS on every port and `auth` with one `writer` client (``writerToken``), as in
    ///     the repository's cluster-tls.yaml; the certificates are made with `ClusterCertificates`.
    init(
        directory: TemporaryDirectory,
        joining: Int = 0,
        maxRaftState: Int = 65536,
        extraGroups: String = "",
        extraYAML: String = "",
        tls: Bool = false
    ) async throws {
        self.directory = directory
        executable = try Self.findExecutable()
        let count = 3 + joining
        let ports = try await freePorts(3 * count)
        nodes = (0..<count).map { Node(id: "n\($0 + 1)", client: ports[count + $0], http: ports[2 * count + $0]) }
        var yaml = """
            cluster: process-test
            data: \(directory.path)/data
            nodes:

            """
        for index in 0..<count {
            yaml += """
                  - id: n\(index + 1)
                    peer: 127.0.0.1:\(ports[index])
                    client: 127.0.0.1:\(ports[count + index])
                    http: 127.0.0.1:\(ports[2 * count + index])
                    join: \(index >= 3)

                """
        }
        yaml += """
            groups:
              - name: kv
                stateMachine: KeyValueStore
                maxraftstate: \(maxRaftState)
            \(extraGroups)
            raft:                    # the timing of the repository's cluster.yaml
              heartbeat: 50ms
              electionTimeout: 500ms
            storage:
              fsync: always
            \(extraYAML)

            """
        if tls {
            yaml += "tls:\n  ca: certs/ca.pem\n  nodes:\n"
            for index in 1...count {
                yaml += "    n\(index): {cert: certs/n\(index).pem, key: certs/n\(index)-key.pem}\n"
            }
            yaml += """
                auth:
                  clients:
                    - {name: writer, role: write, tokenSHA256: \(AccessPolicy.tokenDigest(Self.writerToken))}

                """
        }
        configPath = directory.path + "/cluster.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        if tls {
            let configuration = try ClusterConfiguration.load(path: configPath)
            let section = try #require(configuration.tls)
            _ = try ClusterCertificates.create(for: configuration)
            clientTLS = try ClientTLS(caFile: section.caFile)
            probeTLS = ClientTLS(node: try NodeTLS(configuration: section, node: "n1"))
            httpTLS = try TLSMaterial.clientContext(ca: section.caFile, files: nil)
            token = Self.writerToken
        } else {
            clientTLS = nil
            probeTLS = nil
            httpTLS = nil
            token = nil
        }
    }

    /// A client configuration that speaks the cluster's TLS and token, if any.
    func clientConfiguration(_ configuration: RaftClient.Configuration) -> RaftClient.Configuration {
        var configuration = configuration
        configuration.tls = clientTLS
        configuration.token = token
        return configuration
    }

    /// The `rafthost` built next to this test bundle (`swift build --build-tests` builds it).
    private static func findExecutable() throws -> String {
        var candidates: [String] = []
        if let bundle = Bundle.main.executableURL {
            candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("rafthost").path)
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/rafthost").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TimedOut(description: "no rafthost executable in \(candidates); run `swift build` first")
        }
        return found
    }

    func start(_ id: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--config", configPath, "--node", id, "--log-level", "debug"]
        // A crash's backtrace goes to the node's log at once: full symbolication of the debug
        // binary was seen to take many minutes on a busy machine.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,symbolicate=fast"
        process.environment = environment
        let logPath = directory.path + "/\(id).log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        running.withLock { $0[id] = process }
    }

    /// Starts the three founding nodes and waits for a leader of `kv`; returns their ids.
    @discardableResult
    func startFounders() async throws -> [String] {
        let founders = nodes.prefix(3).map(\.id)
        for id in founders { try start(id) }
        _ = try await eventually(within: .seconds(20), "a first leader") { await leader(among: founders) }
        return founders
    }

    /// SIGKILL, then wait (bounded) until it has exited.
    func kill(_ id: String) async {
        guard let process = running.withLock({ $0.removeValue(forKey: id) }) else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        // Polled with a task sleep: a blocked thread of the small concurrency pool would stall
        // the in-process nodes of every other test.
        while !Self.hasExited(process) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits until `process` has exited, at most `limit`, blocking the calling thread: only for
    /// the end of a test (`killAll()` in a `defer`), where nothing can be awaited.
    static func awaitExit(_ process: Process, limit: Duration = .seconds(30)) {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !hasExited(process) && ContinuousClock.now < deadline {
            usleep(2_000)
        }
    }

    /// Whether `process` has exited: Foundation saw it, or the kernel shows it gone or a zombie
    /// not reaped yet. Not `waitUntilExit()`: on Linux it spins a run loop that once never saw a
    /// SIGKILLed node's exit, and the whole suite hung on it.
    private static func hasExited(_ process: Process) -> Bool {
        guard process.isRunning else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex
        else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, ...) to a running node.
    func signal(_ id: String, _ signal: Int32) {
        guard let process = running.withLock({ $0[id] }) else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// SIGTERM (a graceful stop), then reap; returns the exit status, or nil (after a SIGKILL)
    /// when the node is still running 40 s later, past its own 25 s limit for a graceful stop.
    func terminate(_ id: String) async -> Int32? {
        guard let process = running.withLock({ $0.removeValue(forKey: id) }) else { return nil }
        Foundation.kill(process.processIdentifier, SIGTERM)
        // Polled, not waitUntilExit(): a blocked thread of the small cooperative pool could
        // starve the other tests' in-process nodes.
        let exited = try? await eventually(within: .seconds(40), "\(id) exiting after SIGTERM") {
            process.isRunning ? nil : true
        }
        guard exited != nil else {
            Foundation.kill(process.processIdentifier, SIGKILL)
            Self.awaitExit(process)
            return nil
        }
        return process.terminationStatus
    }

    func killAll() {
        for id in running.withLock({ Array($0.keys) }) {
            guard let process = running.withLock({ $0.removeValue(forKey: id) }) else { continue }
            Foundation.kill(process.processIdentifier, SIGKILL)
            Self.awaitExit(process)
        }
    }

    func port(of id: String) -> Int {
        nodes.first { $0.id == id }!.client
    }

    /// The node that confirms it leads `kv`, among `candidates`, or nil.
    func leader(among candidates: [String]) async -> String? {
        for id in candidates {
            let answer = await ClientPortProbe.leadership(
                of: "kv",
                host: "127.0.0.1",
                port: port(of: id),
                timeout: .seconds(1),
                tls: probeTLS
            )
            if answer == .leader { return id }
        }
        return nil
    }

    func send(_ request: ClientRequest, to id: String) async throws -> ClientResponse {
        try await ClientPortProbe.send(
            request,
            group: "kv",
            host: "127.0.0.1",
            port: port(of: id),
            timeout: .seconds(5),
            tls: probeTLS
        )
    }

    func logs() -> String {
        nodes.map { node in
            "--- \(node.id) ---\n"
                + ((try? String(contentsOfFile: directory.path + "/\(node.id).log", encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
    }
}

@Suite("rafthost processes", .timeLimit(.minutes(5)))
struct ProcessTests {
    @Test("three rafthost serve processes elect; SIGKILL of the leader elects another; the restarted node catches up")
    func killLeaderAndRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory)
        defer { cluster.killAll() }
        let all = cluster.nodes.map(\.id)
        do {
            let started = ContinuousClock.now
            for id in all { try cluster.start(id) }
            let first = try await eventually(within: .seconds(20), "a first leader") {
                await cluster.leader(among: all)
            }
            let elected = ContinuousClock.now - started

            let put = try await cluster.send(KV.put("before", "kill", client: 42, sequence: 1), to: first)
            #expect(KV.response(put) == .ok)

            let killed = ContinuousClock.now
            await cluster.kill(first)
            let survivors = all.filter { $0 != first }
            let second = try await eventually(within: .seconds(20), "a new leader") {
                await cluster.leader(among: survivors)
            }
            let failover = ContinuousClock.now - killed
            #expect(second != first)
            print(
                "rafthost processes: first leader \(first) after \(elected); \(second) leads \(failover) after SIGKILL"
            )

            let after = try await cluster.send(KV.put("after", "kill", client: 42, sequence: 2), to: second)
            #expect(KV.response(after) == .ok)
            let before = try await cluster.send(KV.get("before"), to: second)
            #expect(KV.response(before) == .value("kill"))

            // The killed node comes back from its disk and learns what it missed.
            try cluster.start(first)
            let caughtUp = try await eventually(within: .seconds(20), "\(first) catching up") {
                guard let response = try? await cluster.send(KV.get("after", consistency: .stale), to: first) else {
                    return nil as KeyValueStore.Response?
                }
                return KV.response(response) == .value("kill") ? .value("kill") : nil
            }
            #expect(caughtUp == .value("kill"))

            // SIGTERM stops each node gracefully: a clean exit.
            for id in all {
                #expect(await cluster.terminate(id) == 0, "exit status of \(id) after SIGTERM")
            }
        } catch {
            print(cluster.logs())
            throw error
        }
    }
}
