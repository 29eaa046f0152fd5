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
        .executable(name: "statejournal-pg", targets: ["statejournal-pg"]),
        .library(name: "StateJournalPostgres", targets: ["StateJournalPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
        // System calls the C library may not declare (renameat2's exchange).
        .target(name: "CFileCalls"),
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
                "CFileCalls",
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
        // The command line's commands (one file each), shared by the two
        // programs below.
        .target(
            name: "StateJournalCLI",
            dependencies: [
                "StateJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // The command line on the file journal; no database client linked,
        // so every command starts fast. Given a postgres:// store it becomes
        // statejournal-pg.
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
            dependencies: ["StateJournalCLI"],
            swiftSettings: upcoming,
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))]
        ),
        // The same command line with the PostgreSQL store linked in.
        .executableTarget(
            name: "statejournal-pg",
            dependencies: ["StateJournal", "StateJournalCLI", "StateJournalPostgres"],
            swiftSettings: upcoming
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
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalPostgres", "StateJournalCLI", "statejournal", "statejournal-pg"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["StateJournal", "StateJournalEngine", "StateJournalCLI", "statejournal"],
            swiftSettings: upcoming
        ),
    ]
)
