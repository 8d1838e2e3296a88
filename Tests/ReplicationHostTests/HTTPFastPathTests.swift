import ClusterConfig
import Foundation
import KeyValueStore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RaftClient
import RaftCore
import RaftReplica
import StateMachineAPI
import StateMachineHTTP
import Synchronization
import Testing

@testable import ReplicationHost

@Suite("HTTP request targets")
struct HTTPTargetTests {
    @Test(
        "path segments parse over UTF-8: %2F inside a segment, non-ASCII, empty segments; a broken escape or invalid UTF-8 is nil (400)",
        arguments: [
            ("/v1/kv/a%2Fb", ["v1", "kv", "a/b"]),
            ("/v1/kv/%C3%A9t%C3%A9", ["v1", "kv", "été"]),
            ("/v1/kv/été/日本", ["v1", "kv", "été", "日本"]),
            ("/v1/kv/e%CC%81", ["v1", "kv", "e\u{301}"]),
            ("/v1/kv//x/", ["v1", "kv", "", "x", ""]),
            ("/", [""]),
            ("/v1/kv/a+b%20c", ["v1", "kv", "a+b c"]),
            ("/v1/kv/%25", ["v1", "kv", "%"]),
            ("/v1/kv/%zz", nil), ("/v1/kv/%4", nil), ("/v1/kv/a%", nil), ("/v1/kv/%FF", nil), ("/v1/kv/%C3", nil),
            ("/v1/kv/%ED%A0%80", nil),
        ] as [(String, [String]?)]
    )
    func segments(target: String, expected: [String]?) {
        let (path, _) = HTTPAPI.split(target)
        #expect(HTTPAPI.segments(path) == expected)
    }

    @Test(
        "query strings: flags without a value, empty pairs, '=' in a value, escapes, a broken name skipped, the last duplicate wins",
        arguments: [
            ("/p", [:]), ("/p?", [:]), ("/p?consistency=stale", ["consistency": "stale"]), ("/p?flag", ["flag": ""]),
            ("/p?a=1&&b=&flag", ["a": "1", "b": "", "flag": ""]), ("/p?a=b=c", ["a": "b=c"]),
            ("/p?k%20y=v%2Fw%26", ["k y": "v/w&"]), ("/p?bad=%zz&ok=1", ["bad": "", "ok": "1"]),
            ("/p?%zz=1&x=%C3%A9", ["x": "é"]), ("/p?a=1&a=2", ["a": "2"]), ("/p?é=ü", ["é": "ü"]),
        ] as [(String, [String: String])]
    )
    func query(target: String, expected: [String: String]) {
        let (path, query) = HTTPAPI.split(target)
        #expect(path == "/p")
        #expect(query == expected)
    }
}

/// A standalone ``HTTPServer`` on a loopback port whose answers name the request: `/fast/...`
/// is answered by the immediate handler, anything else by the async one. The body of an answer
/// is the request's path, then `:` and its body when it has one.
private final class EchoServer: Sendable {
    let server: HTTPServer
    let port: Int
    private let task: Task<Void, any Error>

    init(maxBodySize: Int = 64) async throws {
        let answer: @Sendable (HTTPRequest) -> HTTPAnswer = { request in
            let body = request.body.readableBytes > 0 ? ":" + String(buffer: request.body) : ""
            return HTTPAnswer(.ok, contentType: "text/plain", body: Array((request.uri + body).utf8))
        }
        server = HTTPServer(
            host: "127.0.0.1",
            port: 0,
            maxBodySize: maxBodySize,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "http-test", factory: { _ in SwiftLogNoOpLogHandler() }),
            immediate: { request, reply in
                guard request.uri.hasPrefix("/fast") else { return false }
                reply(answer(request))
                return true
            },
            handler: { request in answer(request) }
        )
        port = try await server.listener.bind()
        task = Task { [server] in try await server.run() }
    }

    func stop() async {
        server.listener.stopAccepting()
        server.listener.closeConnections()
        try? await task.value
    }
}

/// A raw TCP connection to a test server: bytes out, bytes in, no HTTP client in between, so
/// that requests can be pipelined and malformed.
private struct RawConnection {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private(set) var received = ""

