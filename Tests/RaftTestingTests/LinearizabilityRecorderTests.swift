import KeyValueStore
import RaftTesting
import StateMachineAPI
import Synchronization
import SimulationThread
import Testing

@Suite("LinearizabilityRecorder", .onSimulationThread)
struct LinearizabilityRecorderTests {
    @Test func recordsIntervalsOnTheInjectedClockAndLeavesUnansweredCallsUnknown() {
        let time = Atomic<UInt64>(0)
        let recorder = LinearizabilityRecorder<KeyValueModel.Input, KeyValueStore.Response>(now: {
            time.wrappingAdd(10, ordering: .relaxed).newValue
        })
        let put = recorder.call(client: 0, .put("k", "v"))
        let lost = recorder.call(client: 1, .append("k", "w"))
        recorder.returned(put, .ok)
        recorder.returned(put, .noKey)
        let history = recorder.history()
        // The append was never answered: it stays pending, with an unknown outcome.
        #expect(history.count == 2)
        #expect(history[0].call == 10)
        #expect(history[0].returned == 30)
        #expect(history[0].output == .ok)
        #expect(history[1].call == 20)
        #expect(history[1].returned == nil)
        #expect(history[1].input == .append("k", "w"))
        #expect(lost != put)
    }

    /// A store shared by concurrent clients, applying each command at the next log index.
    private final class SharedStore: Sendable {
        private let state = Mutex((store: KeyValueStore(), index: UInt64(0)))

        func apply(_ command: KeyValueStore.Command) -> KeyValueStore.Response {
            state.withLock { state in
                state.index += 1
                return state.store.apply(command, context: ApplyContext(index: state.index, time: 0))
            }
        }

        func get(_ key: String) -> KeyValueStore.Response {
            state.withLock { $0.store.query(.get(key: key), context: QueryContext(index: $0.index, time: 0)) }
        }
    }

    @Test func concurrentClientsProduceACheckableHistory() async {
        let recorder = LinearizabilityRecorder<KeyValueModel.Input, KeyValueStore.Response>()
        let store = SharedStore()
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<8 {
                group.addTask {
                    let key = "k\(client % 3)"
                    for number in 0..<50 {
                        let value = "x \(client) \(number) y"
                        let append = recorder.call(client: client, .append(key, value))
                        recorder.returned(append, store.apply(.append(key: key, value: value)))
                        let read = recorder.call(client: client, .get(key))
                        recorder.returned(read, store.get(key))
                    }
                }
            }
        }
        let history = recorder.history()
        #expect(history.count == 800)
        #expect(history.allSatisfy { $0.returned != nil })
        let result = LinearizabilityChecker(model: KeyValueModel()).check(history)
        #expect(result.isLinearizable, "\(result)")
    }
}
