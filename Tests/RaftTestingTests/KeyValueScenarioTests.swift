import KeyValueStore
import RaftCore
import RaftTesting
import SimulationThread
import Testing

/// The key/value service scenarios of SCENARIOS.md (the classic lab's 3A/3B tests), on
/// virtual time, each history checked for linearizability.
@Suite("Key/value scenarios", .onSimulationThread)
struct KeyValueScenarioTests {
    struct Generic: Sendable, CustomStringConvertible {
        var name: String
        var clients: Int
        var servers: Int
        var unreliable = false
        var crash = false
        var partitions = false
        var maxRaftState: Int?
        var randomKeys = false
        var leaseReads = false
        var seed: UInt64

        var description: String { name }
    }

    static let generic: [Generic] = [
        Generic(name: "Basic", clients: 1, servers: 5, seed: 41),
        Generic(name: "Concurrent", clients: 5, servers: 5, seed: 42),
        Generic(name: "Unreliable", clients: 5, servers: 5, unreliable: true, seed: 43),
        Generic(name: "ManyPartitionsOneClient", clients: 1, servers: 5, partitions: true, seed: 44),
        Generic(name: "ManyPartitionsManyClients", clients: 5, servers: 5, partitions: true, seed: 45),
        Generic(name: "PersistOneClient", clients: 1, servers: 5, crash: true, seed: 46),
        Generic(name: "PersistConcurrent", clients: 5, servers: 5, crash: true, seed: 47),
        Generic(name: "PersistConcurrentUnreliable", clients: 5, servers: 5, unreliable: true, crash: true, seed: 48),
        Generic(name: "PersistPartition", clients: 5, servers: 5, crash: true, partitions: true, seed: 49),
        Generic(
            name: "PersistPartitionUnreliable",
            clients: 5,
            servers: 5,
            unreliable: true,
            crash: true,
            partitions: true,
            seed: 50
        ),
        Generic(
            name: "PersistPartitionUnreliableLinearizable",
            clients: 15,
            servers: 7,
            unreliable: true,
            crash: true,
            partitions: true,
            randomKeys: true,
            seed: 51
        ),
        Generic(name: "SnapshotRecover", clients: 1, servers: 5, crash: true, maxRaftState: 1000, seed: 52),
        Generic(name: "SnapshotRecoverManyClients", clients: 20, servers: 5, crash: true, maxRaftState: 1000, seed: 53),
        Generic(name: "SnapshotUnreliable", clients: 5, servers: 5, unreliable: true, maxRaftState: 1000, seed: 54),
        Generic(
            name: "SnapshotUnreliableRecover",
            clients: 5,
            servers: 5,
            unreliable: true,
            crash: true,
            maxRaftState: 1000,
            seed: 55
        ),
        Generic(
            name: "SnapshotUnreliableRecoverConcurrentPartition",
            clients: 5,
            servers: 5,
            unreliable: true,
            crash: true,
            partitions: true,
            maxRaftState: 1000,
            seed: 56
        ),
        Generic(
            name: "SnapshotUnreliableRecoverConcurrentPartitionLinearizable",
            clients: 15,
            servers: 7,
            unreliable: true,
            crash: true,
            partitions: true,
            maxRaftState: 1000,
            randomKeys: true,
            seed: 57
        ),
        // Not a lab scenario: the same faults with Gets served from the leader's lease.
        Generic(
            name: "LeaseReadsUnreliableRecoverPartitionLinearizable",
            clients: 10,
            servers: 5,
            unreliable: true,
            crash: true,
            partitions: true,
            randomKeys: true,
            leaseReads: true,
            seed: 58
        ),
    ]

    /// The lab's GenericTest: three rounds of 5 s in which every client (a fresh clerk each
    /// round) appends unique values to its key and checks its reads, under the scenario's
    /// faults; then the per-client append check, the Raft state bound and linearizability.
    @Test("GenericTest", arguments: generic)
    func genericTest(_ scenario: Generic) async throws {
        let problems = try await offCooperativePool { try Self.runGeneric(scenario) }
        #expect(problems.isEmpty, "\(scenario.name): \(problems)")
    }

