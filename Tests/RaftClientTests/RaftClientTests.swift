import ClusterConfig
import KeyValueClient
import KeyValueStore
import RaftClient
import RaftCore
import RaftReplica
import StateMachineAPI
import Synchronization
import Testing

/// A client of the given nodes. The attempt timeout is long by default, so that no attempt is
/// retried because a loaded machine answered late (tests that count requests rely on it);
/// tests of rotation and lost replies pass a short one.
private func makeClient(
    _ nodes: [FakeNode],
    attemptTimeout: Duration = .seconds(10),
    timeout: Duration? = .seconds(20)
) -> RaftClient {
    RaftClient(
        endpoints: nodes.map(\.endpoint),
        group: "kv",
        configuration: RaftClient.Configuration(attemptTimeout: attemptTimeout, timeout: timeout)
    )
}

/// A node backed by a real replica.
private func replicaNode(_ id: UInt64, _ backend: KeyValueBackend) async throws -> FakeNode {
    try await FakeNode(node: id) { .respond(backend.handle($0)) }
}

/// `RaftClient.forward(_:deadline:reply:)`, awaited, with a deadline 20 s away.
private func forwarded(_ request: ClientRequest, through client: RaftClient) async throws -> [UInt8] {
    try await withCheckedThrowingContinuation { continuation in
        client.forward(request, deadline: .now + .seconds(20)) { continuation.resume(with: $0) }
    }
}

/// ``forwarded(_:through:)`` of a key/value command of the session `clientID`.
private func forwarded(
    _ command: KeyValueStore.Command,
    clientID: UInt64,
    sequence: UInt64,
    through client: RaftClient
) async throws -> [UInt8] {
    let request = Replica.ClientCommand(clientID: clientID, sequence: sequence, command: command.encoded())
    return try await forwarded(.command(request), through: client)
}

private func commands(_ requests: [ClientRequest]) -> [Replica.ClientCommand] {
    requests.compactMap { if case .command(let command) = $0 { command } else { nil } }
}

@Suite("RaftClient", .timeLimit(.minutes(1)))
struct RaftClientTests {
    @Test("put, get, append, delete and compare-and-swap round-trip through KeyValueClient")
    func keyValueRoundTrip() async throws {
        let node = try await replicaNode(1, try KeyValueBackend())
        let kv = KeyValueClient(makeClient([node]))
        try await kv.put("k", value: "v")
        #expect(try await kv.get("k") == "v")
        #expect(try await kv.get("missing") == nil)
        try await kv.put("empty", value: "")
        #expect(try await kv.get("empty") == "")
        try await kv.append("k", value: "w")
        #expect(try await kv.get("k", consistency: .stale) == "vw")
        #expect(try await kv.compareAndSwap("k", expected: "nope", new: "x") == (false, "vw"))
        #expect(try await kv.compareAndSwap("k", expected: "vw", new: "x") == (true, "x"))
        #expect(try await kv.compareAndSwap("fresh", expected: nil, new: "1") == (true, "1"))
        #expect(try await kv.delete("k"))
        #expect(try await kv.delete("k") == false)
        #expect(try await kv.get("k") == nil)
        await kv.close()
        try await node.stop()
    }

    @Test("a client made from a cluster configuration numbers nodes as the cluster does and follows hints")
    func clientFromClusterConfiguration() async throws {
        let backend = try KeyValueBackend()
        let follower = try await FakeNode(node: 1) { _ in
            .respond(.error(ReplicaError(.notLeader, "not the leader", leaderHint: NodeID(2))))
        }
        let leader = try await replicaNode(2, backend)
        let nodes = [follower, leader].enumerated().map { index, node in
            ClusterConfiguration.Node(
                id: "n\(index + 1)",
                numericID: UInt64(index + 1),
                peer: ClusterConfiguration.Address(host: "127.0.0.1", port: 1),
                client: ClusterConfiguration.Address(host: "127.0.0.1", port: node.port),
                http: ClusterConfiguration.Address(host: "127.0.0.1", port: 2)
            )
        }
        let cluster = ClusterConfiguration(
            name: "test",
            dataDirectory: "unused",
            nodes: nodes,
            groups: [ClusterConfiguration.Group(name: "kv", stateMachine: KeyValueStore.name)]
        )
        let client = RaftClient(cluster: cluster)
        #expect(client.group == "kv")
        #expect(client.endpoints == [follower.endpoint, leader.endpoint])
        let kv = KeyValueClient(client)
        try await kv.put("k", value: "v")
        #expect(backend.contents == ["k": "v"])
        #expect(follower.requests.count == 1)
        await kv.close()
        try await follower.stop()
        try await leader.stop()
    }

