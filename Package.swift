// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RaftHost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "RaftReplica", targets: ["RaftReplica"]),
        .library(name: "StateMachineAPI", targets: ["StateMachineAPI"]),
        .library(name: "StateMachineHTTP", targets: ["StateMachineHTTP"]),
        .library(name: "KeyValueStore", targets: ["KeyValueStore"]),
        .library(name: "LockService", targets: ["LockService"]),
        .library(name: "RaftTesting", targets: ["RaftTesting"]),
        .library(name: "ClusterConfig", targets: ["ClusterConfig"]),
        .library(name: "RaftStorage", targets: ["RaftStorage"]),
        .library(name: "RaftTransport", targets: ["RaftTransport"]),
        .library(name: "RaftClient", targets: ["RaftClient"]),
        .library(name: "KeyValueClient", targets: ["KeyValueClient"]),
        .executable(name: "raftctl", targets: ["raftctl"]),
        .library(name: "ReplicationHost", targets: ["ReplicationHost"]),
        .library(name: "RaftHostCLI", targets: ["RaftHostCLI"]),
        .library(name: "RaftHostPluginExport", targets: ["RaftHostPluginExport"]),
        .executable(name: "rafthost", targets: ["rafthost"]),
        .executable(name: "raftsim", targets: ["raftsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
        .package(url: "https://github.com/swiftwasm/WasmKit.git", from: "0.4.2", traits: ["MultiThread"]),
        // TLS (issue 17): NIO's BoringSSL binding, X.509 certificates and keys for `rafthost certs`.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
    ],
    targets: [
        // The consensus engine: a deterministic value type with no I/O and no dependencies.
        .target(name: "RaftCore"),
        // What a plugin author imports: the StateMachine protocol, its codecs and the type-erased
        // box and registry the host serves plugins through. No dependencies.
        .target(name: "StateMachineAPI"),
        // How a plugin describes HTTP routes of its own, without NIO; the JSON forms of Codable
        // plugins' commands, queries and responses.
        .target(name: "StateMachineHTTP", dependencies: ["StateMachineAPI"]),
        // The reference plugin: the classic Raft key/value service.
        .target(
            name: "KeyValueStore",
            dependencies: ["StateMachineAPI", "StateMachineHTTP"],
            path: "Plugins/KeyValueStore"
        ),
        // A lock service with leases on log time and fencing tokens: proves the API is generic.
        .target(
            name: "LockService",
            dependencies: ["StateMachineAPI", "StateMachineHTTP"],
            path: "Plugins/LockService"
        ),
        // The deterministic replica: engine + plugin + exactly-once sessions + snapshot policy +
        // linearizable reads, and the one driver step the simulator, the host and every test
        // harness run.
        .target(name: "RaftReplica", dependencies: ["RaftCore", "RaftStorage", "StateMachineAPI"]),
        // Public test kit: deterministic cluster simulator on virtual time with invariant checks,
        // linearizability checker and models, plugin conformance suite.
        .target(
            name: "RaftTesting",
            dependencies: [
                "RaftCore", "RaftReplica", "RaftStorage", "StateMachineAPI", "KeyValueStore", "LockService",
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // The system libyaml, found through pkg-config; `make deps` installs it on Debian.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        // cluster.yaml -> validated, typed configuration. Keeps CYAML an internal detail.
        .target(name: "ClusterConfig", dependencies: ["CYAML"]),
        // TLS material (contexts swapped atomically on reload), node identities in certificates,
        // client roles and tokens, and the development CA `rafthost certs` writes.
        .target(
            name: "RaftSecurity",
            dependencies: [
                "ClusterConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // CRC-32C with the CPU's instruction, when it has one (RaftStorage falls back to tables).
        .target(name: "CRC32CHardware"),
        // Durable log, hard state and snapshots on disk (checksummed segments); in-memory storage.
        .target(name: "RaftStorage", dependencies: ["RaftCore", "CRC32CHardware"]),
        // Wire codec, handshake, SwiftNIO TCP transport between nodes; in-process transport.
        .target(
            name: "RaftTransport",
            dependencies: [
                "RaftCore",
                "RaftSecurity",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The client (the Clerk): leader discovery, retries, exactly-once ids over the native
        // client protocol.
        .target(
            name: "RaftClient",
            dependencies: [
                "RaftCore",
                "RaftSecurity",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "RaftReplica",
                "RaftTransport",
                "StateMachineAPI",
                "ClusterConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The typed key/value client on top of RaftClient.
        .target(
            name: "KeyValueClient",
            dependencies: ["RaftClient", "KeyValueStore", "StateMachineAPI"],
            path: "Plugins/KeyValueClient"
        ),
        // The client and admin CLI.
        .executableTarget(
            name: "raftctl",
            dependencies: [
                "RaftClient",
                "KeyValueClient",
                "ClusterConfig",
                "WasmPlugins",
                "RaftStorage",
                "RaftSecurity",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The runtime: one serial executor per group driving a replica with real time, disk
        // storage and the transport; the native client port; graceful stop.
        .target(
            name: "ReplicationHost",
            dependencies: [
                "RaftCore", "RaftReplica", "RaftStorage", "RaftTransport", "ClusterConfig", "StateMachineAPI",
                "StateMachineHTTP", "RaftClient", "RaftSecurity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The native plugin ABI, `include/rafthost_plugin.h`, as a Clang module for Swift.
        .systemLibrary(name: "CRaftHostPlugin", path: "include"),
        // Native plugins loaded at run time: dlopen, ABI checks, a state machine driven with bytes.
        .target(name: "NativePlugins", dependencies: ["StateMachineAPI", "CRaftHostPlugin"]),
        // For Swift plugin authors: one line exports a `StateMachine` from a `.dynamic` library.
        .target(name: "RaftHostPluginExport", dependencies: ["StateMachineAPI", "CRaftHostPlugin"]),
        // WebAssembly plugins on WasmKit: a module importing nothing, run under fuel and memory
        // limits, as a DynamicStateMachine; registered from a `plugins:` entry of cluster.yaml.
        .target(
            name: "WasmPlugins",
            dependencies: [
                "StateMachineAPI", "ClusterConfig",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmParser", package: "WasmKit"),
            ]
        ),
        // The server's command line as a library: `serve` runs one node, `up` a local cluster,
        // with the plugins a host passes to `RaftHostCommand.main(plugins:)`. Knows no plugin.
        .target(
            name: "RaftHostCLI",
            dependencies: [
                "ReplicationHost", "ClusterConfig", "StateMachineAPI", "NativePlugins", "WasmPlugins", "RaftStorage",
                "RaftCore", "RaftSecurity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The stock server: RaftHostCLI serving KeyValueStore and LockService.
        .executableTarget(name: "rafthost", dependencies: ["RaftHostCLI", "KeyValueStore", "LockService"]),

        // The randomized fault simulation for many seeds on every core; `make test` runs a
        // release build of it (10,000 seeds).
        .executableTarget(
            name: "raftsim",
            dependencies: ["RaftTesting", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // `testdata/` holds the engine's transcript tests, read from the source tree.
        // Runs the CPU-bound tests of the modules below on one thread of its own, off the pool
        // that the host tests' real servers run on.
        .target(name: "SimulationThread", path: "Tests/SimulationThread"),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "SimulationThread"], exclude: ["testdata"]),
        .testTarget(
            name: "RaftReplicaTests",
            dependencies: [
                "RaftReplica", "RaftCore", "RaftStorage", "StateMachineAPI", "KeyValueStore", "RaftTesting",
                "SimulationThread",
            ]
        ),
        .testTarget(name: "StateMachineAPITests", dependencies: ["StateMachineAPI", "RaftTesting"]),
        .testTarget(
            name: "StateMachineHTTPTests",
            dependencies: ["StateMachineHTTP", "StateMachineAPI", "KeyValueStore", "LockService"]
        ),
        .testTarget(name: "KeyValueStoreTests", dependencies: ["KeyValueStore", "StateMachineAPI", "RaftTesting"]),
        .testTarget(name: "LockServiceTests", dependencies: ["LockService", "StateMachineAPI", "RaftTesting"]),
        .testTarget(
            name: "RaftTestingTests",
            dependencies: [
                "RaftCore", "RaftReplica", "RaftTesting", "KeyValueStore", "LockService", "StateMachineAPI",
                "SimulationThread",
            ]
        ),
        .testTarget(name: "ClusterConfigTests", dependencies: ["ClusterConfig"]),
        // Loads Examples/NativeCounter's libraries (`make native-example` builds them).
        .testTarget(
            name: "NativePluginsTests",
            dependencies: ["NativePlugins", "StateMachineAPI", "RaftHostCLI", "ClusterConfig", "RaftTesting"]
        ),
        // `Modules/` holds the C sources of misbehaving plugins; `make wasm-examples` builds them.
        .testTarget(
            name: "WasmPluginsTests",
            dependencies: [
                "WasmPlugins", "StateMachineAPI", "ClusterConfig", "RaftTesting", "RaftReplica", "RaftCore",
                "SimulationThread",
            ],
            exclude: ["Modules"]
        ),
        .testTarget(name: "RaftStorageTests", dependencies: ["RaftStorage", "RaftCore", "SimulationThread"]),
        .testTarget(
            name: "RaftTransportTests",
            dependencies: [
                "RaftCore",
                "RaftTransport",
                "RaftSecurity",
                "ClusterConfig",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RaftClientTests",
            dependencies: [
                "ClusterConfig",
                "RaftClient",
                "KeyValueClient",
                "KeyValueStore",
                "RaftCore",
                "RaftReplica",
                "RaftStorage",
                "RaftTransport",
                "StateMachineAPI",
                "WasmPlugins",
                "RaftSecurity",
                "raftctl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Depends on the executable so `swift build --build-tests` builds the `rafthost` binary
        // that the process tests start.
        .testTarget(
            name: "ReplicationHostTests",
            dependencies: [
                "ReplicationHost", "rafthost", "RaftHostCLI", "RaftCore", "RaftReplica", "RaftStorage", "RaftTransport",
                "ClusterConfig", "StateMachineAPI", "KeyValueStore", "LockService", "RaftClient", "KeyValueClient",
                "RaftTesting", "RaftSecurity", "StateMachineHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
    ]
)

// Microbenchmarks (ordo-one/benchmark): only with RAFTHOST_BENCHMARKS=1, so that neither
// `make run` nor `make test` fetches or builds the benchmark package. `make microbench` runs them.
if Context.environment["RAFTHOST_BENCHMARKS"] == "1" {
    // Without the runtime interposer trait, whose package this machine's mirror lacks.
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"])
    )
    let suites: [(name: String, dependencies: [Target.Dependency])] = [
        ("EngineBenchmarks", ["RaftCore"]),
        ("CodecBenchmarks", ["RaftCore", "RaftTransport", .product(name: "NIOCore", package: "swift-nio")]),
        ("StorageBenchmarks", ["RaftCore", "RaftStorage"]),
        ("PluginBenchmarks", ["StateMachineAPI", "KeyValueStore", "NativePlugins", "WasmPlugins"]),
    ]
    for suite in suites {
        package.targets.append(
            .executableTarget(
                name: suite.name,
                dependencies: suite.dependencies + [.product(name: "Benchmark", package: "benchmark")],
                path: "Benchmarks/\(suite.name)",
                plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
            )
        )
    }
}

// One settings list for every target: Swift 6 mode with strict concurrency plus the upcoming
// features we hold ourselves to.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .swiftLanguageMode(.v6),
    ])
    target.swiftSettings = settings
}
