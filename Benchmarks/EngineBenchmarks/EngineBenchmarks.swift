import Benchmark
import RaftCore

/// The consensus engine alone: three `RaftEngine`s wired together in memory, every output
/// persisted at once, so the figures are the engine's own cost per committed entry (no disk,
/// no network, no plugin).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    for batch in [1, 64] {
        // One iteration: `batch` proposals of 128 bytes committed and applied on all three nodes.
        Benchmark("commit \(batch) x 128 B, 3 nodes", configuration: .init(scalingFactor: .kilo)) { benchmark in
            var cluster = InMemoryCluster(nodes: 3)
            let command = [UInt8](repeating: 0x5A, count: 128)
            let commands = Array(repeating: command, count: batch)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                cluster.commitOnAll(commands)
            }
            benchmark.stopMeasurement()
            blackHole(cluster.leaderCommitIndex)
        }
    }

    // One iteration: 64 ReadIndex reads that share one heartbeat round.
    Benchmark("ReadIndex round for 64 reads, 3 nodes", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var cluster = InMemoryCluster(nodes: 3)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(cluster.confirmReads(64))
        }
        benchmark.stopMeasurement()
    }
}

/// Engines that exchange messages synchronously; storage is "durable" the moment it is handed out.
struct InMemoryCluster {
    private var engines: [RaftEngine]
    private var nextReadID: UInt64 = 1
    private var leader: Int { engines.firstIndex { $0.role == .leader }! }

    init(nodes: Int) {
        let ids = (1...nodes).map { NodeID(UInt64($0)) }
        engines = ids.map { id in
            var configuration = RaftConfiguration(id: id, voters: ids)
            configuration.randomSeed = 7
            return RaftEngine(configuration: configuration)
        }
        while !engines.contains(where: { $0.role == .leader }) {
            engines[0].tick()
            deliverAll()
        }
        deliverAll()
    }

    var leaderCommitIndex: LogIndex { engines[leader].commitIndex }

    mutating func commitOnAll(_ commands: [[UInt8]]) {
        let leader = leader
        guard case .accepted(let index, _) = engines[leader].propose(batch: commands) else {
            fatalError("the leader refused a proposal")
        }
        let last = index + LogIndex(commands.count - 1)
        while engines.contains(where: { $0.appliedIndex < last }) {
            deliverAll()
            // Followers learn the new commit index from the next append or heartbeat.
            if engines.contains(where: { $0.appliedIndex < last }) { engines[leader].tick() }
        }
    }

    /// Returns how many reads were released.
    mutating func confirmReads(_ count: Int) -> Int {
        let leader = leader
        for _ in 0..<count {
            _ = engines[leader].requestRead(id: nextReadID)
            nextReadID += 1
        }
        return deliverAll()
    }

    /// Moves every output until all engines are quiet; returns the read states released.
    @discardableResult
    private mutating func deliverAll() -> Int {
        var released = 0
        var inFlight: [Message] = []
        repeat {
            for index in engines.indices {
                while engines[index].hasOutput {
                    let output = engines[index].takeOutput()
                    engines[index].didPersist(output)
                    released += output.readStates.count
                    inFlight.append(contentsOf: output.messages)
                }
            }
            let batch = inFlight
            inFlight.removeAll(keepingCapacity: true)
            for message in batch {
                engines[Int(message.to.rawValue) - 1].step(message)
            }
        } while engines.contains(where: \.hasOutput)
        return released
    }
}