    @Test("a notLeader hint sends the retry to the named node, which is then remembered")
    func followsLeaderHint() async throws {
        let backend = try KeyValueBackend()
        let follower = try await FakeNode(node: 1) { _ in
            .respond(.error(ReplicaError(.notLeader, "not the leader", leaderHint: NodeID(3))))
        }
        let bystander = try await FakeNode(node: 2) { _ in .ignore }
        let leader = try await replicaNode(3, backend)
        let kv = KeyValueClient(makeClient([follower, bystander, leader]))
        try await kv.put("k", value: "v")
        #expect(try await kv.get("k") == "v")
        #expect(follower.requests.count == 1)
        #expect(bystander.requests.isEmpty)
        #expect(leader.requests.count == 2)
        #expect(backend.contents == ["k": "v"])
        await kv.close()
        for node in [follower, bystander, leader] { try await node.stop() }
    }

    @Test("a node that never answers makes the client move on after the attempt timeout")
    func rotatesAfterAttemptTimeout() async throws {
        let silent = try await FakeNode(node: 1) { _ in .ignore }
        let leader = try await replicaNode(2, try KeyValueBackend())
        let kv = KeyValueClient(makeClient([silent, leader], attemptTimeout: .seconds(1)))
        let start = ContinuousClock.now
        try await kv.put("k", value: "v")
        #expect(ContinuousClock.now - start >= .seconds(1))
        #expect(try await kv.get("k") == "v")
        // Once each, unless the whole test process stalled for over a second (seen in full-suite
        // runs on two cores): then the answering node timed out too, and the client went round
        // again. Either way the silent node never answered and the leader did.
        #expect(silent.requests.count >= 1)
        #expect(leader.requests.count >= 2)
        await kv.close()
        try await silent.stop()
        try await leader.stop()
    }

    @Test(
        "a command whose first reply was lost is retried with the same id and sequence and applied once",
        arguments: [Reply.ignore, .closeConnection]
    )
    func lostReplyIsAppliedOnce(loss: Reply) async throws {
        let backend = try KeyValueBackend()
        let firstCommand = Mutex(true)
        let node = try await FakeNode(node: 1) { request in
            // The replica applies the command either way; only its answer is lost.
            let response = backend.handle(request)
            guard case .command = request, firstCommand.withLock({ $0 }) else { return .respond(response) }
            firstCommand.withLock { $0 = false }
            return loss
        }
        let kv = KeyValueClient(makeClient([node], attemptTimeout: .milliseconds(200)))
        try await kv.append("k", value: "x")
        try await kv.append("k", value: "y")
        #expect(try await kv.get("k") == "xy")
        #expect(backend.contents == ["k": "xy"])
        let sent = commands(node.requests)
        // The first command was sent again with its number; on a loaded machine a slow answer
        // may be retried once more, which the backend's session table absorbs just the same.
        #expect(sent.prefix(2).map(\.sequence) == [1, 1])
        #expect(sent.map(\.sequence) == sent.map(\.sequence).sorted())
        #expect(Set(sent.map(\.sequence)) == [1, 2])
        #expect(Set(sent.map(\.clientID)) == [kv.raft.clientID])
        await kv.close()
        try await node.stop()
    }

