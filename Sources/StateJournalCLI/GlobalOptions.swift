#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// Where global options were given: before the subcommand (parsed by the
/// root command) or after it (parsed by the subcommand).
enum Leading {}
enum Trailing {}

/// Options every command accepts, before or after the subcommand; the two
/// places are two types so that argument parser keeps both.
struct GlobalOptions<Position>: ParsableArguments {
    @Option(help: ArgumentHelp("The state file (default: $STATEJOURNAL_STATE, else ./STATE.md).", valueName: "path"))
    var state: String?

    @Option(help: ArgumentHelp("Who makes the change (default: $STATEJOURNAL_ACTOR, else user@host).", valueName: "name"))
    var actor: String?

    @Option(name: .customLong("lock-timeout"),
            help: ArgumentHelp("Seconds to wait for the lock; fractions allowed (default: 10).", valueName: "seconds"))
    var lockTimeout: Double?

    @Option(help: ArgumentHelp("Where the journal is: postgres://USER@HOST:PORT/DB?workflow=NAME for a PostgreSQL server "
                               + "shared by several hosts (default: $STATEJOURNAL_STORE, else the files beside the state file). "
                               + "The password comes from PGPASSWORD or ~/.pgpass, never the URL.", valueName: "url"))
    var store: String?

    @Flag(name: .customLong("allow-symlinks"),
          help: "Follow symbolic links for STATE.md, its lock files and journal directory (refused by default).")
    var allowSymlinks = false

    func validate() throws {
        if let lockTimeout, !(lockTimeout.isFinite && lockTimeout >= 0) {
            throw ValidationError("--lock-timeout must be a number of seconds ≥ 0, e.g. 2.5")
        }
        if let actor, actor.isEmpty { throw ValidationError("--actor must not be empty") }
        if let state, state.isEmpty { throw ValidationError("--state must not be empty") }
        if let store, store.isEmpty { throw ValidationError("--store must not be empty") }
    }

    /// These options with `leading` (given before the subcommand) taking
    /// precedence.
    func under(_ leading: GlobalOptions<Leading>) -> GlobalOptions<Trailing> {
        var merged = GlobalOptions<Trailing>()
        merged.state = leading.state ?? state
        merged.actor = leading.actor ?? actor
        merged.lockTimeout = leading.lockTimeout ?? lockTimeout
        merged.store = leading.store ?? store
        merged.allowSymlinks = leading.allowSymlinks || allowSymlinks
        return merged
    }

    /// The values, without argument parser's wrappers.
    var settings: GlobalSettings {
        GlobalSettings(state: state, actor: actor, lockTimeout: lockTimeout, allowSymlinks: allowSymlinks, store: store)
    }

    /// A manager for this invocation; `command` is recorded in the lock file.
    func manager(command: String) throws -> StateManager { try settings.manager(command: command) }

    /// ``GlobalSettings/existingManager(command:)``.
    func existingManager(command: String) throws -> StateManager { try settings.existingManager(command: command) }

    /// ``GlobalSettings/withStateDirectory(_:)``.
    func withStateDirectory<T>(_ body: () throws -> T) throws -> T { try settings.withStateDirectory(body) }

    var statePath: String { settings.statePath }
}

/// The global options' values, however they were read: by argument parser
/// (``GlobalOptions/settings``) or by the fast path (FastPath.swift).
struct GlobalSettings: Equatable {
    var state: String?
    var actor: String?
    var lockTimeout: Double?
    var allowSymlinks = false
    var store: String?
    /// The files beside STATE.md, whatever STATEJOURNAL_STORE says (`migrate --to PATH`).
    var filesOnly = false

    var statePath: String {
        if let state { return state }
        if let env = getenv("STATEJOURNAL_STATE"), env.pointee != 0 { return String(cString: env) }
        return "STATE.md"
    }

    var resolvedActor: String {
        if let actor { return actor }
        if let env = getenv("STATEJOURNAL_ACTOR"), env.pointee != 0 { return String(cString: env) }
        return StateManager.defaultActor()
    }

    /// The journal's URL when it is not the files beside STATE.md:
    /// `--store`, else `STATEJOURNAL_STORE`.
    var storeURL: String? {
        if let store { return store }
        if filesOnly { return nil }
        if let env = getenv("STATEJOURNAL_STORE"), env.pointee != 0 { return String(cString: env) }
        return nil
    }

