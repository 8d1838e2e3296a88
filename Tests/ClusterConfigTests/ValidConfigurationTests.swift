import ClusterConfig
import Testing

/// The repository root, found from this file's path (Tests/ClusterConfigTests/<file>).
private let repositoryRoot: String = {
    var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    components.removeLast(3)
    return components.joined(separator: "/")
}()

/// The smallest valid file: only the required keys.
let minimalYAML = """
    cluster: demo
    nodes:
      - id: n1
        peer: 127.0.0.1:7101
        client: 127.0.0.1:7201
        http: 127.0.0.1:7301
    groups:
      - name: kv
        stateMachine: KeyValueStore

    """

private func address(_ host: String, _ port: Int) -> ClusterConfiguration.Address {
    ClusterConfiguration.Address(host: host, port: port)
}

@Test func exampleFileLoadsWithItsValuesAndDefaults() throws {
    let config = try ClusterConfiguration.load(path: repositoryRoot + "/cluster.yaml")

    #expect(config.name == "demo")
    #expect(config.dataDirectory == repositoryRoot + "/data")
    #expect(config.nodes.map(\.id) == ["n1", "n2", "n3"])
    #expect(config.nodes.map(\.numericID) == [1, 2, 3])
    #expect(
        config.nodes.map(\.peer) == [
            address("127.0.0.1", 7101), address("127.0.0.1", 7102), address("127.0.0.1", 7103),
        ]
    )
    #expect(
        config.nodes.map(\.client) == [
            address("127.0.0.1", 7201), address("127.0.0.1", 7202), address("127.0.0.1", 7203),
        ]
    )
    #expect(
        config.nodes.map(\.http) == [
            address("127.0.0.1", 7301), address("127.0.0.1", 7302), address("127.0.0.1", 7303),
        ]
    )
    #expect(config.groups == [.init(name: "kv", stateMachine: "KeyValueStore", maxRaftState: 1_048_576)])
    #expect(config.raft.heartbeat == .milliseconds(50))
    #expect(config.raft.electionTimeout == .milliseconds(500))
    #expect(config.storage.fsync == .always)

    // Keys the example leaves out take their documented defaults.
    #expect(config.raft.preVote)
    #expect(config.raft.checkQuorum)
    #expect(!config.raft.leaseReads)
    #expect(config.raft.maxMessageSize == 1 << 20)
    #expect(config.raft.maxInflightMessages == 256)
    #expect(config.raft.coalesceAppends)
    #expect(config.raft.snapshotChunkSize == 1 << 20)
    #expect(config.raft.quiesceAfter == .seconds(5))
    #expect(config.storage.segmentSize == 64 << 20)
    #expect(config.http.maxBodySize == 1 << 20)
    #expect(config.requestTimeout == .seconds(5))
}

@Test func nodesAreFoundByIDAndGetADataDirectoryEach() throws {
    let config = try ClusterConfiguration.load(path: repositoryRoot + "/cluster.yaml")
    let n2 = try #require(config.node(id: "n2"))
    #expect(n2.numericID == 2)
    #expect(config.dataDirectory(for: n2) == repositoryRoot + "/data/n2")
    #expect(config.node(id: "n4") == nil)
}

@Test func minimalFileGetsEveryDefault() throws {
    let config = try ClusterConfiguration.parse(yaml: minimalYAML, baseDirectory: "/srv/raft")
    let defaults = ClusterConfiguration(
        name: "demo",
        dataDirectory: "/srv/raft/data",
        nodes: [
            .init(
                id: "n1",
                numericID: 1,
                peer: address("127.0.0.1", 7101),
                client: address("127.0.0.1", 7201),
                http: address("127.0.0.1", 7301)
            )
        ],
        groups: [.init(name: "kv", stateMachine: "KeyValueStore", maxRaftState: nil)]
    )
    #expect(config == defaults)
}

