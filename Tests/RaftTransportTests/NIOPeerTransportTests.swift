import Logging
import NIOCore
import NIOPosix
import RaftCore
import Testing

@testable import RaftTransport

/// Starts `count` transports on loopback port 0 (nodes 1...count), introduces them to each
/// other, runs `body`, and shuts every transport down whatever happens.
private func withCluster(
    _ count: Int,
    recorder: LogRecorder,
    configure: (inout NIOPeerTransportConfiguration) -> Void = { _ in },
    _ body: ([NIOPeerTransport], [PeerAddress]) async throws -> Void
) async throws {
    let transports = (1...count).map { index in
        makeTransport(node: UInt64(index), port: 0, recorder: recorder, configure: configure)
    }
    do {
        var addresses: [PeerAddress] = []
        for transport in transports {
            addresses.append(try await transport.start())
        }
        for transport in transports {
            for (index, address) in addresses.enumerated() {
                transport.setPeerAddress(address, for: NodeID(UInt64(index + 1)))
            }
        }
        try await body(transports, addresses)
    } catch {
        for transport in transports {
            await transport.shutdown()
        }
        throw error
    }
    for transport in transports {
        await transport.shutdown()
    }
}

private func makeTransport(
    node: UInt64,
    port: Int,
    recorder: LogRecorder,
    configure: (inout NIOPeerTransportConfiguration) -> Void = { _ in }
) -> NIOPeerTransport {
    var configuration = NIOPeerTransportConfiguration(
        clusterName: "test",
        localNode: NodeID(node),
        groups: ["kv", "q"],
        listenAddress: PeerAddress(host: "127.0.0.1", port: port)
    )
    configuration.reconnectBackoff.initial = .milliseconds(10)
    configuration.reconnectBackoff.maximum = .milliseconds(200)
    configure(&configuration)
    return NIOPeerTransport(configuration: configuration, logger: recorder.logger(label: "n\(node)"))
}

/// The next `count` messages of `inbox`.
private func receive(_ count: Int, from inbox: AsyncStream<Message>) async -> [Message] {
    var received: [Message] = []
    guard count > 0 else { return received }
    for await message in inbox {
        received.append(message)
        if received.count == count { break }
    }
    return received
}

/// A bare connection to a transport's listener that speaks frames but no protocol.
private func connectRaw(to address: PeerAddress) async throws -> NIOAsyncChannel<Frame, ByteBuffer> {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: address.host, port: address.port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: FrameCodec())))
                return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
}

/// A fake peer that completes the handshake as `node` and then stops reading: a peer that is
/// alive but too slow, whose TCP buffers fill up.
private final class StalledPeerHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    let node: NodeID

    init(node: NodeID) {
        self.node = node
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .handshake = unwrapInboundIn(data) else { return }
        var reply = context.channel.allocator.buffer(capacity: 16)
        do {
            try FrameCodec().encode(
                .handshakeAccept(protocolVersion: FrameCodec.protocolVersion, node: node),
                into: &reply
            )
        } catch {
            context.fireErrorCaught(error)
            return
        }
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
    }
}

private func startStalledPeer(node: NodeID) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelOption(.socketOption(.so_rcvbuf), value: 4096)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers(
                    ByteToMessageHandler(FrameDecoder(codec: FrameCodec())),
                    StalledPeerHandler(node: node)
                )
            }
        }
        .bind(host: "127.0.0.1", port: 0)
        .get()
}

private func reasonContains(_ text: String) -> @Sendable (LogRecorder.Record) -> Bool {
    { record in
        record.metadata["reason"].map { "\($0)".contains(text) } ?? false
    }
}

