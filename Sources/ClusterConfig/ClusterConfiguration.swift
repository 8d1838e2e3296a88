/// A validated cluster configuration, read from `cluster.yaml`.
///
/// ```yaml
/// cluster: demo
/// data: ./data                  # node N keeps its files in <data>/<N>
/// nodes:
///   - id: n1
///     peer: 127.0.0.1:7101
///     client: 127.0.0.1:7201
///     http: 127.0.0.1:7301
/// groups:
///   - name: kv
///     stateMachine: KeyValueStore
///     maxraftstate: 1048576
/// raft:
///   heartbeat: 50ms
///   electionTimeout: 500ms
/// storage:
///   fsync: always
/// ```
///
/// `cluster`, `nodes` and `groups` are required; every other key has the default documented on
/// its property. Durations are a decimal number with a unit (`100us`, `50ms`, `1.5s`, `2m`,
/// `1h`; also `ns`). Sizes are bytes (`1048576`) or a number with a binary (`64KiB`, `1MiB`,
/// `1GiB`, `1TiB`) or decimal (`1KB` = 1000, `1MB`, `1GB`, `1TB`) unit.
///
/// Loading checks everything it can without touching the network or the data directory and
/// throws a ``ConfigurationError`` for the first problem found.
public struct ClusterConfiguration: Sendable, Hashable {
    /// `cluster` (required): the cluster's name. Peers exchange it in their handshake, so two
    /// clusters on one network cannot be joined by mistake.
    public var name: String
    /// `data` (default `./data`): the directory under which every node keeps its files, in a
    /// sub-directory named after the node id. A relative path resolves against the directory of
    /// the configuration file (see ``load(path:)``); the value here is already resolved.
    public var dataDirectory: String
    /// `nodes` (required, at least one): the members of the cluster, in file order.
    public var nodes: [Node]
    /// `groups` (required, at least one): the Raft groups every node runs.
    public var groups: [Group]
    /// `raft`: timing and flow-control settings of the consensus engine.
    public var raft: Raft
    /// `storage`: how nodes write their log.
    public var storage: Storage
    /// `http`: settings of the HTTP/JSON API shared by all nodes (each node's `http` key is
    /// only its address).
    public var http: HTTP
    /// `requestTimeout` (default `5s`): how long a node lets a client request wait to be
    /// committed and applied, or a read to be confirmed, before it answers with a timeout.
    public var requestTimeout: Duration
    /// `plugins` (default none): state machines loaded at start-up from native libraries or
    /// WebAssembly modules; each registers under its own name, usable in `groups[].stateMachine`.
    public var plugins: [Plugin] = []
    /// `tls` (default none: every port is plaintext): certificates for every port, see ``TLS``.
    public var tls: TLS?
    /// `auth` (default none: every client may do everything): named clients and their roles,
    /// see ``Auth``.
    public var auth: Auth?

    /// Creates a configuration from values, for programs that build one without a file. No
    /// validation happens here; ``parse(yaml:source:baseDirectory:)`` is the validating path.
    public init(
        name: String,
        dataDirectory: String,
        nodes: [Node],
        groups: [Group],
        raft: Raft = Raft(),
        storage: Storage = Storage(),
        http: HTTP = HTTP(),
        requestTimeout: Duration = .seconds(5)
    ) {
        self.name = name
        self.dataDirectory = dataDirectory
        self.nodes = nodes
        self.groups = groups
        self.raft = raft
        self.storage = storage
        self.http = http
        self.requestTimeout = requestTimeout
    }

    /// The node with this id (`n1`), if any.
    public func node(id: String) -> Node? {
        nodes.first { $0.id == id }
    }

    /// Where `node` keeps its files: `<data>/<node id>`. Each group uses a sub-directory.
    public func dataDirectory(for node: Node) -> String {
        dataDirectory.hasSuffix("/") ? dataDirectory + node.id : dataDirectory + "/" + node.id
    }
}

