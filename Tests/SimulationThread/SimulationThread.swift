import Dispatch
public import Testing

/// The one thread that runs the synchronous, CPU-bound tests (simulations, conformance runs,
/// storage crash points), one at a time.
///
/// Swift Testing runs a synchronous test on a thread of the cooperative pool, which has as
/// many threads as cores: two on a 2-core machine. Every test module runs in one process, so
/// such tests held both threads for the suite's first 15 to 20 s, and the real servers of the
/// host tests (their executors run on that pool) stopped: 500 ms elections and 10 s deadlines
/// failed in CI.
public final class SimulationExecutor: TaskExecutor {
    public static let shared = SimulationExecutor()

    private let queue = DispatchQueue(label: "RaftHostTests.simulations")

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs each test of a suite on ``SimulationExecutor`` rather than on the cooperative pool.
public struct SimulationThreadTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(SimulationExecutor.shared) { try await function() }
    }
}

extension Trait where Self == SimulationThreadTrait {
    /// Runs the tests on the simulation thread, not on the cooperative pool.
    public static var onSimulationThread: Self { Self() }
}
