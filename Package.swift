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
        .executable(name: "statejournal-mcp", targets: ["statejournal-mcp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // statejournal-mcp, the MCP server `statejournal mcp` runs: only the
        // SDK's MCP library is built (with swift-system and swift-log); its
        // other dependencies are fetched to resolve it, never compiled here.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // CRC-32C with the CPU's crc32 instruction, chosen at run time.
        .target(name: "CCRC32C"),
        // The domain every layer shares: the state, events and their fold,
        // errors, and the store protocol. Public; re-exported by StateJournal.
        .target(
            name: "StateJournalModel",
            dependencies: ["CCRC32C"],
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
        // Test machinery, never shipped: fault injection, the simulated disk,
        // the in-memory file system, fuzz entry points.
        .target(
            name: "StateJournalTesting",
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalModel"],
            swiftSettings: upcoming
        ),
        // Linked as a fully static executable in release builds on Linux
        // (`make release`, `make bench`): one command is one process, and
        // the dynamic loader was about a quarter of a `task complete`'s
        // instructions (Docs/PERFORMANCE.md). libzstd is linked from its
        // static archive (libzstd-dev has one). The flag makes only the
        // `statejournal` product unusable as another package's dependency
        // (SwiftPM refuses unsafe flags in products it pulls in); the
        // StateJournal library product does not contain this target.
        .executableTarget(
            name: "statejournal",
            dependencies: [
                "StateJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming,
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))]
        ),
        // The MCP server (`statejournal mcp` execs it): a separate program so
        // that the command line does not load Foundation and libcurl, which
        // the MCP SDK links. Each tool call runs the command line.
        .executableTarget(
            name: "statejournal-mcp",
            dependencies: [
                "StateJournalModel",
                .product(name: "MCP", package: "swift-sdk"),
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
        .testTarget(
            name: "CLITests",
            dependencies: ["StateJournal", "StateJournalEngine", "statejournal"],
            swiftSettings: upcoming
        ),
    ]
)