extension ClusterConfiguration {
    /// One member of the cluster: `nodes[i]`.
    public struct Node: Sendable, Hashable {
        /// `id` (required): the node's name, unique in the cluster. Letters, digits, `-`, `_` and
        /// `.` only (not starting with `.`), because it names the node's data directory.
        public var id: String
        /// The node's number for the engine: its 1-based position in `nodes`. Stable as long as
        /// the list is only appended to; reordering the nodes of a running cluster renumbers them.
        public var numericID: UInt64
        /// `peer` (required): where the node accepts Raft traffic from other nodes.
        public var peer: Address
        /// `client` (required): where the node accepts the native client protocol.
        public var client: Address
        /// `http` (required): where the node serves the HTTP/JSON API, status and metrics.
        public var http: Address
        /// `join` (default false): the node is not a founding member. It starts knowing no
        /// members and takes part once `raftctl member add` adds it (the others learn its
        /// addresses from the membership change, not from this file). Founding nodes (the rest)
        /// form the first membership of every group of a new cluster; afterwards each group's
        /// members live in its log and snapshots, and this flag is only read for an empty data
        /// directory.
        public var joins = false

        /// Creates a node from values.
        public init(id: String, numericID: UInt64, peer: Address, client: Address, http: Address) {
            self.id = id
            self.numericID = numericID
            self.peer = peer
            self.client = client
            self.http = http
        }
    }

    /// A TCP endpoint: `host:port`, or `[ipv6]:port`.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        /// A host name or IP address, without brackets for IPv6.
        public var host: String
        /// A port in 1...65535.
        public var port: Int

