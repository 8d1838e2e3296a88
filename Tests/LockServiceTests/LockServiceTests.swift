import LockService
import RaftTesting
import StateMachineAPI
import Testing

@Suite("LockService semantics")
struct LockServiceTests {
    private var service = LockService()
    private var index: UInt64 = 0

    /// Applies `command` at log time `time` (milliseconds).
    private mutating func apply(_ command: LockService.Command, at time: UInt64) -> LockService.Response {
        index += 1
        return service.apply(command, context: ApplyContext(index: index, time: time))
    }

    private func holder(_ lock: String, at time: UInt64) -> LockService.Response {
        service.query(.holder(lock: lock), context: QueryContext(index: index, time: time))
    }

    @Test mutating func acquireGrantsAFreeLockWithALeaseOnLogTime() {
        let response = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        #expect(response == .granted(.init(owner: "a", token: 1, expiresAt: 1_100)))
        #expect(holder("L", at: 1_050) == .holder(.init(owner: "a", token: 1, expiresAt: 1_100)))
    }

    @Test mutating func acquireOfAHeldLockReportsTheHolder() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        let response = apply(.acquire(lock: "L", owner: "b", leaseMs: 100), at: 1_099)
        #expect(response == .held(.init(owner: "a", token: 1, expiresAt: 1_100)))
    }

    @Test mutating func leaseExpiresByLogTimeAndTheNextGrantHasAHigherToken() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        // The lease is live while expiresAt > time: at exactly 1100 it is over.
        #expect(holder("L", at: 1_099) != .holder(nil))
        #expect(holder("L", at: 1_100) == .holder(nil))
        let response = apply(.acquire(lock: "L", owner: "b", leaseMs: 50), at: 1_100)
        #expect(response == .granted(.init(owner: "b", token: 2, expiresAt: 1_150)))
    }

    @Test mutating func fencingTokensIncreaseAcrossLocksAndGrants() {
        var tokens: [UInt64] = []
        for round in 0..<5 {
            let time = UInt64(round) * 1_000
            for lock in ["x", "y"] {
                if case .granted(let holder) = apply(.acquire(lock: lock, owner: "o\(round)", leaseMs: 10), at: time) {
                    tokens.append(holder.token)
                }
            }
        }
        #expect(tokens == Array(1...10))
        #expect(service.lastFencingToken == 10)
    }

    @Test mutating func reacquireByTheHolderExtendsTheLeaseAndKeepsTheToken() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        let response = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_080)
        #expect(response == .granted(.init(owner: "a", token: 1, expiresAt: 1_180)))
    }

    @Test mutating func renewExtendsOnlyALiveLeaseWithTheRightToken() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        #expect(
            apply(.renew(lock: "L", owner: "a", token: 1, leaseMs: 100), at: 1_090)
                == .granted(.init(owner: "a", token: 1, expiresAt: 1_190))
        )
        let live = LockService.Holder(owner: "a", token: 1, expiresAt: 1_190)
        #expect(apply(.renew(lock: "L", owner: "a", token: 7, leaseMs: 100), at: 1_100) == .notHolder(current: live))
        #expect(apply(.renew(lock: "L", owner: "b", token: 1, leaseMs: 100), at: 1_100) == .notHolder(current: live))
        // Too late: the lease ended, so the lock must be acquired again (with a new token).
        #expect(apply(.renew(lock: "L", owner: "a", token: 1, leaseMs: 100), at: 1_190) == .notHolder(current: nil))
    }

    @Test mutating func releaseByANonOwnerOrWithAStaleTokenIsRefused() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        let live = LockService.Holder(owner: "a", token: 1, expiresAt: 1_100)
        #expect(apply(.release(lock: "L", owner: "b", token: 1), at: 1_010) == .notHolder(current: live))
        #expect(apply(.release(lock: "L", owner: "a", token: 2), at: 1_010) == .notHolder(current: live))
        #expect(holder("L", at: 1_010) == .holder(live))
        #expect(apply(.release(lock: "L", owner: "a", token: 1), at: 1_020) == .released)
        #expect(holder("L", at: 1_020) == .holder(nil))
        #expect(apply(.release(lock: "L", owner: "a", token: 1), at: 1_030) == .notHolder(current: nil))
    }

    @Test mutating func aStaleHolderCannotReleaseItsSuccessorsLock() {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 2_000)
        // The same owner after its lease expired got a new token; the old one is fenced off.
        #expect(apply(.release(lock: "L", owner: "a", token: 1), at: 2_010) != .released)
        #expect(apply(.release(lock: "L", owner: "a", token: 2), at: 2_010) == .released)
    }

    @Test mutating func hugeLeasesSaturateInsteadOfWrapping() {
        let response = apply(.acquire(lock: "L", owner: "a", leaseMs: .max), at: 5)
        #expect(response == .granted(.init(owner: "a", token: 1, expiresAt: .max)))
    }

    @Test mutating func snapshotKeepsLocksAndTheTokenCounter() throws {
        _ = apply(.acquire(lock: "L", owner: "a", leaseMs: 100), at: 1_000)
        _ = apply(.acquire(lock: "M", owner: "b", leaseMs: 100), at: 1_000)
        _ = apply(.release(lock: "M", owner: "b", token: 2), at: 1_001)
        var restored = try LockService(snapshot: service.snapshot())
        #expect(restored == service)
        let response = restored.apply(
            .acquire(lock: "M", owner: "c", leaseMs: 1),
            context: ApplyContext(index: 9, time: 1_002)
        )
        #expect(response == .granted(.init(owner: "c", token: 3, expiresAt: 1_003)))
    }

    @Test func snapshotWithATokenAboveTheCounterIsRejected() {
        var writer = BinaryWriter()
        writer.writeUInt8(1)
        writer.writeVarint(1)
        writer.writeVarint(1)
        writer.writeString("L")
        LockService.Holder(owner: "a", token: 5, expiresAt: 10).encode(to: &writer)
        #expect(throws: BinaryDecodingError.self) { try LockService(snapshot: writer.bytes) }
    }
}

@Suite("LockService conformance")
struct LockServiceConformanceTests {
    private static let locks = ["L", "M", "N"]
    private static let owners = ["a", "b", "c"]

    // Short leases against time steps of 0-60 ms, so grants, refusals and expiries all occur;
    // tokens in 0...8 so that renewals and releases sometimes match.
    private static let suite = StateMachineConformance<LockService>(
        seed: 7,
        count: 400,
        queries: locks.map { .holder(lock: $0) },
        timeStep: 0...60
    ) { random in
        let lock = locks.randomElement(using: &random) ?? "L"
        let owner = owners.randomElement(using: &random) ?? "a"
        let token = UInt64.random(in: 0...8, using: &random)
        let lease = UInt64.random(in: 0...200, using: &random)
        switch UInt8.random(in: 0..<3, using: &random) {
        case 0: return .acquire(lock: lock, owner: owner, leaseMs: lease)
        case 1: return .renew(lock: lock, owner: owner, token: token, leaseMs: lease)
        default: return .release(lock: lock, owner: owner, token: token)
        }
    }

    @Test(arguments: StateMachineConformanceCheck.allCases)
    func conformance(_ check: StateMachineConformanceCheck) throws {
        try Self.suite.run(check)
    }
}
