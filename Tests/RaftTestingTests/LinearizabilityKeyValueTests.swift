import KeyValueStore
import RaftTesting
import SimulationThread
import Testing

@Suite("Linearizability of key/value histories", .onSimulationThread)
struct LinearizabilityKeyValueTests {
    private let checker = LinearizabilityChecker(model: KeyValueModel())

    @Test func sequentialHistoryIsAccepted() {
        let history = [
            op(0, .put("x", "1"), 0, 10, .ok),
            op(0, .get("x"), 20, 30, .value("1")),
            op(0, .append("x", "2"), 40, 50, .ok),
            op(0, .get("x"), 60, 70, .value("12")),
            op(0, .delete("x"), 80, 90, .ok),
            op(0, .get("x"), 100, 110, .noKey),
        ]
        #expect(checker.check(history).verdict == .linearizable)
    }

    @Test(arguments: [KeyValueStore.Response.noKey, .value("1")])
    func readConcurrentWithAWriteMaySeeEitherValue(_ output: KeyValueStore.Response) {
        let history = [
            op(0, .put("x", "1"), 0, 100, .ok),
            op(1, .get("x"), 10, 20, output),
        ]
        #expect(checker.check(history).isLinearizable)
    }

    @Test(arguments: ["ab", "ba"])
    func concurrentAppendsMayLandInEitherOrder(_ value: String) {
        let history = [
            op(0, .append("x", "a"), 0, 100, .ok),
            op(1, .append("x", "b"), 0, 100, .ok),
            op(2, .get("x"), 110, 120, .value(value)),
        ]
        #expect(checker.check(history).isLinearizable)
    }

    @Test func staleReadIsRejected() throws {
        let history = [
            op(0, .put("x", "1"), 0, 10, .ok),
            op(0, .put("x", "2"), 20, 30, .ok),
            // Called after the second put returned, yet it sees the first value.
            op(1, .get("x"), 40, 50, .value("1")),
            op(0, .put("x", "3"), 45, 70, .ok),
            op(1, .get("x"), 80, 90, .value("3")),
        ]
        let result = checker.check(history)
        #expect(result.verdict == .notLinearizable)
        let failure = try #require(result.failure)
        #expect(failure.partition == "x")
        #expect(failure.stuck.input == .get("x"))
        #expect(failure.longestLinearization.prefix(2).map(\.input) == [.put("x", "1"), .put("x", "2")])
        // The shortest failing prefix ends when the stale read returns; the put then running
        // has an unknown outcome in it.
        #expect(failure.prefix.map(\.call) == [0, 20, 40, 45])
        #expect(failure.prefix.last?.output == nil)
        #expect(result.description.contains("NOT linearizable"))
    }