    /// Runs `body` with a connection to `port`, closed when it returns.
    static func with(port: Int, _ body: (inout RawConnection) async throws -> Void) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var connection = RawConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await body(&connection)
        }
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Reads until `count` whole responses have arrived (`headOnly` those to `HEAD`, without a
    /// body) and returns them; throws if the server closes first.
    mutating func responses(_ count: Int, headOnly: Set<Int> = []) async throws -> [RawResponse] {
        while true {
            let parsed = RawResponse.parse(received, headOnly: headOnly)
            if parsed.count >= count { return parsed }
            guard let chunk = try await inbound.next() else {
                throw TimedOut(description: "closed after \(parsed.count) of \(count) responses: \(received)")
            }
            received += String(buffer: chunk)
        }
    }

    /// Reads until the server closes the connection; everything received.
    mutating func untilClosed() async throws -> String {
        while let chunk = try await inbound.next() {
            received += String(buffer: chunk)
        }
        return received
    }
}

private struct RawResponse {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var body: String

    /// The whole responses at the start of `text`; each carries `content-length`.
    static func parse(_ text: String, headOnly: Set<Int>) -> [RawResponse] {
        var responses: [RawResponse] = []
        var rest = Substring(text)
        while let end = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<end.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            let length =
                status == 100 || headOnly.contains(responses.count) ? 0 : Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = end.upperBound
            guard rest.utf8.count - rest[..<bodyStart].utf8.count >= length else { break }
            let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length)
            responses.append(RawResponse(status: status, headers: headers, body: String(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}

@Suite("HTTP connection handler")
struct HTTPConnectionTests {
    /// Runs `body` with a fresh ``EchoServer``, stopped however `body` ends.
    private static func withServer(_ body: (EchoServer) async throws -> Void) async throws {
        let server = try await EchoServer()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Runs `body` with a connection to a fresh ``EchoServer``.
    private static func withConnection(_ body: (inout RawConnection) async throws -> Void) async throws {
        try await withServer { server in try await RawConnection.with(port: server.port, body) }
    }

    @Test("pipelined requests, answered with and without a task, come back in order on one connection that stays open")
    func pipelined() async throws {
        try await Self.withConnection { connection in
            let requests = [
                "GET /slow/1 HTTP/1.1\r\nHost: h\r\n\r\n",
                "PUT /fast/2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
                "GET /slow/3 HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET /fast/4 HTTP/1.1\r\nHost: h\r\n\r\n",
                "POST /slow/5 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            ]
            // All in one segment: the server reads them at once and must queue all but the first.
            try await connection.send(requests.joined())
            let responses = try await connection.responses(5)
            #expect(responses.map(\.body) == ["/slow/1", "/fast/2:hello", "/slow/3", "/fast/4", "/slow/5:abcde"])
            #expect(responses.allSatisfy { $0.status == 200 && $0.headers["connection"] == nil })
            // Still open: later requests are served too, an HTTP/1.0 one that asks to keep the
            // connection included (the answer says it is kept).
            try await connection.send(
                "GET /fast/6 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /slow/7 HTTP/1.1\r\nHost: h\r\n\r\n"
            )
            let later = try await connection.responses(7).suffix(2)
            #expect(later.map(\.body) == ["/fast/6", "/slow/7"])
            #expect(later.first?.headers["connection"] == "keep-alive")
        }
    }

    @Test("HEAD is answered with the GET answer's head and no body, on either path")
    func head() async throws {
        try await Self.withConnection { connection in
            try await connection.send(
                "HEAD /fast/x HTTP/1.1\r\nHost: h\r\n\r\nHEAD /slow/y HTTP/1.1\r\nHost: h\r\n\r\n"
                    + "GET /fast/z HTTP/1.1\r\nHost: h\r\n\r\n"
            )
            let responses = try await connection.responses(3, headOnly: [0, 1])
            #expect(responses.map(\.status) == [200, 200, 200])
            #expect(responses.map { $0.headers["content-length"] } == ["7", "7", "7"])
            #expect(responses.map(\.body) == ["", "", "/fast/z"])
        }
    }

    @Test(
        "without keep-alive the answer says connection: close and the connection closes",
        arguments: [
            ("GET /fast/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "/fast/a"),
            ("GET /slow/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "/slow/a"),
            ("GET /fast/a HTTP/1.0\r\n\r\n", "/fast/a"),
        ]
    )
    func keepAliveOff(request: String, answer: String) async throws {
        try await Self.withConnection { connection in
            // Nothing more is sent: NIO's parser refuses bytes after a closing request (400).
            try await connection.send(request)
            let text = try await connection.untilClosed()
            let responses = RawResponse.parse(text, headOnly: [])
            #expect(responses.count == 1, "\(text)")
            #expect(responses.first?.body == answer, "\(text)")
            #expect(responses.first?.headers["connection"] == "close")
        }
    }

    @Test(
        "a body over maxBodySize is answered 413 at once, read and dropped, then the connection closes",
        arguments: [
            "PUT /fast/big HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100),
            "PUT /fast/big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n"
                + String(repeating: "x", count: 64) + "\r\n1\r\nx\r\n0\r\n\r\n",
        ]
    )
    func tooLarge(request: String) async throws {
        try await Self.withConnection { connection in
            try await connection.send(request + "GET /fast/after HTTP/1.1\r\nHost: h\r\n\r\n")
            let responses = RawResponse.parse(try await connection.untilClosed(), headOnly: [])
            #expect(responses.map(\.status) == [413])
            #expect(responses.first?.headers["connection"] == "close")
            #expect(responses.first?.body.contains("maxBodySize") == true)
        }
    }

    @Test("Expect: 100-continue is answered before the body is sent")
    func expectContinue() async throws {
        try await Self.withConnection { connection in
            try await connection.send(
                "PUT /fast/k HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
            )
            #expect(try await connection.responses(1).first?.status == 100)
            try await connection.send("ab")
            #expect(try await connection.responses(2).last?.body == "/fast/k:ab")
        }
    }

    @Test(
        "a malformed request or one without Host gets 400 and closes its connection only",
        arguments: [
            "GARBAGE\r\n\r\n", "GET /fast/x HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n",
        ]
    )
    func malformed(garbage: String) async throws {
        try await Self.withServer { server in
            try await RawConnection.with(port: server.port) { healthy in
                try await healthy.send("GET /fast/1 HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(try await healthy.responses(1).first?.body == "/fast/1")
                try await RawConnection.with(port: server.port) { broken in
                    try await broken.send(garbage)
                    let responses = RawResponse.parse(try await broken.untilClosed(), headOnly: [])
                    #expect(responses.map(\.status) == [400])
                }
                try await healthy.send("GET /slow/2 HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(try await healthy.responses(2).last?.body == "/slow/2")
            }
        }
    }
}

@Suite("HTTP fast path")
struct HTTPFastPathTests {
    /// What the fake executor saw and the answers the API gave, in order.
    private final class Recorder: Sendable {
        let requests = Mutex<[ClientRequest]>([])
        let answers = Mutex<[HTTPAnswer]>([])
        let leads = Mutex(true)
    }

    /// One node whose addresses nothing listens on: a forwarded request finds no leader.
    private static func configuration(requestTimeout: Duration = .seconds(5)) -> ClusterConfiguration {
        let address = ClusterConfiguration.Address(host: "127.0.0.1", port: 1)
        return ClusterConfiguration(
            name: "fast",
            dataDirectory: "/nonexistent",
            nodes: [.init(id: "n1", numericID: 1, peer: address, client: address, http: address)],
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil)],
            raft: .init(heartbeat: .milliseconds(20), electionTimeout: .milliseconds(300)),
            storage: .init(fsync: .never),
            http: .init(maxBodySize: 1024),
            requestTimeout: requestTimeout
        )
    }

    /// The HTTP API of node n1 serving the key/value group `kv` through `router` (stale reads
    /// are not used).
    private static func api(_ configuration: ClusterConfiguration, router: LeaderRouter) -> HTTPAPI {
        HTTPAPI(
            nodeID: "n1",
            configuration: configuration,
            metricsFactory: RaftHostMetrics.prometheusFactory(),
            routers: ["kv": router],
            interfaces: ["kv": PluginHTTPInterface(for: KeyValueStore.self)],
            status: { [] },
            recordMetrics: {},
            local: { _, _ in .error(ReplicaError(.leaderChanged, "not used")) }
        )
    }

    /// The fast path's answer to `request`; a 501 when it leaves the request to `handle`.
    private static func answerWithoutTask(_ api: HTTPAPI, _ request: HTTPRequest) async -> HTTPAnswer {
        await withCheckedContinuation { continuation in
            let taken = api.handleWithoutTask(request) { continuation.resume(returning: $0) }
            if !taken { continuation.resume(returning: .error(.notImplemented, "not taken")) }
        }
    }

    private static func request(
        _ method: HTTPMethod,
        _ uri: String,
        body: String = "",
        headers: [(String, String)] = []
    ) -> HTTPRequest {
        HTTPRequest(
            method: method,
            uri: uri,
            headers: HTTPHeaders([("host", "h")] + headers),
            body: ByteBuffer(string: body)
        )
    }

    @Test(
        "plugin routes and the generic endpoints reach the executor (or the leader) without a task; the rest is left to handle"
    )
    func routing() async throws {
        let recorder = Recorder()
        let router = LeaderRouter(
            forwarder: RaftClient(endpoints: [.init(node: NodeID(1), host: "127.0.0.1", port: 1)], group: "kv"),
            leadsLocally: { recorder.leads.withLock { $0 } },
            local: { request, reply in
                recorder.requests.withLock { $0.append(request) }
                switch request {
                case .command: reply(.ok(KeyValueStore.Response.ok.encoded()))
                case .query: reply(.ok(KeyValueStore.Response.value("v").encoded()))
                }
            }
        )
        let api = Self.api(Self.configuration(), router: router)
        let take: @Sendable (HTTPRequest) -> Bool = { request in
            api.handleWithoutTask(request) { answer in recorder.answers.withLock { $0.append(answer) } }
        }

        #expect(take(Self.request(.PUT, "/v1/kv/a%2Fb", body: "1")))
        #expect(take(Self.request(.PUT, "/v1/groups/kv/kv/c", body: "2")))
        #expect(take(Self.request(.GET, "/v1/kv/a%2Fb")))
        #expect(
            take(
                Self.request(
                    .POST,
                    "/v1/groups/kv/command",
                    body: #"{"put":{"key":"j","value":"1"}}"#,
                    headers: [("content-type", "application/json"), ("raft-client-id", "9"), ("raft-sequence", "3")]
                )
            )
        )
        // Refused outright, without reaching the executor.
        #expect(take(Self.request(.GET, "/v1/kv/%zz")))
        #expect(take(Self.request(.PATCH, "/v1/kv/k")))
        // A stale read goes to this node's executor too.
        #expect(take(Self.request(.GET, "/v1/kv/s?consistency=stale")))
        // Left to `handle`: the host's own routes.
        #expect(!take(Self.request(.GET, "/v1/status")))
        // A follower takes group calls too: the router forwards them, not the local executor.
        // (Nothing listens at the forwarder's address: no answer comes before the router closes.)
        recorder.leads.withLock { $0 = false }
        #expect(take(Self.request(.PUT, "/v1/kv/k", body: "3")))

        let answers = recorder.answers.withLock { $0 }
        #expect(answers.map(\.status.code) == [200, 200, 200, 200, 400, 405, 200])
        #expect(
            answers.map { String(decoding: $0.body, as: UTF8.self) }.prefix(3) == [
                #"{"ok":true}"# + "\n", #"{"ok":true}"# + "\n", "v",
            ]
        )
        let requests = recorder.requests.withLock { $0 }
        try #require(requests.count == 5)
        guard case .command(let first) = requests[0], case .command(let second) = requests[1],
            case .query(let get, .linearizable) = requests[2], case .command(let own) = requests[3],
            case .query(let stale, .stale) = requests[4]
        else {
            Issue.record("unexpected requests: \(requests)")
            return
        }
        #expect(first.command == KeyValueStore.Command.put(key: "a/b", value: "1").encoded())
        // The router's session is reused for the next command, with the next number.
        #expect(second.clientID == first.clientID && second.sequence == first.sequence + 1)
        #expect(get == KeyValueStore.Query.get(key: "a/b").encoded())
        #expect(own.clientID == 9 && own.sequence == 3)
        #expect(stale == KeyValueStore.Query.get(key: "s").encoded())
        await router.close()
    }

    @Test("a command the local executor gives up on (its request timeout) is answered 503, never 200")
    func timeout() async throws {
        let configuration = Self.configuration(requestTimeout: .milliseconds(300))
        let router = LeaderRouter(
            forwarder: RaftClient(cluster: configuration, group: "kv"),
            leadsLocally: { true },
            // What the executor answers when a command did not commit within the timeout.
            local: { _, reply in reply(.error(ReplicaError(.leaderChanged, "not finished within 300 ms; retry"))) }
        )
        let api = Self.api(configuration, router: router)
        let answer = await Self.answerWithoutTask(api, Self.request(.PUT, "/v1/kv/k", body: "v"))
        #expect(answer.status == .serviceUnavailable)
        #expect(String(decoding: answer.body, as: UTF8.self).contains(#""error":"unavailable: "#))
        await router.close()
    }

    @Test("a command whose leader loses the leadership mid-request is forwarded with the same session: applied once")
    func leaderChangeMidRequest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let groups: [ClusterConfiguration.Group] = [
            .init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil)
        ]
        // A generous request timeout: the whole suite runs CPU-bound tests on the same two cores.
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: groups,
            maxBodySize: 1024,
            requestTimeout: .seconds(20)
        )
        let recorder = LogRecorder()
        // Applies what the "local executor" got, through the real leader, as if it had
        // committed it just before losing the leadership.
        let applier = RaftClient(cluster: cluster.configuration, group: "kv")
        let forwarder = RaftClient(cluster: cluster.configuration, group: "kv")
        let seen = Recorder()
        let router = LeaderRouter(
            forwarder: forwarder,
            leadsLocally: { true },
            local: { request, reply in
                seen.requests.withLock { $0.append(request) }
                Task {
                    _ = try? await applier.forward(request, deadline: .now + .seconds(20))
                    reply(.error(ReplicaError(.leaderChanged, "this node lost the leadership")))
                }
            }
        )
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            _ = try await cluster.waitForLeaders()
            let api = Self.api(cluster.configuration, router: router)
            let answer = await Self.answerWithoutTask(api, Self.request(.POST, "/v1/kv/once/append", body: "x"))
            #expect(answer.status == .ok, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect(seen.requests.withLock { $0.count } == 1)
            let port = try #require(cluster.httpPorts["n1"])
            let read = try await httpRequest(.GET, port: port, "/v1/kv/once")
            #expect(read.status == 200 && read.body == "x", "\(read.status) \(read.body)")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await router.close()
        await applier.close()
        await cluster.stopAll()
    }
}

@Suite("HTTP request assembler")
struct HTTPRequestAssemblerTests {
    private static func head(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: .PUT, uri: "/k", headers: HTTPHeaders(headers)))
    }