    /// A manager for this invocation; `command` is recorded in the lock file.
    func manager(command: String) throws -> StateManager {
        Output.statePath = statePath
        var lock = LockPolicy()
        if let lockTimeout { lock.timeout = lockTimeout }
        var config = StateManager.Configuration(statePath: statePath, actor: resolvedActor, lock: lock,
                                                command: "statejournal " + command)
        config.allowSymlinks = allowSymlinks
        // Edits of STATE.md are recorded as --actor (or STATEJOURNAL_ACTOR), else as the file's owner.
        config.editActor = actor ?? getenv("STATEJOURNAL_ACTOR").flatMap { $0.pointee == 0 ? nil : String(cString: $0) }
        if let url = storeURL {
            guard StoreOpener.isPostgresURL(url) else {
                throw CLIError("bad_input", "--store (or STATEJOURNAL_STORE) must be a postgres:// URL; the file journal needs no --store",
                               hint: "write it as postgres://USER@HOST:PORT/DATABASE?workflow=NAME", status: 2)
            }
            let manager = try StoreOpener.manager(config, url: url)
            Output.storeLocation = manager.makeStore().location
            return manager
        }
        return StateManager(configuration: config, logger: CLILog.logger)
    }
}

extension GlobalSettings {
    /// A manager for a command that needs a workflow: when there is no
    /// journal beside the state path, every such command stops here with
    /// the same message (issue 17, item 4), before it creates anything (a
    /// lock file) or reads anything.
    func existingManager(command: String) throws -> StateManager {
        let manager = try manager(command: command)
        // A database journal is there or not for every host alike; a
        // workflow not started there says so at its first read.
        if storeURL != nil { return manager }
        var status = stat()
        if lstat(statePath + ".journal", &status) != 0 && errno == ENOENT {
            throw CLIError.noWorkflow(at: statePath)
        }
        return manager
    }

    /// Runs `body` (a command that starts a workflow: `init`, `import`) with
    /// the state path's directory made first when it does not exist, as
    /// `mkdir -p` would (said on stderr); when `body` fails, the directories
    /// made are removed again if they are still empty, so a failed command
    /// leaves nothing behind.
    func withStateDirectory<T>(_ body: () throws -> T) throws -> T {
        var missing: [String] = []
        var dir = statePath
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            if dir.isEmpty { break }
            var status = stat()
            if lstat(dir, &status) == 0 { break }
            missing.append(dir)
        }
        for made in missing.reversed() {
            guard mkdir(made, 0o755) == 0 || errno == EEXIST else {
                let error = errno
                for undo in missing where undo.count > made.count { rmdir(undo) }
                throw CLIError("io", "cannot create the directory '\(made)' for '\(statePath)': \(String(cString: strerror(error)))",
                               hint: "create it yourself (mkdir -p '\(made)') or give another --state", status: 1)
            }
        }
        do {
            let result = try body()
            if let top = missing.last { Output.stderr("created directory '\(top)'" + (missing.count > 1 ? " and \(missing.count - 1) below it" : "")) }
            return result
        } catch {
            for made in missing { rmdir(made) }
            throw error
        }
    }
}

/// A subcommand that takes the global options.
protocol GlobalCommand: ParsableCommand {
    var trailing: GlobalOptions<Trailing> { get }
    var root: StateJournalCommand { get }
}

extension GlobalCommand {
    /// The global options, wherever they were given.
    var global: GlobalOptions<Trailing> { trailing.under(root.leading) }
}

/// Options of every write command.
struct WriteFlags: ParsableArguments {
    @Option(name: .customLong("expect-seq"),
            help: ArgumentHelp("Write only if the journal's last sequence number is N (else exit 4).", valueName: "N"))
    var expectSeq: UInt64?

    @Option(name: .customLong("idempotency-key"),
            help: ArgumentHelp("A retry with a key already in the journal writes nothing and succeeds.", valueName: "key"))
    var idempotencyKey: String?

    @Flag(help: "Print the event as JSON on stdout.")
    var json = false

    var options: StateManager.WriteOptions { settings.options }

    /// The values, without argument parser's wrappers.
    var settings: WriteSettings { WriteSettings(expectSeq: expectSeq, idempotencyKey: idempotencyKey, json: json) }
}

/// The write flags' values, however they were read.
struct WriteSettings: Equatable {
    var expectSeq: UInt64?
    var idempotencyKey: String?
    var json = false

    var options: StateManager.WriteOptions {
        StateManager.WriteOptions(expectSeq: expectSeq, idempotencyKey: idempotencyKey)
    }
}

/// What a command that writes one event takes after the subcommand: the
/// options every command accepts, then the write flags.
struct WriteOptions: ParsableArguments {
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>
}

/// A command that takes the write flags (``WriteOptions``).
protocol WriteCommand: GlobalCommand {
    var write: WriteOptions { get }
}

extension WriteCommand {
    var trailing: GlobalOptions<Trailing> { write.trailing }
    var flags: WriteFlags { write.flags }
}

/// A command that writes one event: `task add|start|complete|fail`, `note`,
/// `wave set`, `meta set`. What it does is a ``WriteRequest``, the same value
/// the fast path (FastPath.swift) builds for the simple forms of its argv.
protocol OneEventCommand: WriteCommand {
    /// The event and the command line recorded in the lock file.
    var event: OneEventWrite { get }
}

extension OneEventCommand {
    var request: WriteRequest { WriteRequest(global: global.settings, flags: flags.settings, write: event) }

    func run() throws { try request.perform() }
}
