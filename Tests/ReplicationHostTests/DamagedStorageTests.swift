import ClusterConfig
import Foundation
import KeyValueStore
import Logging
import Testing

@testable import ReplicationHost

@Suite("Damaged storage")
struct DamagedStorageTests {
    @Test("a damaged log record stops the node at start with the file and offset")
    func damagedLogStopsTheNode() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory, nodeCount: 1, groups: [.init(name: "kv", stateMachine: KeyValueStore.name)])
        let recorder = LogRecorder()
        try await cluster.start("n1", logger: recorder.logger(label: "n1"))
        do {
            try await withTimeout(.seconds(10), "a leader") { await recorder.leaderElected(in: "kv") }
            for sequence in 1...5 {
                let response = try await cluster.submitToLeader(
                    KV.put("k\(sequence)", String(repeating: "v", count: 100), client: 1, sequence: UInt64(sequence)),
                    group: "kv")
                #expect(KV.response(response) == .ok)
            }
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()

        // Flip a byte inside the first record: later records follow it, so it is not a torn tail.
        let groupDirectory = directory.path + "/n1/kv"
        let segment = try #require(
            try FileManager.default.contentsOfDirectory(atPath: groupDirectory).filter { $0.hasSuffix(".seg") }.sorted()
                .first)
        let path = groupDirectory + "/" + segment
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let damagedOffset = 20 + 12
        #expect(bytes.count > 400)
        bytes[damagedOffset] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let restarted = LogRecorder()
        do {
            try await cluster.start("n1", logger: restarted.logger(label: "n1"))
            Issue.record("the node started on a damaged log")
            await cluster.stopAll()
        } catch let error as HostError {
            #expect(error.code == .storage)
            #expect("\(error)".contains(segment))
            #expect("\(error)".contains("at byte 20"), "the offset of the damaged record")
        }
        _ = await restarted.first { $0.level == .critical && $0.message.contains(segment) }
    }
}
