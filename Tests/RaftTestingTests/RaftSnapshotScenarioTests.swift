import RaftCore
import RaftReplica
import RaftTesting
import SimulationThread
import Testing

/// The lab's snapshot scenarios (2D): a snapshot every 10 applied entries, followers and
/// leaders disconnected or crashed, lagging nodes catching up through InstallSnapshot.
@Suite("Raft snapshot scenarios", .onSimulationThread)
struct RaftSnapshotScenarioTests {
    static let snapshotInterval: LogIndex = 10
    /// The lab's bound on persisted Raft state (hard state + log) with snapshots on.
    static let maxLogSize = 2000

    @Test("SnapshotBasic")
    func snapshotBasic() throws {
        try snapshotCommon(disconnect: false, reliable: true, crash: false, seed: scenarioSeed(31))
    }

    @Test("SnapshotInstall")
    func snapshotInstall() throws {
        try snapshotCommon(disconnect: true, reliable: true, crash: false, seed: scenarioSeed(32))
    }

    @Test("SnapshotInstallUnreliable")
    func snapshotInstallUnreliable() throws {
        try snapshotCommon(disconnect: true, reliable: false, crash: false, seed: scenarioSeed(33))
    }

    @Test("SnapshotInstallCrash")
    func snapshotInstallCrash() throws {
        try snapshotCommon(disconnect: false, reliable: true, crash: true, seed: scenarioSeed(34))
    }

    @Test("SnapshotInstallUnCrash")
    func snapshotInstallUnCrash() throws {
        try snapshotCommon(disconnect: false, reliable: false, crash: true, seed: scenarioSeed(35))
    }

    private func snapshotCommon(
        disconnect: Bool,
        reliable: Bool,
        crash: Bool,
        seed: UInt64,
        testName: String = #function
    ) throws {
        // Small chunks, so that snapshots travel in several pieces.
        let sim = RaftSimulation(
            servers: 3,
            seed: seed,
            testName: testName,
            snapshots: .everyEntries(Self.snapshotInterval),
            configure: { $0.snapshotChunkBytes = 256 }
        )
        sim.network.unreliable = !reliable
        try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
        var leader1 = try sim.checkOneLeader()
        var installs = 0
        for round in 0..<30 {
            var victim = sim.node(leader1, plus: 1)
            var sender = leader1
            if round % 3 == 1 {
                sender = sim.node(leader1, plus: 1)
                victim = leader1
            }
            if disconnect {
                sim.disconnect(victim)
                try sim.one(sim.randomCommand(), expectedServers: 2, retry: true)
            }
            if crash {
                sim.crashAndDisconnect(victim)
                try sim.one(sim.randomCommand(), expectedServers: 2, retry: true)
            }
            let count = Self.snapshotInterval / 2 + sim.randomNumber(below: Self.snapshotInterval)
            for _ in 0..<count { sim.start(sender, sim.randomCommand()) }
            if !disconnect && !crash {
                try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
            } else {
                try sim.one(sim.randomCommand(), expectedServers: 2, retry: true)
            }
            for id in sim.nodeIDs {
                #expect(sim.raftStateSize(id) < Self.maxLogSize, "\(id): Raft state \(sim.raftStateSize(id)) bytes")
            }
            if disconnect || crash {
                let snapshotBefore = sim.persistedSnapshot(victim)?.metadata.index ?? 0
                if crash { sim.restart(victim) }
                sim.connect(victim)
                try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
                leader1 = try sim.checkOneLeader()
                let snapshotAfter = sim.persistedSnapshot(victim)?.metadata.index ?? 0
                if snapshotAfter > snapshotBefore + Self.snapshotInterval { installs += 1 }
            }
        }
        for id in sim.nodeIDs {
            #expect(sim.snapshotCount(id) > 0 || sim.persistedSnapshot(id) != nil, "\(id) never snapshotted")
        }
        if disconnect || crash {
            #expect(installs > 0, "no lagging node ever caught up through a snapshot")
        }
        try sim.checkLogsMatch()
    }

    @Test("SnapshotAllCrash")
    func snapshotAllCrash() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(36), snapshots: .everyEntries(Self.snapshotInterval))
        try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
        for _ in 0..<5 {
            let count = Self.snapshotInterval / 2 + sim.randomNumber(below: Self.snapshotInterval)
            for _ in 0..<count { try sim.one(sim.randomCommand(), expectedServers: 3, retry: true) }
            let index1 = try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
            for id in sim.nodeIDs { sim.crashAndDisconnect(id) }
            for id in sim.nodeIDs {
                sim.restart(id)
                sim.connect(id)
            }
            let index2 = try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
            #expect(index2 >= index1 + 1, "index decreased from \(index1) to \(index2)")
        }
    }

    @Test("SnapshotInit")
    func snapshotInit() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(37), snapshots: .everyEntries(Self.snapshotInterval))
        try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
        for _ in 0...Self.snapshotInterval { try sim.one(sim.randomCommand(), expectedServers: 3, retry: true) }
        for _ in 0..<2 {
            for id in sim.nodeIDs { sim.crashAndDisconnect(id) }
            for id in sim.nodeIDs {
                sim.restart(id)
                sim.connect(id)
                // Restored from its snapshot: the state machine starts at the snapshot's index.
                let snapshotIndex = try #require(sim.persistedSnapshot(id)).metadata.index
                #expect(sim.lastApplied(id) >= snapshotIndex)
            }
            try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
        }
    }
}
