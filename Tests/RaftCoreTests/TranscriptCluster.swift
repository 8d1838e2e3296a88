import RaftCore

/// The engines of one transcript and the network between them, driven one command at a time
/// (see `Transcript.swift` for the file format and `testdata/` for the transcripts).
///
/// Every command ends by handling the output of every engine that has some, the way a driver
/// does (``RaftOutput``): the output is taken and printed, committed entries are applied,
/// messages go to the network, and the batch is persisted (written to the node's storage and
/// acknowledged with `didPersist`) at once, or, for a node with manual persistence, only when
/// `persist` says so; meanwhile the batch's messages that may not be sent before persisting
/// wait. Messages stay on the network until `deliver` or `stabilize` hands them over.
///
/// Commands (nodes are written `n1` or `1`; options are `key=value`):
/// - `cluster voters=1,2,3 [election=10] [heartbeat=1] [prevote=true] [check-quorum=true]
///   [max-msg-bytes=N] [manual-persist=1,2] [quiesce=N]`: fresh engines (random seed 0);
/// - `tick n1 [n2 ...] [times=N]`: ticks the nodes, handling output after every round;
/// - `campaign n1`: ticks `n1` until its election timeout runs out and it asks for (pre-)votes;
/// - `elect n1`: `campaign n1`, then `stabilize`; prints only the resulting `status`;
/// - `propose n1 cmd [cmd ...]`: proposes the commands as one batch;
/// - `read n1 id=R`: asks `n1` for a read point;
/// - `wake n1 [n2 ...]`: the driver wakes quiescent nodes;
/// - `liveness n1 [alive=n2,n3]`: `n1`'s driver reports the peer nodes that answer now;
/// - `transfer n1 to=n2`: asks `n1` to hand its leadership to `n2`;
/// - `add-node n4`: starts a node that joins: it knows no members until the log tells it;
/// - `membership n1 [voters=4,5] [learners=6] [remove=2]`: `n1` proposes one membership change
///   (no option: leave the joint configuration);
/// - `members [n1 ...]`: prints each node's membership (and `removed` once it knows);
/// - `compact n1`: `n1` snapshots through its applied index (data: the index as text);
/// - `deliver [from=n1] [to=n2] [type=append] [drop=true]`: delivers (or drops) the messages
///   on the network that match, in the order they were sent, then handles the output;
/// - `stabilize`: delivers until the network is empty;
/// - `persist n1`: makes a manual node's batches durable and calls `didPersist` for each;
/// - `restart n1`: the node crashes (losing what it had not persisted) and restarts from its
///   storage;
/// - `partition n1 | n2 n3`, `isolate n1`, `heal`: messages between groups are dropped;
/// - `status [n1 ...]`, `log [n1 ...]`, `network`: prints state.
///
/// Output lines, for each batch in the order a driver handles it:
/// - `n1 became <role> term=T [leader=n2]`: the soft state changed;
/// - `n1 hardState term=T vote=V commit=C`, `n1 snapshot I@tT voters=... size=B`,
///   `n1 entries I@tT ..., ...`, `n1 mustSync`: what the batch asks to persist (an entry is
///   written `index@tterm` followed by `noop` or its command);
/// - `n1 apply ...`, `n1 readState id=R index=I`, `n1 failedReads R,...`: committed entries to
///   apply, reads to serve or fail;
/// - `n1 -> n2 <type> term=T <fields>`: a message sent, with its payload's fields; marked
///   `(after persisting)` while it waits for a manual node's `persist`, `(dropped: partitioned)`
///   when a partition swallows it;
/// - `n1 persisted [through I@tT]`: the batch is durable and `didPersist` was called; the messages
///   that may not be sent before persisting follow this line.
///
/// `deliver` prints `n2 <- n1 <type> ...` for each message it hands over and `drop n1 -> n2 ...`
/// for each it drops.
struct TranscriptCluster {
    struct Node {
        var engine: RaftEngine
        /// What the node made durable, from which it restarts.
        var storage = PersistentState()
        /// Batches are durable only after `persist`.
        var manualPersist = false
        /// Batches taken but not yet durable, oldest first, each with the messages that wait
        /// for it.
        var unpersisted: [(output: RaftOutput, held: [Message])] = []
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private var nodes: [NodeID: Node] = [:]
    /// The `cluster` command's settings, for nodes added later.
    private var template = RaftConfiguration(id: NodeID(0), voters: [])
    private var ids: [NodeID] = []
    private var network: [Message] = []
    /// The partition group of each node; empty when the network is whole.
    private var groups: [NodeID: Int] = [:]
    /// Lines printed by the current command.
    private var lines: [String] = []
    /// Vote and pre-vote requests sent so far (`campaign` ticks until one goes out).
    private var campaignRequests = 0
    /// Broken engine contracts noticed while running the current command.
    private(set) var violations: [String] = []

