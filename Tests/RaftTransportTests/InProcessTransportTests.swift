import RaftCore
import RaftTransport
import Testing

@Suite("In-process transport")
struct InProcessTransportTests {
    @Test("three nodes exchange messages in two groups, in order")
    func exchange() async {
        let hub = InProcessTransportHub(groups: ["kv", "q"])
        let nodes = (1...3).map { hub.makeTransport(for: NodeID(UInt64($0))) }
        let inboxes = nodes.map { node in [node.inbox(for: GroupID(0)), node.inbox(for: GroupID(1))] }
        for sender in nodes {
            for group in [GroupID(0), GroupID(1)] {
                let messages = nodes.filter { $0.localNode != sender.localNode }.flatMap { receiver in
                    (1...3).map { round in
                        Message(
                            from: sender.localNode,
                            to: receiver.localNode,
                            term: Term(round),
                            payload: .heartbeat(Heartbeat(commit: LogIndex(group.rawValue), readRound: UInt64(round)))
                        )
                    }
                }
                sender.send(messages, group: group)
            }
        }
        for (index, node) in nodes.enumerated() {
            for group in [0, 1] {
                var received: [Message] = []
                for await message in inboxes[index][group] {
                    received.append(message)
                    if received.count == 6 { break }
                }
                #expect(received.allSatisfy { $0.to == node.localNode })
                #expect(
                    received.allSatisfy {
                        $0.payload == .heartbeat(Heartbeat(commit: LogIndex(group), readRound: $0.term))
                    }
                )
                // Per sender, terms arrive in the order sent.
                for sender in Set(received.map(\.from)) {
                    #expect(received.filter { $0.from == sender }.map(\.term) == [1, 2, 3])
                }
            }
        }
        #expect(nodes[0].statistics().messagesSent == 12)
        #expect(nodes[0].statistics().messagesReceived == 12)
    }

    @Test("cut links drop messages until healed")
    func partition() async {
        let hub = InProcessTransportHub(groups: ["kv"])
        let a = hub.makeTransport(for: NodeID(1))
        let b = hub.makeTransport(for: NodeID(2))
        var inbox = b.inbox(for: GroupID(0)).makeAsyncIterator()

        hub.isolate(NodeID(2))
        a.send([ping(from: 1, to: 2, term: 1)], group: GroupID(0))
        #expect(a.statistics().outboundDropped == 1)
        #expect(a.statistics().outboundDroppedByPeer[NodeID(2)] == 1)

        hub.heal()
        a.send([ping(from: 1, to: 2, term: 2)], group: GroupID(0))
        #expect(await inbox.next()?.term == 2)

        hub.disconnect(NodeID(1), NodeID(2))
        a.send([ping(from: 1, to: 2, term: 3)], group: GroupID(0))
        hub.reconnect(NodeID(1), NodeID(2))
        a.send([ping(from: 1, to: 2, term: 4)], group: GroupID(0))
        #expect(await inbox.next()?.term == 4)
        #expect(a.statistics().outboundDropped == 2)
    }

    @Test("messages to self, to unknown nodes, to groups without inbox, and too large")
    func edges() async {
        let hub = InProcessTransportHub(groups: ["kv"], maxFrameSize: 1024)
        let a = hub.makeTransport(for: NodeID(1))
        let b = hub.makeTransport(for: NodeID(2))
        var own = a.inbox(for: GroupID(0)).makeAsyncIterator()
        a.send([ping(from: 1, to: 1, term: 5)], group: GroupID(0))
        #expect(await own.next()?.term == 5)

        a.send([ping(from: 1, to: 9)], group: GroupID(0))
        let big = AppendRequest(
            prevLogIndex: 0,
            prevLogTerm: 0,
            entries: [Entry(term: 1, index: 1, data: Array(repeating: 1, count: 2048))],
            leaderCommit: 0
        )
        a.send([message(.append(big), from: 1, to: 2)], group: GroupID(0))
        #expect(a.statistics().outboundDropped == 2)

        // b has no inbox for group 0 yet: delivered by the hub, dropped by b.
        a.send([ping(from: 1, to: 2)], group: GroupID(0))
        #expect(b.statistics().inboundDropped == 1)
    }

    @Test("a node's inboxes finish when it shuts down, and a restarted node is reachable")
    func restart() async {
        let hub = InProcessTransportHub(groups: ["kv"])
        let a = hub.makeTransport(for: NodeID(1))
        let b = hub.makeTransport(for: NodeID(2))
        let oldInbox = b.inbox(for: GroupID(0))
        b.shutdown()
        for await _ in oldInbox {
            Issue.record("finished inbox yielded a message")
        }
        let restarted = hub.makeTransport(for: NodeID(2))
        var inbox = restarted.inbox(for: GroupID(0)).makeAsyncIterator()
        a.send([ping(from: 1, to: 2, term: 8)], group: GroupID(0))
        #expect(await inbox.next()?.term == 8)
    }

    @Test("a slow consumer loses the oldest messages, counted")
    func inboxOverflow() async {
        let hub = InProcessTransportHub(groups: ["kv"], inboxCapacity: 2)
        let a = hub.makeTransport(for: NodeID(1))
        let b = hub.makeTransport(for: NodeID(2))
        var inbox = b.inbox(for: GroupID(0)).makeAsyncIterator()
        a.send((1...5).map { ping(from: 1, to: 2, term: Term($0)) }, group: GroupID(0))
        #expect(await inbox.next()?.term == 4)
        #expect(await inbox.next()?.term == 5)
        #expect(b.statistics().inboundDropped == 3)
    }
}
