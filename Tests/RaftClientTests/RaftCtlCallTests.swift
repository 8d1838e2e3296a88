import ArgumentParser
import Foundation
import NIOHTTP1
import Testing

@testable import raftctl

/// No node listens on port 1; `--timeout` keeps a test short should validation let one through.
private let nowhere = ["--http-endpoints", "127.0.0.1:1", "--timeout", "200ms"]

@Suite("raftctl call", .timeLimit(.minutes(1)))
struct RaftCtlCallTests {
    @Test(
        "bad call command lines exit with the usage status before sending anything",
        arguments: [
            ["call"] + nowhere,
            ["call", "--command", "{}", "--query", "{}"] + nowhere,
            ["call", "--binary", "--command", "{}"] + nowhere,
            ["call", "--query", "@"] + nowhere,
            ["call", "--query", "@/nonexistent/query.json"] + nowhere,
            ["call", "--binary", "--command", "@/nonexistent/command.bin"] + nowhere,
            ["call", "--command", "{}", "--consistency", "stale"] + nowhere,
            ["call", "--query", "{}", "--consistency", "eventual"] + nowhere,
            ["call", "--endpoints", "127.0.0.1:1", "--query", "{}"],
            ["call", "--config", "c.yaml", "--query", "{}"] + nowhere,
        ]
    )
    func usage(arguments: [String]) async {
        #expect(await RaftCtl.execute(arguments) == .usage)
    }