        /// Creates an address from a host and a port.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with brackets around an IPv6 host.
        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// One entry of `plugins`: where a state machine is loaded from at start-up, and where the
    /// entry stands in the file, so that a plugin that cannot be loaded is reported there.
    public struct Plugin: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// `native: path/to/libX.so`: a shared library exporting the RaftHost plugin ABI
            /// (`include/rafthost_plugin.h`).
            case native(path: String)
            /// `wasm: path/to/x.wasm` with `fuel` (instructions per call, default 100,000,000)
            /// and `memory` (default 16MiB): a WebAssembly module that imports nothing but what
            /// the host offers.
            case wasm(path: String, fuel: UInt64, memoryBytes: Int)
        }

        public var kind: Kind
        /// The path, resolved against the directory of the configuration file.
        public var path: String {
            switch kind {
            case .native(let path), .wasm(let path, _, _): path
            }
        }
        /// `plugins[i]`, for errors.
        public var keyPath: String
        /// The configuration file.
        public var source: String
        /// 1-based line and column of the entry.
        public var line: Int
        public var column: Int

        public init(kind: Kind, keyPath: String, source: String, line: Int, column: Int) {
            self.kind = kind
            self.keyPath = keyPath
            self.source = source
            self.line = line
            self.column = column
        }

        /// An error at this entry: `source:line:column: plugins[i]: message`.
        public func error(_ message: String) -> ConfigurationError {
            ConfigurationError(
                code: .invalidPlugin,
                message: message,
                keyPath: keyPath,
                line: line,
                column: column,
                source: source
            )
        }
    }

    /// One Raft group: `groups[i]`. Every node runs every group.
    public struct Group: Sendable, Hashable {
        /// `name` (required): unique in the cluster; it names the group's sub-directory, so the
        /// same characters as a node id are allowed.
        public var name: String
        /// `stateMachine` (required): the name a plugin is registered under, such as
        /// `KeyValueStore`. The host checks that such a plugin exists.
        public var stateMachine: String
        /// `maxraftstate` (default `-1`): when the persisted Raft state of the group grows past
        /// this many bytes, the host snapshots the state machine and truncates the log. `-1` in the
        /// file, or no key, means never; that is `nil` here.
        public var maxRaftState: Int?

        /// Creates a group from values.
        public init(name: String, stateMachine: String, maxRaftState: Int? = nil) {
            self.name = name
            self.stateMachine = stateMachine
            self.maxRaftState = maxRaftState
        }
    }

    /// The `raft` section.
    public struct Raft: Sendable, Hashable {
        /// `heartbeat` (default `50ms`): how often a leader sends heartbeats.
        public var heartbeat: Duration
        /// `electionTimeout` (default `500ms`): how long a follower waits without hearing from a
        /// leader before it starts an election; each wait is randomized in `[t, 2t)`. Must be
        /// greater than `heartbeat` (ten heartbeats is typical).
        public var electionTimeout: Duration
        /// `preVote` (default `true`): a candidate first asks whether it could win, so that a node
        /// returning from a partition does not force a new term on a healthy cluster.
        public var preVote: Bool
        /// `checkQuorum` (default `true`): a leader steps down when it has not heard from a quorum
        /// within an election timeout.
        public var checkQuorum: Bool
        /// `leaseReads` (default `false`): a leader serves reads from a time-based lease instead of
        /// a heartbeat round (ReadIndex). Faster, but correct only while the nodes' clocks run at
        /// rates within 10 % of each other; requires `checkQuorum` and an election timeout of at
        /// least 5 heartbeats.
        public var leaseReads: Bool
        /// `maxMessageSize` (default `1MiB`): the most entry bytes a leader puts in one append
        /// message; a single larger entry still travels alone.
        public var maxMessageSize: Int
        /// `maxInflightMessages` (default `256`): how many append messages a leader sends to one
        /// follower before it waits for acknowledgements.
        public var maxInflightMessages: Int
        /// `coalesceAppends` (default `true`): while an append to a follower is unanswered, a
        /// leader holds back the next one until the answer comes or a full message
        /// (`maxMessageSize`) is waiting, so that what is proposed meanwhile leaves in one
        /// message, one follower fsync and one answer. `false` sends every batch of proposals at
        /// once (lower latency for a lone request that arrives while another is in flight, at
        /// the cost of more messages and fsyncs under load).
        public var coalesceAppends: Bool
        /// `snapshotChunkSize` (default `1MiB`): the size of the pieces a snapshot is sent in.
        public var snapshotChunkSize: Int
        /// `quiesceAfter` (default `5s`; `off` turns it off): a group with nothing to do for this
        /// long stops its heartbeats and election timers until a request, a message or a change
        /// in a member node's liveness wakes it, so idle groups cost no CPU. Nodes check each
        /// other's liveness once per heartbeat, per node pair rather than per group. `nil` is off.
        public var quiesceAfter: Duration?

        /// Creates the section from values; the defaults are those of a file without the keys.
        public init(
            heartbeat: Duration = .milliseconds(50),
            electionTimeout: Duration = .milliseconds(500),
            preVote: Bool = true,
            checkQuorum: Bool = true,
            leaseReads: Bool = false,
            maxMessageSize: Int = 1 << 20,
            maxInflightMessages: Int = 256,
            coalesceAppends: Bool = true,
            snapshotChunkSize: Int = 1 << 20,
            quiesceAfter: Duration? = .seconds(5)
        ) {
            self.heartbeat = heartbeat
            self.electionTimeout = electionTimeout
            self.preVote = preVote
            self.checkQuorum = checkQuorum
            self.leaseReads = leaseReads
            self.maxMessageSize = maxMessageSize
            self.maxInflightMessages = maxInflightMessages
            self.coalesceAppends = coalesceAppends
            self.snapshotChunkSize = snapshotChunkSize
            self.quiesceAfter = quiesceAfter
        }
    }

    /// The `storage` section.
    public struct Storage: Sendable, Hashable {
        /// `fsync` (default `always`).
        public var fsync: FsyncMode
        /// `segmentSize` (default `64MiB`): the size at which a log segment file is closed and a
        /// new one started. Segment files are preallocated (zero-filled ahead of the log) at
        /// twice the live log's size, from 64 KiB up to this size.
        public var segmentSize: Int

        /// Creates the section from values; the defaults are those of a file without the keys.
        public init(fsync: FsyncMode = .always, segmentSize: Int = 64 << 20) {
            self.fsync = fsync
            self.segmentSize = segmentSize
        }
    }

    /// When the log is forced to disk: the value of `storage.fsync`.
    public enum FsyncMode: String, Sendable, Hashable, CaseIterable {
        /// Before a node acknowledges anything that depends on a write (one fsync covers a whole
        /// batch). Nothing acknowledged is lost when a machine loses power.
        case always
        /// Never; the operating system writes back when it likes. For tests and benchmarks only:
        /// a power loss can lose acknowledged writes and break Raft's guarantees.
        case never
    }

    /// The top-level `http` section (each node's `http` key is only its address).
    public struct HTTP: Sendable, Hashable {
        /// `maxBodySize` (default `1MiB`): the largest request body the HTTP API accepts.
        public var maxBodySize: Int

        /// Creates the section from values; the defaults are those of a file without the keys.
        public init(maxBodySize: Int = 1 << 20) {
            self.maxBodySize = maxBodySize
        }
    }
}

extension ClusterConfiguration.Address {
    /// Parses `host:port` or `[ipv6]:port`, as the file's addresses are written; nil when the
    /// text is not one.
    public init?(parsing text: String) {
        guard case .valid(let host, let port) = Scalars.address(text) else { return nil }
        self.init(host: host, port: port)
    }
}
