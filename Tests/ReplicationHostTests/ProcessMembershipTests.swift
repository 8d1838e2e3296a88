import Foundation
import KeyValueStore
import NIOHTTP1
import Synchronization
import Testing

/// Membership changes of real processes under load (issue scenarios a and b): concurrent
/// Clerks and HTTP clients keep appending and reading while a dead follower is replaced by a
/// brand-new node and the cluster grows from three voters to five and shrinks back to three;
/// every acknowledged append is on every final member, and the whole history is linearizable.
@Suite("rafthost processes: membership changes", .timeLimit(.minutes(5)))
struct ProcessMembershipTests {
    @Test("replace a SIGKILLed follower with an empty node, grow 3 -> 5, shrink 5 -> 3, under load")
    func replaceGrowShrink() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // Small snapshots: the new nodes catch up from a snapshot, not from the whole log.
        let cluster = try await ProcessCluster(directory: directory, joining: 3, maxRaftState: 16384)
        defer { cluster.killAll() }
        let founders = try await cluster.startFounders()
        let workload = ProcessWorkload(cluster: cluster)
        var changes: [String] = []
        do {
            try await workload.progress("writes before the first change")

            // (a) A follower dies for good: remove it, add a brand-new node with empty data.
            let leader = try await eventually(within: .seconds(20), "a leader") {
                await cluster.leader(among: founders)
            }
            let dead = founders.first { $0 != leader }!
            await cluster.kill(dead)
            try await Self.change(.DELETE, "/v1/groups/kv/members/\(dead)", cluster)
            changes.append("remove \(dead)")
            try await workload.progress("writes after removing \(dead)")
            try cluster.start("n4")
            // Through raftctl this time: its file gives n4's addresses; any node redirects.
            let added = try await runRaftctl([
                "member", "add", "n4", "--config", cluster.configPath, "--group", "kv", "--timeout", "30s",
            ])
            #expect(added.status == 0, "\(added.output)")
            #expect(added.output.contains("n4 id=4 voter"), "\(added.output)")
            changes.append("add n4 (raftctl)")
            try await workload.progress("writes after adding n4")
            var voters = founders.filter { $0 != dead } + ["n4"]
            try await Self.expectVoters(voters, cluster)

            // (b) Grow to five voters, then shrink to three (the founders left go).
            for newcomer in ["n5", "n6"] {
                try cluster.start(newcomer)
                try await Self.change(.POST, "/v1/groups/kv/members", cluster, body: #"{"name":"\#(newcomer)"}"#)
                changes.append("add \(newcomer)")
                voters.append(newcomer)
                try await workload.progress("writes after adding \(newcomer)")
            }
            try await Self.expectVoters(voters, cluster)
            for leaving in founders where leaving != dead {
                try await Self.change(.DELETE, "/v1/groups/kv/members/\(leaving)", cluster)
                changes.append("remove \(leaving)")
                voters.removeAll { $0 == leaving }
                try await workload.progress("writes after removing \(leaving)")
            }
            try await Self.expectVoters(voters, cluster)
            #expect(voters == ["n4", "n5", "n6"])
        } catch {
            await workload.stop()
            print(cluster.logs())
            throw error
        }
        await workload.stop()

        let finalMembers = cluster.nodes.filter { ["n4", "n5", "n6"].contains($0.id) }
        try await workload.expectEveryAppend(on: finalMembers, of: cluster)
        let summary = try await workload.checkHistory()
        print(
            "rafthost processes, membership: \(changes.joined(separator: ", ")) under load; "
                + "\(summary.native) native and \(summary.http) HTTP operations (\(summary.appends) acknowledged "
                + "appends), history \(summary.verdict)"
        )
    }

    /// Sends a membership change to the nodes until one (the leader, or where a redirect points)
    /// answers 200; 503 is retried.
    static func change(
        _ method: HTTPMethod,
        _ path: String,
        _ cluster: ProcessCluster,
        body: String? = nil
    ) async throws {
        var ports = cluster.nodes.map(\.http)
        // A request that got no answer, or a 5xx, may still have taken effect.
        var outcomeUnknown = false
        _ = try await eventually(within: .seconds(30), "\(method) \(path)") { () async throws -> Bool? in
            for port in ports {
                guard let answer = try? await httpRequest(method, port: port, path, body: body) else {
                    outcomeUnknown = true
                    continue
                }
                // The removal asked for before the answer was lost has happened: done.
                if answer.status == 409, method == .DELETE, outcomeUnknown, answer.body.contains("was removed") {
                    return true
                }
                if answer.status >= 500 { outcomeUnknown = true }
                switch answer.status {
                case 200:
                    return true
                case 307:
                    if let location = answer.headers.first(name: "location"),
                        let target = URL(string: location)?.port
                    {
                        ports = [target] + ports.filter { $0 != target }
                    }
                case 409:
                    Issue.record("\(method) \(path) refused: \(answer.body)")
                    return true
                default:
                    continue
                }
            }
            return nil
        }
    }

