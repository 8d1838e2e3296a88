import RaftCore

/// The simulated network between nodes, as in the classic lab's test harness.
///
/// - reliable: every message arrives after a short delay (0.1-1 ms);
/// - unreliable: every message is delayed 0-26 ms, 10% of requests are lost, and 10% of
///   replies are lost (after the receiver acted on the request);
/// - long reordering: 2/3 of replies are delayed a further 200-2199 ms;
/// - links: a node can be disconnected from everyone, and nodes can be split into
///   partitions; a message crosses only a link that is up both when it is sent and when it
///   would arrive.
public struct NetworkModel: Sendable {
    public var unreliable = false
    public var longReordering = false
    /// Extra loss probability applied to every message (randomized runs), 0...1.
    public var extraLoss: Double = 0

    public init() {}

    /// The delivery delay for `message`, or nil when the network loses it.
    func delay(for message: Message, using random: inout SeededGenerator) -> VirtualTime? {
        var delay: VirtualTime
        if unreliable {
            delay = VirtualTime(random.next() % 26_001)
            let lossRoll = Double(random.next() % 1_000) / 1_000
            if lossRoll < 0.1 { return nil }
        } else {
            delay = 100 + VirtualTime(random.next() % 900)
        }
        if extraLoss > 0, Double(random.next() % 1_000) / 1_000 < extraLoss {
            return nil
        }
        if longReordering && message.isResponse && random.next() % 3 != 0 {
            delay += .milliseconds(200 + random.next() % 2_000)
        }
        return delay
    }
}
