import RaftCore
import SimulationThread
import Testing

/// Leadership transfer (thesis §3.10); the transcripts `leader_transfer*.txt` show the
/// messages of whole transfers.
@Suite("Leadership transfer", .onSimulationThread)
struct LeaderTransferTests {
    @Test("the target wins the next term at once and the old leader follows it")
    func transferToUpToDateFollower() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        let term = harness[1].term
        #expect(harness[1].transferLeadership(to: n2) == .started)
        #expect(harness[1].transferTarget == n2)
        harness.settle()
        #expect(harness[2].role == .leader)
        #expect(harness[2].term == term + 1)
        #expect(harness[1].role == .follower)
        #expect(harness[1].leader == n2)
        #expect(harness[1].transferTarget == nil)
        let transferVotes = harness.delivered.filter(\.isTransferVoteRequest)
        #expect(transferVotes.count == 2)
    }

    @Test("invalid targets and followers are refused")
    func refusals() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        #expect(harness[1].transferLeadership(to: n1) == .invalidTarget)
        #expect(harness[1].transferLeadership(to: NodeID(9)) == .invalidTarget)
        #expect(harness[2].transferLeadership(to: n3) == .notLeader(leaderHint: n1))
        #expect(harness[1].transferTarget == nil)
    }

    @Test("a timeoutNow from an earlier term is ignored")
    func staleTimeoutNow() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        let term = harness[1].term
        // n3 has moved on to a later term (say it heard of a newer election).
        let heartbeat = Heartbeat(commit: 0, readRound: 0)
        harness[3].step(Message(from: n2, to: n3, term: term + 1, payload: .heartbeat(heartbeat)))
        _ = harness.output(of: n3)
        harness[3].step(Message(from: n1, to: n3, term: term, payload: .timeoutNow))
        #expect(harness[3].role == .follower)
        #expect(harness[3].term == term + 1)
        let sent = harness.output(of: n3).messages
        #expect(sent.allSatisfy { !$0.isTransferVoteRequest })
    }

    @Test("proposals are refused during a transfer and accepted again once it is abandoned")
    func abortAfterElectionTimeout() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        harness.isolated = [n2]
        _ = harness[1].propose([1])
        harness.settle()
        #expect(harness[1].transferLeadership(to: n2) == .started)
        #expect(harness[1].propose([2]) == .transferringLeadership(target: n2))
        for _ in 0..<harness[1].configuration.electionTimeoutTicks {
            #expect(harness[1].transferTarget == n2)
            harness[1].tick()
            harness.settle()
        }
        #expect(harness[1].transferTarget == nil)
        #expect(harness[1].role == .leader)
        guard case .accepted = harness[1].propose([3]) else {
            Issue.record("the leader should take proposals again")
            return
        }
    }

    @Test("a leader that sent timeoutNow serves no more lease reads in its term")
    func leaseForfeited() {
        var harness = EngineHarness(nodes: 3) {
            $0.leaseTicks = 5
        }
        harness.boot()
        harness.elect(n1)
        for _ in 0..<3 {
            harness[1].tick()
            harness.settle()
        }
        #expect(harness[1].hasLease)
        // The target is cut off: the timeoutNow is lost and the transfer is abandoned.
        harness.isolated = [n2]
        #expect(harness[1].transferLeadership(to: n2) == .started)
        #expect(!harness[1].hasLease)
        for _ in 0..<15 {
            harness[1].tick()
            harness.settle()
        }
        #expect(harness[1].role == .leader)
        #expect(harness[1].transferTarget == nil)
        #expect(!harness[1].hasLease)
    }
}

extension Message {
    fileprivate var isTransferVoteRequest: Bool {
        if case .vote(let request) = payload { return request.transfer }
        return false
    }
}
