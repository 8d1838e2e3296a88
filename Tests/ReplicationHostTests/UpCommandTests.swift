import Foundation
import Synchronization
import Testing

@testable import ReplicationHost

@Suite("rafthost up", .timeLimit(.minutes(5)))
struct UpCommandTests {
    /// The lines a process printed so far.
    final class Output: Sendable {
        private let text = Mutex("")

        func append(_ data: Data) {
            text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }

        var lines: [Substring] {
            text.withLock { $0 }.split(separator: "\n")
        }
    }

    @Test("up starts every node, reports the leaders and endpoints, and stops every node on SIGTERM")
    func upAndDown() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory)
        let up = Process()
        up.executableURL = URL(fileURLWithPath: cluster.executable)
        up.arguments = ["up", "--config", cluster.configPath]
        let pipe = Pipe()
        up.standardOutput = pipe
        up.standardError = pipe
        let output = Output()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { output.append(data) }
        }
        try up.run()
        // The children's pids, from up's log, so that none outlives the test whatever happens.
        func childPIDs() -> [Int32] {
            output.lines.filter { $0.contains("started node") }.compactMap { line in
                line.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) }
            }
        }
        defer {
            if up.isRunning {
                kill(up.processIdentifier, SIGKILL)
                up.waitUntilExit()
            }
            for pid in childPIDs() {
                kill(pid, SIGKILL)
            }
        }

        let summary = try await eventually(within: .seconds(30), "the cluster is up") {
            output.lines.first { $0.contains("every group has a leader") }
        }
        #expect(summary.contains("cluster \"process-test\" is up"))
        for node in cluster.nodes {
            #expect(output.lines.contains { $0.contains("client 127.0.0.1:\(node.client)") })
        }
        #expect(output.lines.contains { $0.hasPrefix("[n1] ") && $0.contains("node started") })
        #expect(childPIDs().count == 3)

        kill(up.processIdentifier, SIGTERM)
        #expect(try await terminationStatus(of: up, within: .seconds(60), "rafthost up") == 0)
        // up's last lines may still be in the pipe when it exits.
        let exits = cluster.nodes.map { "[\($0.id)] exited with status 0" }
        _ = try await eventually(within: .seconds(5), "every node exiting cleanly") {
            exits.allSatisfy { exit in output.lines.contains { $0 == exit } } ? true : nil
        }
        for pid in childPIDs() {
            #expect(kill(pid, 0) != 0, "child \(pid) is gone")
        }
    }

    @Test("up --log-format json: every node logs JSON lines on standard error, each with its raft.node")
    func jsonLogs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory)
        let up = Process()
        up.executableURL = URL(fileURLWithPath: cluster.executable)
        up.arguments = ["up", "--config", cluster.configPath, "--log-format", "json"]
        let (stdout, stderr) = (Pipe(), Pipe())
        up.standardOutput = stdout
        up.standardError = stderr
        let (printed, logged) = (Output(), Output())
        for (pipe, output) in [(stdout, printed), (stderr, logged)] {
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { output.append(data) }
            }
        }
        try up.run()
        // Every line on standard error, parsed; nil for one that is no JSON object (yet).
        func objects() -> [[String: Any]?] {
            logged.lines.map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }
        }
        func childPIDs() -> [Int32] {
            objects().compactMap { object in
                guard let object, object["message"] as? String == "started node" else { return nil }
                return (object["pid"] as? String).flatMap { Int32($0) }
            }
        }
        defer {
            if up.isRunning {
                kill(up.processIdentifier, SIGKILL)
                up.waitUntilExit()
            }
            for pid in childPIDs() {
                kill(pid, SIGKILL)
            }
        }

        _ = try await eventually(within: .seconds(30), "the cluster is up") {
            printed.lines.first { $0.contains("every group has a leader") }
        }
        #expect(childPIDs().count == 3)
        kill(up.processIdentifier, SIGTERM)
        #expect(try await terminationStatus(of: up, within: .seconds(60), "rafthost up") == 0)
        try await Task.sleep(for: .milliseconds(200))

        let parsed = objects()
        #expect(!parsed.isEmpty)
        #expect(parsed.allSatisfy { $0 != nil }, "every line on standard error is a JSON object")
        for node in cluster.nodes {
            let started = parsed.contains { object in
                object?["raft.node"] as? String == node.id && object?["message"] as? String == "node started"
            }
            #expect(started, "\(node.id) logged that it started")
        }
        for object in parsed.compactMap({ $0 }) {
            for field in ["timestamp", "level", "label", "message", "source"] {
                #expect(object[field] is String, "\(field) in \(object)")
            }
        }
        #expect(!printed.lines.contains { $0.contains("node started") }, "no log line on standard output")
    }
}
