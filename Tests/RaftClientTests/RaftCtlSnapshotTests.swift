import Foundation
import NIOCore
import NIOHTTP1
import RaftCore
import RaftStorage
import Testing

@testable import raftctl

/// `raftctl snapshot save` against a node that sends its backup slowly: `--timeout` bounds each
/// wait for more of the answer, not the whole transfer of a large state.
@Suite("raftctl snapshot save", .timeLimit(.minutes(1)))
struct RaftCtlSnapshotTests {
    private static func backup() throws -> [UInt8] {
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let metadata = SnapshotMetadata(index: 12, term: 2, voters: [NodeID(1), NodeID(2), NodeID(3)])
        return try SnapshotFile.encode(Snapshot(metadata: metadata, data: data))
    }

    /// Saves from a node whose answer comes in `pieces`, one every `every`; returns the exit
    /// status and what the folder holds afterwards.
    private static func save(
        pieces: Int,
        every: TimeAmount,
        timeout: String
    ) async throws -> (status: RaftCtlStatus, files: [String], saved: [UInt8]?, sent: [UInt8]) {
        let bytes = try backup()
        let node = try await FakeHTTPNode { _ in
            HTTPReply(status: .ok, contentType: "application/octet-stream", body: bytes, trickle: (pieces, every))
        }
        defer { Task { try? await node.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("raftctl-save-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/kv.snap"
        let status = await RaftCtl.execute([
            "snapshot", "save", "--http-endpoints", node.address, "--group", "kv", "--timeout", timeout, file,
        ])
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        let saved = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        return (status, files, saved, bytes)
    }

    @Test("a backup that keeps arriving is saved though the whole transfer outlasts --timeout")
    func slowTransferIsSaved() async throws {
        // Twelve pieces 400 ms apart: 4.4 s in all, against --timeout 3s. (Other suites share
        // the threads, so the gaps are kept well under the timeout.)
        let result = try await Self.save(pieces: 12, every: .milliseconds(400), timeout: "3s")
        #expect(result.status == .success)
        let savedWhatWasSent = result.saved == result.sent
        #expect(savedWhatWasSent, "the saved file is not the \(result.sent.count) bytes sent")
        #expect(result.files == ["kv.snap"])
    }

    @Test("a transfer that stalls for longer than --timeout fails and leaves nothing behind")
    func stalledTransferFails() async throws {
        // The first half at once, the second 6 s later, against --timeout 3s.
        let result = try await Self.save(pieces: 2, every: .seconds(6), timeout: "3s")
        #expect(result.status != .success)
        #expect(result.files.isEmpty)
    }
}
