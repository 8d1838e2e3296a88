import RaftCore
import RaftReplica

/// The randomized fault simulation: every seed builds a cluster and a random schedule of all
/// the faults the simulator knows (loss, delay, long reordering, partitions, disconnections,
/// crashes with restarts, crashes in the middle of a sync, stalled nodes, slow disks, clock-speed
/// skew, every snapshot policy, leadership transfers, membership changes)
/// while a client proposes and reads. The simulator checks the safety invariants after every
/// step; at the end the network heals and the cluster must make progress again.
///
/// The test suite runs it for a time budget in a debug build, and `raftsim` (a release build,
/// run by `make test`) for at least 10,000 seeds.
public enum RandomizedFaults {
    /// What one seed did.
    public struct Outcome: Sendable {
        /// Linearizable reads that were confirmed and served.
        public var reads: Int
        /// Of those, reads served from a leader's lease.
        public var leaseReads: UInt64
        /// Leadership transfers a leader started (whether or not they finished).
        public var transfers: Int
        /// Membership changes a leader accepted (whether or not they committed).
        public var membershipChanges: Int
        /// Times a leader quiesced its idle group.
        public var quiescences: Int
    }

    /// Runs one seed: builds its cluster and fault schedule, runs it with every invariant
    /// checked, then heals and requires progress.
    ///
    /// - Returns: the linearizable reads it confirmed, how many leaders served from leases, and
    ///   the leadership transfers started.
    /// - Throws: ``SimulationFailure`` naming the seed and how to replay it.
    @discardableResult
    public static func run(seed: UInt64) throws(SimulationFailure) -> Outcome {
        var chooser = SeededGenerator(seed: seed ^ 0xFACE)
        let servers = [3, 5][Int(chooser.next() % 2)]
        let snapshots: RaftSimulation.SnapshotPolicy =
            switch chooser.next() % 3 {
            case 0: .everyEntries(LogIndex(5 + chooser.next() % 20))
            // The host's policy: the persisted Raft state outgrows a few entries' worth.
            case 1: .maxRaftState(Int(150 + chooser.next() % 1_500))
            default: .never
            }
        let preVote = chooser.next() % 4 != 0
        let checkQuorum = chooser.next() % 4 != 0
        // Sometimes tiny appends (one or two entries each), so acknowledgements land between
        // the entries of different terms.
        let maxMessageBytes = chooser.next() % 2 == 0 ? 40 : 1 << 20
        // Lease reads hold only while clocks agree to within the drift they assume (10 %).
        let leaseReads = checkQuorum && chooser.next() % 2 == 0
        // Membership changes on a third of the seeds, from a generator of their own (and with
        // spare nodes only then), so the other seeds replay as they did before.
        var reconfigurations = SeededGenerator(seed: seed ^ 0x3E3B)
        let changesMembership = reconfigurations.next() % 3 == 0
        // Quiescence on half of the seeds, from a generator of its own too: idle groups stop
        // their heartbeats after a few idle ticks and wake on any request or liveness change.
        var quiet = SeededGenerator(seed: seed ^ 0x9017)
        let quiesceAfterTicks = quiet.next() % 2 == 0 ? Int(10 + quiet.next() % 40) : 0
        let sim = RaftSimulation(
            servers: servers,
            spares: changesMembership ? 2 : 0,
            seed: seed,
            testName: "RandomizedFaults",
            snapshots: snapshots,
            configure: {
                $0.preVote = preVote
                $0.checkQuorum = checkQuorum
                $0.snapshotChunkBytes = 128
                $0.maxInflightMessages = 4
                $0.maxMessageBytes = maxMessageBytes
                $0.quiesceAfterTicks = quiesceAfterTicks
                if leaseReads {
                    $0.leaseTicks = RaftConfiguration.leaseTicks(
                        electionTimeoutTicks: $0.electionTimeoutTicks,
                        maxClockDrift: 0.1,
                        driverLagTicks: 0
                    )
                }
            }
        )
        let ids = sim.nodeIDs
        func randomNode() -> NodeID { ids[Int(sim.randomNumber(below: UInt64(ids.count)))] }
        for id in ids where sim.randomNumber(below: 4) == 0 {
            sim.clockSkew[id] =
                leaseReads
                ? 0.96 + Double(sim.randomNumber(below: 8)) / 100 : 0.7 + Double(sim.randomNumber(below: 60)) / 100
        }
        for id in ids where sim.randomNumber(below: 2) == 0 {
            sim.diskLatency[id] = 100 + sim.randomNumber(below: 8_000)
        }

        // A client that keeps proposing to whoever accepts, and asks for reads.
        var nextValue = 0
        var reads = 0
        func clientStep() {
            nextValue += 1
            for id in ids where sim.start(id, .command(nextValue)) != nil {
                break
            }
            if sim.randomNumber(below: 3) == 0 {
                sim.requestRead(randomNode()) { served in if served { reads += 1 } }
            }
            // With quiescence the client goes quiet now and then, long enough for the group to
            // quiesce, so faults also strike quiescent groups.
            let quietPeriod = quiesceAfterTicks > 0 && quiet.next() % 6 == 0 ? 300 + quiet.next() % 1_500 : 0
            sim.schedule(after: .milliseconds(5 + sim.randomNumber(below: 40) + quietPeriod), clientStep)
        }
        sim.schedule(after: 0, clientStep)

        // A background "rebooter": nodes crash and come straight back, often mid-election.
        let rebootEvery = VirtualTime.milliseconds(20 + sim.randomNumber(below: 300))
        var rebooting = true
        func reboot() {
            guard rebooting else { return }
            sim.restart(randomNode())
            sim.schedule(after: rebootEvery, reboot)
        }
        if sim.randomNumber(below: 3) == 0 { sim.schedule(after: rebootEvery, reboot) }

        // A "sync crasher": nodes crash while their sync is in flight, losing what it was
        // writing (a vote, an entry), the moment a promise sent too early would be broken.
        func crashMidSync() {
            guard rebooting else { return }
            for id in ids where sim.isSyncing(id) && sim.randomNumber(below: 4) == 0 {
                sim.restart(id)
            }
            sim.schedule(after: .milliseconds(1 + sim.randomNumber(below: 10)), crashMidSync)
        }
        if sim.randomNumber(below: 3) == 0 { sim.schedule(after: .milliseconds(1), crashMidSync) }

        // A "transferrer" on a third of the seeds: leaders are asked to hand their leadership to
        // a random node. It draws from a generator of its own, so the other seeds replay as
        // they did before leadership transfer existed.
        var transfers = SeededGenerator(seed: seed ^ 0x7EA5)
        var transfersStarted = 0
        func transfer() {
            guard rebooting else { return }
            for id in ids where sim.isUp(id) && sim.engine(id)?.role == .leader {
                let target = ids[Int(transfers.next() % UInt64(ids.count))]
                if sim.transferLeadership(from: id, to: target) == .started { transfersStarted += 1 }
            }
            sim.schedule(after: .milliseconds(100 + transfers.next() % 1_000), transfer)
        }
        if transfers.next() % 3 == 0 {
            sim.schedule(after: .milliseconds(100 + transfers.next() % 1_000), transfer)
        }

        // A "reconfigurer": leaders are asked to add a spare as a learner or a voter, promote a
        // learner, remove a member, or replace a voter (two voters changed: a joint configuration).
        var membershipChanges = 0
        func reconfigure() {
            guard rebooting else { return }
            for id in ids where sim.isUp(id) && sim.engine(id)?.role == .leader {
                let membership = sim.engine(id)!.membership
                let newcomers = ids.filter { !membership.contains($0) && !membership.removed.contains($0) }
                let newcomer =
                    newcomers.isEmpty ? nil : newcomers[Int(reconfigurations.next() % UInt64(newcomers.count))]
                let voter = membership.voters[Int(reconfigurations.next() % UInt64(membership.voters.count))]
                var changes: [MembershipChange] = []
                switch reconfigurations.next() % 5 {
                case 0: if let newcomer { changes = [.addLearner(newcomer)] }
                case 1: if let learner = membership.learners.first { changes = [.addVoter(learner)] }
                case 2: if membership.voters.count > 3 { changes = [.remove(voter)] }
                case 3: if let learner = membership.learners.first { changes = [.remove(learner)] }
                default: if let newcomer { changes = [.addVoter(newcomer), .remove(voter)] }
                }
                if !changes.isEmpty, case .accepted = sim.proposeMembershipChange(on: id, changes) {
                    membershipChanges += 1
                }
            }
            sim.schedule(after: .milliseconds(100 + reconfigurations.next() % 800), reconfigure)
        }
        if changesMembership {
            sim.schedule(after: .milliseconds(100 + reconfigurations.next() % 800), reconfigure)
        }

        for _ in 0..<25 {
            switch sim.randomNumber(below: 9) {
            case 0: sim.network.unreliable.toggle()
            case 1: sim.network.longReordering.toggle()
            case 2: sim.disconnect(randomNode())
            case 3: sim.connect(randomNode())
            case 4:
                let shuffled = ids.shuffled(using: &chooser)
                let cut = 1 + Int(sim.randomNumber(below: UInt64(ids.count - 1)))
                sim.partition([Array(shuffled[..<cut]), Array(shuffled[cut...])])
            case 5: sim.healPartition()
            case 6: sim.crash(randomNode())
            case 7: sim.restart(randomNode())
            default: sim.pause(randomNode(), for: .milliseconds(50 + sim.randomNumber(below: 1_500)))
            }
            try sim.run(for: .milliseconds(50 + sim.randomNumber(below: 400)))
        }

        // Heal everything: the cluster must elect a leader and commit again.
        rebooting = false
        sim.network = NetworkModel()
        sim.healPartition()
        for id in ids {
            if !sim.isUp(id) { sim.restart(id) }
            sim.connect(id)
        }
        // Every voter of the final membership (once the group left any joint configuration)
        // must apply the last command.
        var voters = servers
        if changesMembership {
            // The leader of the highest term: a deposed one may not have heard of it yet.
            func latestLeader() -> RaftEngine? {
                ids.compactMap { sim.engine($0) }.filter { $0.role == .leader }.max { $0.term < $1.term }
            }
            let settled = try sim.run(atMost: .seconds(10)) {
                guard let engine = latestLeader() else { return false }
                return !engine.membership.isJoint && engine.appliedIndex >= engine.log.lastIndex
            }
            guard settled, let leader = latestLeader() else {
                throw sim.fail("no leader left the joint configuration within 10 s after healing")
            }
            voters = leader.membership.voters.count
        }
        try sim.one(.command(-1), expectedServers: voters, retry: true)
        try sim.checkLogsMatch()
        return Outcome(
            reads: reads,
            leaseReads: sim.leaseReadsServed,
            transfers: transfersStarted,
            membershipChanges: membershipChanges,
            quiescences: sim.quiescences
        )
    }
}
