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
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // The domain every layer shares: the state, events and their fold,
        // errors, and the store protocol. Public; re-exported by StateJournal.
        .target(
            name: "StateJournalModel",
            swiftSettings: upcoming
        ),
        // The engine: system calls, the lock, the file journal. Nothing in it
        // is public; the package's own targets see it through `package` access.
        .target(
            name: "StateJournalEngine",
            dependencies: [
                "CZstd",
                "StateJournalModel",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // The library's face: StateManager, history, projection.
        .target(
            name: "StateJournal",
            dependencies: [
                "StateJournalModel",
                "StateJournalEngine",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // The journal store on a PostgreSQL server, for a workflow whose
        // agents run on several hosts. Public only through the store
        // protocol and `PostgresStoreAddress`; the CLI links it.
        .target(
            name: "StateJournalPostgres",
            dependencies: [
                "StateJournal",
                "StateJournalModel",
                "StateJournalEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Test machinery, never shipped: fault injection, the simulated disk,
        // the in-memory file system, fuzz entry points.
        .target(
            name: "StateJournalTesting",
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalModel"],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "statejournal",
            dependencies: [
                "StateJournal",
                "StateJournalPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "torture",
            dependencies: [
                "StateJournal",
                "StateJournalEngine",
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
                "StateJournalEngine",
                "StateJournalPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/bench",
            exclude: ["legacy_tool.py"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "StateJournalTests",
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalTesting"],
            swiftSettings: upcoming
        ),
        // The store conformance suite (file and PostgreSQL), the PostgreSQL
        // store's failure and multi-host tests: against the server
        // `make pg-start` runs (`make test` starts it).
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalPostgres", "statejournal"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["StateJournal", "StateJournalEngine", "statejournal"],
            swiftSettings: upcoming
        ),
    ]
)
