import RaftCore
import RaftReplica
import RaftTesting
import SimulationThread
import StateMachineAPI
import Testing
import WasmPlugins

/// A client that submits its commands one after another, each until some node answers it
/// (retrying with the same sequence number, so that it is applied once), and keeps every
/// answer, errors included: unlike ``SimulatedClerk`` it goes on after a final error.
private final class SteadyClient {
    let sim: RaftSimulation
    let clientID: UInt64
    /// The command of each sequence number; nil ends the stream.
    let command: (UInt64) -> [UInt8]?
    private(set) var answers: [(command: [UInt8], result: Result<[UInt8], ReplicaError>)] = []
    private(set) var isBusy = false
    /// Set to stop after the command in flight.
    var stopped = false

    private var sequence: UInt64 = 0
    private var guess: Int
    private var attempt: UInt64 = 0

    init(sim: RaftSimulation, clientID: UInt64, command: @escaping (UInt64) -> [UInt8]?) {
        self.sim = sim
        self.clientID = clientID
        self.command = command
        guess = Int(sim.randomNumber(below: UInt64(sim.nodeIDs.count)))
    }

    /// Sends the next command, unless stopped or the stream ended.
    func next() {
        guard !stopped, let bytes = command(sequence + 1) else { return }
        sequence += 1
        isBusy = true
        let request = Replica.ClientCommand(clientID: clientID, sequence: sequence, command: bytes)
        var done = false
        func tryOnce() {
            guard !done else { return }
            attempt += 1
            let thisAttempt = attempt
            sim.submit(to: sim.nodeIDs[guess], request) { [self] result in
                guard !done else { return }
                if case .failure(let error) = result, error.code.isRetryable {
                    guard thisAttempt == attempt else { return }
                    if let hint = error.leaderHint, let index = sim.nodeIDs.firstIndex(of: hint) {
                        guess = index
                    } else {
                        guess = (guess + 1) % sim.nodeIDs.count
                    }
                    attempt += 1
                    sim.schedule(after: .milliseconds(5), tryOnce)
                    return
                }
                done = true
                isBusy = false
                answers.append((bytes, result))
                sim.schedule(after: 1_000 + sim.randomNumber(below: 4_000), next)
            }
            sim.schedule(after: .milliseconds(200)) { [self] in
                guard !done, thisAttempt == attempt else { return }
                guess = (guess + 1) % sim.nodeIDs.count
                tryOnce()
            }
        }
        tryOnce()
    }
}

/// Code through the log while clients keep writing: a follower crashes in the middle of the
/// deploy, losing what it had not synced, and comes back once every log was compacted past
/// the deploy, so it gets the code from a snapshot; then it runs that code as the others do.
@Suite(.onSimulationThread) struct ReplicatedDeployUnderLoadTests {
    @Test(arguments: [71, 72] as [UInt64])
    func aFollowerCrashedDuringADeployGetsTheCodeFromASnapshot(seed: UInt64) throws {
        let outcomes = Outcomes()
        let sim = RaftSimulation(
            servers: 3,
            seed: seed,
            // The deploy alone (the key/value module, 6 KB) is past it: every node compacts
            // its log past the deploy soon after applying it.
            snapshots: .maxRaftState(4_000),
            machine: {
                AnyStateMachine(dynamic: Recording(AnyStateMachine(dynamic: WasmFromLog()), outcomes: outcomes))
            }
        )
        let leader = try sim.checkOneLeader()
        let follower = try #require(sim.nodeIDs.first { $0 != leader })
        // Replicas 0, 1 and 2 are nodes 1, 2 and 3 as first started; the restarted follower is 3.
        let restartedReplica = 3
        for id in sim.nodeIDs { sim.diskLatency[id] = .milliseconds(1) }
        sim.diskLatency[follower] = .milliseconds(3)

        let clients = (1...3).map { client in
            SteadyClient(sim: sim, clientID: UInt64(100 + client)) { sequence in
                Array("set c\(client)-\(sequence) \(sequence)".utf8)
            }
        }
        for client in clients { client.next() }
        try sim.run(for: .milliseconds(300))

        // The example store searches its keys linearly, so restoring n keys costs about n²
        // comparisons: a few hundred keys need more than the default million instructions.
        let deploy = try deployCommand(Built.keyValue, fuel: 20_000_000)
        let deployer = SteadyClient(sim: sim, clientID: 99) { $0 == 1 ? deploy : nil }
        deployer.next()
        // The follower crashes once it holds the deploy in its log but has not synced it yet.
        func holdsUnsyncedDeploy() -> Bool {
            guard let engine = sim.engine(follower) else { return false }
            let log = engine.log
            return log.entries.contains { entry in
                entry.index > engine.stableIndex && entry.data.count > deploy.count
            }
        }
        #expect(
            try sim.run(atMost: .seconds(2), step: 100) { holdsUnsyncedDeploy() },
            "the follower never held the deploy unsynced, seed \(seed)\n\(sim.clusterDescription)"
        )
        sim.crash(follower)

