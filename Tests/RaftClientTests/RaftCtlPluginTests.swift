import ArgumentParser
import Foundation
import NIOHTTP1
import Testing
import WasmPlugins

@testable import raftctl

/// A module `make wasm-examples` builds, by its path from the repository root.
private func builtModule(_ relative: String, filePath: String = #filePath) throws -> String {
    var root = URL(fileURLWithPath: filePath)
    for _ in 0..<3 {
        root.deleteLastPathComponent()
    }
    let path = root.appendingPathComponent(relative).path
    try #require(FileManager.default.fileExists(atPath: path), "\(relative) is not built: run `make wasm-examples`")
    return path
}

@Suite("raftctl plugin deploy", .timeLimit(.minutes(1)))
struct RaftCtlPluginTests {
    @Test("a module that does not load is refused with the usage status, and nothing is sent")
    func invalidModule() async throws {
        let node = try await FakeHTTPNode { _ in .json(.ok, "{}") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("raftctl-deploy-\(UUID()).wasm")
        try Data([0, 0x61, 0x73, 0x6D, 9, 9]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let cluster = ["--http-endpoints", node.address, "--group", "code", "--timeout", "500ms"]

        #expect(await RaftCtl.execute(["plugin", "deploy"] + cluster + [file.path]) == .usage)
        let deploy = try PluginDeploy.parse(cluster + [file.path])
        let error = try await #require(throws: RaftCtlError.self) { _ = try await deploy.deploy() }
        #expect(error.description.hasPrefix("\(file.path) is not a valid WebAssembly module"))
        #expect(error.description.hasSuffix("; nothing was deployed"))
        let counter = try builtModule("Examples/WasmCounter/build/counter.wasm")
        #expect(await RaftCtl.execute(["plugin", "deploy"] + cluster + [counter, "--memory", "1KiB"]) == .usage)
        #expect(await RaftCtl.execute(["plugin", "deploy"] + cluster + ["/nonexistent/m.wasm"]) == .usage)
        try await node.stop()
        #expect(node.requests.isEmpty)
    }

    @Test("a module that loads is sent as one binary command with a client id and sequence 1")
    func deploys() async throws {
        let answer = "deployed WasmCounter (2540 bytes, fuel 5000, memory 1048576) at index 12"
        let node = try await FakeHTTPNode { _ in
            HTTPReply(status: .ok, contentType: "application/octet-stream", body: Array(answer.utf8))
        }
        let counter = try builtModule("Examples/WasmCounter/build/counter.wasm")
        let deploy = try PluginDeploy.parse([
            "--http-endpoints", node.address, "--group", "code", counter, "--fuel", "5000", "--memory", "1MiB",
        ])
        let printed = try await deploy.deploy()
        try await node.stop()

        let module = Array(try Data(contentsOf: URL(fileURLWithPath: counter)))
        #expect(printed == "\(counter): WasmCounter, \(module.count) bytes, to group code: \(answer)")
        let request = try #require(node.requests.first)
        #expect(node.requests.count == 1)
        #expect(request.uri == "/v1/groups/code/command")
        #expect(request.headers["content-type"] == ["application/octet-stream"])
        #expect(request.headers.first(name: "raft-client-id").flatMap { UInt64($0) } != nil)
        #expect(request.headers["raft-sequence"] == ["1"])
        #expect(request.body == WasmFromLog.deployCommand(module: module, fuel: 5000, memoryBytes: 1 << 20))
    }
}
