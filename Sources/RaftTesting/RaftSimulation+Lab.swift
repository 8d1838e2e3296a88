public import RaftCore

/// The classic lab harness's checks, on virtual time.
extension RaftSimulation {
    /// Waits (up to ~5 s) for exactly one leader among the connected, running nodes, and
    /// fails if any term has two.
    @discardableResult
    public func checkOneLeader() throws(SimulationFailure) -> NodeID {
        for _ in 0..<10 {
            try run(for: .milliseconds(450 + randomNumber(below: 100)))
            var leadersByTerm: [Term: [NodeID]] = [:]
            for id in nodeIDs where isConnected(id) {
                if let engine = engine(id), engine.role == .leader {
                    leadersByTerm[engine.term, default: []].append(id)
                }
            }
            for (term, leaders) in leadersByTerm where leaders.count > 1 {
                throw fail("term \(term) has \(leaders.count) (>1) leaders: \(leaders)")
            }
            if let lastTerm = leadersByTerm.keys.max() {
                return leadersByTerm[lastTerm]![0]
            }
        }
        throw fail("expected one leader, got none")
    }

    /// The term all connected nodes agree on; fails if they disagree.
    @discardableResult
    public func checkTerms() throws(SimulationFailure) -> Term {
        var term: Term?
        for id in nodeIDs where isConnected(id) {
            guard let engine = engine(id) else { continue }
            if let known = term, known != engine.term {
                throw fail("servers disagree on term: \(known) vs \(engine.term)")
            }
            term = engine.term
        }
        return term ?? 0
    }

    /// Fails if any connected node believes it is leader.
    public func checkNoLeader() throws(SimulationFailure) {
        for id in nodeIDs where isConnected(id) {
            if engine(id)?.role == .leader {
                throw fail("expected no leader among connected servers, but \(id) claims to be leader")
            }
        }
    }

    /// How many nodes applied an entry at `index`, and that entry; fails if they differ.
    public func nCommitted(_ index: LogIndex) throws(SimulationFailure) -> (count: Int, command: [UInt8]?) {
        var count = 0
        var command: [UInt8]?
        for id in nodeIDs {
            guard let value = applied(id, at: index) else { continue }
            if let known = command, known != value {
                throw fail("committed values do not match at index \(index)")
            }
            command = value
            count += 1
        }
        return (count, command)
    }

    /// Submits `command` to whichever node is leader and waits until `expectedServers` nodes
    /// applied it, retrying on other leaders for up to 10 s (the lab's `one`).
    @discardableResult
    public func one(_ command: [UInt8], expectedServers: Int, retry: Bool) throws(SimulationFailure) -> LogIndex {
        let deadline = now + .seconds(10)
        var startsAt = 0
        while now < deadline {
            var index: LogIndex?
            for _ in nodeIDs.indices {
                startsAt = (startsAt + 1) % nodeIDs.count
                let id = nodeIDs[startsAt]
                guard isConnected(id), let accepted = start(id, command) else { continue }
                index = accepted.index
                break
            }
            if let index {
                let agreed = try run(atMost: .seconds(2), step: .milliseconds(20)) {
                    guard let result = try? nCommitted(index) else { return false }
                    return result.count >= expectedServers && result.command == command
                }
                if agreed { return index }
                if !retry { throw fail("one(\(command.count) bytes) failed to reach agreement") }
            } else {
                try run(for: .milliseconds(50))
            }
        }
        throw fail("one(\(command.count) bytes) failed to reach agreement within 10 s")
    }

    /// Waits for at least `servers` nodes to apply `index`; nil if a node moved past `term`.
    public func wait(for index: LogIndex, servers: Int, startTerm: Term?) throws(SimulationFailure) -> [UInt8]? {
        var pause: VirtualTime = .milliseconds(10)
        for _ in 0..<30 {
            let (count, _) = try nCommitted(index)
            if count >= servers { break }
            try run(for: pause)
            pause = min(pause * 2, .seconds(1))
            if let startTerm {
                for id in nodeIDs {
                    if let engine = engine(id), engine.term > startTerm { return nil }
                }
            }
        }
        let (count, command) = try nCommitted(index)
        if count < servers {
            throw fail("only \(count) decided for index \(index); wanted \(servers)")
        }
        return command
    }
}

extension Array where Element == UInt8 {
    /// An integer command, as the lab's tests use.
    public static func command(_ value: Int) -> [UInt8] {
        let bits = UInt64(bitPattern: Int64(value))
        return (0..<8).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
    }
}

/// A proposal being driven to agreement in the background (the lab's `go cfg.one(...)`).
public final class PendingAgreement {
    public let command: [UInt8]
    public fileprivate(set) var index: LogIndex?
    public fileprivate(set) var isDone = false
    public fileprivate(set) var failure: String?

    init(command: [UInt8]) {
        self.command = command
    }
}

extension RaftSimulation {
    /// Starts `one(command, expectedServers, retry: true)` as a background activity on
    /// virtual time; check ``PendingAgreement/isDone`` and ``PendingAgreement/failure``.
    public func oneInBackground(_ command: [UInt8], expectedServers: Int) -> PendingAgreement {
        let agreement = PendingAgreement(command: command)
        let deadline = now + .seconds(10)
        var startsAt = Int(randomNumber(below: UInt64(nodeIDs.count)))
        func attempt() {
            guard now < deadline else {
                agreement.failure = "one(\(command.count) bytes) failed to reach agreement within 10 s"
                agreement.isDone = true
                return
            }
            for _ in nodeIDs.indices {
                startsAt = (startsAt + 1) % nodeIDs.count
                let id = nodeIDs[startsAt]
                guard isConnected(id), let accepted = start(id, command) else { continue }
                awaitCommit(accepted.index, until: now + .seconds(2))
                return
            }
            schedule(after: .milliseconds(50), attempt)
        }
        func awaitCommit(_ index: LogIndex, until limit: VirtualTime) {
            if let result = try? nCommitted(index), result.count >= expectedServers, result.command == command {
                agreement.index = index
                agreement.isDone = true
                return
            }
            if now >= limit {
                attempt()
            } else {
                schedule(after: .milliseconds(20)) { awaitCommit(index, until: limit) }
            }
        }
        schedule(after: 0, attempt)
        return agreement
    }
}
