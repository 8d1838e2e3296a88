import ClusterConfig
import Testing

private let base = """
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

@Test func pluginsAreReadWithResolvedPathsDefaultsAndPositions() throws {
    let yaml =
        base + """
            plugins:
              - native: lib/libcounter.so
              - wasm: /opt/kv.wasm
                fuel: 5_000_000
                memory: 1MiB
              - wasm: counter.wasm

            """
    let config = try ClusterConfiguration.parse(yaml: yaml, source: "conf/cluster.yaml", baseDirectory: "/etc/raft")
    #expect(
        config.plugins.map(\.kind) == [
            .native(path: "/etc/raft/lib/libcounter.so"),
            .wasm(path: "/opt/kv.wasm", fuel: 5_000_000, memoryBytes: 1 << 20),
            .wasm(path: "/etc/raft/counter.wasm", fuel: 100_000_000, memoryBytes: 16 << 20),
        ]
    )
    #expect(config.plugins.map(\.line) == [11, 12, 15])
    let error = config.plugins[1].error("no such file")
    #expect(error.description == "conf/cluster.yaml:12:5: plugins[1]: no such file")
    #expect(error.code == .invalidPlugin)
}

@Test(arguments: [
    (
        "  - {}\n",
        "cluster.yaml:11:5: plugins[0]: a plugin needs either native: path/to/lib.so or wasm: path/to/module.wasm"
    ),
    (
        "  - native: a.so\n    wasm: b.wasm\n",
        "cluster.yaml:11:5: plugins[0]: a plugin is either native or wasm, not both"
    ),
    (
        "  - native: a.so\n    fuel: 10\n",
        "cluster.yaml:12:11: plugins[0].fuel: fuel and memory limit WebAssembly plugins only"
    ),
    (
        "  - wasm: a.wasm\n    fuel: lots\n",
        "cluster.yaml:12:11: plugins[0].fuel: fuel must be a positive number of instructions, found 'lots'"
    ),
    (
        "  - wasm: a.wasm\n    memory: 1KiB\n",
        "cluster.yaml:12:13: plugins[0].memory: memory must be at least one WebAssembly page, 64KiB"
    ),
    (
        "  - wasm: a.wasm\n    path: x\n",
        "cluster.yaml:12:5: plugins[0].path: unknown key; expected one of: native, wasm, fuel, memory"
    ),
])
func badPluginEntriesAreRejectedWhereTheyStand(_ entry: String, _ expected: String) throws {
    let error = try #require(throws: ConfigurationError.self) {
        try ClusterConfiguration.parse(yaml: base + "plugins:\n" + entry, source: "cluster.yaml", baseDirectory: "/")
    }
    #expect(error.description == expected)
}