@Suite("NIO peer transport", .timeLimit(.minutes(1)))
struct NIOPeerTransportTests {
    @Test("three nodes exchange messages for two groups over one connection per direction")
    func exchange() async throws {
        let recorder = LogRecorder()
        try await withCluster(3, recorder: recorder) { nodes, _ in
            let inboxes = nodes.map { [$0.inbox(for: GroupID(0)), $0.inbox(for: GroupID(1))] }
            for sender in nodes {
                for group in [GroupID(0), GroupID(1)] {
                    let messages = nodes.filter { $0.localNode != sender.localNode }.flatMap { receiver in
                        (1...50).map { round in
                            Message(
                                from: sender.localNode,
                                to: receiver.localNode,
                                term: Term(round),
                                payload: .append(
                                    AppendRequest(
                                        prevLogIndex: LogIndex(round),
                                        prevLogTerm: 1,
                                        entries: [
                                            Entry(term: 1, index: LogIndex(round + 1), data: [UInt8(group.rawValue)])
                                        ],
                                        leaderCommit: 0
                                    )
                                )
                            )
                        }
                    }
                    sender.send(messages, group: group)
                }
            }
            for (index, node) in nodes.enumerated() {
                for group in 0..<2 {
                    let received = await receive(100, from: inboxes[index][group])
                    #expect(received.allSatisfy { $0.to == node.localNode })
                    for sender in nodes where sender.localNode != node.localNode {
                        let terms = received.filter { $0.from == sender.localNode }.map(\.term)
                        #expect(terms == (1...50).map { Term($0) })
                    }
                    let groupTags = received.compactMap { message -> UInt8? in
                        guard case .append(let request) = message.payload else { return nil }
                        return request.entries.first?.data.first
                    }
                    #expect(groupTags.allSatisfy { Int($0) == group })
                }
            }
            // Everything arrived everywhere, so every sender has counted its sends.
            for node in nodes {
                #expect(node.statistics().messagesSent == 200)
                #expect(node.statistics().messagesReceived == 200)
                #expect(node.statistics().protocolErrors == 0)
            }
            // Both groups shared one accepted connection per peer.
            let connects = recorder.count { $0.message == "Peer connected" }
            #expect(connects == 6)
        }
    }

