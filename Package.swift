// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RaftHost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "RaftTesting", targets: ["RaftTesting"]),
        .library(name: "ClusterConfig", targets: ["ClusterConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
    ],
    targets: [
        // The consensus engine: a deterministic value type with no I/O and no dependencies.
        .target(name: "RaftCore"),
        // Deterministic cluster simulator on virtual time, invariant checks, lab scenarios' harness.
        .target(
            name: "RaftTesting",
            dependencies: ["RaftCore", .product(name: "HeapModule", package: "swift-collections")]
        ),

        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore"]),
        .testTarget(name: "RaftTestingTests", dependencies: ["RaftCore", "RaftTesting"]),

        // The system libyaml, found through pkg-config; `make deps` installs it on Debian.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        // cluster.yaml -> validated, typed configuration. Keeps CYAML an internal detail.
        .target(name: "ClusterConfig", dependencies: ["CYAML"]),
        .testTarget(name: "ClusterConfigTests", dependencies: ["ClusterConfig"]),
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