    /// Waits until the leader's member list has exactly `voters` as voters.
    static func expectVoters(_ voters: [String], _ cluster: ProcessCluster) async throws {
        struct Members: Decodable {
            struct Member: Decodable {
                var name: String
                var role: String
            }
            var members: [Member]
        }
        _ = try await eventually(within: .seconds(20), "voters \(voters)") { () async throws -> Bool? in
            for node in cluster.nodes {
                guard let answer = try? await httpRequest(.GET, port: node.http, "/v1/groups/kv/members"),
                    answer.status == 200,
                    let view = try? JSONDecoder().decode(Members.self, from: Data(answer.body.utf8)),
                    view.members.contains(where: { _ in true })
                else { continue }
                let found = view.members.filter { $0.role == "voter" }.map(\.name).sorted()
                if found == voters.sorted() { return true }
            }
            return nil
        }
    }
}

/// Scenario c: a rolling restart of every node with SIGTERM while `raftctl bench` runs. A
/// stopping leader hands its leadership over first, so the bench sees no error.
@Suite("rafthost processes: rolling restart", .timeLimit(.minutes(5)))
struct RollingRestartTests {
    @Test("SIGTERM and restart every node in turn under raftctl bench: zero errors")
    func rollingRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory)
        defer { cluster.killAll() }
        let all = try await cluster.startFounders()
        let endpoints = cluster.nodes.map { "127.0.0.1:\($0.client)" }.joined(separator: ",")
        func bench(_ duration: String) async throws -> [String: Any] {
            let result = try await runRaftctl([
                "bench", "--endpoints", endpoints, "--op", "put", "--clients", "8", "--conns", "4",
                "--duration", duration, "--json", "--timeout", "10s",
            ])
            #expect(result.status == 0)
            return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        }
        let baseline = try await bench("3s")

        let started = ContinuousClock.now
        let benchDuration = Duration.seconds(12)
        async let rolling = bench("12s")
        var restarts: [String] = []
        for id in all {
            // Restart one node only when the others are all caught up and serving.
            try await Self.waitUntilCaughtUp(all, cluster)
            let wasLeader = await cluster.leader(among: [id]) != nil
            let status = await cluster.terminate(id)
            #expect(status == 0, "\(id) exited with \(String(describing: status)) on SIGTERM")
            if status != 0 { print(cluster.logs()) }
            try cluster.start(id)
            restarts.append(wasLeader ? "\(id) (leader)" : id)
        }
        try await Self.waitUntilCaughtUp(all, cluster)
        let restartsTook = ContinuousClock.now - started
        let result = try await rolling
        #expect(restartsTook < benchDuration, "the restarts outlasted the bench: \(restartsTook)")
        #expect(result["errors"] as? Int == 0, "\(result)")
        #expect(restarts.contains { $0.hasSuffix("(leader)") })
        func figure(_ summary: [String: Any], _ key: String) -> String {
            String(format: "%.1f", summary[key] as? Double ?? -1)
        }
        print(
            "rafthost processes, rolling restart of \(restarts.joined(separator: ", ")) in \(restartsTook) under "
                + "raftctl bench (8 clients, put): \(result["requests"] ?? 0) requests, \(result["errors"] ?? -1) errors, "
                + "p99 \(figure(result, "p99_ms")) ms, max \(figure(result, "max_ms")) ms; without restarts: "
                + "p99 \(figure(baseline, "p99_ms")) ms, max \(figure(baseline, "max_ms")) ms"
        )
    }

    /// Waits until every node's `/v1/status` names a leader for `kv` and has applied what that
    /// leader had committed when the wait began.
    static func waitUntilCaughtUp(_ ids: [String], _ cluster: ProcessCluster) async throws {
        struct Status: Decodable {
            struct Group: Decodable {
                var role: String
                var leader: String?
                var commitIndex: UInt64
                var appliedIndex: UInt64
            }
            var groups: [Group]
        }
        func status(_ id: String) async -> Status.Group? {
            let port = cluster.nodes.first { $0.id == id }!.http
            guard let answer = try? await httpRequest(.GET, port: port, "/v1/status"), answer.status == 200 else {
                return nil
            }
            return (try? JSONDecoder().decode(Status.self, from: Data(answer.body.utf8)))?.groups.first
        }
        let target = try await eventually(within: .seconds(20), "a leader's commit index") { () async -> UInt64? in
            for id in ids {
                if let group = await status(id), group.role == "leader" { return group.commitIndex }
            }
            return nil
        }
        for id in ids {
            do {
                _ = try await eventually(within: .seconds(20), "\(id) serving and caught up") { () async -> Bool? in
                    guard let group = await status(id), group.leader != nil, group.appliedIndex >= target else {
                        return nil
                    }
                    return true
                }
            } catch {
                print("\(id) not caught up to \(target); its status: \(String(describing: await status(id)))")
                print(cluster.logs())
                throw error
            }
        }
    }
}

