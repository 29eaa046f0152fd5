// swift-tools-version: 6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "StateJournal",
    products: [
        .library(name: "StateJournal", targets: ["StateJournal"]),
        .executable(name: "statejournal", targets: ["statejournal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "StateJournal",
            dependencies: [
                "CZstd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Test machinery, never shipped: fault injection, the simulated disk.
        .target(
            name: "StateJournalTesting",
            dependencies: ["StateJournal"],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "statejournal",
            dependencies: [
                "StateJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "torture",
            dependencies: [
                "StateJournal",
                "StateJournalTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/torture",
            swiftSettings: upcoming
        ),
        .systemLibrary(
            name: "CSQLite",
            path: "Tools/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "StateJournal",
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/bench",
            exclude: ["legacy_tool.py"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "StateJournalTests",
            dependencies: ["StateJournal", "StateJournalTesting"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["StateJournal", "statejournal"],
            swiftSettings: upcoming
        ),
    ]
)