    /// The actions of `parts` fed in order, each as a short name (and the body or status).
    private static func run(_ parts: [HTTPServerRequestPart], maxBodySize: Int = 4) -> [String] {
        var assembler = HTTPRequestAssembler(maxBodySize: maxBodySize)
        return parts.map { part in
            switch assembler.receive(part) {
            case .none: "none"
            case .sendContinue: "continue"
            case .refuse(let answer, _, let thenClose): "refuse \(answer.status.code)\(thenClose ? " close" : "")"
            case .request(_, let body): "request \(String(buffer: body))"
            case .close: "close"
            case .outOfOrder: "outOfOrder"
            }
        }
    }

    @Test("a body in chunks within the limit; 100-continue; over the limit 413, drained, closed; limits; bad orders")
    func actions() {
        let host = [("host", "h")]
        let chunk: (String) -> HTTPServerRequestPart = { .body(ByteBuffer(string: $0)) }
        #expect(
            Self.run([Self.head(host), chunk("ab"), chunk("cd"), .end(nil)]) == [
                "none", "none", "none", "request abcd",
            ]
        )
        #expect(Self.run([Self.head(host + [("expect", "100-Continue")]), .end(nil)]) == ["continue", "request "])
        #expect(
            Self.run([Self.head(host + [("content-length", "5")]), chunk("abcde"), .end(nil)])
                == ["refuse 413", "none", "close"]
        )
        #expect(
            Self.run([Self.head(host), chunk("abc"), chunk("de"), .end(nil)]) == [
                "none", "none", "refuse 413", "close",
            ]
        )
        // What is drained after a 413 is bounded: then the connection closes.
        #expect(
            Self.run([Self.head(host + [("content-length", "5")]), chunk(String(repeating: "x", count: 1 << 22))])
                == ["refuse 413", "close"]
        )
        #expect(Self.run([Self.head([])]) == ["refuse 400 close"])
        #expect(Self.run([Self.head([], version: .http1_0), .end(nil)]) == ["none", "request "])
        #expect(Self.run([Self.head(host + [("host", "i")])]) == ["refuse 400 close"])
        #expect(Self.run([Self.head((0...100).map { ("x-\($0)", "v") } + host)]) == ["refuse 431 close"])
        #expect(Self.run([chunk("a")]) == ["outOfOrder"])
        #expect(Self.run([.end(nil)]) == ["outOfOrder"])
        #expect(Self.run([Self.head(host), Self.head(host)]) == ["none", "outOfOrder"])
    }
}
