// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that `swift test` in the root never runs them.
let package = Package(
    name: "RaftHostBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "RaftHost", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "storage-bench",
            dependencies: [
                .product(name: "RaftCore", package: "RaftHost"),
                .product(name: "RaftStorage", package: "RaftHost"),
            ]
        )
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .swiftLanguageMode(.v6),
    ])
    target.swiftSettings = settings
}
