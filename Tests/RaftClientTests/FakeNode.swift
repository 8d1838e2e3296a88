import KeyValueStore
import NIOCore
import NIOPosix
import RaftClient
import RaftCore
import RaftReplica
import RaftStorage
import RaftTransport
import StateMachineAPI
import Synchronization

/// What a fake node does with one request.
enum Reply: Sendable {
    case respond(ClientResponse)
    /// Never answer (a paused node, or a reply lost on the way).
    case ignore
    /// Close the connection instead of answering (a crash after applying).
    case closeConnection
    /// Write these bytes instead of an answer.
    case garbage([UInt8])
}

/// What happened at a fake node, in order.
enum NodeEvent: Sendable, Equatable {
    case connected
    case request(ClientRequest)
    case disconnected
}

/// A node's client port in the test process: a real TCP listener on loopback port 0 speaking
/// the native client protocol, running one group, "kv", and answering its requests as
/// `script` says.
final class FakeNode: Sendable {
    let node: NodeID
    let port: Int
    /// Every event, for awaiting; one consumer.
    let events: AsyncStream<NodeEvent>
    private let shared: Shared
    private let serverChannel: any Channel

    /// What the listener's channels and the test share.
    private final class Shared: Sendable {
        let log = Mutex<[NodeEvent]>([])
        let children = Mutex<[any Channel]>([])
    }

    init(node: UInt64, script: @escaping @Sendable (ClientRequest) -> Reply) async throws {
        let (events, continuation) = AsyncStream<NodeEvent>.makeStream()
        let shared = Shared()
        let record: @Sendable (NodeEvent) -> Void = { event in
            shared.log.withLock { $0.append(event) }
            continuation.yield(event)
        }
        serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                shared.children.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FakeNodeHandler(script: script, record: record))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.node = NodeID(node)
        self.port = serverChannel.localAddress?.port ?? 0
        self.events = events
        self.shared = shared
    }

    var endpoint: RaftClient.Endpoint { RaftClient.Endpoint(node: node, host: "127.0.0.1", port: port) }

    /// The requests received so far.
    var requests: [ClientRequest] {
        shared.log.withLock { $0.compactMap { if case .request(let request) = $0 { request } else { nil } } }
    }

    /// The number of connections accepted so far.
    var connectionCount: Int {
        shared.log.withLock { $0.filter { $0 == .connected }.count }
    }

    /// Waits for the next event that matches.
    func next(_ matching: (NodeEvent) -> Bool) async -> NodeEvent? {
        for await event in events where matching(event) {
            return event
        }
        return nil
    }

    func stop() async throws {
        for child in shared.children.withLock({ $0 }) {
            try? await child.close()
        }
        try await serverChannel.close()
    }
}

/// Splits frames out of the byte stream and answers each client request.
private final class FakeNodeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let script: @Sendable (ClientRequest) -> Reply
    private let record: @Sendable (NodeEvent) -> Void
    private let codec = FrameCodec()
    private var buffer = ByteBuffer()

    init(script: @escaping @Sendable (ClientRequest) -> Reply, record: @escaping @Sendable (NodeEvent) -> Void) {
        self.script = script
        self.record = record
    }

    func channelActive(context: ChannelHandlerContext) {
        record(.connected)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        record(.disconnected)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let prefix = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) {
                let length = try codec.frameLength(prefix: prefix)
                guard buffer.readableBytes >= 4 + length else { return }
                buffer.moveReaderIndex(forwardBy: 4)
                let frame = try codec.decodeFrame(body: buffer.readBytes(length: length) ?? [])
                guard case .clientRequest(let id, let group, let payload) = frame else {
                    context.close(promise: nil)
                    return
                }
                let request = try ClientRequest(decoding: payload)
                record(.request(request))
                let reply = group == "kv" ? script(request) : .respond(.unknownGroup("no group \(group)"))
                switch reply {
                case .respond(let response):
                    var out = context.channel.allocator.buffer(capacity: 64)
                    try codec.encode(.clientResponse(id: id, payload: response.encoded()), into: &out)
                    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                case .ignore:
                    break
                case .closeConnection:
                    context.close(promise: nil)
                    return
                case .garbage(let bytes):
                    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                }
            }
        } catch {
            context.close(promise: nil)
        }
    }
}

/// A real single-node KeyValueStore replica behind a lock: every proposal commits as soon as
/// it is persisted, so each request is answered at once, with the real session table.
final class KeyValueBackend: Sendable {
    private struct State: Sendable {
        var replica: Replica
        let storage = MemoryStorage()
        var nextRequestID: UInt64 = 1
        var finished: [UInt64: Result<[UInt8], ReplicaError>] = [:]

        mutating func drive() throws {
            for completion in try replica.drive(storage: storage) { finished[completion.requestID] = completion.result }
        }
    }

    private let state: Mutex<State>

    init() throws {
        var state = State(
            replica: try Replica(
                configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
                machine: AnyStateMachine(KeyValueStore()),
                snapshotPolicy: .never
            )
        )
        // Enough ticks for the single node to elect itself.
        for _ in 0..<30 { state.replica.tick() }
        try state.drive()
        self.state = Mutex(state)
    }

    /// The answer the real replica gives.
    func handle(_ request: ClientRequest) -> ClientResponse {
        state.withLock { state in
            let id = state.nextRequestID
            state.nextRequestID += 1
            switch request {
            case .command(let command):
                state.replica.submitCommand(command, requestID: id, now: 0)
            case .query(let query, let consistency):
                state.replica.submitQuery(query, requestID: id, consistency: consistency)
            }
            do {
                try state.drive()
            } catch {
                return .error(ReplicaError(.invalidRequest, "\(error)"))
            }
            guard let result = state.finished.removeValue(forKey: id) else {
                return .error(ReplicaError(.overloaded, "not finished"))
            }
            return ClientResponse(result)
        }
    }

    /// The store's contents, read directly.
    var contents: [String: String] {
        state.withLock { state in
            state.replica.machine.unwrap(as: KeyValueStore.self)?.contents ?? [:]
        }
    }
}
