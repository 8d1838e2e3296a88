import RaftCore

/// A few engines wired together synchronously: every output is "persisted" at once and its
/// messages delivered in order, unless the receiver is cut off.
struct EngineHarness {
    var engines: [NodeID: RaftEngine] = [:]
    var isolated: Set<NodeID> = []
    /// Every message delivered so far, in order.
    var delivered: [Message] = []
    /// Every read state each engine released so far, in order.
    var released: [NodeID: [ReadState]] = [:]

    init(nodes: Int, configure: (inout RaftConfiguration) -> Void = { _ in }) {
        let ids = (1...nodes).map { NodeID(UInt64($0)) }
        for id in ids {
            var configuration = RaftConfiguration(id: id, voters: ids)
            configuration.electionTimeoutTicks = 10
            configuration.heartbeatTicks = 1
            configure(&configuration)
            engines[id] = RaftEngine(configuration: configuration)
        }
    }

    /// Takes one output from `id`, marks it persisted and returns it.
    mutating func output(of id: NodeID) -> RaftOutput {
        var engine = engines[id]!
        let output = engine.takeOutput()
        engine.didPersist(output)
        engines[id] = engine
        released[id, default: []].append(contentsOf: output.readStates)
        return output
    }

    /// Delivers messages until the cluster is quiet.
    mutating func settle() {
        var queue: [Message] = []
        repeat {
            for id in engines.keys.sorted() {
                while engines[id]!.hasOutput {
                    queue.append(contentsOf: output(of: id).messages)
                }
            }
            let batch = queue
            queue = []
            for message in batch where !isolated.contains(message.to) && !isolated.contains(message.from) {
                delivered.append(message)
                engines[message.to]!.step(message)
            }
        } while engines.values.contains(where: \.hasOutput)
    }

    /// Ticks every node through its first election timeout, cut off from the others: nodes
    /// with read leases vote only after that (they may have granted a lease before a restart).
    mutating func boot() {
        let everyone = isolated
        isolated = Set(engines.keys)
        for id in engines.keys.sorted() {
            for _ in 0..<engines[id]!.configuration.electionTimeoutTicks { engines[id]!.tick() }
        }
        settle()
        isolated = everyone
    }

    /// Ticks `id` until it leads (the others never time out first: they are not ticked).
    mutating func elect(_ id: NodeID) {
        for _ in 0..<100 where engines[id]!.role != .leader {
            engines[id]!.tick()
            settle()
        }
        precondition(engines[id]!.role == .leader, "\(id) did not become leader")
        settle()
    }

    subscript(_ raw: UInt64) -> RaftEngine {
        get { engines[NodeID(raw)]! }
        set { engines[NodeID(raw)] = newValue }
    }
}

let n1 = NodeID(1)
let n2 = NodeID(2)
let n3 = NodeID(3)
