// swift-tools-version: 6.1
import PackageDescription

// A plugin of its own, served by a host of its own: what a RaftHost user writes.
let package = Package(
    name: "Counter",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Counter", targets: ["Counter"]),
        .executable(name: "counter-host", targets: ["CounterHost"]),
    ],
    dependencies: [
        // In your project: .package(url: "<the RaftHost repository>", from: "...").
        .package(name: "RaftHost", path: "../..")
    ],
    targets: [
        // The state machine: depends on the plugin API only.
        .target(name: "Counter", dependencies: [.product(name: "StateMachineAPI", package: "RaftHost")]),
        // The host: the stock `rafthost` commands, serving Counter and the key/value store.
        .executableTarget(
            name: "CounterHost",
            dependencies: [
                "Counter",
                .product(name: "RaftHostCLI", package: "RaftHost"),
                .product(name: "KeyValueStore", package: "RaftHost"),
            ]
        ),
        // The conformance suite every plugin runs.
        .testTarget(
            name: "CounterTests",
            dependencies: ["Counter", .product(name: "RaftTesting", package: "RaftHost")]
        ),
    ]
)
