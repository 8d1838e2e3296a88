import Foundation
import RaftTesting
import SimulationThread
import Testing

/// The randomized fault simulation (``RandomizedFaults``) in the debug build.
///
/// Budget: `RAFT_SIM_BUDGET` seconds of wall time (default 20; `make test` also runs 10,000
/// seeds in a release build with `raftsim`), or exactly `RAFT_SIM_SEEDS` seeds;
/// `RAFT_SIM_SEED` replays one seed.
@Suite("Randomized simulation", .onSimulationThread)
struct RandomizedFaultsTests {
    @Test("RandomizedFaults")
    func randomizedSimulation() async throws {
        let seeds = try await offCooperativePool { try Self.runBudget() }
        #expect(seeds > 0)
    }

    /// Runs the seeds of the budget (on its own thread: no `#expect` in here, failures throw);
    /// returns how many ran.
    private static func runBudget() throws -> Int {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["RAFT_SIM_SEED"], let seed = UInt64(text) {
            try RandomizedFaults.run(seed: seed)
            return 1
        }
        let seedCount = environment["RAFT_SIM_SEEDS"].flatMap(Int.init)
        let budget = environment["RAFT_SIM_BUDGET"].flatMap(Double.init) ?? 20
        let base: UInt64 = environment["RAFT_SIM_SEED_BASE"].flatMap(UInt64.init) ?? 10_000
        let started = Date()
        var seeds = 0
        var reads = 0
        var leaseReads: UInt64 = 0
        var transfers = 0
        var membershipChanges = 0
        var quiescences = 0
        while seedCount.map({ seeds < $0 }) ?? (Date().timeIntervalSince(started) < budget) {
            let outcome = try RandomizedFaults.run(seed: base + UInt64(seeds))
            reads += outcome.reads
            leaseReads += outcome.leaseReads
            transfers += outcome.transfers
            membershipChanges += outcome.membershipChanges
            quiescences += outcome.quiescences
            seeds += 1
        }
        let elapsed = Date().timeIntervalSince(started)
        print(
            "randomized simulation: \(seeds) seeds in \(String(format: "%.1f", elapsed)) s "
                + "(\(String(format: "%.0f", Double(seeds) / elapsed)) seeds/s), "
                + "\(reads) linearizable reads confirmed, \(leaseReads) of them from leases, "
                + "\(transfers) leadership transfers started, \(membershipChanges) membership changes, "
                + "\(quiescences) quiescent periods"
        )
        return seeds
    }
}