    /// Runs one command and returns what it printed.
    mutating func run(_ command: TranscriptCommand) throws(Failure) -> [String] {
        lines = []
        violations = []
        switch command.name {
        case "cluster": try makeCluster(command)
        case "tick": try tick(command)
        case "campaign": try campaign(command)
        case "elect": try elect(command)
        case "propose": try propose(command)
        case "read": try read(command)
        case "wake": try wake(command)
        case "liveness": try liveness(command)
        case "transfer": try transfer(command)
        case "add-node": try addNode(command)
        case "membership": try proposeMembership(command)
        case "members": try members(command)
        case "compact": try compact(command)
        case "deliver": try deliver(command)
        case "stabilize": try stabilize()
        case "persist": try persist(command)
        case "restart": try restart(command)
        case "partition": try partition(command.positional)
        case "isolate": try isolate(command)
        case "heal": groups = [:]
        case "status": try status(command)
        case "log": try printLog(command)
        case "network": printNetwork()
        default: throw Failure(description: "unknown command '\(command.name)'")
        }
        return lines
    }

    // MARK: - Commands

    private mutating func makeCluster(_ command: TranscriptCommand) throws(Failure) {
        let voters = try command.nodes(option: "voters")
        guard !voters.isEmpty else { throw Failure(description: "cluster needs voters=...") }
        let manual = Set(try command.nodes(option: "manual-persist"))
        nodes = [:]
        ids = voters.sorted()
        network = []
        groups = [:]
        for id in voters {
            var configuration = RaftConfiguration(id: id, voters: voters)
            configuration.electionTimeoutTicks = try command.int("election", default: 10)
            configuration.heartbeatTicks = try command.int("heartbeat", default: 1)
            configuration.preVote = try command.bool("prevote", default: true)
            configuration.checkQuorum = try command.bool("check-quorum", default: true)
            configuration.maxMessageBytes = try command.int("max-msg-bytes", default: configuration.maxMessageBytes)
            configuration.quiesceAfterTicks = try command.int("quiesce", default: 0)
            configuration.coalescesAppends = try command.bool("coalesce", default: true)
            guard configuration.heartbeatTicks >= 1, configuration.electionTimeoutTicks > configuration.heartbeatTicks
            else {
                throw Failure(description: "needs 1 <= heartbeat < election")
            }
            nodes[id] = Node(engine: RaftEngine(configuration: configuration), manualPersist: manual.contains(id))
            template = configuration
        }
    }

    private mutating func addNode(_ command: TranscriptCommand) throws(Failure) {
        let list = try command.positionalNodes()
        guard list.count == 1, let id = list.first, nodes[id] == nil else {
            throw Failure(description: "add-node takes one new node")
        }
        var configuration = template
        configuration.id = id
        configuration.voters = []
        nodes[id] = Node(engine: RaftEngine(configuration: configuration))
        ids = (ids + [id]).sorted()
        if !groups.isEmpty { groups[id] = (groups.values.max() ?? 0) + 1 }
        lines.append(Render.status(nodes[id]!.engine))
    }

