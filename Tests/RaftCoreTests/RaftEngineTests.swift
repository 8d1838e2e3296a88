import RaftCore
import SimulationThread
import Testing

@Suite("Raft engine rules", .onSimulationThread)
struct RaftEngineTests {
    @Test("a vote goes out only together with the hard state that records it")
    func voteIsPersistedBeforeItIsAnswered() {
        var follower = RaftEngine(configuration: RaftConfiguration(id: n2, voters: [n1, n2, n3]))
        follower.step(
            Message(from: n1, to: n2, term: 1, payload: .vote(VoteRequest(lastLogIndex: 0, lastLogTerm: 0)))
        )
        let output = follower.takeOutput()
        #expect(output.hardState == HardState(term: 1, vote: n1, commit: 0))
        #expect(output.messages.map(\.payload) == [.voteResponse(VoteResponse(granted: true))])
        #expect(output.messages.allSatisfy { !$0.mayBeSentBeforePersisting })
        // A second candidate in the same term is refused.
        follower.step(
            Message(from: n3, to: n2, term: 1, payload: .vote(VoteRequest(lastLogIndex: 5, lastLogTerm: 1)))
        )
        #expect(follower.takeOutput().messages.map(\.payload) == [.voteResponse(VoteResponse(granted: false))])
    }