@Test func everyOptionalKeyIsRead() throws {
    let yaml = """
        cluster: prod
        data: /var/lib/rafthost
        requestTimeout: 2.5s
        nodes:
          - id: alpha
            peer: "[::1]:7101"
            client: db1.example.com:7201
            http: 0.0.0.0:8080
          - id: beta
            peer: '[::1]:7102'
            client: db2.example.com:7201
            http: 0.0.0.0:8081
        groups:
          - name: kv
            stateMachine: KeyValueStore
            maxraftstate: -1
          - name: counters
            stateMachine: Counter
            maxraftstate: 64KiB
        raft:
          heartbeat: 100us
          electionTimeout: 2m
          preVote: false
          checkQuorum: true
          leaseReads: true
          maxMessageSize: 1MB
          maxInflightMessages: 16
          coalesceAppends: false
          snapshotChunkSize: 1.5KiB
          quiesceAfter: off
        storage:
          fsync: never
          segmentSize: 1GiB
        http:
          maxBodySize: 4096
        """
    let config = try ClusterConfiguration.parse(yaml: yaml, source: "prod.yaml", baseDirectory: "/etc")

    #expect(config.name == "prod")
    #expect(config.dataDirectory == "/var/lib/rafthost")
    #expect(config.requestTimeout == .milliseconds(2500))
    #expect(config.nodes.map(\.numericID) == [1, 2])
    #expect(config.nodes[0].peer == address("::1", 7101))
    #expect(config.nodes[0].peer.description == "[::1]:7101")
    #expect(config.nodes[1].client == address("db2.example.com", 7201))
    #expect(config.groups.map(\.maxRaftState) == [nil, 64 * 1024])
    #expect(
        config.raft
            == .init(
                heartbeat: .microseconds(100),
                electionTimeout: .seconds(120),
                preVote: false,
                checkQuorum: true,
                leaseReads: true,
                maxMessageSize: 1_000_000,
                maxInflightMessages: 16,
                coalesceAppends: false,
                snapshotChunkSize: 1536,
                quiesceAfter: nil
            )
    )
    #expect(config.storage == .init(fsync: .never, segmentSize: 1 << 30))
    #expect(config.http == .init(maxBodySize: 4096))
}

@Test func emptySectionsAndNullValuesMeanDefaults() throws {
    let yaml =
        minimalYAML + """
            raft:
            storage:
              fsync: ~
            http: null
            """
    let config = try ClusterConfiguration.parse(yaml: yaml)
    #expect(config.raft == .init())
    #expect(config.storage == .init())
    #expect(config.http == .init())
}

@Test func anchorsAndAliasesAreResolved() throws {
    let yaml = """
        cluster: demo
        nodes:
          - id: n1
            peer: 127.0.0.1:7101
            client: 127.0.0.1:7201
            http: 127.0.0.1:7301
        groups:
          - &kv {name: kv, stateMachine: KeyValueStore, maxraftstate: &limit 2MiB}
          - name: other
            stateMachine: KeyValueStore
            maxraftstate: *limit
        """
    let config = try ClusterConfiguration.parse(yaml: yaml)
    #expect(config.groups.map(\.maxRaftState) == [2 << 20, 2 << 20])
}

@Test(
    arguments: [
        ("./data", "/etc/raft/data"),
        ("data", "/etc/raft/data"),
        ("/var/lib/raft/", "/var/lib/raft"),
        ("a//b/./c", "/etc/raft/a/b/c"),
        ("../shared", "/etc/raft/../shared"),
    ]
)
func relativeDataDirectoriesResolveAgainstTheBaseDirectory(data: String, resolved: String) throws {
    let config = try ClusterConfiguration.parse(yaml: minimalYAML + "data: \(data)\n", baseDirectory: "/etc/raft")
    #expect(config.dataDirectory == resolved)
}

@Test(
    arguments: [
        ("50ms", Duration.milliseconds(50)),
        ("1s", .seconds(1)),
        ("1.5s", .milliseconds(1500)),
        ("2m", .seconds(120)),
        ("100us", .microseconds(100)),
        ("100µs", .microseconds(100)),
        ("750ns", .nanoseconds(750)),
        ("1h", .seconds(3600)),
        ("0.001s", .milliseconds(1)),
    ]
)
func durations(text: String, expected: Duration) throws {
    let config = try ClusterConfiguration.parse(yaml: minimalYAML + "requestTimeout: \(text)\n")
    #expect(config.requestTimeout == expected)
}

@Test(
    arguments: [
        ("1048576", 1_048_576),
        ("1MiB", 1 << 20),
        ("64KiB", 64 << 10),
        ("1GiB", 1 << 30),
        ("2TiB", 2 << 40),
        ("1MB", 1_000_000),
        ("3KB", 3_000),
        ("1GB", 1_000_000_000),
        ("512B", 512),
        ("0.5MiB", 512 << 10),
    ]
)
func sizes(text: String, expected: Int) throws {
    let config = try ClusterConfiguration.parse(yaml: minimalYAML + "storage:\n  segmentSize: \(text)\n")
    #expect(config.storage.segmentSize == expected)
}

@Test func joiningNodesAreMarkedAndNumberedAfterTheFounders() throws {
    let yaml = minimalYAML.replacing(
        "groups:",
        with: """
              - id: n2
                peer: 127.0.0.1:7102
                client: 127.0.0.1:7202
                http: 127.0.0.1:7302
                join: true
            groups:
            """
    )
    let configuration = try ClusterConfiguration.parse(yaml: yaml)
    #expect(configuration.nodes.map { $0.joins } == [false, true])
    #expect(configuration.nodes.map { $0.numericID } == [1, 2])
}
