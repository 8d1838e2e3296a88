import Benchmark
import NIOCore
import RaftCore
import RaftTransport

/// The peer wire format: an AppendEntries frame of 64 entries of 128 bytes (what a leader
/// under load sends), encoded into a `ByteBuffer` as the transport does, and decoded back.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )
    let codec = FrameCodec()
    let entries = (1...64).map {
        Entry(term: 3, index: LogIndex(1000 + $0), data: [UInt8](repeating: 0x5A, count: 128))
    }
    let append = Frame.raft(
        group: GroupID(0),
        message: Message(
            from: NodeID(1),
            to: NodeID(2),
            term: 3,
            payload: .append(AppendRequest(prevLogIndex: 1000, prevLogTerm: 3, entries: entries, leaderCommit: 990))
        )
    )
    let heartbeat = Frame.raft(
        group: GroupID(0),
        message: Message(
            from: NodeID(1),
            to: NodeID(2),
            term: 3,
            payload: .heartbeat(Heartbeat(commit: 990, readRound: 7))
        )
    )
    let encodedAppend = try! codec.encode(append)
    let encodedHeartbeat = try! codec.encode(heartbeat)

    Benchmark("encode append 64 x 128 B into ByteBuffer", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: encodedAppend.count)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            try codec.encode(append, into: &buffer)
        }
        blackHole(buffer.readableBytes)
    }
    Benchmark("decode append 64 x 128 B", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try codec.decode(encodedAppend))
        }
    }
    Benchmark("encode heartbeat into ByteBuffer", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            try codec.encode(heartbeat, into: &buffer)
        }
        blackHole(buffer.readableBytes)
    }
    Benchmark("decode heartbeat", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try codec.decode(encodedHeartbeat))
        }
    }
}
