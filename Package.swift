// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RaftHost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "StateMachineAPI", targets: ["StateMachineAPI"]),
        .library(name: "KeyValueStore", targets: ["KeyValueStore"]),
        .library(name: "LockService", targets: ["LockService"]),
        .library(name: "RaftTesting", targets: ["RaftTesting"]),
    ],
    targets: [
        // The consensus engine: a deterministic value type with no I/O and no dependencies.
        .target(name: "RaftCore"),
        // What a plugin author imports: the StateMachine protocol, its codecs and the type-erased
        // box and registry the host serves plugins through. No dependencies.
        .target(name: "StateMachineAPI"),
        // The reference plugin: the classic Raft key/value service.
        .target(name: "KeyValueStore", dependencies: ["StateMachineAPI"], path: "Plugins/KeyValueStore"),
        // A lock service with leases on log time and fencing tokens: proves the API is generic.
        .target(name: "LockService", dependencies: ["StateMachineAPI"], path: "Plugins/LockService"),
        // Public test kit: simulator, linearizability checker and models, plugin conformance suite.
        .target(name: "RaftTesting", dependencies: ["RaftCore", "StateMachineAPI", "KeyValueStore", "LockService"]),

        .testTarget(name: "StateMachineAPITests", dependencies: ["StateMachineAPI", "RaftTesting"]),
        .testTarget(name: "KeyValueStoreTests", dependencies: ["KeyValueStore", "StateMachineAPI", "RaftTesting"]),
        .testTarget(name: "LockServiceTests", dependencies: ["LockService", "StateMachineAPI", "RaftTesting"]),
        .testTarget(
            name: "RaftTestingTests",
            dependencies: ["RaftTesting", "KeyValueStore", "LockService", "StateMachineAPI"]
        ),
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
