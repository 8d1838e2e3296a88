import ClusterConfig
import Glibc
import KeyValueStore
import NIOCore
import NIOPosix
import RaftReplica
import RaftTransport
import StateMachineAPI
import Testing

@testable import ReplicationHost

@Suite("Client port")
struct ClientPortTests {
    typealias Connection = NIOAsyncChannel<Frame, ByteBuffer>

    static func connect(port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(codec: FrameCodec()))
                    )
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    static func request(_ id: UInt64, _ request: ClientRequest) throws -> ByteBuffer {
        ByteBuffer(bytes: try FrameCodec().encode(.clientRequest(id: id, group: "kv", payload: request.encoded())))
    }

    /// Writes `bytes` and waits until the node closes the connection (or throws on timeout).
    static func expectClosed(after bytes: [UInt8], port: Int) async throws {
        let connection = try await connect(port: port)
        try await withTimeout(.seconds(10), "the node closing a connection") {
            try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                do {
                    for try await frame in inbound {
                        Issue.record("the node answered a bad frame with \(frame)")
                    }
                } catch {
                    // A reset instead of an orderly close is as good.
                }
            }
        }
    }

    /// Runs `body` with the client port of a one-node cluster that leads its `kv` group, and
    /// the recorder of the node's log; stops the node after it, whatever happens.
    static func withLeader(
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (_ port: Int, _ log: LogRecorder) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory,
            nodeCount: 1,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            eventLoopGroup: eventLoopGroup
        )
        let recorder = LogRecorder()
        let node = try await cluster.start("n1", logger: recorder.logger(label: "n1"))
        do {
            try await withTimeout(.seconds(10), "a leader") { await recorder.leaderElected(in: "kv") }
            try await body(try await node.start().client.port, recorder)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("requests in flight answered by id; a malformed, oversized or non-client frame closes only its connection")
    func malformedFramesCloseOnlyTheirConnection() async throws {
        try await Self.withLeader { port, recorder in
            let good = try await Self.connect(port: port)
            try await good.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                // Two requests in one write: both are answered, each with its own id.
                var batch = try Self.request(5, KV.put("a", "1", client: 1, sequence: 1))
                var second = try Self.request(6, KV.get("b", consistency: .stale))
                batch.writeBuffer(&second)
                try await outbound.write(batch)
                var answers: [UInt64: KeyValueStore.Response] = [:]
                for _ in 0..<2 {
                    guard case .clientResponse(let id, let payload) = try await frames.next() else {
                        Issue.record("expected a client response")
                        return
                    }
                    answers[id] = KV.response(try ClientResponse(decoding: payload))
                }
                #expect(answers == [5: .ok, 6: .noKey])

                // An unknown type, an oversized length, a body shorter than its fields, a peer frame: each closed.
                try await Self.expectClosed(after: [0, 0, 0, 1, 0x7F], port: port)
                try await Self.expectClosed(after: [0xFF, 0xFF, 0xFF, 0xFF, 0x20], port: port)
                try await Self.expectClosed(after: [0, 0, 0, 3, 0x20, 0, 0], port: port)
                let raft = try FrameCodec().encode(.handshakeReject(reason: "not a client"))
                try await Self.expectClosed(after: raft, port: port)

                // The first connection still works.
                try await outbound.write(try Self.request(7, KV.get("a")))
                guard case .clientResponse(7, let payload) = try await frames.next() else {
                    Issue.record("expected the answer to request 7")
                    return
                }
                #expect(KV.response(try ClientResponse(decoding: payload)) == .value("1"))
            }
            _ = await recorder.first {
                $0.message.hasPrefix("closing client connection") && $0.message.contains("0x7f")
            }
            _ = await recorder.first { $0.message.contains("expected a client request frame") }
        }
    }

    @Test("hundreds of requests written at once are each answered once, by id, on the same connection")
    func manyRequestsInOneWrite() async throws {
        try await Self.withLeader { port, recorder in
            let connection = try await Self.connect(port: port)
            try await withTimeout(.seconds(30), "every answer") {
                try await connection.executeThenClose { inbound, outbound in
                    var batch = ByteBuffer()
                    for id in 1...300 as ClosedRange<UInt64> {
                        // Commands of 150 sessions, then linearizable reads of what they wrote.
                        let request =
                            id <= 150
                            ? KV.put("k\(id)", "v\(id)", client: 1_000 + id, sequence: 1)
                            : KV.get("k\(id - 150)")
                        var frame = try Self.request(id, request)
                        batch.writeBuffer(&frame)
                    }
                    try await outbound.write(batch)
                    var answers: [UInt64: KeyValueStore.Response] = [:]
                    var frames = inbound.makeAsyncIterator()
                    while answers.count < 300 {
                        guard case .clientResponse(let id, let payload) = try await frames.next() else {
                            Issue.record("expected a client response")
                            return
                        }
                        #expect(answers[id] == nil, "request \(id) answered twice")
                        answers[id] = KV.response(try ClientResponse(decoding: payload))
                    }
                    #expect((1...150).allSatisfy { answers[UInt64($0)] == .ok })
                    // A read may be served before the write that precedes it on the wire commits:
                    // requests in flight together are concurrent.
                    #expect(
                        (151...300).allSatisfy {
                            answers[UInt64($0)] == .value("v\($0 - 150)") || answers[UInt64($0)] == .noKey
                        }
                    )
                }
            }
        }
    }

    @Test("a client that sends without reading its answers is stopped: the node stops reading, and still serves others")
    func clientThatNeverReadsIsThrottled() async throws {
        // The node's own event loop: the flood keeps it busy for a while, and the loops every
        // other test shares must not stall meanwhile.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await floodWithoutReading(eventLoopGroup)
        } catch {
            try? await eventLoopGroup.shutdownGracefully()
            throw error
        }
        try await eventLoopGroup.shutdownGracefully()
    }

    private func floodWithoutReading(_ eventLoopGroup: any EventLoopGroup) async throws {
        try await Self.withLeader(eventLoopGroup: eventLoopGroup) { port, _ in
            // Requests for a group the node does not run: answered at once, on the event loop.
            var frames: [UInt8] = []
            let frame = try FrameCodec().encode(.clientRequest(id: 1, group: "nope", payload: KV.get("k").encoded()))
            for _ in 0..<4_096 { frames += frame }
            let socket = try connectNonBlocking(port: port)
            defer { close(socket) }
            var sent = 0
            var blocked = false
            // Without the pause the node would read on and queue answers until it ran out of
            // memory: 64 MiB of requests is far more than the socket buffers of both ends hold.
            while sent < 64 << 20 {
                // A partial send goes on from where it stopped, so that every frame stays whole.
                let offset = sent % frames.count
                let written = frames.withUnsafeBytes {
                    send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
                }
                if written > 0 {
                    sent += written
                    continue
                }
                guard errno == EAGAIN || errno == EWOULDBLOCK else {
                    Issue.record("send failed: errno \(errno)")
                    return
                }
                // Not writable for two seconds: the node has stopped reading.
                var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                if poll(&poller, 1, 2_000) == 0 {
                    blocked = true
                    break
                }
            }
            #expect(blocked, "the node kept reading \(sent) bytes of requests whose answers nobody read")

            // The node itself is fine: another connection is served.
            let other = try await Self.connect(port: port)
            try await withTimeout(.seconds(10), "an answer on another connection") {
                try await other.executeThenClose { inbound, outbound in
                    try await outbound.write(try Self.request(1, KV.get("k", consistency: .stale)))
                    var answers = inbound.makeAsyncIterator()
                    guard case .clientResponse(1, _) = try await answers.next() else {
                        Issue.record("expected the answer to request 1")
                        return
                    }
                }
            }
        }
    }

    /// A non-blocking TCP socket connected to 127.0.0.1:`port`.
    private func connectNonBlocking(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXFailure(call: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw POSIXFailure(call: "connect", code: errno)
        }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        return socket
    }

    private struct POSIXFailure: Error {
        var call: String
        var code: Int32
    }
}
