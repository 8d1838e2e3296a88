import ArgumentParser
import Foundation
import RaftTesting
import Synchronization

/// Runs the randomized fault simulation (``RandomizedFaults``) for many seeds, on every core,
/// in whatever build it was compiled in: `make test` builds it in release and runs 10,000.
@main
struct RaftSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raftsim",
        abstract: "Runs the randomized fault simulation for many seeds; a failure prints the seed that replays it."
    )

    @Option(help: "How many seeds to run.")
    var seeds = 10_000

    @Option(help: "The first seed.")
    var base: UInt64 = 10_000

    @Option(help: "Replay this one seed only.")
    var seed: UInt64?

    @Option(help: "Threads running seeds (default: one per core).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard seeds > 0 else { throw ValidationError("--seeds must be positive") }
        guard jobs > 0 else { throw ValidationError("--jobs must be positive") }
    }

    func run() throws {
        if let seed {
            try RandomizedFaults.run(seed: seed)
            print("seed \(seed) passed")
            return
        }
        let started = Date()
        let run = SeedRun(base: base, count: seeds)
        let threads = (0..<jobs).map { _ in
            let thread = Thread { run.work() }
            thread.stackSize = 16 << 20
            return thread
        }
        threads.forEach { $0.start() }
        run.waitUntilDone(threads: threads.count)
        let elapsed = Date().timeIntervalSince(started)
        let summary = run.summary
        if let failure = summary.failure {
            print("raftsim: FAILED after \(summary.seeds) seeds: \(failure)")
            print(
                "replay: raftsim --seed \(failure.seed), or RAFT_SIM_SEED=\(failure.seed) swift test --filter RandomizedFaults"
            )
            throw ExitCode.failure
        }
        print(
            "randomized simulation (release): \(summary.seeds) seeds in \(String(format: "%.1f", elapsed)) s "
                + "(\(String(format: "%.0f", Double(summary.seeds) / elapsed)) seeds/s on \(jobs) threads), "
                + "\(summary.reads) linearizable reads confirmed, \(summary.leaseReads) of them from leases, "
                + "\(summary.transfers) leadership transfers started, \(summary.membershipChanges) membership changes, "
                + "\(summary.quiescences) quiescent periods"
        )
    }
}

/// Seeds handed out to worker threads one at a time; the first failure stops them all.
private final class SeedRun: Sendable {
    struct Summary: Sendable {
        var seeds = 0
        var reads = 0
        var leaseReads: UInt64 = 0
        var transfers = 0
        var membershipChanges = 0
        var quiescences = 0
        var failure: SimulationFailure?
        var finishedThreads = 0
    }

    private let base: UInt64
    private let count: Int
    private let next = Atomic<Int>(0)
    private let state = Mutex(Summary())
    private let done = DispatchSemaphore(value: 0)

    init(base: UInt64, count: Int) {
        self.base = base
        self.count = count
    }

    var summary: Summary { state.withLock { $0 } }

    func work() {
        defer {
            state.withLock { $0.finishedThreads += 1 }
            done.signal()
        }
        while true {
            let offset = next.add(1, ordering: .relaxed).oldValue
            guard offset < count, state.withLock({ $0.failure == nil }) else { return }
            do {
                let outcome = try RandomizedFaults.run(seed: base + UInt64(offset))
                state.withLock {
                    $0.seeds += 1
                    $0.reads += outcome.reads
                    $0.leaseReads += outcome.leaseReads
                    $0.transfers += outcome.transfers
                    $0.membershipChanges += outcome.membershipChanges
                    $0.quiescences += outcome.quiescences
                }
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
                return
            }
        }
    }

    func waitUntilDone(threads: Int) {
        for _ in 0..<threads { done.wait() }
    }
}