        #expect(try sim.run(atMost: .seconds(5)) { !deployer.isBusy }, "no answer to the deploy, seed \(seed)")
        let deployAnswer = String(decoding: try #require(deployer.answers.first).result.get(), as: UTF8.self)
        #expect(deployAnswer.hasPrefix("deployed WasmKeyValue "), "seed \(seed)")
        let deployIndex = try #require(deployAnswer.split(separator: " ").last.flatMap { LogIndex($0) })

        // The live nodes compact their logs past the deploy while the clients go on.
        let live = sim.nodeIDs.filter { $0 != follower }
        #expect(
            try sim.run(atMost: .seconds(5)) {
                live.allSatisfy { (sim.engine($0)?.log.snapshotIndex ?? 0) > deployIndex }
            },
            "the logs were not compacted past the deploy at \(deployIndex), seed \(seed)\n\(sim.clusterDescription)"
        )
        try sim.run(for: .milliseconds(200))
        sim.restart(follower)
        // The crash dropped the deploy: the follower's log ends before it.
        #expect(
            try #require(sim.engine(follower)).log.lastIndex < deployIndex,
            "the follower had synced the deploy, seed \(seed)"
        )
        try sim.run(for: .milliseconds(500))

        for client in clients { client.stopped = true }
        #expect(
            try sim.run(atMost: .seconds(5)) { clients.allSatisfy { !$0.isBusy } },
            "the clients got no answer, seed \(seed)"
        )
        let last = sim.lastApplied(try sim.checkOneLeader())
        #expect(
            try sim.run(atMost: .seconds(5)) { sim.nodeIDs.allSatisfy { sim.lastApplied($0) == last } },
            "the replicas did not catch up to \(last), seed \(seed)\n\(sim.clusterDescription)"
        )

        // The follower applied the deploy neither before its crash nor after: restarted, it
        // replayed what its own log held (before the deploy), installed a snapshot taken after
        // the deploy, and applied the commands after that snapshot with the deployed code.
        let installed = try #require(sim.persistedSnapshot(follower), "seed \(seed)")
        #expect(installed.metadata.index > deployIndex, "seed \(seed)")
        let beforeCrash = outcomes.of(replica: try #require(sim.nodeIDs.firstIndex(of: follower))).keys
        #expect(beforeCrash.allSatisfy { $0 < deployIndex }, "seed \(seed)")
        let restarted = outcomes.of(replica: restartedReplica)
        #expect(restarted[deployIndex] == nil, "seed \(seed)")
        let appliedAfterRestart = restarted.keys.filter { $0 > deployIndex }
        #expect(appliedAfterRestart.count >= 10, "the restarted follower applied too little, seed \(seed)")

        // Every replica that applied an index answered the same: the error of a group with no
        // code before the deploy, the key/value store's answer after it.
        let recorded = outcomes.all
        for (index, answers) in recorded {
            #expect(Set(answers).count == 1, "index \(index): \(answers), seed \(seed)")
            let expected =
                index < deployIndex ? "none" : index == deployIndex ? "deploy" : "kv"
            #expect(
                answers.allSatisfy { ReplicatedWasmFromLogTests.code(of: $0) == expected },
                "index \(index): \(answers), seed \(seed)"
            )
        }
        for index in appliedAfterRestart {
            #expect(recorded[index]?.count == 3, "index \(index): \(recorded[index] ?? []), seed \(seed)")
        }

        // What the clients were told: every write before the deploy refused, every one after
        // it applied; the store holds exactly the applied ones, on every replica alike.
        var written: [String] = []
        var refused = 0
        for client in clients {
            for (command, result) in client.answers {
                switch result {
                case .success(let answer):
                    #expect(answer == [], "seed \(seed)")
                    written.append(String(decoding: command, as: UTF8.self))
                case .failure(let error):
                    refused += 1
                    #expect(error.message.contains("no module is deployed yet"), "\(error), seed \(seed)")
                }
            }
        }
        #expect(refused >= 10 && written.count >= 30, "\(refused) refused, \(written.count) written, seed \(seed)")
        let context = QueryContext(index: last, time: 0)
        let machines = try sim.nodeIDs.map { id in try #require(sim.stateMachine(id)) }
        let snapshots = try machines.map { try $0.snapshot() }
        #expect(snapshots.allSatisfy { $0 == snapshots[0] }, "seed \(seed)")
        for machine in machines {
            #expect(
                try machine.query(encoded: Array("count".utf8), context: context) == Array("\(written.count)".utf8),
                "seed \(seed)"
            )
            for command in written.prefix(5) + written.suffix(5) {
                let parts = command.split(separator: " ")
                #expect(
                    try machine.query(encoded: Array("get \(parts[1])".utf8), context: context) == Array(parts[2].utf8),
                    "seed \(seed)"
                )
            }
        }
    }
}