    /// One GenericTest on its own thread (no `#expect` in here): returns the broken checks.
    private static func runGeneric(_ scenario: Generic) throws -> [String] {
        var problems: [String] = []
        let kv = KeyValueHarness(
            servers: scenario.servers,
            seed: scenarioSeed(scenario.seed),
            maxRaftState: scenario.maxRaftState,
            leaseReads: scenario.leaseReads,
            testName: "genericTest"
        )
        let sim = kv.sim
        sim.network.unreliable = scenario.unreliable
        var appendsPerClient = Array(repeating: 0, count: scenario.clients)
        var largestRaftState = 0
        for _ in 0..<3 {
            var done = false
            var running = scenario.clients
            for client in 0..<scenario.clients {
                let clerk = kv.makeClerk()
                // Each round starts from what the key holds (an earlier round's appends).
                var expected: String?
                func next() {
                    guard !done else {
                        running -= 1
                        return
                    }
                    let key =
                        scenario.randomKeys ? String(sim.randomNumber(below: UInt64(scenario.clients))) : String(client)
                    let roll = sim.randomNumber(below: 1000)
                    if roll < 500 {
                        let value = "x \(client) \(appendsPerClient[client]) y"
                        kv.start(.append(key, value), on: clerk, client: client) { _ in
                            if !scenario.randomKeys {
                                appendsPerClient[client] += 1
                                // Known once this round's first Get has read the key.
                                expected = expected.map { $0 + value }
                            }
                            next()
                        }
                    } else if scenario.randomKeys && roll < 550 {
                        kv.start(.put(key, "x \(client) put y"), on: clerk, client: client) { _ in next() }
                    } else {
                        kv.start(.get(key), on: clerk, client: client) { response in
                            if !scenario.randomKeys {
                                let value = response.valueOrEmpty
                                if let known = expected, value != known {
                                    _ = sim.fail(
                                        "client \(client): get(\(key)) returned ...\(value.suffix(40).debugDescription) "
                                            + "(\(value.count) characters), expected ...\(known.suffix(40).debugDescription) "
                                            + "(\(known.count) characters)"
                                    )
                                }
                                expected = value
                            }
                            next()
                        }
                    }
                }
                sim.schedule(after: 0, next)
            }
            if scenario.partitions {
                func repartition() {
                    guard !done else { return }
                    let shuffled = sim.shuffled(sim.nodeIDs)
                    let cut = 1 + Int(sim.randomNumber(below: UInt64(sim.nodeIDs.count - 1)))
                    sim.partition([Array(shuffled[..<cut]), Array(shuffled[cut...])])
                    sim.schedule(after: .milliseconds(1000 + sim.randomNumber(below: 200)), repartition)
                }
                sim.schedule(after: .seconds(1), repartition)
            }
            try sim.run(for: .seconds(5))
            done = true
            sim.healPartition()
            let stopped = try sim.run(atMost: .seconds(30)) { running == 0 }
            if !stopped { throw sim.fail("clients did not finish their last operation within 30 s") }
            largestRaftState = max(largestRaftState, kv.largestRaftState)
            if scenario.crash {
                for id in sim.nodeIDs { sim.crash(id) }
                try sim.run(for: .seconds(1))
                for id in sim.nodeIDs { sim.restart(id) }
            }
            if !scenario.randomKeys {
                let checker = kv.makeClerk()
                for client in 0..<scenario.clients {
                    let value = try kv.perform(.get(String(client)), on: checker).valueOrEmpty
                    if let problem = appendsAppearOnceInOrder(value, client: client, count: appendsPerClient[client]) {
                        throw sim.fail(problem)
                    }
                }
            }
            if let maxRaftState = scenario.maxRaftState {
                for id in sim.nodeIDs {
                    if sim.raftStateSize(id) > 2 * maxRaftState {
                        problems.append(
                            "\(id) holds \(sim.raftStateSize(id)) bytes of Raft state (bound \(2 * maxRaftState))"
                        )
                    }
                }
            } else {
                for id in sim.nodeIDs {
                    if sim.persistedSnapshot(id) != nil { problems.append("\(id) snapshotted with maxraftstate -1") }
                }
            }
        }
        if !kv.finalErrors.isEmpty { problems.append("final errors: \(kv.finalErrors)") }
        if scenario.leaseReads && sim.leaseReadsServed == 0 { problems.append("no Get was served from a lease") }
        if appendsPerClient.reduce(0, +) == 0 && !scenario.randomKeys { problems.append("no append completed") }
        try kv.checkLinearizable()
        if let maxRaftState = scenario.maxRaftState {
            print(
                "\(scenario.name): largest Raft state \(largestRaftState) bytes (maxraftstate \(maxRaftState)), \(kv.history.count) operations"
            )
        } else {
            print("\(scenario.name): \(kv.history.count) operations, linearizable")
        }
        return problems
    }

