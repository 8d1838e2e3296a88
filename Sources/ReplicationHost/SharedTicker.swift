import Synchronization

/// One timer for every group of the process that ticks at the same interval, instead of one
/// sleeping task per group: a node with a thousand groups wakes once per heartbeat to ring
/// their doorbells, not a thousand times.
///
/// The timer runs while at least one group is subscribed. Ticks missed during a stall (a busy
/// machine) are skipped rather than fired in a burst, as each group's own timer did.
final class SharedTicker: Sendable {
    private struct State {
        var subscribers: [UInt64: @Sendable () -> Void] = [:]
        var nextToken: UInt64 = 0
        var running = false
    }

    private static let tickers = Mutex<[Duration: SharedTicker]>([:])

    /// The ticker of the process for `interval`.
    static func every(_ interval: Duration) -> SharedTicker {
        tickers.withLock { tickers in
            if let ticker = tickers[interval] { return ticker }
            let ticker = SharedTicker(interval: interval)
            tickers[interval] = ticker
            return ticker
        }
    }

    let interval: Duration
    private let state = Mutex(State())

    private init(interval: Duration) {
        self.interval = interval
    }

    /// Calls `tick` once per interval from now on, until ``unsubscribe(_:)``.
    func subscribe(_ tick: @escaping @Sendable () -> Void) -> UInt64 {
        let (token, start) = state.withLock { state in
            state.nextToken += 1
            state.subscribers[state.nextToken] = tick
            defer { state.running = true }
            return (state.nextToken, !state.running)
        }
        if start {
            Task.detached { [self] in await run() }
        }
        return token
    }

    func unsubscribe(_ token: UInt64) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: token) }
    }

    private func run() async {
        let clock = ContinuousClock()
        var next = clock.now.advanced(by: interval)
        while true {
            try? await clock.sleep(until: next)
            let subscribers = state.withLock { state in
                if state.subscribers.isEmpty { state.running = false }
                return Array(state.subscribers.values)
            }
            guard !subscribers.isEmpty else { return }
            for tick in subscribers { tick() }
            next = max(next.advanced(by: interval), clock.now)
        }
    }
}

/// A group's subscription to a ``SharedTicker`` that it can leave and rejoin (a quiescent group
/// needs no ticks).
struct TickSubscription: ~Copyable {
    let ticker: SharedTicker
    let tick: @Sendable () -> Void
    private var token: UInt64?

    /// Subscribed from the start.
    init(ticker: SharedTicker, tick: @escaping @Sendable () -> Void) {
        self.ticker = ticker
        self.tick = tick
        token = ticker.subscribe(tick)
    }

    mutating func set(active: Bool) {
        if active, token == nil {
            token = ticker.subscribe(tick)
        } else if !active, let current = token {
            ticker.unsubscribe(current)
            token = nil
        }
    }
}
