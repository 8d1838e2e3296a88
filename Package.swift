// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RaftHost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "RaftStorage", targets: ["RaftStorage"]),
    ],
    targets: [
        // The consensus engine: a deterministic value type with no I/O and no dependencies.
        .target(name: "RaftCore"),
        // Durable log, hard state and snapshots per Raft group; an in-memory twin for simulation.
        .target(name: "RaftStorage", dependencies: ["RaftCore"]),
        .testTarget(name: "RaftStorageTests", dependencies: ["RaftStorage", "RaftCore"]),
    ]
)

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