/// Scenario d: a backup saved under load, every data directory deleted, a new cluster restored
/// from the backup: every write acknowledged before the save is there.
@Suite("rafthost processes: backup and restore", .timeLimit(.minutes(5)))
struct BackupRestoreTests {
    @Test(
        "raftctl snapshot save under load, delete every data directory, rafthost restore: nothing acknowledged before the save is lost"
    )
    func backupAndRestore() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory, maxRaftState: 16384)
        defer { cluster.killAll() }
        let all = try await cluster.startFounders()
        let workload = ProcessWorkload(cluster: cluster, nativeClients: 4, httpClients: 0)
        try await workload.progress("writes before the backup", count: 300)
        let beforeSave = workload.shared.acknowledged.withLock { $0 }
        let backup = directory.path + "/kv.snap"
        let saved = try await runRaftctl(["snapshot", "save", "--config", cluster.configPath, "--group", "kv", backup])
        #expect(saved.status == 0, "\(saved.output)")
        try await workload.progress("writes after the backup", count: 100)
        await workload.stop()

        // A damaged or truncated copy is refused with its offset.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        let truncated = directory.path + "/truncated.snap"
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: truncated))
        let status = try await runRaftctl(["snapshot", "status", truncated])
        #expect(status.status == 2)
        var flipped = bytes
        flipped[flipped.count / 2] ^= 0xFF
        let damaged = directory.path + "/damaged.snap"
        try flipped.write(to: URL(fileURLWithPath: damaged))
        #expect(try await Self.restore(cluster, damaged).status != 0)

        // Every data directory is lost; a new cluster starts from the backup.
        cluster.killAll()
        try FileManager.default.removeItem(atPath: directory.path + "/data")
        let restored = try await Self.restore(cluster, backup)
        #expect(restored.status == 0, "\(restored.output)")
        for id in all { try cluster.start(id) }
        let leader = try await eventually(within: .seconds(20), "a leader of the restored cluster") {
            await cluster.leader(among: all)
        }
        var checked = 0
        for (client, values) in beforeSave {
            let answer = try await cluster.send(KV.get("k\(client)"), to: leader)
            guard let response = KV.response(answer), case .value(let stored) = response else {
                Issue.record("k\(client) is missing after the restore: \(answer)")
                continue
            }
            #expect(ProcessFaultTests.containsInOrder(stored, values), "k\(client) lost acknowledged appends")
            checked += values.count
        }
        // The restored cluster takes writes again.
        let put = try await cluster.send(KV.put("after-restore", "yes", client: 77, sequence: 1), to: leader)
        #expect(KV.response(put) == .ok)
        print(
            "rafthost processes, backup and restore: \(saved.output.trimmingCharacters(in: .whitespacesAndNewlines)); "
                + "\(checked) appends acknowledged before the save all present after restoring into empty directories"
        )
    }

    /// Runs `rafthost restore` on the cluster's configuration; returns its exit status and output.
    static func restore(_ cluster: ProcessCluster, _ file: String) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cluster.executable)
        process.arguments = ["restore", "--config", cluster.configPath, "--group", "kv", file]
        let outputPath = cluster.directory.path + "/restore.out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let status = try await terminationStatus(of: process, within: .seconds(60), "rafthost restore")
        try output.close()
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}