    @Test("a deadline that passes with no answer throws unavailable", arguments: [false, true])
    func deadlineGivesUnavailable(refuseConnections: Bool) async throws {
        let node = try await FakeNode(node: 1) { _ in .ignore }
        var endpoint = node.endpoint
        if refuseConnections {
            // Nothing listens on the port once the node stops.
            try await node.stop()
        }
        endpoint.node = NodeID(1)
        let client = RaftClient(
            endpoints: [endpoint],
            group: "kv",
            configuration: RaftClient.Configuration(attemptTimeout: .milliseconds(100))
        )
        let start = ContinuousClock.now
        let error = await #expect(throws: RaftClientError.self) {
            try await client.submit(
                // Long enough for the request to reach the node on a loaded machine.
                KeyValueStore.Command.put(key: "k", value: "v").encoded(),
                deadline: start + .seconds(2)
            )
        }
        #expect(error?.code == .unavailable)
        // Loose upper bound: other suites may keep the test process's threads busy.
        #expect(ContinuousClock.now - start >= .seconds(2))
        #expect(ContinuousClock.now - start < .seconds(30))
        await client.close()
        if !refuseConnections {
            #expect(!node.requests.isEmpty)
            try await node.stop()
        }
    }

    @Test(
        "garbage from a node closes that connection; the client reconnects and succeeds",
        arguments: [
            // An unknown frame type.
            [0, 0, 0, 2, 0x7F, 0],
            // A length prefix over the limit.
            [0xFF, 0xFF, 0xFF, 0xFF, 0x21],
            // A well-formed response frame whose payload is not a ClientResponse.
            [0, 0, 0, 14, 0x21, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xEE],
        ] as [[UInt8]]
    )
    func garbageClosesConnection(garbage: [UInt8]) async throws {
        let backend = try KeyValueBackend()
        let first = Mutex(true)
        let node = try await FakeNode(node: 1) { request in
            let isFirst = first.withLock { value in
                defer { value = false }
                return value
            }
            return isFirst ? .garbage(garbage) : .respond(backend.handle(request))
        }
        // Longer than the test's time limit: only hanging up on the garbage, not a timeout
        // (after which the client would keep the connection), gets the client to retry.
        let kv = KeyValueClient(makeClient([node], attemptTimeout: .seconds(120), timeout: nil))
        #expect(try await kv.get("k") == nil)
        #expect(await node.next { $0 == .disconnected } == .disconnected)
        #expect(node.connectionCount == 2)
        await kv.close()
        try await node.stop()
    }

    @Test(
        "final answers are thrown at once, not retried",
        arguments: [
            (ClientResponse.error(ReplicaError(.sessionExpired, "gone")), RaftClientError.Code.sessionExpired),
            (.error(ReplicaError(.invalidRequest, "bad")), .invalidRequest),
            (.unknownGroup("no such group"), .unknownGroup),
        ]
    )
    func finalAnswers(response: ClientResponse, code: RaftClientError.Code) async throws {
        let node = try await FakeNode(node: 1) { _ in .respond(response) }
        let client = makeClient([node])
        let error = await #expect(throws: RaftClientError.self) {
            try await client.submit([0])
        }
        #expect(error?.code == code)
        #expect(node.requests.count == 1)
        await client.close()
        try await node.stop()
    }

    @Test("a final answer becomes the client error of its kind; every client error has its HTTP status")
    func finalAnswerErrors() {
        let expired = RaftClientError(final: ReplicaError(.sessionExpired, "gone"))
        #expect(expired.code == .sessionExpired && expired.message == "gone")
        #expect(RaftClientError(final: ReplicaError(.invalidRequest, "bad")).code == .invalidRequest)
        let statuses: [(RaftClientError.Code, Int)] = [
            (.unavailable, 503), (.closed, 503), (.sessionExpired, 409), (.invalidRequest, 400),
            (.unknownGroup, 404), (.invalidResponse, 502),
        ]
        for (code, status) in statuses {
            #expect(code.httpStatus == status, "\(code)")
        }
    }

    @Test("leaderChanged and notLeader without a hint are retried until the node answers")
    func retryableAnswersAreRetried() async throws {
        let backend = try KeyValueBackend()
        let refusals = Mutex([
            ReplicaError(.leaderChanged, "entry replaced"),
            ReplicaError(.notLeader, "election in progress"),
            ReplicaError(.overloaded, "busy"),
        ])
        let node = try await FakeNode(node: 1) { request in
            if let refusal = refusals.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                return .respond(.error(refusal))
            }
            return .respond(backend.handle(request))
        }
        let kv = KeyValueClient(makeClient([node]))
        try await kv.put("k", value: "v")
        #expect(backend.contents == ["k": "v"])
        let sent = commands(node.requests)
        #expect(sent.count == 4)
        #expect(Set(sent.map(\.sequence)) == [1])
        await kv.close()
        try await node.stop()
    }

    @Test("concurrent commands on one client run in call order with consecutive sequence numbers")
    func concurrentCommandsSerialize() async throws {
        let backend = try KeyValueBackend()
        let node = try await replicaNode(1, backend)
        let kv = KeyValueClient(makeClient([node]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask { try await kv.append("k", value: "\(index % 10)") }
            }
            try await group.waitForAll()
        }
        #expect(backend.contents["k"]?.count == 8)
        #expect(commands(node.requests).map(\.sequence).sorted() == Array(1...8))
        #expect(commands(node.requests).map(\.sequence) == Array(1...8))
        await kv.close()
        try await node.stop()
    }

    @Test("a client released without close() closes its connections")
    func releasedClientDisconnects() async throws {
        let node = try await replicaNode(1, try KeyValueBackend())
        do {
            let kv = KeyValueClient(makeClient([node]))
            try await kv.put("k", value: "v")
        }
        #expect(await node.next { $0 == .disconnected } == .disconnected)
        try await node.stop()
    }

    @Test("a closed client refuses calls")
    func closedClientRefuses() async throws {
        let node = try await replicaNode(1, try KeyValueBackend())
        let kv = KeyValueClient(makeClient([node]))
        try await kv.put("k", value: "v")
        await kv.close()
        let error = await #expect(throws: RaftClientError.self) { try await kv.get("k") }
        #expect(error?.code == .closed)
        try await node.stop()
    }

    @Test(
        "forwarding with a callback goes to the node that answered last; when it stops leading, the same command finds the new leader and is applied once"
    )
    func forwardWithCallback() async throws {
        let backend = try KeyValueBackend()
        let leader = Mutex<UInt64>(1)
        func node(_ id: UInt64, other: UInt64) async throws -> FakeNode {
            try await FakeNode(node: id) { request in
                guard leader.withLock({ $0 }) == id else {
                    return .respond(.error(ReplicaError(.notLeader, "not the leader", leaderHint: NodeID(other))))
                }
                return .respond(backend.handle(request))
            }
        }
        let first = try await node(1, other: 2)
        let second = try await node(2, other: 1)
        let client = makeClient([first, second])
        func forward(_ command: KeyValueStore.Command, sequence: UInt64) async throws -> [UInt8] {
            try await forwarded(command, clientID: 7, sequence: sequence, through: client)
        }
        _ = try await forward(.put(key: "k", value: "a"), sequence: 1)
        _ = try await forward(.append(key: "k", value: "b"), sequence: 2)
        #expect(first.requests.count == 2)
        #expect(second.requests.isEmpty)

        leader.withLock { $0 = 2 }
        _ = try await forward(.append(key: "k", value: "c"), sequence: 3)
        // Refused by the old leader, then sent to the one it named, with its number.
        #expect(commands(first.requests).map(\.sequence) == [1, 2, 3])
        #expect(commands(second.requests).map(\.sequence) == [3])
        _ = try await forward(.append(key: "k", value: "d"), sequence: 4)
        #expect(first.requests.count == 3)
        #expect(commands(second.requests).map(\.sequence) == [3, 4])
        #expect(backend.contents == ["k": "abcd"])

        // A final answer is passed on as is.
        let expired = ClientRequest.command(Replica.ClientCommand(clientID: 7, sequence: 1, command: [0xFF]))
        let error = await #expect(throws: RaftClientError.self) { try await forwarded(expired, through: client) }
        #expect(error?.code == .invalidRequest || error?.code == .sessionExpired)
        await client.close()
        try await first.stop()
        try await second.stop()
    }

    @Test("a forwarded command whose connection breaks before the answer is sent again on a new one and applied once")
    func forwardAfterBrokenConnection() async throws {
        let backend = try KeyValueBackend()
        let answered = Mutex(0)
        let node = try await FakeNode(node: 1) { request in
            let response = backend.handle(request)
            let count = answered.withLock { count in
                defer { count += 1 }
                return count
            }
            // The second request is applied, and then the connection drops without its answer.
            return count == 1 ? .closeConnection : .respond(response)
        }
        let client = makeClient([node])
        func forward(_ command: KeyValueStore.Command, sequence: UInt64) async throws -> [UInt8] {
            try await forwarded(command, clientID: 9, sequence: sequence, through: client)
        }
        _ = try await forward(.put(key: "k", value: "a"), sequence: 1)
        _ = try await forward(.append(key: "k", value: "b"), sequence: 2)
        #expect(commands(node.requests).map(\.sequence) == [1, 2, 2])
        #expect(node.connectionCount == 2)
        #expect(backend.contents == ["k": "ab"])
        await client.close()
        try await node.stop()
    }
}