    private mutating func proposeMembership(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let changes =
            try command.nodes(option: "voters").map(MembershipChange.addVoter)
            + command.nodes(option: "learners").map(MembershipChange.addLearner)
            + command.nodes(option: "remove").map(MembershipChange.remove)
        switch nodes[id]!.engine.proposeMembershipChange(changes, context: []) {
        case .accepted(let index, let term): lines.append("\(id) accepted index=\(index) term=\(term)")
        case .notLeader(let hint): lines.append("\(id) notLeader leaderHint=\(Render.name(hint))")
        case .changeInProgress(let index): lines.append("\(id) changeInProgress index=\(index)")
        case .transferringLeadership(let target): lines.append("\(id) transferringLeadership target=\(target)")
        case .rejected(let reason): lines.append("\(id) rejected: \(reason)")
        }
        handleOutputs()
    }

    private mutating func members(_ command: TranscriptCommand) throws(Failure) {
        for id in try selectedNodes(command) {
            let engine = nodes[id]!.engine
            lines.append(
                "\(id) members \(Render.membership(engine.membership)) at=\(engine.membershipIndex)"
                    + (engine.isRemoved ? " removed" : "")
            )
        }
    }

    private mutating func compact(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let applied = nodes[id]!.engine.appliedIndex
        let snapshot: Snapshot
        do {
            snapshot = try nodes[id]!.engine.compact(through: applied, snapshotData: Array("\(applied)".utf8))
        } catch {
            throw Failure(description: "compact: \(error)")
        }
        nodes[id]!.storage.snapshot = snapshot
        nodes[id]!.storage.entries.removeAll { $0.index <= applied }
        lines.append("\(id) compacted \(Render.membership(snapshot.metadata.membership)) through=\(applied)")
    }

    private mutating func tick(_ command: TranscriptCommand) throws(Failure) {
        let targets = try knownNodes(command.positionalNodes())
        let times = try command.int("times", default: 1)
        for _ in 0..<times {
            for id in targets { nodes[id]!.engine.tick() }
            handleOutputs()
        }
    }

    private mutating func wake(_ command: TranscriptCommand) throws(Failure) {
        for id in try knownNodes(command.positionalNodes()) { nodes[id]!.engine.wake() }
        handleOutputs()
    }

    private mutating func liveness(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        nodes[id]!.engine.livenessChanged(alive: Set(try command.nodes(option: "alive")))
        handleOutputs()
    }

    private mutating func read(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let readID = UInt64(try command.int("id", default: 1))
        if case .notLeader(let hint) = nodes[id]!.engine.requestRead(id: readID) {
            lines.append("\(id) read refused: not leader (hint \(Render.name(hint)))")
        }
        handleOutputs()
    }

    private mutating func campaign(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let limit = 2 * nodes[id]!.engine.configuration.electionTimeoutTicks
        for _ in 0..<limit {
            let requests = campaignRequests
            nodes[id]!.engine.tick()
            handleOutputs()
            if campaignRequests > requests || nodes[id]!.engine.role == .leader { return }
        }
        throw Failure(description: "\(id) did not campaign within \(limit) ticks")
    }

    private mutating func elect(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let printed = lines
        try campaign(command)
        try stabilize()
        guard nodes[id]!.engine.role == .leader else { throw Failure(description: "\(id) was not elected") }
        lines = printed + ids.map { Render.status(nodes[$0]!.engine) }
    }

    private mutating func propose(_ command: TranscriptCommand) throws(Failure) {
        guard let first = command.positional.first else { throw Failure(description: "propose needs a node") }
        let id = try knownNode(Self.node(first))
        let commands = command.positional.dropFirst().map { Array($0.utf8) }
        switch nodes[id]!.engine.propose(batch: commands) {
        case .accepted(let index, let term): lines.append("\(id) accepted index=\(index) term=\(term)")
        case .notLeader(let hint): lines.append("\(id) notLeader leaderHint=\(Render.name(hint))")
        case .overloaded: lines.append("\(id) overloaded")
        case .transferringLeadership(let target): lines.append("\(id) transferringLeadership target=\(target)")
        }
        handleOutputs()
    }

