import RaftCore
import RaftTesting
import SimulationThread
import Testing

/// The Raft engine scenarios of SCENARIOS.md (the classic lab's 2A-2D tests), on virtual time.
///
/// One deliberate difference from the lab: a new leader first commits an empty entry of its
/// own term (Raft §5.4.2, needed for ReadIndex), so client commands start one index later
/// than in the lab; tests assert consecutive indexes after it instead of literal 1, 2, 3.
@Suite("Raft engine scenarios", .onSimulationThread)
struct RaftEngineScenarioTests {
    @Test("InitialElection")
    func initialElection() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(1))
        try sim.checkOneLeader()
        try sim.run(for: .milliseconds(50))
        let term1 = try sim.checkTerms()
        #expect(term1 >= 1)
        try sim.run(for: 2 * electionTimeout)
        let term2 = try sim.checkTerms()
        #expect(term1 == term2, "term changed without failures")
        try sim.checkOneLeader()
    }

    @Test("ReElection")
    func reElection() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(2))
        let leader1 = try sim.checkOneLeader()
        sim.disconnect(leader1)
        try sim.checkOneLeader()
        sim.connect(leader1)
        let leader2 = try sim.checkOneLeader()
        sim.disconnect(leader2)
        sim.disconnect(sim.node(leader2, plus: 1))
        try sim.run(for: 2 * electionTimeout)
        try sim.checkNoLeader()
        sim.connect(sim.node(leader2, plus: 1))
        try sim.checkOneLeader()
        sim.connect(leader2)
        try sim.checkOneLeader()
    }

    @Test("ManyElections")
    func manyElections() throws {
        let sim = RaftSimulation(servers: 7, seed: scenarioSeed(3))
        try sim.checkOneLeader()
        for _ in 0..<9 {
            var victims: [NodeID] = []
            while victims.count < 3 {
                let id = sim.nodeIDs[Int(sim.randomNumber(below: 7))]
                if !victims.contains(id) { victims.append(id) }
            }
            victims.forEach(sim.disconnect)
            try sim.checkOneLeader()
            victims.forEach(sim.connect)
        }
        try sim.checkOneLeader()
    }

    @Test("BasicAgree")
    func basicAgree() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(4))
        try sim.checkOneLeader()
        var previous: LogIndex?
        for n in 1...3 {
            let next = (previous ?? 1) + 1
            #expect(try sim.nCommitted(next).count == 0, "some have committed before Start()")
            let index = try sim.one(.command(n * 100), expectedServers: 3, retry: false)
            if let previous { #expect(index == previous + 1, "got index \(index), expected \(previous + 1)") }
            previous = index
        }
    }

    @Test("RPCBytes")
    func rpcBytes() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(5))
        try sim.one(.command(99), expectedServers: 3, retry: false)
        let bytes0 = sim.bytesSent
        var sent = 0
        for _ in 0..<10 {
            let command = (0..<5000).map { _ in UInt8(sim.randomNumber(below: 256)) }
            try sim.one(command, expectedServers: 3, retry: false)
            sent += command.count
        }
        let got = sim.bytesSent - bytes0
        #expect(got <= 3 * sent + 50_000, "too many RPC bytes; got \(got), expected at most \(3 * sent + 50_000)")
    }

    @Test("FailAgree")
    func failAgree() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(6))
        try sim.one(.command(101), expectedServers: 3, retry: false)
        let leader = try sim.checkOneLeader()
        sim.disconnect(sim.node(leader, plus: 1))
        for n in 102...103 { try sim.one(.command(n), expectedServers: 2, retry: false) }
        try sim.run(for: electionTimeout)
        for n in 104...105 { try sim.one(.command(n), expectedServers: 2, retry: false) }
        sim.connect(sim.node(leader, plus: 1))
        try sim.one(.command(106), expectedServers: 3, retry: true)
        try sim.run(for: electionTimeout)
        try sim.one(.command(107), expectedServers: 3, retry: true)
    }

    @Test("FailNoAgree")
    func failNoAgree() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(7))
        let base = try sim.one(.command(10), expectedServers: 5, retry: false)
        let leader = try sim.checkOneLeader()
        for offset in 1...3 { sim.disconnect(sim.node(leader, plus: offset)) }
        let accepted = try #require(sim.start(leader, .command(20)), "leader rejected Start()")
        #expect(accepted.index == base + 1)
        try sim.run(for: 2 * electionTimeout)
        #expect(try sim.nCommitted(accepted.index).count == 0, "committed without a majority")
        for offset in 1...3 { sim.connect(sim.node(leader, plus: offset)) }
        let leader2 = try sim.checkOneLeader()
        let again = try #require(sim.start(leader2, .command(30)), "leader2 rejected Start()")
        #expect(again.index >= base + 2 && again.index <= base + 3, "unexpected index \(again.index)")
        try sim.one(.command(1000), expectedServers: 5, retry: true)
    }

    @Test("ConcurrentStarts")
    func concurrentStarts() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(8))
        var success = false
        for attempt in 0..<5 {
            if attempt > 0 { try sim.run(for: .seconds(3)) }
            let leader = try sim.checkOneLeader()
            guard let first = sim.start(leader, .command(1)) else { continue }
            var indexes: [(LogIndex, Int)] = []
            for n in 0..<5 {
                guard let accepted = sim.start(leader, .command(100 + n)), accepted.term == first.term else { break }
                indexes.append((accepted.index, 100 + n))
            }
            guard indexes.count == 5 else { continue }
            var allCommitted = true
            for (index, value) in indexes {
                guard let command = try sim.wait(for: index, servers: 3, startTerm: first.term) else {
                    allCommitted = false
                    break
                }
                #expect(command == .command(value), "wrong value at index \(index)")
            }
            if allCommitted {
                success = true
                break
            }
        }
        #expect(success, "term changed too often")
    }

    @Test("Rejoin")
    func rejoin() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(9))
        try sim.one(.command(101), expectedServers: 3, retry: true)
        let leader1 = try sim.checkOneLeader()
        sim.disconnect(leader1)
        for n in 102...104 { sim.start(leader1, .command(n)) }
        let leader2 = try sim.checkOneLeader()
        try sim.one(.command(103), expectedServers: 2, retry: true)
        sim.disconnect(leader2)
        sim.connect(leader1)
        try sim.one(.command(104), expectedServers: 2, retry: true)
        sim.connect(leader2)
        try sim.one(.command(105), expectedServers: 3, retry: true)
        try sim.checkLogsMatch()
    }

    @Test("Backup")
    func backup() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(10))
        try sim.one(sim.randomCommand(), expectedServers: 5, retry: true)
        let leader1 = try sim.checkOneLeader()
        for offset in 2...4 { sim.disconnect(sim.node(leader1, plus: offset)) }
        for _ in 0..<50 { sim.start(leader1, sim.randomCommand()) }
        try sim.run(for: electionTimeout / 2)
        for offset in 0...1 { sim.disconnect(sim.node(leader1, plus: offset)) }
        for offset in 2...4 { sim.connect(sim.node(leader1, plus: offset)) }
        for _ in 0..<50 { try sim.one(sim.randomCommand(), expectedServers: 3, retry: true) }
        let leader2 = try sim.checkOneLeader()
        var other = sim.node(leader1, plus: 2)
        if leader2 == other { other = sim.node(leader2, plus: 1) }
        sim.disconnect(other)
        for _ in 0..<50 { sim.start(leader2, sim.randomCommand()) }
        try sim.run(for: electionTimeout / 2)
        sim.nodeIDs.forEach(sim.disconnect)
        sim.connect(leader1)
        sim.connect(sim.node(leader1, plus: 1))
        sim.connect(other)
        for _ in 0..<50 { try sim.one(sim.randomCommand(), expectedServers: 3, retry: true) }
        sim.nodeIDs.forEach(sim.connect)
        let before = sim.now
        try sim.one(sim.randomCommand(), expectedServers: 5, retry: true)
        // Fast conflict repair: divergent logs of 50 entries heal in a few round trips.
        #expect(sim.now - before < .seconds(2), "repairing the divergent logs took \((sim.now - before) / 1000) ms")
        try sim.checkLogsMatch()
    }

    @Test("Count")
    func count() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(11))
        let leader = try sim.checkOneLeader()
        let electionRequests = sim.requestsSent
        #expect(electionRequests >= 1 && electionRequests <= 30, "\(electionRequests) RPCs to elect a leader")
        var success = false
        var total2 = 0
        for attempt in 0..<5 {
            if attempt > 0 { try sim.run(for: .seconds(3)) }
            let currentLeader = try sim.checkOneLeader()
            let total1 = sim.requestsSent
            guard let first = sim.start(currentLeader, .command(1)) else { continue }
            var commands: [(LogIndex, Int)] = []
            var termChanged = false
            for n in 1...11 {
                let value = Int(sim.randomNumber(below: 1 << 30))
                guard let accepted = sim.start(currentLeader, .command(value)), accepted.term == first.term else {
                    termChanged = true
                    break
                }
                #expect(accepted.index == first.index + LogIndex(n), "Start() failed to pick the next index")
                commands.append((accepted.index, value))
            }
            if termChanged { continue }
            for (index, value) in commands.prefix(10) {
                guard let command = try sim.wait(for: index, servers: 3, startTerm: first.term) else {
                    termChanged = true
                    break
                }
                #expect(command == .command(value))
            }
            if termChanged { continue }
            total2 = sim.requestsSent
            #expect(total2 - total1 <= (10 + 1 + 3) * 3, "too many RPCs (\(total2 - total1)) for 10 entries")
            success = true
            break
        }
        #expect(success, "term changed too often")
        _ = leader
        try sim.run(for: electionTimeout)
        let idle = sim.requestsSent - total2
        #expect(idle <= 3 * 20, "too many RPCs (\(idle)) for 1 second of idleness")
    }

    @Test("Persist1")
    func persist1() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(12))
        try sim.one(.command(11), expectedServers: 3, retry: true)
        for id in sim.nodeIDs { sim.restart(id) }
        for id in sim.nodeIDs {
            sim.disconnect(id)
            sim.connect(id)
        }
        try sim.one(.command(12), expectedServers: 3, retry: true)
        let leader1 = try sim.checkOneLeader()
        sim.crashAndDisconnect(leader1)
        sim.restart(leader1)
        sim.connect(leader1)
        try sim.one(.command(13), expectedServers: 3, retry: true)
        let leader2 = try sim.checkOneLeader()
        sim.disconnect(leader2)
        let index14 = try sim.one(.command(14), expectedServers: 2, retry: true)
        sim.crash(leader2)
        sim.restart(leader2)
        sim.connect(leader2)
        _ = try sim.wait(for: index14, servers: 3, startTerm: nil)
        let i3 = sim.node(try sim.checkOneLeader(), plus: 1)
        sim.disconnect(i3)
        try sim.one(.command(15), expectedServers: 2, retry: true)
        sim.crash(i3)
        sim.restart(i3)
        sim.connect(i3)
        try sim.one(.command(16), expectedServers: 3, retry: true)
    }

    @Test("Persist2")
    func persist2() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(13))
        var value = 1
        for _ in 0..<5 {
            try sim.one(.command(10 + value), expectedServers: 5, retry: true)
            value += 1
            let leader1 = try sim.checkOneLeader()
            sim.disconnect(sim.node(leader1, plus: 1))
            sim.disconnect(sim.node(leader1, plus: 2))
            try sim.one(.command(10 + value), expectedServers: 3, retry: true)
            value += 1
            for offset in [0, 3, 4] { sim.disconnect(sim.node(leader1, plus: offset)) }
            for offset in [1, 2] {
                sim.restart(sim.node(leader1, plus: offset))
                sim.connect(sim.node(leader1, plus: offset))
            }
            try sim.run(for: electionTimeout)
            sim.restart(sim.node(leader1, plus: 3))
            sim.connect(sim.node(leader1, plus: 3))
            try sim.one(.command(10 + value), expectedServers: 3, retry: true)
            value += 1
            sim.connect(sim.node(leader1, plus: 4))
            sim.connect(sim.node(leader1, plus: 0))
        }
        try sim.one(.command(1000), expectedServers: 5, retry: true)
    }

    @Test("Persist3")
    func persist3() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(14))
        try sim.one(.command(101), expectedServers: 3, retry: true)
        let leader = try sim.checkOneLeader()
        sim.disconnect(sim.node(leader, plus: 2))
        try sim.one(.command(102), expectedServers: 2, retry: true)
        sim.crashAndDisconnect(leader)
        sim.crashAndDisconnect(sim.node(leader, plus: 1))
        sim.connect(sim.node(leader, plus: 2))
        sim.restart(leader)
        sim.connect(leader)
        try sim.one(.command(103), expectedServers: 2, retry: true)
        sim.restart(sim.node(leader, plus: 1))
        sim.connect(sim.node(leader, plus: 1))
        try sim.one(.command(104), expectedServers: 3, retry: true)
    }

    @Test("Figure8")
    func figure8() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(15))
        try sim.one(sim.randomCommand(), expectedServers: 1, retry: true)
        var up = 5
        for _ in 0..<1000 {
            var leader: NodeID?
            for id in sim.nodeIDs where sim.isUp(id) {
                if sim.start(id, sim.randomCommand()) != nil { leader = id }
            }
            if sim.randomNumber(below: 1000) < 100 {
                try sim.run(for: sim.randomNumber(below: electionTimeout / 2))
            } else {
                try sim.run(for: sim.randomNumber(below: .milliseconds(13)))
            }
            if let leader {
                sim.crashAndDisconnect(leader)
                up -= 1
            }
            if up < 3 {
                let id = sim.nodeIDs[Int(sim.randomNumber(below: 5))]
                if !sim.isUp(id) {
                    sim.restart(id)
                    sim.connect(id)
                    up += 1
                }
            }
        }
        for id in sim.nodeIDs where !sim.isUp(id) {
            sim.restart(id)
            sim.connect(id)
        }
        try sim.one(sim.randomCommand(), expectedServers: 5, retry: true)
        try sim.checkLogsMatch()
    }

    @Test("UnreliableAgree")
    func unreliableAgree() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(16))
        sim.network.unreliable = true
        var pending: [PendingAgreement] = []
        for iteration in 1..<50 {
            for j in 0..<4 {
                pending.append(sim.oneInBackground(.command(100 * iteration + j), expectedServers: 1))
            }
            try sim.one(.command(iteration), expectedServers: 1, retry: true)
        }
        sim.network.unreliable = false
        let finished = try sim.run(atMost: .seconds(20)) { pending.allSatisfy(\.isDone) }
        #expect(finished, "background agreements did not finish")
        for agreement in pending {
            #expect(agreement.failure == nil, "\(agreement.failure ?? "")")
        }
        try sim.one(.command(100), expectedServers: 5, retry: true)
    }

    @Test("Figure8Unreliable")
    func figure8Unreliable() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(17))
        sim.network.unreliable = true
        try sim.one(.command(Int(sim.randomNumber(below: 10_000))), expectedServers: 1, retry: true)
        var up = 5
        for iteration in 0..<1000 {
            if iteration == 200 { sim.network.longReordering = true }
            var leader: NodeID?
            for id in sim.nodeIDs {
                if sim.start(id, .command(Int(sim.randomNumber(below: 10_000)))) != nil, sim.isConnected(id) {
                    leader = id
                }
            }
            if sim.randomNumber(below: 1000) < 100 {
                try sim.run(for: sim.randomNumber(below: electionTimeout / 2))
            } else {
                try sim.run(for: sim.randomNumber(below: .milliseconds(13)))
            }
            if let leader, sim.randomNumber(below: 1000) < 500 {
                sim.disconnect(leader)
                up -= 1
            }
            if up < 3 {
                let id = sim.nodeIDs[Int(sim.randomNumber(below: 5))]
                if !sim.isConnected(id) {
                    sim.connect(id)
                    up += 1
                }
            }
        }
        sim.nodeIDs.forEach(sim.connect)
        try sim.one(.command(Int(sim.randomNumber(below: 10_000))), expectedServers: 5, retry: true)
        try sim.checkLogsMatch()
    }

    @Test("ReliableChurn")
    func reliableChurn() throws {
        try churn(unreliable: false, seed: scenarioSeed(18))
    }

    @Test("UnreliableChurn")
    func unreliableChurn() throws {
        try churn(unreliable: true, seed: scenarioSeed(19))
    }

    private func churn(unreliable: Bool, seed: UInt64, testName: String = #function) throws {
        let sim = RaftSimulation(servers: 5, seed: seed, testName: testName)
        sim.network.unreliable = unreliable
        var stop = false
        var seen: [[UInt8]] = []
        // Three clients propose on every node; a value counts once some node applied it at
        // the index it was given.
        for client in 0..<3 {
            func attempt() {
                guard !stop else { return }
                let command = sim.randomCommand()
                var index: LogIndex?
                for id in sim.nodeIDs {
                    if let accepted = sim.start(id, command) { index = accepted.index }
                }
                guard let index else {
                    sim.schedule(after: .milliseconds(79 + UInt64(client) * 17), attempt)
                    return
                }
                var waits: [VirtualTime] = [10, 20, 50, 100, 200].map { .milliseconds($0) }
                func check() {
                    if let result = try? sim.nCommitted(index), result.count > 0 {
                        if result.command == command { seen.append(command) }
                        attempt()
                    } else if waits.isEmpty {
                        attempt()
                    } else {
                        sim.schedule(after: waits.removeFirst(), check)
                    }
                }
                check()
            }
            sim.schedule(after: 0, attempt)
        }
        for _ in 0..<20 {
            if sim.randomNumber(below: 1000) < 200 {
                sim.disconnect(sim.nodeIDs[Int(sim.randomNumber(below: 5))])
            }
            if sim.randomNumber(below: 1000) < 500 {
                let id = sim.nodeIDs[Int(sim.randomNumber(below: 5))]
                if !sim.isUp(id) { sim.restart(id) }
                sim.connect(id)
            }
            if sim.randomNumber(below: 1000) < 200 {
                let id = sim.nodeIDs[Int(sim.randomNumber(below: 5))]
                if sim.isUp(id) { sim.crashAndDisconnect(id) }
            }
            try sim.run(for: electionTimeout * 7 / 10)
        }
        try sim.run(for: electionTimeout)
        sim.network.unreliable = false
        for id in sim.nodeIDs {
            if !sim.isUp(id) { sim.restart(id) }
            sim.connect(id)
        }
        stop = true
        try sim.run(for: electionTimeout)
        let lastIndex = try sim.one(sim.randomCommand(), expectedServers: 5, retry: true)
        let caughtUp = try sim.run(atMost: .seconds(10)) {
            sim.nodeIDs.allSatisfy { sim.lastApplied($0) >= lastIndex }
        }
        #expect(caughtUp, "not every node applied through \(lastIndex)")
        for id in sim.nodeIDs {
            var final: Set<[UInt8]> = []
            for index in 1...lastIndex {
                if let command = sim.applied(id, at: index) { final.insert(command) }
            }
            for value in seen {
                #expect(final.contains(value), "\(id) lacks a value a client saw committed")
            }
        }
        #expect(!seen.isEmpty, "no client value was ever committed")
        try sim.checkLogsMatch()
    }

    @Test("FollowerFailure")
    func followerFailure() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(20))
        try sim.one(.command(101), expectedServers: 3, retry: false)
        let leader1 = try sim.checkOneLeader()
        sim.disconnect(sim.node(leader1, plus: 1))
        try sim.one(.command(102), expectedServers: 2, retry: false)
        try sim.run(for: electionTimeout)
        let index103 = try sim.one(.command(103), expectedServers: 2, retry: false)
        let leader2 = try sim.checkOneLeader()
        sim.disconnect(sim.node(leader2, plus: 1))
        sim.disconnect(sim.node(leader2, plus: 2))
        let accepted = try #require(sim.start(leader2, .command(104)), "leader rejected Start()")
        #expect(accepted.index == index103 + 1)
        try sim.run(for: 2 * electionTimeout)
        #expect(try sim.nCommitted(accepted.index).count == 0, "committed without a majority")
    }

    @Test("LeaderFailure")
    func leaderFailure() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(21))
        try sim.one(.command(101), expectedServers: 3, retry: false)
        let leader1 = try sim.checkOneLeader()
        sim.disconnect(leader1)
        try sim.one(.command(102), expectedServers: 2, retry: false)
        try sim.run(for: electionTimeout)
        let index103 = try sim.one(.command(103), expectedServers: 2, retry: false)
        let leader2 = try sim.checkOneLeader()
        sim.disconnect(leader2)
        for id in sim.nodeIDs { sim.start(id, .command(104)) }
        try sim.run(for: 2 * electionTimeout)
        for index in (index103 + 1)...(index103 + 3) {
            #expect(try sim.nCommitted(index).count == 0, "index \(index) committed without a majority")
        }
    }
}