    @Test("a JSON command carries a client id and sequence 1; a stale query neither; both get the body back")
    func jsonExchange() async throws {
        let answer = #"{"granted":true,"token":7}"#
        let node = try await FakeHTTPNode { _ in .json(.ok, answer) }
        let cluster = ["--http-endpoints", node.address, "--group", "locks"]
        let command = #"{"acquire":{"lock":"a","owner":"me"}}"#
        #expect(await RaftCtl.execute(["call"] + cluster + ["--command", command]) == .success)
        let call = try Call.parse(cluster + ["--query", #"{"holder":"a"}"#, "--consistency", "stale"])
        #expect(try await call.answer() == Array(answer.utf8))
        try await node.stop()

        let requests = node.requests
        try #require(requests.count == 2)
        #expect(requests[0].method == .POST)
        #expect(requests[0].uri == "/v1/groups/locks/command")
        #expect(requests[0].headers["content-type"] == ["application/json"])
        let clientID = try #require(requests[0].headers.first(name: "raft-client-id").flatMap { UInt64($0) })
        #expect(clientID != 0)
        #expect(requests[0].headers["raft-sequence"] == ["1"])
        #expect(requests[0].body == Array(command.utf8))

        #expect(requests[1].method == .POST)
        #expect(requests[1].uri == "/v1/groups/locks/query?consistency=stale")
        #expect(requests[1].headers["content-type"] == ["application/json"])
        #expect(requests[1].headers["raft-client-id"].isEmpty)
        #expect(requests[1].headers["raft-sequence"].isEmpty)
        #expect(requests[1].body == Array(#"{"holder":"a"}"#.utf8))
    }

    @Test("--binary sends a file's bytes as application/octet-stream and returns the binary answer unchanged")
    func binaryExchange() async throws {
        let answer: [UInt8] = [0x02, 0x00, 0xFE, 0x0A]
        let node = try await FakeHTTPNode { _ in
            HTTPReply(status: .ok, contentType: "application/octet-stream", body: answer)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("raftctl-call-\(UUID()).bin")
        let query: [UInt8] = [0x01, 0x00, 0xFF, 0x0A]
        try Data(query).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let call = try Call.parse([
            "--http-endpoints", node.address, "--group", "bin", "--binary", "--query", "@\(file.path)",
        ])
        #expect(try await call.answer() == answer)
        try await node.stop()

        let request = try #require(node.requests.first)
        #expect(request.uri == "/v1/groups/bin/query")
        #expect(request.headers["content-type"] == ["application/octet-stream"])
        #expect(request.body == query)
    }

    @Test("after a refused connection and a 503, the next node gets the same request: same client id and sequence")
    func retryReusesTheSession() async throws {
        let down = try await FakeHTTPNode { _ in .json(.ok, "{}") }
        try await down.stop()
        let busy = try await FakeHTTPNode { _ in .json(.serviceUnavailable, #"{"error":"no leader yet"}"#) }
        let leader = try await FakeHTTPNode { _ in .json(.ok, #"{"ok":true}"#) }
        let endpoints = [down, busy, leader].map(\.address).joined(separator: ",")
        let command = #"{"put":{"key":"k","value":"v"}}"#

        let call = try Call.parse(["--http-endpoints", endpoints, "--group", "kv", "--command", command])
        #expect(try await call.answer() == Array(#"{"ok":true}"#.utf8))
        try await busy.stop()
        try await leader.stop()

        let first = try #require(busy.requests.first)
        let second = try #require(leader.requests.first)
        #expect(busy.requests.count == 1 && leader.requests.count == 1)
        #expect(first.headers.first(name: "raft-client-id") != nil)
        #expect(second.headers["raft-client-id"] == first.headers["raft-client-id"])
        #expect(first.headers["raft-sequence"] == ["1"] && second.headers["raft-sequence"] == ["1"])
        #expect(second.uri == first.uri && second.body == first.body && second.body == Array(command.utf8))
    }

    @Test(
        "a 400, 404 or 415 is final: exit status 2 with the node's message, and no other node is asked",
        arguments: [
            (HTTPResponseStatus.badRequest, "the plugin rejected the query"),
            (.notFound, "no group 'nope'"),
            (.unsupportedMediaType, "the plugin of group 'nope' does not accept JSON"),
        ]
    )
    func finalErrors(status: HTTPResponseStatus, message: String) async throws {
        let refusing = try await FakeHTTPNode { _ in .json(status, #"{"error":"\#(message)"}"#) }
        let other = try await FakeHTTPNode { _ in .json(.ok, "{}") }
        let arguments = [
            "--http-endpoints", "\(refusing.address),\(other.address)", "--group", "nope", "--query", "{}",
        ]

        #expect(await RaftCtl.execute(["call"] + arguments) == .usage)
        let error = await #expect(throws: RaftCtlError.self) { try await Call.parse(arguments).answer() }
        try await refusing.stop()
        try await other.stop()

        #expect(error?.status == .usage)
        #expect(
            error?.description == "n1 (\(refusing.address)): HTTP \(status.code) \(status.reasonPhrase): \(message)"
        )
        #expect(refusing.requests.count == 2)
        #expect(other.requests.isEmpty)
    }

    @Test(
        "503 from every node until --timeout: exit status 3, every attempt with the same client id, outcome unknown"
    )
    func unavailable() async throws {
        let nodes = [
            try await FakeHTTPNode { _ in .json(.serviceUnavailable, #"{"error":"no leader yet"}"#) },
            try await FakeHTTPNode { _ in .json(.serviceUnavailable, #"{"error":"timed out"}"#) },
        ]
        let endpoints = nodes.map(\.address).joined(separator: ",")
        // Long enough for both nodes to be tried on a loaded machine; the test waits it out twice.
        let arguments = ["--http-endpoints", endpoints, "--timeout", "5s", "--command", "{}"]

        let error = await #expect(throws: RaftCtlError.self) { try await Call.parse(arguments).answer() }
        #expect(error?.status == .unavailable)
        // Each node's last failure is listed; the deadline may cut the last attempt short, so
        // that failure is a 503 or the timeout itself.
        #expect(error?.description.contains("n2 (\(nodes[1].address)): ") == true)
        #expect(error?.description.hasSuffix("(whether the command was applied is unknown)") == true)
        for node in nodes { try await node.stop() }

        let requests = nodes.flatMap(\.requests)
        #expect(nodes.allSatisfy { !$0.requests.isEmpty })
        #expect(Set(requests.map { $0.headers["raft-client-id"] }).count == 1)
        #expect(requests.allSatisfy { $0.headers["raft-sequence"] == ["1"] })

        // With no connection at all, the command surely was not applied; the exit status is 3 all the same.
        // Ports 1 and 2, not the stopped nodes' ports: a parallel test may bind those again.
        let closed = ["--http-endpoints", "127.0.0.1:1,127.0.0.1:2", "--timeout", "2s", "--command", "{}"]
        #expect(await RaftCtl.execute(["call"] + closed) == .unavailable)
        let refused = await #expect(throws: RaftCtlError.self) { try await Call.parse(closed).answer() }
        let description = refused?.description ?? ""
        #expect(description.contains("n1 (127.0.0.1:1): cannot connect: Connection refused"), "\(description)")
        #expect(!description.contains("unknown"), "\(description)")
    }
}
