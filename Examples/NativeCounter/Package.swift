// swift-tools-version: 6.1
import PackageDescription

// A state machine shipped as a shared library that the stock `rafthost` loads at run time
// (`plugins: [{native: .build/debug/libNativeCounter.so}]` in cluster.yaml).
let package = Package(
    name: "NativeCounter",
    platforms: [.macOS(.v15)],
    products: [
        // `.dynamic`: a shared library, libNativeCounter.so.
        .library(name: "NativeCounter", type: .dynamic, targets: ["NativeCounter"])
    ],
    dependencies: [
        // In your project: .package(url: "<the RaftHost repository>", from: "...").
        .package(name: "RaftHost", path: "../..")
    ],
    targets: [
        .target(
            name: "NativeCounter",
            dependencies: [
                .product(name: "StateMachineAPI", package: "RaftHost"),
                .product(name: "RaftHostPluginExport", package: "RaftHost"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
