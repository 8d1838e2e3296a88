import Foundation
import RaftCore
import RaftTesting

/// The seed of a scenario: `RAFT_SIM_SEED` replays a reported failure, else a fixed default
/// keeps every run of the suite identical.
func scenarioSeed(_ defaultSeed: UInt64) -> UInt64 {
    if let text = ProcessInfo.processInfo.environment["RAFT_SIM_SEED"], let seed = UInt64(text) {
        return seed
    }
    return defaultSeed
}

/// The lab's election timeout, for its `time.Sleep(RaftElectionTimeout)`.
let electionTimeout: VirtualTime = .seconds(1)

extension RaftSimulation {
    /// Node at `position` (taken modulo the cluster size) counting from `base`.
    func node(_ base: NodeID, plus offset: Int) -> NodeID {
        let position = (nodeIDs.firstIndex(of: base)! + offset) % nodeIDs.count
        return nodeIDs[position]
    }

    /// The lab's `crash1`: the node leaves the network and stops, keeping what it persisted.
    func crashAndDisconnect(_ id: NodeID) {
        disconnect(id)
        crash(id)
    }

    func randomCommand() -> [UInt8] {
        .command(Int(randomNumber(below: 1 << 40)))
    }
}

/// Runs a long, synchronous simulation on a thread of its own, so that it does not occupy one
/// of the few threads of Swift's cooperative pool that tests of real servers (running in the
/// same process, in parallel) need to make progress.
///
/// At most one core's worth of simulations run at once (``simulationSlots``): twenty of them
/// started together (the lab scenarios are parameterized) left the real servers of the other
/// tests a twentieth of the CPU each for the suite's first 20 s, so their 500 ms elections
/// and 10 s deadlines failed on a 2-core machine.
func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            simulationSlots.wait()
            let result = Result { try body() }
            simulationSlots.signal()
            continuation.resume(with: result)
        }
        thread.stackSize = 16 << 20
        thread.start()
    }
}

/// How many simulations run at once: every core but one, at least one.
private let simulationSlots = DispatchSemaphore(value: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