    private mutating func transfer(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        guard let target = try command.node(option: "to") else { throw Failure(description: "transfer needs to=") }
        switch nodes[id]!.engine.transferLeadership(to: target) {
        case .started: lines.append("\(id) transfer started target=\(target)")
        case .notLeader(let hint): lines.append("\(id) notLeader leaderHint=\(Render.name(hint))")
        case .invalidTarget: lines.append("\(id) invalidTarget")
        }
        handleOutputs()
    }

    private mutating func deliver(_ command: TranscriptCommand) throws(Failure) {
        let from = try command.node(option: "from")
        let to = try command.node(option: "to")
        let type = command.options["type"]
        let drop = try command.bool("drop", default: false)
        var remaining: [Message] = []
        var selected: [Message] = []
        for message in network {
            let matches =
                (from == nil || message.from == from) && (to == nil || message.to == to)
                && (type == nil || Render.payloadName(message.payload) == type)
            if matches { selected.append(message) } else { remaining.append(message) }
        }
        network = remaining
        deliver(selected, drop: drop)
    }

    private mutating func deliver(_ messages: [Message], drop: Bool) {
        for message in messages {
            if drop {
                lines.append("drop \(Render.message(message))")
            } else if isCut(message) {
                lines.append("drop \(Render.message(message)) (partitioned)")
            } else {
                lines.append("\(message.to) <- \(message.from) \(Render.payload(message))")
                nodes[message.to]!.engine.step(message)
            }
        }
        handleOutputs()
    }

    private mutating func stabilize() throws(Failure) {
        for _ in 0..<100 {
            if network.isEmpty { return }
            let messages = network
            network = []
            deliver(messages, drop: false)
        }
        throw Failure(description: "the network did not settle in 100 rounds")
    }

    private mutating func persist(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        let batches = nodes[id]!.unpersisted
        nodes[id]!.unpersisted = []
        for batch in batches {
            persistBatch(id, batch.output)
            for message in batch.held { send(message) }
        }
        handleOutputs()
    }

    private mutating func restart(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        var node = nodes[id]!
        let lost = node.unpersisted.count
        node.engine = RaftEngine(configuration: node.engine.configuration, persistentState: node.storage)
        node.unpersisted = []
        nodes[id] = node
        lines.append("\(id) restarted (\(lost) batches lost)")
        lines.append(Render.status(node.engine))
        handleOutputs()
    }

    private mutating func partition(_ words: [String]) throws(Failure) {
        groups = [:]
        var group = 0
        for word in words {
            if word == "|" {
                group += 1
                continue
            }
            for part in word.split(separator: ",") {
                groups[try knownNode(Self.node(String(part)))] = group
            }
        }
        // Nodes not named form a group of their own.
        for id in ids where groups[id] == nil { groups[id] = group + 1 }
    }

    private mutating func isolate(_ command: TranscriptCommand) throws(Failure) {
        let id = try onlyNode(command)
        try partition([id.description, "|"] + ids.filter { $0 != id }.map(\.description))
    }

    private mutating func status(_ command: TranscriptCommand) throws(Failure) {
        for id in try selectedNodes(command) {
            lines.append(Render.status(nodes[id]!.engine))
        }
    }

    private mutating func printLog(_ command: TranscriptCommand) throws(Failure) {
        for id in try selectedNodes(command) {
            lines.append(Render.log(of: nodes[id]!.engine))
        }
    }

    private mutating func printNetwork() {
        lines.append(contentsOf: network.map(Render.message))
        if network.isEmpty { lines.append("no messages") }
    }

    // MARK: - The driver

