// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RaftHost",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "RaftTransport", targets: ["RaftTransport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        // The consensus engine: a deterministic value type with no I/O and no dependencies.
        .target(name: "RaftCore"),
        // Wire codec, peer handshake, and the in-process and SwiftNIO TCP peer transports.
        .target(
            name: "RaftTransport",
            dependencies: [
                "RaftCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RaftTransportTests",
            dependencies: [
                "RaftCore",
                "RaftTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
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