    @Test("UnreliableOneKey")
    func unreliableOneKey() throws {
        let kv = KeyValueHarness(servers: 3, seed: scenarioSeed(60), maxRaftState: nil, testName: "unreliableOneKey")
        kv.sim.network.unreliable = true
        try kv.perform(.put("k", ""), on: kv.makeClerk())
        var finished = 0
        for client in 0..<5 {
            let clerk = kv.makeClerk()
            var n = 0
            func next() {
                guard n < 10 else {
                    finished += 1
                    return
                }
                kv.start(.append("k", "x \(client) \(n) y"), on: clerk, client: client) { _ in
                    n += 1
                    next()
                }
            }
            kv.sim.schedule(after: 0, next)
        }
        #expect(try kv.sim.run(atMost: .seconds(60)) { finished == 5 })
        let value = try kv.perform(.get("k"), on: kv.makeClerk()).valueOrEmpty
        for client in 0..<5 {
            #expect(appendsAppearOnceInOrder(value, client: client, count: 10) == nil, "\(value)")
        }
        try kv.checkLinearizable()
    }

    @Test("OnePartition")
    func onePartition() throws {
        let kv = KeyValueHarness(servers: 5, seed: scenarioSeed(61), maxRaftState: nil, testName: "onePartition")
        let sim = kv.sim
        let clerk = kv.makeClerk()
        try kv.perform(.put("1", "13"), on: clerk)
        let leader = try sim.checkOneLeader()
        // The leader goes into a minority of two.
        let minority = [leader, sim.nodeIDs.first { $0 != leader }!]
        let majority = sim.nodeIDs.filter { !minority.contains($0) }
        sim.partition([majority, minority])
        let majorityClerk = kv.makeClerk(servers: majority)
        let minorityPut = kv.makeClerk(servers: minority)
        let minorityGet = kv.makeClerk(servers: minority)
        try kv.perform(.put("1", "14"), on: majorityClerk)
        try kv.check(majorityClerk, "1", "14")
        var putDone = false
        var getDone = false
        kv.start(.put("1", "15"), on: minorityPut) { _ in putDone = true }
        kv.start(.get("1"), on: minorityGet) { _ in getDone = true }
        try sim.run(for: .seconds(1))
        #expect(!putDone, "Put in minority completed")
        #expect(!getDone, "Get in minority completed")
        try kv.check(majorityClerk, "1", "14")
        try kv.perform(.put("1", "16"), on: majorityClerk)
        try kv.check(majorityClerk, "1", "16")
        sim.healPartition()
        minorityPut.servers = sim.nodeIDs
        minorityGet.servers = sim.nodeIDs
        #expect(try sim.run(atMost: .seconds(3)) { putDone }, "Put did not complete after healing")
        #expect(try sim.run(atMost: .seconds(3)) { getDone }, "Get did not complete after healing")
        try kv.check(clerk, "1", "15")
        try kv.checkLinearizable()
    }