    /// Takes and handles output until no engine has any.
    private mutating func handleOutputs() {
        var busy = true
        while busy {
            busy = false
            for id in ids {
                let hadOutput = nodes[id]!.engine.hasOutput
                let output = nodes[id]!.engine.takeOutput()
                if output.isEmpty {
                    if hadOutput { violations.append("\(id): hasOutput was true but takeOutput() returned nothing") }
                    continue
                }
                if !hadOutput { violations.append("\(id): hasOutput was false but takeOutput() returned work") }
                busy = true
                handle(output, of: id)
            }
        }
    }

    private mutating func handle(_ output: RaftOutput, of id: NodeID) {
        lines.append(contentsOf: Render.output(output, of: id))
        let needsPersisting = output.snapshot != nil || !output.entries.isEmpty || output.hardState != nil
        // With manual persistence, a batch waits behind the earlier ones that are not durable.
        let waits = nodes[id]!.manualPersist && (needsPersisting || !nodes[id]!.unpersisted.isEmpty)
        var held: [Message] = []
        for message in output.messages {
            switch message.payload {
            case .preVote, .vote: campaignRequests += 1
            default: break
            }
            if message.mayBeSentBeforePersisting || !(needsPersisting || waits) {
                send(message)
            } else {
                held.append(message)
            }
        }
        if waits {
            lines.append(contentsOf: held.map { "\(Render.message($0)) (after persisting)" })
            nodes[id]!.unpersisted.append((output, held))
            return
        }
        if needsPersisting { persistBatch(id, output) }
        for message in held { send(message) }
    }

    /// Puts a message on the network, or drops it at once when the partition cuts it off.
    private mutating func send(_ message: Message) {
        if isCut(message) {
            lines.append("\(Render.message(message)) (dropped: partitioned)")
        } else {
            lines.append(Render.message(message))
            network.append(message)
        }
    }

    /// Writes a batch to the node's storage, then tells the engine it is durable: prints
    /// `persisted`, or `persisted through` the batch's last entry.
    private mutating func persistBatch(_ id: NodeID, _ output: RaftOutput) {
        var storage = nodes[id]!.storage
        if let snapshot = output.snapshot {
            storage.snapshot = snapshot
            storage.entries = []
        }
        if let first = output.entries.first {
            storage.entries.removeAll { $0.index >= first.index }
            storage.entries.append(contentsOf: output.entries)
        }
        if let hardState = output.hardState {
            storage.hardState = hardState
        }
        nodes[id]!.storage = storage
        nodes[id]!.engine.didPersist(output)
        if let last = output.entries.last {
            lines.append("\(id) persisted through \(Render.position(last.index, last.term))")
        } else {
            lines.append("\(id) persisted")
        }
    }

    private func isCut(_ message: Message) -> Bool {
        !groups.isEmpty && groups[message.from] != groups[message.to]
    }

    // MARK: - Arguments

    static func node(_ word: String) throws(Failure) -> NodeID {
        let digits = word.hasPrefix("n") ? word.dropFirst() : word[...]
        guard let raw = UInt64(digits) else { throw Failure(description: "'\(word)' is not a node (n1 or 1)") }
        return NodeID(raw)
    }

    private func knownNode(_ id: NodeID?) throws(Failure) -> NodeID {
        guard let id, nodes[id] != nil else { throw Failure(description: "no such node") }
        return id
    }

    private func knownNodes(_ list: [NodeID]) throws(Failure) -> [NodeID] {
        for id in list where nodes[id] == nil {
            throw Failure(description: "no node \(id)")
        }
        return list
    }

    private func onlyNode(_ command: TranscriptCommand) throws(Failure) -> NodeID {
        let list = try command.positionalNodes()
        guard list.count == 1 else { throw Failure(description: "\(command.name) takes one node") }
        return try knownNode(list[0])
    }

    private func selectedNodes(_ command: TranscriptCommand) throws(Failure) -> [NodeID] {
        let list = try command.positionalNodes()
        return list.isEmpty ? ids : try knownNodes(list)
    }
}

/// One command line of a transcript: a name, positional words and `key=value` options.
struct TranscriptCommand {
    var name: String
    var positional: [String] = []
    var options: [String: String] = [:]

