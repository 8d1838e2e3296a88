import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// The stock `rafthost`, unchanged, serving a plugin loaded from a shared library.
@Suite("native plugins in rafthost processes")
struct NativePluginProcessTests {
    static func amount(_ value: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * $0)) }
    }

    /// Examples/NativeCounter's Swift plugin, which `make native-example` builds.
    static func nativeCounterLibrary() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let path = root + "/Examples/NativeCounter/.build/debug/libNativeCounter.so"
        guard FileManager.default.fileExists(atPath: path) else {
            throw TimedOut(description: "\(path) is not built: run `make native-example` first")
        }
        return path
    }

    @Test("three rafthost serve processes load NativeCounter from cluster.yaml and answer over HTTP")
    func nativeCounterOverHTTP() async throws {
        let library = try Self.nativeCounterLibrary()
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(
            directory: directory,
            extraGroups: "  - name: counter\n    stateMachine: NativeCounter",
            extraYAML: "plugins:\n  - native: \(library)"
        )
        defer { cluster.killAll() }
        do {
            for node in cluster.nodes { try cluster.start(node.id) }
            let port = try #require(cluster.nodes.first?.http)
            func post(_ kind: String, _ bytes: [UInt8]) async throws -> HTTPResult {
                try await httpRequest(
                    .POST,
                    port: port,
                    "/v1/groups/counter/\(kind)",
                    bytes: bytes,
                    headers: [("content-type", "application/octet-stream")]
                )
            }

            // Any node forwards to the counter group's leader once there is one.
            let lastAnswer = Mutex("none yet")
            let added: HTTPResult
            do {
                added = try await eventually(within: .seconds(30), "a command applied") {
                    do {
                        let result = try await post("command", Self.amount(5))
                        lastAnswer.withLock { $0 = "\(result.status): \(result.body)" }
                        return result.status == 200 ? result : nil
                    } catch {
                        lastAnswer.withLock { $0 = "\(error)" }
                        return nil
                    }
                }
            } catch {
                Issue.record("the last answer to the command was \(lastAnswer.withLock { $0 })")
                throw error
            }
            #expect(added.bytes == Self.amount(5))
            #expect(added.contentType == "application/octet-stream")
            var result = try await post("command", Self.amount(-8))
            #expect(result.status == 200 && result.bytes == Self.amount(-3))
            result = try await post("query", [])
            #expect(result.status == 200 && result.bytes == Self.amount(-3))

            // A command the plugin rejects is answered with its message; the node keeps serving.
            result = try await post("command", [1, 2, 3])
            #expect(result.status == 400, "\(result.status): \(result.body)")
            #expect(result.body.contains("NativeCounter: BinaryDecodingError"))
            result = try await post("query", [])
            #expect(result.status == 200 && result.bytes == Self.amount(-3))

            // JSON needs Codable types, which a library loaded at run time does not declare.
            result = try await httpRequest(
                .POST,
                port: port,
                "/v1/groups/counter/command",
                body: "{}",
                headers: [("content-type", "application/json")]
            )
            #expect(result.status == 415)
        } catch {
            print(cluster.logs())
            throw error
        }
    }
}