    @Test("SnapshotRPC")
    func snapshotRPC() throws {
        let maxRaftState = 1000
        let kv = KeyValueHarness(
            servers: 3,
            seed: scenarioSeed(62),
            maxRaftState: maxRaftState,
            testName: "snapshotRPC"
        )
        let sim = kv.sim
        let ids = sim.nodeIDs
        let clerk = kv.makeClerk()
        try kv.perform(.put("a", "A"), on: clerk)
        try kv.check(clerk, "a", "A")
        sim.partition([[ids[0], ids[1]], [ids[2]]])
        let majority = kv.makeClerk(servers: [ids[0], ids[1]])
        for i in 0..<50 { try kv.perform(.put(String(i), String(i)), on: majority) }
        try sim.run(for: .seconds(1))
        try kv.perform(.put("b", "B"), on: majority)
        #expect(kv.largestRaftState <= 2 * maxRaftState, "Raft state \(kv.largestRaftState) > \(2 * maxRaftState)")
        let lagging = ids[2]
        #expect(sim.persistedSnapshot(lagging) == nil)
        // A group that needs the lagging node: it catches up through InstallSnapshot.
        sim.partition([[ids[0], ids[2]], [ids[1]]])
        let withLagging = kv.makeClerk(servers: [ids[0], ids[2]])
        try kv.perform(.put("c", "C"), on: withLagging)
        try kv.perform(.put("d", "D"), on: withLagging)
        try kv.check(withLagging, "a", "A")
        try kv.check(withLagging, "b", "B")
        try kv.check(withLagging, "1", "1")
        try kv.check(withLagging, "49", "49")
        #expect(sim.persistedSnapshot(lagging) != nil, "the lagging node caught up without a snapshot")
        sim.healPartition()
        try kv.perform(.put("e", "E"), on: clerk)
        try kv.check(clerk, "c", "C")
        try kv.check(clerk, "e", "E")
        try kv.check(clerk, "1", "1")
        #expect(kv.largestRaftState <= 2 * maxRaftState)
        try kv.checkLinearizable()
    }

    @Test("SnapshotSize")
    func snapshotSize() throws {
        let maxRaftState = 1000
        let kv = KeyValueHarness(
            servers: 3,
            seed: scenarioSeed(63),
            maxRaftState: maxRaftState,
            testName: "snapshotSize"
        )
        let clerk = kv.makeClerk()
        var largestRaftState = 0
        for _ in 0..<200 {
            try kv.perform(.put("x", "0"), on: clerk)
            try kv.check(clerk, "x", "0")
            try kv.perform(.put("x", "1"), on: clerk)
            try kv.check(clerk, "x", "1")
            largestRaftState = max(largestRaftState, kv.largestRaftState)
        }
        let largestSnapshot = kv.sim.nodeIDs.compactMap { kv.sim.persistedSnapshot($0)?.data.count }.max() ?? 0
        #expect(largestRaftState <= 2 * maxRaftState, "Raft state \(largestRaftState) > \(2 * maxRaftState)")
        #expect(largestSnapshot > 0 && largestSnapshot <= 500, "snapshot of \(largestSnapshot) bytes")
        print("SnapshotSize: largest Raft state \(largestRaftState) bytes, largest snapshot \(largestSnapshot) bytes")
        try kv.checkLinearizable()
    }

    @Test("Speed", arguments: [nil, 1000] as [Int?])
    func speed(maxRaftState: Int?) throws {
        let kv = KeyValueHarness(servers: 3, seed: scenarioSeed(64), maxRaftState: maxRaftState, testName: "speed")
        let clerk = kv.makeClerk()
        try kv.perform(.append("x", "x 0 0 y"), on: clerk)
        let started = kv.sim.now
        for i in 1...1000 { try kv.perform(.append("x", "x 0 \(i) y"), on: clerk) }
        let perOp = Double(kv.sim.now - started) / 1000 / 1000
        #expect(perOp < 33, "\(perOp) ms per operation (the lab allows 33)")
        print("Speed (maxraftstate \(maxRaftState.map(String.init) ?? "-1")): \(perOp) ms of virtual time per append")
        try kv.check(clerk, "x", (0...1000).map { "x 0 \($0) y" }.joined())
    }
}