    @Test(
        "a peer sending garbage is disconnected while another peer keeps working",
        arguments: [
            ([0, 0, 0, 3, 0x7F, 1, 2] as [UInt8], "unknown frame type"),
            ([0xFF, 0xFF, 0xFF, 0xF0], "oversized"),
            ([0, 0, 0, 5, 0x01, 0, 0, 0, 0], "bad magic"),
            ([0, 0, 0, 2, 0x03, 0], "truncated"),
            ([0, 0, 0, 6, 0x02, 0, 1, 0, 0, 0], "truncated"),
        ]
    )
    func garbage(bytes: [UInt8], reason: String) async throws {
        let recorder = LogRecorder()
        try await withCluster(2, recorder: recorder) { nodes, addresses in
            let inbox = nodes[0].inbox(for: GroupID(0))
            let raw = try await connectRaw(to: addresses[0])
            try await raw.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                // The node closes the connection: the stream ends (or fails with a reset).
                do {
                    for try await frame in inbound {
                        Issue.record("garbage got an answer: \(frame)")
                    }
                } catch {}
            }
            _ = await recorder.first(where: reasonContains(reason))

            nodes[1].send([ping(from: 2, to: 1, term: 3)], group: GroupID(0))
            #expect(await receive(1, from: inbox).first?.term == 3)
            #expect(nodes[0].statistics().protocolErrors == 1)
        }
    }

    @Test("a connection closed in the middle of a frame is logged as truncated")
    func truncatedAtClose() async throws {
        let recorder = LogRecorder()
        try await withCluster(1, recorder: recorder) { _, addresses in
            let raw = try await connectRaw(to: addresses[0])
            try await raw.executeThenClose { _, outbound in
                try await outbound.write(ByteBuffer(bytes: [0, 0, 0, 50, 0x01, 0x52]))
            }
            let record = await recorder.first(where: reasonContains("connection closed inside a frame"))
            #expect(record.level == .warning)
        }
    }

    @Test("a connection that never completes the handshake is closed when the deadline passes")
    func handshakeTimeout() async throws {
        let recorder = LogRecorder()
        let configure: (inout NIOPeerTransportConfiguration) -> Void = { $0.handshakeTimeout = .milliseconds(50) }
        try await withCluster(1, recorder: recorder, configure: configure) { nodes, addresses in
            let raw = try await connectRaw(to: addresses[0])
            try await raw.executeThenClose { inbound, _ in
                do {
                    for try await frame in inbound {
                        Issue.record("silent client got \(frame)")
                    }
                } catch {}
            }
            _ = await recorder.first(where: reasonContains("handshake timed out"))
            #expect(nodes[0].statistics().protocolErrors == 1)
        }
    }

    @Test("run() also ends gracefully on shutdown()")
    func runUntilShutdown() async throws {
        let recorder = LogRecorder()
        let transport = makeTransport(node: 1, port: 0, recorder: recorder)
        let task = Task { try await transport.run() }
        _ = await recorder.first { $0.message == "Peer transport listening" }
        await transport.shutdown()
        try await task.value
        #expect(recorder.count { $0.message == "Peer transport stopped" } == 1)
    }

    @Test(
        "foreign-cluster, unknown-node and wrong-version handshakes are rejected",
        arguments: [
            (Handshake(clusterName: "other", sender: NodeID(2), receiver: NodeID(1), groups: ["kv", "q"]), "cluster"),
            (
                Handshake(clusterName: "test", sender: NodeID(7), receiver: NodeID(1), groups: ["kv", "q"]),
                "unknown node n7"
            ),
            (
                Handshake(
                    protocolVersion: 9,
                    clusterName: "test",
                    sender: NodeID(2),
                    receiver: NodeID(1),
                    groups: ["kv", "q"]
                ),
                "protocol version 9"
            ),
        ]
    )
    func handshakeRejected(handshake: Handshake, reason: String) async throws {
        let recorder = LogRecorder()
        try await withCluster(2, recorder: recorder) { nodes, addresses in
            let raw = try await connectRaw(to: addresses[0])
            let frames = try await raw.executeThenClose { inbound, outbound in
                var hello = ByteBuffer()
                try FrameCodec().encode(.handshake(handshake), into: &hello)
                try await outbound.write(hello)
                var frames: [Frame] = []
                do {
                    for try await frame in inbound {
                        frames.append(frame)
                    }
                } catch {}
                return frames
            }
            guard case .handshakeReject(let text)? = frames.first, frames.count == 1 else {
                Issue.record("expected exactly one reject, got \(frames)")
                return
            }
            #expect(text.contains(reason))
            let record = await recorder.first { $0.message == "Rejected peer handshake" }
            #expect(record.metadata["reason"].map { "\($0)" } == text)
            #expect(nodes[0].statistics().protocolErrors == 1)
        }
    }

    @Test("a node of another cluster cannot deliver anything")
    func foreignClusterTransport() async throws {
        let recorder = LogRecorder()
        try await withCluster(1, recorder: recorder) { nodes, addresses in
            let stranger = makeTransport(node: 2, port: 0, recorder: recorder) { $0.clusterName = "elsewhere" }
            _ = try await stranger.start()
            nodes[0].setPeerAddress(PeerAddress(host: "127.0.0.1", port: 1), for: NodeID(2))
            stranger.setPeerAddress(addresses[0], for: NodeID(1))
            stranger.send([ping(from: 2, to: 1)], group: GroupID(0))
            let failure = await recorder.first { $0.message == "Peer handshake failed" }
            #expect("\(failure.metadata["reason"] ?? "")".contains("rejected by n1"))
            #expect(failure.metadata["raft.peer"] == "n1")
            #expect(nodes[0].statistics().messagesReceived == 0)
            await stranger.shutdown()
        }
    }

    @Test("the link reconnects after the remote node restarts")
    func reconnect() async throws {
        let recorder = LogRecorder()
        let a = makeTransport(node: 1, port: 0, recorder: recorder)
        let b = makeTransport(node: 2, port: 0, recorder: recorder)
        var restarted: NIOPeerTransport?
        do {
            let addressA = try await a.start()
            let addressB = try await b.start()
            a.setPeerAddress(addressB, for: NodeID(2))
            b.setPeerAddress(addressA, for: NodeID(1))
            a.send([ping(from: 1, to: 2, term: 1)], group: GroupID(1))
            #expect(await receive(1, from: b.inbox(for: GroupID(1))).first?.term == 1)

            await b.shutdown()
            _ = await recorder.first { $0.message == "Disconnected from peer" && $0.metadata["raft.peer"] == "n2" }

            let b2 = makeTransport(node: 2, port: addressB.port, recorder: recorder)
            restarted = b2
            let inbox = b2.inbox(for: GroupID(1))
            _ = try await b2.start()
            b2.setPeerAddress(addressA, for: NodeID(1))
            a.send([ping(from: 1, to: 2, term: 2)], group: GroupID(1))
            #expect(await receive(1, from: inbox).first?.term == 2)
        } catch {
            Issue.record("reconnect test failed: \(error)")
        }
        await restarted?.shutdown()
        await b.shutdown()
        await a.shutdown()
    }

    @Test("the queue for an unreachable peer stays bounded and counts drops")
    func boundedQueue() async throws {
        let recorder = LogRecorder()
        // A port that was just free: nothing listens there now.
        let closed = makeTransport(node: 9, port: 0, recorder: recorder)
        let deadAddress = try await closed.start()
        await closed.shutdown()

        let configure: (inout NIOPeerTransportConfiguration) -> Void = { $0.outboundQueueCapacity = 4 }
        try await withCluster(1, recorder: recorder, configure: configure) { nodes, _ in
            nodes[0].setPeerAddress(deadAddress, for: NodeID(2))
            nodes[0].send((1...10).map { ping(from: 1, to: 2, term: Term($0)) }, group: GroupID(0))
            nodes[0].send((11...13).map { ping(from: 1, to: 2, term: Term($0)) }, group: GroupID(1))
            let statistics = nodes[0].statistics()
            #expect(statistics.outboundDropped == 9)
            #expect(statistics.outboundDroppedByPeer[NodeID(2)] == 9)
            #expect(statistics.messagesSent == 0)
            // Messages to a node with no address at all are dropped too.
            nodes[0].send([ping(from: 1, to: 5)], group: GroupID(0))
            #expect(nodes[0].statistics().outboundDroppedByPeer[NodeID(5)] == 1)
        }
    }

    @Test("a peer that stops reading never blocks send, and its queue stays bounded")
    func stalledPeer() async throws {
        let recorder = LogRecorder()
        let peer = try await startStalledPeer(node: NodeID(2))
        let configure: (inout NIOPeerTransportConfiguration) -> Void = { $0.outboundQueueCapacity = 8 }
        try await withCluster(1, recorder: recorder, configure: configure) { nodes, _ in
            let port = try #require(peer.localAddress?.port)
            nodes[0].setPeerAddress(PeerAddress(host: "127.0.0.1", port: port), for: NodeID(2))
            _ = await recorder.first { $0.message == "Connected to peer" }
            let entry = Entry(term: 1, index: 1, data: Array(repeating: 7, count: 64 << 10))
            let append = message(
                .append(AppendRequest(prevLogIndex: 0, prevLogTerm: 0, entries: [entry], leaderCommit: 0)),
                from: 1,
                to: 2
            )
            // Each send returns at once; once the socket and the queue are full, drops begin.
            // The bound is far above what loopback buffers hold (a few MiB).
            var rounds = 0
            while nodes[0].statistics().outboundDropped == 0, rounds < 10_000 {
                nodes[0].send(Array(repeating: append, count: 8), group: GroupID(0))
                await Task.yield()
                rounds += 1
            }
            let statistics = nodes[0].statistics()
            #expect(statistics.outboundDropped > 0)
            #expect(statistics.outboundDroppedByPeer[NodeID(2)] == statistics.outboundDropped)
            // Everything not dropped was written, is in the queue, or is the batch being encoded.
            #expect(UInt64(rounds * 8) - statistics.outboundDropped - statistics.messagesSent <= 16)
        }
        try await peer.close()
    }

    @Test("a message too large for one frame is dropped, the next one goes through")
    func oversizedMessage() async throws {
        let recorder = LogRecorder()
        let configure: (inout NIOPeerTransportConfiguration) -> Void = { $0.maxFrameSize = 1024 }
        try await withCluster(2, recorder: recorder, configure: configure) { nodes, _ in
            let inbox = nodes[1].inbox(for: GroupID(0))
            let big = AppendRequest(
                prevLogIndex: 0,
                prevLogTerm: 0,
                entries: [Entry(term: 1, index: 1, data: Array(repeating: 0, count: 4096))],
                leaderCommit: 0
            )
            nodes[0].send(
                [message(.append(big), from: 1, to: 2, term: 1), ping(from: 1, to: 2, term: 2)],
                group: GroupID(0)
            )
            #expect(await receive(1, from: inbox).first?.term == 2)
            #expect(nodes[0].statistics().outboundDropped == 1)
        }
    }

    @Test("shutdown finishes inboxes and later sends are dropped; a second start is an error")
    func lifecycle() async throws {
        let recorder = LogRecorder()
        let transport = makeTransport(node: 1, port: 0, recorder: recorder)
        let inbox = transport.inbox(for: GroupID(0))
        _ = try await transport.start()
        await #expect(throws: TransportLifecycleError.self) { try await transport.start() }
        await transport.shutdown()
        for await _ in inbox {
            Issue.record("inbox yielded after shutdown")
        }
        transport.send([ping(from: 1, to: 2)], group: GroupID(0))
        #expect(transport.statistics().outboundDropped == 1)
    }

    @Test("run() serves until its task is cancelled")
    func runUntilCancelled() async throws {
        let recorder = LogRecorder()
        let transport = makeTransport(node: 1, port: 0, recorder: recorder)
        let inbox = transport.inbox(for: GroupID(0))
        let task = Task { try await transport.run() }
        _ = await recorder.first { $0.message == "Peer transport listening" }
        task.cancel()
        try await task.value
        for await _ in inbox {
            Issue.record("inbox yielded after run() ended")
        }
    }
}