    @Test func lostAppendIsRejected() {
        let history = [
            op(0, .append("x", "a"), 0, 10, .ok),
            op(1, .append("x", "b"), 20, 30, .ok),
            op(2, .get("x"), 40, 50, .value("b")),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func duplicatedAppendIsRejected() {
        // What a server that applies a retried append twice produces.
        let history = [
            op(0, .append("x", "a"), 0, 10, .ok),
            op(0, .append("x", "b"), 20, 30, .ok),
            op(1, .get("x"), 40, 50, .value("aba")),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func readOfANeverWrittenValueIsRejected() {
        let history = [
            op(0, .put("x", "1"), 0, 10, .ok),
            op(1, .get("x"), 0, 50, .value("2")),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test(arguments: [KeyValueStore.Response.value("a"), .noKey])
    func unknownOutcomeMayHaveTakenEffectOrNot(_ output: KeyValueStore.Response) {
        let history = [
            pending(0, .append("x", "a"), 0),
            op(1, .get("x"), 100, 110, output),
        ]
        #expect(checker.check(history).isLinearizable)
    }

    @Test func unknownOutcomeCanTakeEffectLongAfterItsCall() {
        let history = [
            pending(0, .put("x", "late"), 0),
            op(1, .get("x"), 100, 110, .noKey),
            op(1, .get("x"), 200, 210, .value("late")),
        ]
        #expect(checker.check(history).isLinearizable)
    }

    @Test func unknownOutcomeCannotBeUndone() {
        let history = [
            pending(0, .put("x", "1"), 0),
            op(1, .get("x"), 100, 110, .value("1")),
            op(1, .get("x"), 200, 210, .noKey),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func unknownOutcomeTakesEffectAtMostOnce() {
        let history = [
            pending(0, .append("x", "a"), 0),
            op(1, .get("x"), 100, 110, .value("aa")),
        ]
        #expect(checker.check(history).verdict == .notLinearizable)
    }

    @Test func compareAndSwapAndDeleteFollowTheService() {
        let good = [
            op(0, .compareAndSwap("x", expected: nil, new: "1"), 0, 10, .compareAndSwap(swapped: true, current: "1")),
            op(1, .compareAndSwap("x", expected: nil, new: "2"), 5, 15, .compareAndSwap(swapped: false, current: "1")),
            op(0, .delete("x"), 20, 30, .ok),
            op(1, .delete("x"), 40, 50, .noKey),
        ]
        #expect(checker.check(good).isLinearizable)
        // Two "must not exist" swaps cannot both win.
        let bad = [
            op(0, .compareAndSwap("x", expected: nil, new: "1"), 0, 10, .compareAndSwap(swapped: true, current: "1")),
            op(1, .compareAndSwap("x", expected: nil, new: "2"), 0, 10, .compareAndSwap(swapped: true, current: "2")),
        ]
        #expect(checker.check(bad).verdict == .notLinearizable)
    }

    @Test func failureIsReportedForTheBadKeyOnly() throws {
        var history = (0..<20).map { op($0, .put("k\($0)", "v"), 0, 10, .ok) }
        history.append(op(0, .get("k7"), 20, 30, .value("other")))
        let result = checker.check(history)
        #expect(result.partitionCount == 20)
        #expect(try #require(result.failure).partition == "k7")
    }

    @Test func hardHistoryRunsOutOfTimeInsteadOfHanging() {
        // Fourteen concurrent appends and a read no order explains: the search must try every
        // order of every subset of appends (memoization cannot merge them: the value records
        // the order), far more than the time limit allows.
        var history = (0..<14).map { op($0, .append("x", String(UnicodeScalar(UInt8(97 + $0)))), 0, 1_000, .ok) }
        history.append(op(99, .get("x"), 2_000, 2_001, .value("impossible")))
        let clock = ContinuousClock()
        let start = clock.now
        let result = LinearizabilityChecker(model: KeyValueModel(), timeLimit: .milliseconds(200)).check(history)
        #expect(result.verdict == .unknown)
        #expect(result.undecidedPartitions == ["x"])
        #expect(clock.now - start < .seconds(5))
    }

    /// A random valid history over `keys` keys: 50% appends, 5% puts, 5% deletes, 5% CAS,
    /// 35% gets, with `unknownOutcomes` of them of unknown outcome.
    static func randomHistory(
        seed: UInt64,
        clients: Int,
        operationsPerClient: Int,
        keys: Int,
        unknownOutcomes: Double = 0.02
    ) -> [KVOperation] {
        var generator = HistoryGenerator<KeyValueStore>(
            random: ConformanceRandom(seed: seed),
            clients: clients,
            operationsPerClient: operationsPerClient,
            unknownOutcomeChance: unknownOutcomes
        )
        var counter = 0
        return generator.generate(
            makeInput: { random, client in
                let key = "k\(Int.random(in: 0..<keys, using: &random))"
                counter += 1
                let value = "x \(client) \(counter) y"
                switch Int.random(in: 0..<100, using: &random) {
                case 0..<50: return .command(.append(key: key, value: value))
                case 50..<55: return .command(.put(key: key, value: value))
                case 55..<60: return .command(.delete(key: key))
                case 60..<65: return .command(.compareAndSwap(key: key, expected: nil, new: value))
                default: return .query(.get(key: key))
                }
            },
            modelInput: { input in
                switch input {
                case .command(let command): .command(command)
                case .query(let query): .query(query)
                }
            }
        )
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func largeRandomValidHistoryIsAcceptedQuickly(seed: UInt64) {
        let history = Self.randomHistory(seed: seed, clients: 40, operationsPerClient: 500, keys: 50)
        let result = checker.check(history)
        #expect(result.isLinearizable, "\(result)")
        #expect(result.operationCount == 20_000)
        #expect(result.elapsed < .seconds(10))
    }

    @Test(arguments: [5 as UInt64, 6, 7, 8])
    func contendedKeyIsAccepted(seed: UInt64) {
        // UnreliableOneKey-like: five clients append to the same key and read it back.
        let history = Self.randomHistory(seed: seed, clients: 5, operationsPerClient: 20, keys: 1)
        let result = checker.check(history)
        #expect(result.isLinearizable, "\(result)")
    }

    @Test func corruptingOneReadOfALargeHistoryIsCaught() throws {
        // Rejecting takes an exhaustive search of everything before the bad read; appends of
        // unknown outcome multiply that space (each may sit anywhere after its call), so this
        // history has none: a history with retried, acknowledged writes, as clerks produce.
        var history = Self.randomHistory(seed: 4, clients: 20, operationsPerClient: 200, keys: 10, unknownOutcomes: 0)
        let index = try #require(
            history.lastIndex { op in
                if case .query = op.input, case .value(let value)? = op.output { !value.isEmpty } else { false }
            }
        )
        let value = history[index].output?.valueOrEmpty ?? ""
        history[index].outcome = .returned(.value(value + "!"), at: history[index].returned ?? 0)
        let result = checker.check(history)
        #expect(result.verdict == .notLinearizable)
        #expect(try #require(result.failure).partition == history[index].input.key)
    }
}
