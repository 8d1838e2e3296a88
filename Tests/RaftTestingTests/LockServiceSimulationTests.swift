import Foundation
import LockService
import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing

/// The second plugin under faults: clients compete for a few locks (acquire with a lease,
/// sometimes renew, release with the fencing token, or let the lease lapse) while the
/// network drops and delays messages, partitions come and go and nodes crash. Every history
/// is checked against the lock service's model: at most one live holder per lock at any
/// log time, fencing tokens only grow, releases need the current token.
///
/// `RAFT_SIM_SEEDS` raises the number of seeds (default 20); `RAFT_SIM_SEED` replays one.
@Suite("Lock service under faults", .onSimulationThread)
struct LockServiceSimulationTests {
    typealias Operation = LinearizabilityOperation<LockServiceModel.Input, LockService.Response>

    @Test("RandomizedLockService")
    func randomizedLockService() async throws {
        let (problems, grants) = try await offCooperativePool { try Self.runAll() }
        #expect(problems.isEmpty, "\(problems)")
        #expect(grants > 0, "no lock was ever granted")
    }

    /// Runs every seed on its own thread (no `#expect` in here); returns the seeds whose
    /// history was not linearizable, and the number of grants.
    private static func runAll() throws -> ([String], Int) {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let text = environment["RAFT_SIM_SEED"], let seed = UInt64(text) {
            seeds = [seed]
        } else {
            let count = environment["RAFT_SIM_SEEDS"].flatMap(Int.init).map { max(1, $0 / 100) } ?? 20
            seeds = (0..<UInt64(count)).map { 20_000 + $0 }
        }
        var grants = 0
        var operations = 0
        var problems: [String] = []
        for seed in seeds {
            let (history, granted) = try runSeed(seed)
            let result = LinearizabilityChecker(model: LockServiceModel(), timeLimit: .seconds(60)).check(history)
            if result.verdict != .linearizable { problems.append("seed \(seed): \(result)") }
            grants += granted
            operations += history.count
        }
        print(
            "lock service under faults: \(seeds.count) seeds, \(operations) operations, \(grants) grants, all linearizable"
        )
        return (problems, grants)
    }

    private static func runSeed(_ seed: UInt64) throws -> ([Operation], Int) {
        let sim = RaftSimulation(
            servers: 5,
            seed: seed,
            testName: "randomizedLockService",
            snapshots: .maxRaftState(2_000),
            machine: { AnyStateMachine(LockService()) }
        )
        var history: [Operation] = []
        var grants = 0
        var stop = false
        var running = 0
        let locks = ["a", "b"]
        for client in 0..<6 {
            let clerk = SimulatedClerk(simulation: sim)
            let owner = "client-\(client)"
            func record(_ input: LockServiceModel.Input, then: @escaping (LockService.Response) -> Void) {
                let call = sim.now
                let finish: ([UInt8]) -> Void = { bytes in
                    guard let response = try? LockService.Response(decoding: bytes) else {
                        _ = sim.fail("undecodable lock service response")
                        return
                    }
                    history.append(
                        Operation(client: client, input: input, call: call, output: response, returned: sim.now)
                    )
                    then(response)
                }
                switch input {
                case .command(let command): clerk.submit(command.encoded(), completion: finish)
                case .query(let query): clerk.query(query.encoded(), completion: finish)
                }
            }
            func next() {
                guard !stop else {
                    running -= 1
                    return
                }
                let lock = locks[Int(sim.randomNumber(below: UInt64(locks.count)))]
                switch sim.randomNumber(below: 10) {
                case 0..<2:
                    record(.query(.holder(lock: lock))) { _ in next() }
                default:
                    let lease = 100 + sim.randomNumber(below: 1_500)
                    record(.command(.acquire(lock: lock, owner: owner, leaseMs: lease))) { response in
                        guard case .granted(let holder) = response else {
                            sim.schedule(after: .milliseconds(sim.randomNumber(below: 50)), next)
                            return
                        }
                        grants += 1
                        // Hold it a while; then renew, release, or let the lease lapse.
                        sim.schedule(after: .milliseconds(sim.randomNumber(below: 300))) {
                            switch sim.randomNumber(below: 3) {
                            case 0:
                                record(.command(.renew(lock: lock, owner: owner, token: holder.token, leaseMs: lease)))
                                { _ in
                                    record(.command(.release(lock: lock, owner: owner, token: holder.token))) { _ in
                                        next()
                                    }
                                }
                            case 1:
                                record(.command(.release(lock: lock, owner: owner, token: holder.token))) { _ in next()
                                }
                            default:
                                next()
                            }
                        }
                    }
                }
            }
            running += 1
            sim.schedule(after: 0, next)
        }
        let ids = sim.nodeIDs
        for _ in 0..<30 {
            switch sim.randomNumber(below: 6) {
            case 0: sim.network.unreliable.toggle()
            case 1:
                let shuffled = sim.shuffled(ids)
                sim.partition([Array(shuffled[..<2]), Array(shuffled[2...])])
            case 2: sim.healPartition()
            case 3: sim.crash(ids[Int(sim.randomNumber(below: 5))])
            case 4: sim.restart(ids[Int(sim.randomNumber(below: 5))])
            default: break
            }
            try sim.run(for: .milliseconds(100 + sim.randomNumber(below: 300)))
        }
        stop = true
        sim.network.unreliable = false
        sim.healPartition()
        for id in ids where !sim.isUp(id) { sim.restart(id) }
        let finished = try sim.run(atMost: .seconds(60)) { running == 0 }
        if !finished { throw sim.fail("lock clients did not finish within 60 s after healing") }
        return (history, grants)
    }
}
