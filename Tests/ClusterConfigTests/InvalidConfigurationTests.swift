import ClusterConfig
import Testing

/// A file that must be rejected, with the exact diagnostic it must produce.
struct BadFile: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var code: ConfigurationError.Code
    var expected: String

    var testDescription: String { name }

    init(_ name: String, _ yaml: String, _ code: ConfigurationError.Code, _ expected: String) {
        self.name = name
        self.yaml = yaml
        self.code = code
        self.expected = expected
    }
}

/// The minimal file with its node list replaced; `nodes` are the lines after `nodes:`.
private func withNodes(_ nodes: String) -> String {
    "cluster: demo\nnodes:\n" + nodes + "groups:\n  - name: kv\n    stateMachine: KeyValueStore\n"
}

private let nodeN1 = """
      - id: n1
        peer: 127.0.0.1:7101
        client: 127.0.0.1:7201
        http: 127.0.0.1:7301

    """

private let timingReason =
    "followers start an election when they hear no heartbeat for this long, so it must span several heartbeats "
    + "(10 × heartbeat is typical)"

private let badFiles: [BadFile] = [
    // YAML syntax: libyaml's problem and position.
    BadFile(
        "unclosed flow sequence",
        "cluster: demo\nnodes: [n1, n2\ngroups: []\n",
        .syntax,
        "cluster.yaml:3:7: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at 2:8)"
    ),
    BadFile(
        "key indented under a scalar",
        "cluster: demo\n  nodes: x\n",
        .syntax,
        "cluster.yaml:2:8: invalid YAML: mapping values are not allowed in this context"
    ),
    BadFile(
        "two documents",
        "cluster: a\n---\ncluster: b\n",
        .syntax,
        "cluster.yaml:2:1: invalid YAML: expected a single YAML document, found a second one"
    ),
    BadFile(
        "undefined alias",
        minimalYAML + "requestTimeout: *timeout\n",
        .syntax,
        "cluster.yaml:10:17: invalid YAML: found undefined alias 'timeout'"
    ),
    // Shapes.
    BadFile(
        "empty file",
        "# nothing yet\n",
        .typeMismatch,
        "cluster.yaml:1:1: expected a mapping with the keys cluster, nodes and groups, found an empty document"
    ),
    BadFile("list at the top", "- n1\n", .typeMismatch, "cluster.yaml:1:1: expected a mapping, found a list"),
    BadFile(
        "string where a list belongs",
        "cluster: demo\nnodes: n1\n",
        .typeMismatch,
        "cluster.yaml:2:8: nodes: expected a list, found 'n1'"
    ),
    BadFile(
        "null where a list belongs",
        "cluster: demo\nnodes:\ngroups: []\n",
        .typeMismatch,
        "cluster.yaml:2:7: nodes: expected a list, found null"
    ),
    BadFile(
        "string where a node mapping belongs",
        withNodes("  - n1\n"),
        .typeMismatch,
        "cluster.yaml:3:5: nodes[0]: expected a mapping, found 'n1'"
    ),
    BadFile(
        "string where a section mapping belongs",
        minimalYAML + "raft: fast\n",
        .typeMismatch,
        "cluster.yaml:10:7: raft: expected a mapping, found 'fast'"
    ),
    BadFile(
        "string where a number belongs",
        minimalYAML + "raft:\n  maxInflightMessages: lots\n",
        .typeMismatch,
        "cluster.yaml:11:24: raft.maxInflightMessages: expected an integer, found 'lots'"
    ),
    BadFile(
        "list where a duration belongs",
        minimalYAML + "raft:\n  heartbeat: [50ms]\n",
        .typeMismatch,
        "cluster.yaml:11:14: raft.heartbeat: expected a duration, found a list"
    ),
    BadFile(
        "mapping where a size belongs",
        minimalYAML + "    maxraftstate: {bytes: 1}\n",
        .typeMismatch,
        "cluster.yaml:10:19: groups[0].maxraftstate: expected a size, found a mapping"
    ),
    BadFile(
        "null where an address belongs",
        withNodes("  - id: n1\n    peer:\n    client: 127.0.0.1:7201\n    http: 127.0.0.1:7301\n"),
        .typeMismatch,
        "cluster.yaml:4:10: nodes[0].peer: expected an address (host:port), found null"
    ),
    BadFile(
        "list where a string belongs",
        "cluster: [a, b]\n",
        .typeMismatch,
        "cluster.yaml:1:10: cluster: expected a string, found a list"
    ),
    BadFile(
        "yes is not a boolean",
        minimalYAML + "raft:\n  preVote: yes\n",
        .typeMismatch,
        "cluster.yaml:11:12: raft.preVote: expected true or false, found 'yes'"
    ),
    BadFile(
        "list as a key",
        minimalYAML + "[a, b]: c\n",
        .typeMismatch,
        "cluster.yaml:10:1: expected a string key, found a list"
    ),
    // Keys.
    BadFile(
        "misspelt group key",
        minimalYAML + "    maxraftstat: 100\n",
        .unknownKey,
        "cluster.yaml:10:5: groups[0].maxraftstat: unknown key; did you mean 'maxraftstate'?"
    ),
    BadFile(
        "key in the wrong case",
        minimalYAML + "raft:\n  electiontimeout: 1s\n",
        .unknownKey,
        "cluster.yaml:11:3: raft.electiontimeout: unknown key; did you mean 'electionTimeout'?"
    ),
    BadFile(
        "unknown key without a close match",
        minimalYAML + "colour: blue\n",
        .unknownKey,
        "cluster.yaml:10:1: colour: unknown key; expected one of: cluster, data, nodes, groups, raft, storage, http, "
            + "requestTimeout, plugins, tls, auth"
    ),
    BadFile(
        "repeated key",
        minimalYAML + "cluster: again\n",
        .duplicateKey,
        "cluster.yaml:10:1: cluster: duplicate key, first given at 1:1"
    ),
    BadFile(
        "missing top-level key points at the top mapping",
        "# a cluster without nodes\ncluster: demo\n",
        .missingKey,
        "cluster.yaml:2:1: nodes: missing required key"
    ),
    BadFile(
        "missing node key points at the node",
        withNodes("  - id: n1\n    peer: 127.0.0.1:7101\n    client: 127.0.0.1:7201\n"),
        .missingKey,
        "cluster.yaml:3:5: nodes[0].http: missing required key"
    ),
    BadFile(
        "missing state machine points at the group",
        "cluster: demo\nnodes:\n" + nodeN1 + "groups:\n  - name: kv\n",
        .missingKey,
        "cluster.yaml:8:5: groups[0].stateMachine: missing required key"
    ),
    // Values.
    BadFile(
        "empty string",
        "cluster: \"\"\n",
        .invalidValue,
        "cluster.yaml:1:10: cluster: must not be empty"
    ),
    BadFile(
        "node id that cannot name a directory",
        withNodes(nodeN1.replacing("n1", with: "n/1", maxReplacements: 1)),
        .invalidValue,
        "cluster.yaml:3:9: nodes[0].id: invalid node id 'n/1'; use letters, digits, '-', '_' and '.', not starting "
            + "with '.' (it names a directory)"
    ),
    BadFile(
        "no inflight messages",
        minimalYAML + "raft:\n  maxInflightMessages: 0\n",
        .invalidValue,
        "cluster.yaml:11:24: raft.maxInflightMessages: must be at least 1"
    ),
    BadFile(
        "duration without a unit",
        minimalYAML + "raft:\n  heartbeat: 50\n",
        .invalidDuration,
        "cluster.yaml:11:14: raft.heartbeat: invalid duration '50'; expected a number with a unit (ns, us, ms, s, m, "
            + "h), such as 50ms or 1.5s"
    ),
    BadFile(
        "duration with a space",
        minimalYAML + "requestTimeout: 5 s\n",
        .invalidDuration,
        "cluster.yaml:10:17: requestTimeout: invalid duration '5 s'; expected a number with a unit (ns, us, ms, s, m, "
            + "h), such as 50ms or 1.5s"
    ),
    BadFile(
        "duration finer than a nanosecond",
        minimalYAML + "requestTimeout: 1.5ns\n",
        .invalidDuration,
        "cluster.yaml:10:17: requestTimeout: invalid duration '1.5ns'; expected a number with a unit (ns, us, ms, s, "
            + "m, h), such as 50ms or 1.5s"
    ),
    BadFile(
        "zero duration",
        minimalYAML + "requestTimeout: 0s\n",
        .invalidDuration,
        "cluster.yaml:10:17: requestTimeout: duration must be greater than 0"
    ),
    BadFile(
        "size with trailing garbage",
        minimalYAML + "raft:\n  maxMessageSize: 1MB2\n",
        .invalidSize,
        "cluster.yaml:11:19: raft.maxMessageSize: invalid size '1MB2'; expected bytes or a number with a unit (KiB, "
            + "MiB, GiB, TiB, KB, MB, GB, TB), such as 1MiB"
    ),
    BadFile(
        "size unit in the wrong case",
        minimalYAML + "raft:\n  snapshotChunkSize: 1mib\n",
        .invalidSize,
        "cluster.yaml:11:22: raft.snapshotChunkSize: invalid size '1mib'; expected bytes or a number with a unit "
            + "(KiB, MiB, GiB, TiB, KB, MB, GB, TB), such as 1MiB"
    ),
    BadFile(
        "quiescence after neither a duration nor off",
        minimalYAML + "raft:\n  quiesceAfter: never\n",
        .invalidDuration,
        "cluster.yaml:11:17: raft.quiesceAfter: invalid duration 'never'; expected a number with a unit (ns, us, "
            + "ms, s, m, h), such as 50ms or 1.5s"
    ),
    BadFile(
        "zero size",
        minimalYAML + "storage:\n  segmentSize: 0\n",
        .invalidSize,
        "cluster.yaml:11:16: storage.segmentSize: size must be greater than 0"
    ),
    BadFile(
        "negative size",
        minimalYAML + "http:\n  maxBodySize: -1\n",
        .invalidSize,
        "cluster.yaml:11:16: http.maxBodySize: invalid size '-1'; expected bytes or a number with a unit (KiB, MiB, "
            + "GiB, TiB, KB, MB, GB, TB), such as 1MiB"
    ),
    BadFile(
        "maxraftstate below -1",
        minimalYAML + "    maxraftstate: -2\n",
        .invalidSize,
        "cluster.yaml:10:19: groups[0].maxraftstate: must be -1 (never snapshot) or a size such as 1MiB, found '-2'"
    ),
    BadFile(
        "address without a port",
        withNodes(nodeN1.replacing("127.0.0.1:7101", with: "127.0.0.1", maxReplacements: 1)),
        .invalidAddress,
        "cluster.yaml:4:11: nodes[0].peer: invalid address '127.0.0.1'; expected host:port or [ipv6]:port, such as "
            + "127.0.0.1:7101"
    ),
    BadFile(
        "IPv6 address without brackets",
        withNodes(nodeN1.replacing("127.0.0.1:7101", with: "'::1:7101'", maxReplacements: 1)),
        .invalidAddress,
        "cluster.yaml:4:11: nodes[0].peer: invalid address '::1:7101'; expected host:port or [ipv6]:port, such as "
            + "127.0.0.1:7101"
    ),
    BadFile(
        "port above 65535",
        withNodes(nodeN1.replacing("127.0.0.1:7201", with: "127.0.0.1:70000", maxReplacements: 1)),
        .invalidAddress,
        "cluster.yaml:5:13: nodes[0].client: invalid address '127.0.0.1:70000'; the port must be in 1...65535"
    ),
    BadFile(
        "port 0",
        withNodes(nodeN1.replacing("127.0.0.1:7301", with: "localhost:0", maxReplacements: 1)),
        .invalidAddress,
        "cluster.yaml:6:11: nodes[0].http: invalid address 'localhost:0'; the port must be in 1...65535"
    ),
    // Checks across values.
    BadFile(
        "empty node list",
        "cluster: demo\nnodes: []\n",
        .emptyList,
        "cluster.yaml:2:8: nodes: at least one node is required"
    ),
    BadFile(
        "empty group list",
        "cluster: demo\nnodes:\n" + nodeN1 + "groups: []\n",
        .emptyList,
        "cluster.yaml:7:9: groups: at least one group is required"
    ),
    BadFile(
        "duplicate node id",
        withNodes(
            nodeN1 + "  - id: n1\n    peer: 127.0.0.1:7102\n    client: 127.0.0.1:7202\n    http: 127.0.0.1:7302\n"
        ),
        .duplicateNodeID,
        "cluster.yaml:7:9: nodes[1].id: duplicate node id 'n1', first used at 3:9"
    ),
    BadFile(
        "address used by two nodes",
        withNodes(
            nodeN1
                + nodeN1.replacing("n1", with: "n2", maxReplacements: 1).replacing(
                    "127.0.0.1:7201",
                    with: "127.0.0.1:7101",
                    maxReplacements: 1
                )
        ),
        .duplicateAddress,
        "cluster.yaml:8:11: nodes[1].peer: address 127.0.0.1:7101 is already used by nodes[0].peer at 4:11"
    ),
    BadFile(
        "address used twice by one node",
        withNodes(nodeN1.replacing("127.0.0.1:7301", with: "127.0.0.1:7201", maxReplacements: 1)),
        .duplicateAddress,
        "cluster.yaml:6:11: nodes[0].http: address 127.0.0.1:7201 is already used by nodes[0].client at 5:13"
    ),
    BadFile(
        "host names compare without case",
        withNodes(
            "  - id: n1\n    peer: db1:7101\n    client: DB1:7101\n    http: db1:7301\n"
        ),
        .duplicateAddress,
        "cluster.yaml:5:13: nodes[0].client: address DB1:7101 is already used by nodes[0].peer at 4:11"
    ),
    BadFile(
        "duplicate group name",
        minimalYAML + "  - name: kv\n    stateMachine: Counter\n",
        .duplicateGroupName,
        "cluster.yaml:10:11: groups[1].name: duplicate group name 'kv', first used at 8:11"
    ),
    BadFile(
        "unknown fsync mode",
        minimalYAML + "storage:\n  fsync: sometimes\n",
        .unknownFsyncMode,
        "cluster.yaml:11:10: storage.fsync: unknown fsync mode 'sometimes'; expected 'always' or 'never'"
    ),
    BadFile(
        "election timeout equal to the heartbeat",
        minimalYAML + "raft:\n  heartbeat: 100ms\n  electionTimeout: 100ms\n",
        .invalidTimeouts,
        "cluster.yaml:12:20: raft.electionTimeout: 100ms must be greater than raft.heartbeat (100ms): " + timingReason
    ),
    BadFile(
        "election timeout below the default heartbeat",
        minimalYAML + "raft:\n  electionTimeout: 20ms\n",
        .invalidTimeouts,
        "cluster.yaml:11:20: raft.electionTimeout: 20ms must be greater than raft.heartbeat (50ms by default): "
            + timingReason
    ),
    BadFile(
        "heartbeat above the default election timeout, in microseconds",
        minimalYAML + "raft:\n  heartbeat: 600000us\n",
        .invalidTimeouts,
        "cluster.yaml:11:14: raft.heartbeat: 600000us must be less than raft.electionTimeout (500ms by default): "
            + timingReason
    ),
    BadFile(
        "heartbeat above the default election timeout",
        minimalYAML + "raft:\n  heartbeat: 1s\n",
        .invalidTimeouts,
        "cluster.yaml:11:14: raft.heartbeat: 1s must be less than raft.electionTimeout (500ms by default): "
            + timingReason
    ),
    BadFile(
        "lease reads without check-quorum",
        minimalYAML + "raft:\n  leaseReads: true\n  checkQuorum: false\n",
        .conflictingOptions,
        "cluster.yaml:11:15: raft.leaseReads: lease reads require raft.checkQuorum: true; without it a leader cut off "
            + "from the majority keeps serving reads after a new leader has accepted writes"
    ),
    BadFile(
        "every node joins",
        minimalYAML.replacing("http: 127.0.0.1:7301", with: "http: 127.0.0.1:7301\n    join: true"),
        .emptyList,
        "cluster.yaml:3:3: nodes: every node has join: true; a new cluster needs at least one founding node"
    ),
    BadFile(
        "join that is not a boolean",
        minimalYAML.replacing("http: 127.0.0.1:7301", with: "http: 127.0.0.1:7301\n    join: later"),
        .typeMismatch,
        "cluster.yaml:7:11: nodes[0].join: expected true or false, found 'later'"
    ),
    BadFile(
        "lease reads with too short an election timeout",
        minimalYAML + "raft:\n  heartbeat: 100ms\n  electionTimeout: 300ms\n  leaseReads: true\n",
        .conflictingOptions,
        "cluster.yaml:13:15: raft.leaseReads: lease reads need raft.electionTimeout of at least 5 × raft.heartbeat "
            + "(here 300ms and 100ms): the lease must end safely before any follower may vote again"
    ),
]