    init(parsing line: String) {
        let words = line.split(separator: " ").map(String.init)
        name = words.first ?? ""
        for word in words.dropFirst() {
            if let equals = word.firstIndex(of: "=") {
                options[String(word[..<equals])] = String(word[word.index(after: equals)...])
            } else {
                positional.append(word)
            }
        }
    }

    func int(_ key: String, default value: Int) throws(TranscriptCluster.Failure) -> Int {
        guard let text = options[key] else { return value }
        guard let number = Int(text) else { throw .init(description: "\(key)=\(text) is not a number") }
        return number
    }

    func bool(_ key: String, default value: Bool) throws(TranscriptCluster.Failure) -> Bool {
        switch options[key] {
        case nil: return value
        case "true", "1": return true
        case "false", "0": return false
        case let text?: throw .init(description: "\(key)=\(text) is not true or false")
        }
    }

    func node(option key: String) throws(TranscriptCluster.Failure) -> NodeID? {
        guard let text = options[key] else { return nil }
        return try TranscriptCluster.node(text)
    }

    func nodes(option key: String) throws(TranscriptCluster.Failure) -> [NodeID] {
        guard let text = options[key] else { return [] }
        var list: [NodeID] = []
        for word in text.split(separator: ",") { list.append(try TranscriptCluster.node(String(word))) }
        return list
    }

    func positionalNodes() throws(TranscriptCluster.Failure) -> [NodeID] {
        var list: [NodeID] = []
        for word in positional { list.append(try TranscriptCluster.node(word)) }
        return list
    }
}

/// The text form of engine state and output: one line per fact, deterministic.
enum Render {
    static func output(_ output: RaftOutput, of id: NodeID) -> [String] {
        var lines: [String] = []
        if let soft = output.softState {
            var line = "\(id) became \(soft.role) term=\(soft.term)"
            if let leader = soft.leader, soft.role != .leader { line += " leader=\(leader)" }
            lines.append(line)
        }
        if let hard = output.hardState {
            lines.append("\(id) hardState term=\(hard.term) vote=\(name(hard.vote)) commit=\(hard.commit)")
        }
        if let snapshot = output.snapshot {
            let metadata = snapshot.metadata
            lines.append(
                "\(id) snapshot \(position(metadata.index, metadata.term)) \(membership(metadata.membership)) "
                    + "size=\(snapshot.data.count)"
            )
        }
        if !output.entries.isEmpty {
            lines.append("\(id) entries \(entries(output.entries))")
        }
        if output.mustSync {
            lines.append("\(id) mustSync")
        }
        if !output.committedEntries.isEmpty {
            lines.append("\(id) apply \(entries(output.committedEntries))")
        }
        for read in output.readStates {
            lines.append("\(id) readState id=\(read.id) index=\(read.index)")
        }
        if !output.failedReads.isEmpty {
            lines.append("\(id) failedReads \(output.failedReads.map(String.init).joined(separator: ","))")
        }
        return lines
    }

    static func message(_ message: Message) -> String {
        "\(message.from) -> \(message.to) \(payload(message))"
    }

    static func payloadName(_ payload: Message.Payload) -> String {
        switch payload {
        case .preVote: "preVote"
        case .preVoteResponse: "preVoteResponse"
        case .vote: "vote"
        case .voteResponse: "voteResponse"
        case .append: "append"
        case .appendResponse: "appendResponse"
        case .heartbeat: "heartbeat"
        case .heartbeatResponse: "heartbeatResponse"
        case .installSnapshot: "installSnapshot"
        case .installSnapshotResponse: "installSnapshotResponse"
        case .timeoutNow: "timeoutNow"
        case .removed: "removed"
        }
    }

