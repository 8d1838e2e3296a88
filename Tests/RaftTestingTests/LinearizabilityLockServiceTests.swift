import LockService
import RaftTesting
import SimulationThread
import Testing

@Suite("Linearizability of lock service histories", .onSimulationThread)
struct LinearizabilityLockServiceTests {
    private let checker = LinearizabilityChecker(model: LockServiceModel())

    private func lock(
        _ client: Int,
        _ command: LockService.Command,
        _ call: UInt64,
        _ returned: UInt64,
        _ output: LockService.Response
    ) -> LockOperation {
        LockOperation(client: client, input: .command(command), call: call, output: output, returned: returned)
    }

    private func holder(
        _ client: Int,
        _ call: UInt64,
        _ returned: UInt64,
        _ output: LockService.Holder?
    ) -> LockOperation {
        LockOperation(
            client: client,
            input: .query(.holder(lock: "L")),
            call: call,
            output: .holder(output),
            returned: returned
        )
    }

    private func holding(_ owner: String, _ token: UInt64, until expiresAt: UInt64) -> LockService.Holder {
        LockService.Holder(owner: owner, token: token, expiresAt: expiresAt)
    }

    @Test func grantRefusalExpiryAndRegrantAreAccepted() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 1, until: 1_100))),
            lock(1, .acquire(lock: "L", owner: "b", leaseMs: 100), 20, 30, .held(holding("a", 1, until: 1_100))),
            // Granted at log time 1100: a's lease is over.
            lock(1, .acquire(lock: "L", owner: "b", leaseMs: 50), 40, 50, .granted(holding("b", 2, until: 1_150))),
            holder(2, 60, 70, holding("b", 2, until: 1_150)),
            lock(
                0,
                .release(lock: "L", owner: "a", token: 1),
                80,
                90,
                .notHolder(current: holding("b", 2, until: 1_150))
            ),
            lock(1, .release(lock: "L", owner: "b", token: 2), 100, 110, .released),
            holder(2, 120, 130, nil),
        ]
        #expect(checker.check(history).isLinearizable)
    }

    @Test func doubleGrantOfALiveLeaseIsRejected() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 1, until: 1_100))),
            // Granted at log time 1050, while a's lease runs until 1100.
            lock(1, .acquire(lock: "L", owner: "b", leaseMs: 100), 20, 30, .granted(holding("b", 2, until: 1_150))),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func fencingTokenThatDoesNotIncreaseIsRejected() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 5, until: 1_100))),
            lock(0, .release(lock: "L", owner: "a", token: 5), 20, 30, .released),
            lock(1, .acquire(lock: "L", owner: "b", leaseMs: 100), 40, 50, .granted(holding("b", 5, until: 1_300))),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func logTimeGoingBackwardsIsRejected() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 10), 0, 10, .granted(holding("a", 1, until: 2_010))),
            lock(0, .release(lock: "L", owner: "a", token: 1), 20, 30, .released),
            // Granted at log time 1000, after a grant at 2000.
            lock(1, .acquire(lock: "L", owner: "b", leaseMs: 10), 40, 50, .granted(holding("b", 2, until: 1_010))),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func releaseByANonOwnerThatSucceedsIsRejected() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 1, until: 1_100))),
            lock(1, .release(lock: "L", owner: "b", token: 1), 20, 30, .released),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func holderSeenAfterItsReleaseIsRejected() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 1, until: 1_100))),
            lock(0, .release(lock: "L", owner: "a", token: 1), 20, 30, .released),
            holder(1, 40, 50, holding("a", 1, until: 1_100)),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func leaseSeenExpiredCannotBeSeenLiveAgain() {
        let history = [
            lock(0, .acquire(lock: "L", owner: "a", leaseMs: 100), 0, 10, .granted(holding("a", 1, until: 1_100))),
            holder(1, 20, 30, nil),
            // Seeing no holder means log time reached 1100; a renewal granted at 1050 is stale.
            lock(
                0,
                .renew(lock: "L", owner: "a", token: 1, leaseMs: 100),
                40,
                50,
                .granted(holding("a", 1, until: 1_150))
            ),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test(arguments: [true, false])
    func unknownAcquireMayHaveTakenEffectOrNot(_ tookEffect: Bool) {
        let pendingAcquire = LockOperation(
            client: 0,
            input: .command(.acquire(lock: "L", owner: "a", leaseMs: 100)),
            call: 0,
            outcome: .unknown
        )
        let observed: LockOperation =
            tookEffect
            ? lock(1, .acquire(lock: "L", owner: "b", leaseMs: 100), 20, 30, .held(holding("a", 1, until: 1_100)))
            : lock(1, .acquire(lock: "L", owner: "b", leaseMs: 100), 20, 30, .granted(holding("b", 1, until: 1_100)))
        #expect(checker.check([pendingAcquire, observed]).isLinearizable)
    }

    /// A random history of the real service: 12 clients over 6 locks, short leases, 2% of
    /// operations of unknown outcome.
    private func randomHistory(seed: UInt64) -> [LockOperation] {
        var generator = HistoryGenerator<LockService>(
            random: ConformanceRandom(seed: seed),
            clients: 12,
            operationsPerClient: 300,
            unknownOutcomeChance: 0.02
        )
        return generator.generate(
            makeInput: { random, client in
                let lock = "L\(Int.random(in: 0..<6, using: &random))"
                let owner = "c\(client)"
                let token = UInt64.random(in: 1...200, using: &random)
                let lease = UInt64.random(in: 0...150, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<4: return .command(.acquire(lock: lock, owner: owner, leaseMs: lease))
                case 4..<6: return .command(.renew(lock: lock, owner: owner, token: token, leaseMs: lease))
                case 6..<8: return .command(.release(lock: lock, owner: owner, token: token))
                default: return .query(.holder(lock: lock))
                }
            },
            modelInput: { input -> LockServiceModel.Input in
                switch input {
                case .command(let command): .command(command)
                case .query(let query): .query(query)
                }
            }
        )
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func randomValidHistoryIsAccepted(seed: UInt64) {
        let history = randomHistory(seed: seed)
        #expect(history.contains { if case .granted? = $0.output { true } else { false } })
        #expect(history.contains { if case .held? = $0.output { true } else { false } })
        let result = checker.check(history)
        #expect(result.isLinearizable, "\(result)")
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func randomHistoryWithAPhantomHolderIsRejected(seed: UInt64) throws {
        var history = randomHistory(seed: seed)
        // One refusal now names a holder that never acquired anything.
        let index = try #require(history.firstIndex { if case .held? = $0.output { true } else { false } })
        guard case .held(var holder)? = history[index].output, let returned = history[index].returned else {
            Issue.record("expected a refusal")
            return
        }
        holder.owner = "phantom"
        history[index].outcome = .returned(.held(holder), at: returned)
        let result = checker.check(history)
        #expect(result.verdict == .notLinearizable)
        #expect(try #require(result.failure).partition == history[index].input.lock)
    }
}