@Test(arguments: badFiles)
func badFileIsRejectedWithItsPosition(_ file: BadFile) throws {
    let error = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.parse(yaml: file.yaml, source: "cluster.yaml", baseDirectory: "/")
    }
    #expect(error.description == file.expected)
    #expect(error.code == file.code)
}

@Test func errorPartsAreAvailableSeparately() throws {
    let error = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.parse(yaml: minimalYAML + "    maxraftstat: 100\n", source: "conf/cluster.yaml")
    }
    #expect(error.code == .unknownKey)
    #expect(error.keyPath == "groups[0].maxraftstat")
    #expect(error.line == 10)
    #expect(error.column == 5)
    #expect(error.source == "conf/cluster.yaml")
    #expect(error.message == "unknown key; did you mean 'maxraftstate'?")
}

@Test func onlyTheFirstProblemIsReported() throws {
    // Sections are checked in the order cluster, data, nodes, groups, raft, storage, http,
    // requestTimeout, whatever their order in the file; in one mapping, keys before values.
    let yaml = """
        storage:
          fsync: sometimes
        raft:
          heartbeat: soon
          colour: blue
        """
    let wholeFile = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.parse(yaml: minimalYAML + yaml)
    }
    #expect(
        wholeFile.description == "cluster.yaml:14:3: raft.colour: unknown key; expected one of: heartbeat, "
            + "electionTimeout, preVote, checkQuorum, leaseReads, maxMessageSize, maxInflightMessages, coalesceAppends, "
            + "snapshotChunkSize, quiesceAfter"
    )
}

@Test func unreadableFilesAreReportedWithTheSystemReason() throws {
    let missing = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.load(path: "/nonexistent/cluster.yaml")
    }
    #expect(missing.code == .unreadableFile)
    #expect(missing.line == nil)
    #expect(
        missing.description
            == "/nonexistent/cluster.yaml: cannot read the configuration file: No such file or directory"
    )

    let directory = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.load(path: "/")
    }
    #expect(directory.description == "/: cannot read the configuration file: Is a directory")
}
