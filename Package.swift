// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mtor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mtor", targets: ["mtor"]),
        // doctor's HTTP call: the only binary that links FoundationNetworking (libcurl and its libraries).
        .executable(name: "mtor-probe", targets: ["mtor-probe"]),
    ],
    targets: [
        .target(name: "CMtorShims"),
        // mtor-probe's HTTP call through the system's libcurl, loaded at run time.
        .target(name: "CMtorHTTP"),
        .target(name: "MtorCore"),
        .target(name: "MtorPlatform", dependencies: ["CMtorShims"]),
        .target(name: "MtorWorker", dependencies: ["MtorCore", "MtorPlatform"]),
        .executableTarget(name: "mtor", dependencies: ["MtorCore", "MtorPlatform", "MtorWorker"]),
        .executableTarget(name: "mtor-probe", dependencies: ["MtorCore", "CMtorHTTP"]),
        .executableTarget(name: "mtor-bench", dependencies: ["MtorCore", "MtorPlatform"]),
        .testTarget(name: "MtorCoreTests", dependencies: ["MtorCore"]),
        .testTarget(name: "MtorPlatformTests", dependencies: ["MtorPlatform", "MtorCore"]),
        .testTarget(name: "MtorWorkerTests", dependencies: ["MtorWorker", "MtorCore", "MtorPlatform"]),
        .testTarget(name: "MtorEndToEndTests", dependencies: ["MtorCore", "MtorPlatform", "MtorWorker", "mtor", "mtor-probe"]),
    ]
)

for target in package.targets where target.type != .system && !target.name.hasPrefix("CMtor") {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