    static func payload(_ message: Message) -> String {
        let head = "\(payloadName(message.payload)) term=\(message.term)"
        switch message.payload {
        case .preVote(let request), .vote(let request):
            return "\(head) lastIndex=\(request.lastLogIndex) lastTerm=\(request.lastLogTerm)"
                + (request.transfer ? " transfer=true" : "")
        case .preVoteResponse(let response), .voteResponse(let response):
            return "\(head) granted=\(response.granted)"
        case .append(let request):
            return "\(head) prevIndex=\(request.prevLogIndex) prevTerm=\(request.prevLogTerm) "
                + "commit=\(request.leaderCommit) entries=[\(entries(request.entries))]"
        case .appendResponse(let response) where response.success:
            return "\(head) success=true matchIndex=\(response.matchIndex)"
        case .appendResponse(let response):
            return "\(head) success=false matchIndex=\(response.matchIndex) "
                + "conflictIndex=\(response.conflictIndex) conflictTerm=\(name(response.conflictTerm))"
        case .heartbeat(let heartbeat):
            return "\(head) commit=\(heartbeat.commit) readRound=\(heartbeat.readRound)"
                + (heartbeat.quiesce ? " quiesce" : "")
        case .heartbeatResponse(let response):
            return "\(head) readRound=\(response.readRound)"
        case .installSnapshot(let chunk):
            return "\(head) snapshot=\(position(chunk.metadata.index, chunk.metadata.term)) "
                + "offset=\(chunk.offset) totalSize=\(chunk.totalSize) bytes=\(chunk.data.count)"
        case .installSnapshotResponse(let response):
            return "\(head) snapshot=\(position(response.snapshotIndex, response.snapshotTerm)) "
                + "nextOffset=\(response.nextOffset) done=\(response.done)"
        case .timeoutNow, .removed:
            return head
        }
    }

    static func status(_ engine: RaftEngine) -> String {
        "\(engine.id) \(engine.role) term=\(engine.term) vote=\(name(engine.vote)) leader=\(name(engine.leader)) "
            + "commit=\(engine.commitIndex) applied=\(engine.appliedIndex) stable=\(engine.stableIndex) "
            + "last=\(position(engine.log.lastIndex, engine.log.lastTerm))"
            + (engine.isQuiescent ? " quiescent" : "")
    }

    static func log(of engine: RaftEngine) -> String {
        var parts: [String] = []
        if engine.log.snapshotIndex > 0 {
            parts.append("snapshot=\(position(engine.log.snapshotIndex, engine.log.snapshotTerm))")
        }
        parts.append(engine.log.entries.isEmpty ? "(empty)" : entries(engine.log.entries))
        return "\(engine.id) log \(parts.joined(separator: " "))"
    }

    /// `index@tterm`, e.g. `3@t2` for the entry at index 3 of term 2.
    static func position(_ index: LogIndex, _ term: Term) -> String {
        "\(index)@t\(term)"
    }

    static func entries(_ entries: some Collection<Entry>) -> String {
        entries.map(entry).joined(separator: ", ")
    }

    static func entry(_ entry: Entry) -> String {
        switch entry.kind {
        case .noop: return "\(position(entry.index, entry.term)) noop"
        case .command: return "\(position(entry.index, entry.term)) \(data(entry.data))"
        case .membership:
            let text = (try? Membership(decoding: entry.data)).map(membership) ?? "undecodable"
            return "\(position(entry.index, entry.term)) membership(\(text))"
        }
    }

    /// Printable ASCII in quotes, anything else in hex.
    static func data(_ bytes: [UInt8]) -> String {
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) && $0 != UInt8(ascii: "\"") }) {
            return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        }
        let digits = Array("0123456789abcdef")
        return "0x" + String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }

    static func name(_ id: NodeID?) -> String {
        id.map(\.description) ?? "none"
    }

    static func name(_ term: Term?) -> String {
        term.map(String.init) ?? "none"
    }

    /// `voters=n1,n2,n3`, then the joint, learner and removed sets when not empty.
    static func membership(_ membership: Membership) -> String {
        var copy = membership
        copy.context = []
        return copy.description
    }

    static func list(_ ids: [NodeID]) -> String {
        ids.map(\.description).joined(separator: ",")
    }
}