    @Test("a candidate with a shorter log gets no vote")
    func voteRequiresAnUpToDateLog() {
        let persisted = PersistentState(
            hardState: HardState(term: 2),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]
        )
        var follower = RaftEngine(
            configuration: RaftConfiguration(id: n2, voters: [n1, n2, n3]),
            persistentState: persisted
        )
        follower.step(
            Message(from: n1, to: n2, term: 3, payload: .vote(VoteRequest(lastLogIndex: 5, lastLogTerm: 1)))
        )
        #expect(follower.takeOutput().messages.map(\.payload) == [.voteResponse(VoteResponse(granted: false))])
        #expect(follower.term == 3)
    }

    @Test("pre-vote asks for term + 1 without taking it")
    func preVoteKeepsTheTerm() {
        var harness = EngineHarness(nodes: 3)
        harness.isolated = [n2, n3]
        for _ in 0..<40 { harness[1].tick() }
        let output = harness.output(of: n1)
        #expect(harness[1].role == .preCandidate)
        #expect(harness[1].term == 0)
        #expect(
            output.messages.contains {
                $0.term == 1 && $0.payload == .preVote(VoteRequest(lastLogIndex: 0, lastLogTerm: 0))
            }
        )
    }

    @Test("a node returning from a partition does not depose the leader")
    func partitionedNodeDoesNotDisruptOnReturn() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        let term = harness[1].term
        harness.isolated = [n3]
        for _ in 0..<200 {
            harness[3].tick()
            harness.settle()
        }
        #expect(harness[3].term == term, "pre-vote must keep an isolated node's term")
        // Back on the network, it campaigns before it hears a heartbeat: the followers, who
        // heard from the leader recently, ignore it.
        harness.isolated = []
        for _ in 0..<40 {
            harness[3].tick()
            harness.settle()
        }
        #expect(harness[1].role == .leader)
        #expect(harness[1].term == term)
        #expect(harness[2].term == term)
    }

    @Test("check-quorum: a leader cut off from its followers steps down")
    func isolatedLeaderStepsDown() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        harness.isolated = [n2, n3]
        for _ in 0..<25 {
            harness[1].tick()
            harness.settle()
        }
        #expect(harness[1].role == .follower)
    }

    @Test("a follower refuses proposals and names the leader")
    func followerProposalFailsFast() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        #expect(harness[2].propose([1]) == .notLeader(leaderHint: n1))
        #expect(harness[2].requestRead(id: 7) == .notLeader(leaderHint: n1))
        #expect(harness[1].propose([1]) == .accepted(index: 2, term: harness[1].term))
    }

    @Test("Figure 8: an entry of an earlier term is not committed by counting replicas")
    func leaderCommitsOnlyCurrentTermByCounting() {
        // n1 holds an entry of term 2 that the others lack; it wins term 3.
        let n1State = PersistentState(
            hardState: HardState(term: 2),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]
        )
        let voters = [n1, n2, n3]
        var fresh = RaftEngine(configuration: RaftConfiguration(id: n1, voters: voters), persistentState: n1State)
        // Drive n1 to leadership by hand, so that we control replication.
        for _ in 0..<40 { fresh.tick() }
        var out = fresh.takeOutput()
        fresh.didPersist(out)
        for peer in [n2, n3] {
            fresh.step(Message(from: peer, to: n1, term: 3, payload: .preVoteResponse(VoteResponse(granted: true))))
        }
        out = fresh.takeOutput()
        fresh.didPersist(out)
        fresh.step(Message(from: n2, to: n1, term: 3, payload: .voteResponse(VoteResponse(granted: true))))
        out = fresh.takeOutput()
        fresh.didPersist(out)
        #expect(fresh.role == .leader)
        #expect(fresh.log.lastIndex == 3, "the new leader appends a no-op of term 3")
        fresh.step(
            Message(from: n2, to: n1, term: 3, payload: .appendResponse(AppendResponse(success: true, matchIndex: 2)))
        )
        _ = fresh.takeOutput()
        #expect(fresh.commitIndex == 0, "index 2 (term 2) must not commit by counting replicas")
        fresh.step(
            Message(from: n2, to: n1, term: 3, payload: .appendResponse(AppendResponse(success: true, matchIndex: 3)))
        )
        _ = fresh.takeOutput()
        #expect(fresh.commitIndex == 3, "committing the term-3 no-op commits index 2 with it")
    }

    @Test("a rejected append carries the conflicting term and its first index")
    func conflictHints() {
        let entries = [1, 1, 2, 2, 2].enumerated().map { Entry(term: Term($0.element), index: LogIndex($0.offset + 1)) }
        var follower = RaftEngine(
            configuration: RaftConfiguration(id: n2, voters: [n1, n2, n3]),
            persistentState: PersistentState(hardState: HardState(term: 3), entries: entries)
        )
        follower.step(
            Message(
                from: n1,
                to: n2,
                term: 3,
                payload: .append(AppendRequest(prevLogIndex: 5, prevLogTerm: 3, entries: [], leaderCommit: 0))
            )
        )
        #expect(
            follower.takeOutput().messages.map(\.payload) == [
                .appendResponse(AppendResponse(success: false, matchIndex: 5, conflictIndex: 3, conflictTerm: 2))
            ]
        )
        follower.step(
            Message(
                from: n1,
                to: n2,
                term: 3,
                payload: .append(AppendRequest(prevLogIndex: 9, prevLogTerm: 3, entries: [], leaderCommit: 0))
            )
        )
        #expect(
            follower.takeOutput().messages.map(\.payload) == [
                .appendResponse(AppendResponse(success: false, matchIndex: 9, conflictIndex: 6, conflictTerm: nil))
            ]
        )
    }

    @Test("a conflicting suffix is replaced and handed out for persisting")
    func conflictingSuffixIsReplaced() {
        let entries = [Entry(term: 1, index: 1), Entry(term: 2, index: 2), Entry(term: 2, index: 3)]
        var follower = RaftEngine(
            configuration: RaftConfiguration(id: n2, voters: [n1, n2, n3]),
            persistentState: PersistentState(hardState: HardState(term: 3), entries: entries)
        )
        let replacement = [
            Entry(term: 3, index: 2, data: [9]), Entry(term: 3, index: 3, data: [8]), Entry(term: 3, index: 4),
        ]
        follower.step(
            Message(
                from: n1,
                to: n2,
                term: 3,
                payload: .append(AppendRequest(prevLogIndex: 1, prevLogTerm: 1, entries: replacement, leaderCommit: 4))
            )
        )
        let output = follower.takeOutput()
        #expect(output.entries == replacement)
        // Index 1 was durable already; the replaced entries are applied only once durable.
        #expect(output.committedEntries.map(\.index) == [1])
        follower.didPersist(output)
        #expect(follower.takeOutput().committedEntries.map(\.index) == [2, 3, 4])
    }

    @Test("ReadIndex: a read is released only after a quorum confirms the leader")
    func readIndexNeedsQuorum() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        let commit = harness[1].commitIndex
        #expect(harness[1].requestRead(id: 42) == .pending)
        let output = harness.output(of: n1)
        #expect(output.readStates.isEmpty)
        let heartbeats = output.messages.filter {
            if case .heartbeat(let heartbeat) = $0.payload { return heartbeat.readRound > 0 }
            return false
        }
        #expect(heartbeats.count == 2)
        guard case .heartbeat(let heartbeat) = heartbeats[0].payload else { return }
        harness[1].step(
            Message(
                from: n2,
                to: n1,
                term: harness[1].term,
                payload: .heartbeatResponse(HeartbeatResponse(readRound: heartbeat.readRound))
            )
        )
        #expect(harness.output(of: n1).readStates == [ReadState(id: 42, index: commit)])
    }

    @Test("ReadIndex: reads fail when the leader steps down")
    func readsFailOnStepDown() {
        var harness = EngineHarness(nodes: 3)
        harness.elect(n1)
        _ = harness[1].requestRead(id: 5)
        _ = harness.output(of: n1)
        harness[1].step(
            Message(
                from: n2,
                to: n1,
                term: harness[1].term + 1,
                payload: .appendResponse(AppendResponse(success: false, matchIndex: 0))
            )
        )
        let output = harness.output(of: n1)
        #expect(output.failedReads == [5])
        #expect(harness[1].role == .follower)
    }

    @Test("lease reads: served at once while a quorum's acknowledgement is fresh, by ReadIndex after it ran out")
    func leaseReadsNeedAFreshQuorum() {
        var harness = EngineHarness(nodes: 3) { $0.leaseTicks = 6 }
        harness.boot()
        harness.elect(n1)
        harness[1].tick()  // a heartbeat round: its acknowledgement grants the lease
        harness.settle()
        #expect(harness[1].hasLease)
        let commit = harness[1].commitIndex
        #expect(harness[1].requestRead(id: 1) == .pending)
        let served = harness.output(of: n1)
        #expect(served.readStates == [ReadState(id: 1, index: commit)])
        #expect(served.messages.isEmpty, "a lease read costs no round trip")

        // Cut off from both followers, the leader keeps its lease for leaseTicks after the last
        // acknowledged heartbeat was sent, then falls back to ReadIndex, which cannot finish.
        harness.isolated = [n1]
        for _ in 0..<5 {
            harness[1].tick()
            harness.settle()
        }
        #expect(harness[1].hasLease)
        harness[1].tick()
        harness.settle()
        #expect(!harness[1].hasLease)
        #expect(harness[1].role == .leader)
        _ = harness[1].requestRead(id: 2)
        harness.settle()
        #expect(harness.released[n1]?.map(\.id) == [1])

        // Reconnected, the next heartbeat round confirms the waiting read and renews the lease.
        harness.isolated = []
        harness[1].tick()
        harness.settle()
        #expect(harness.released[n1]?.map(\.id) == [1, 2])
        #expect(harness[1].hasLease)
    }

    @Test("lease reads: a stalled clock gives the lease up until the next acknowledged round")
    func leaseIsLostOnStall() {
        var harness = EngineHarness(nodes: 3) { $0.leaseTicks = 6 }
        harness.boot()
        harness.elect(n1)
        harness[1].tick()
        harness.settle()
        #expect(harness[1].hasLease)
        harness[1].clockStalled()
        #expect(!harness[1].hasLease)
        _ = harness[1].requestRead(id: 7)
        let round = harness.output(of: n1)
        #expect(round.readStates.isEmpty, "without a lease the read waits for a round")
        for message in round.messages { harness.engines[message.to]!.step(message) }
        harness.settle()
        #expect(harness.released[n1]?.map(\.id) == [7])
        #expect(harness[1].hasLease, "the read's own round, sent after the stall, grants a new lease")
    }

    @Test("lease reads: a restarted node votes for no one during its first election timeout")
    func restartedNodeHonoursLeasesItMayHaveGranted() {
        var configuration = RaftConfiguration(id: n2, voters: [n1, n2, n3])
        configuration.electionTimeoutTicks = 10
        configuration.leaseTicks = 6
        var restarted = RaftEngine(
            configuration: configuration,
            persistentState: PersistentState(hardState: HardState(term: 3))
        )
        let request = Message(from: n3, to: n2, term: 4, payload: .vote(VoteRequest(lastLogIndex: 9, lastLogTerm: 3)))
        restarted.step(request)
        #expect(restarted.takeOutput().messages.isEmpty)
        #expect(restarted.term == 3)
        for _ in 0..<9 { restarted.tick() }
        restarted.step(request)
        #expect(restarted.takeOutput().messages.isEmpty)
        restarted.tick()
        restarted.step(request)
        #expect(restarted.takeOutput().messages.map(\.payload) == [.voteResponse(VoteResponse(granted: true))])
    }

    @Test("lease length: the election timeout less clock drift, rounding and driver lag")
    func leaseLength() {
        #expect(RaftConfiguration.leaseTicks(electionTimeoutTicks: 10, maxClockDrift: 0.1, driverLagTicks: 1) == 6)
        #expect(RaftConfiguration.leaseTicks(electionTimeoutTicks: 10, maxClockDrift: 0, driverLagTicks: 0) == 8)
        #expect(RaftConfiguration.leaseTicks(electionTimeoutTicks: 5, maxClockDrift: 0.1, driverLagTicks: 1) == 1)
        #expect(RaftConfiguration.leaseTicks(electionTimeoutTicks: 4, maxClockDrift: 0.1, driverLagTicks: 1) == 0)
    }

    @Test("a follower behind the compacted log receives the snapshot in chunks")
    func snapshotIsSentInChunks() throws {
        var harness = EngineHarness(nodes: 3) { $0.snapshotChunkBytes = 10 }
        harness.elect(n1)
        harness.isolated = [n3]
        for value in 0..<5 {
            _ = harness[1].propose([UInt8(value)])
            harness.settle()
        }
        let applied = harness[1].appliedIndex
        let image = Array(repeating: UInt8(7), count: 35)
        _ = try harness[1].compact(through: applied, snapshotData: image)
        harness.isolated = []
        for _ in 0..<3 {
            harness[1].tick()
            harness.settle()
        }
        let chunks = harness.delivered.compactMap { message -> SnapshotChunk? in
            if case .installSnapshot(let chunk) = message.payload { return chunk }
            return nil
        }
        #expect(chunks.count == 4)
        #expect(chunks.allSatisfy { $0.data.count <= 10 })
        #expect(harness[3].snapshot?.data == SnapshotData(image))
        #expect(harness[3].commitIndex >= applied)
        #expect(harness[3].log.lastIndex == harness[1].log.lastIndex)
    }

    @Test("the same inputs and seed give the same outputs")
    func engineIsDeterministic() {
        func run() -> [Message] {
            var harness = EngineHarness(nodes: 3) { $0.randomSeed = 99 }
            for _ in 0..<60 {
                for id in [n1, n2, n3] { harness.engines[id]!.tick() }
                harness.settle()
            }
            return harness.delivered
        }
        let first = run()
        #expect(!first.isEmpty)
        #expect(first == run())
    }
}
