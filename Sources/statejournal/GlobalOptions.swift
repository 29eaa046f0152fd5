#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// Options every command accepts (before or after the subcommand).
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The state file (default: $STATEJOURNAL_STATE, else ./STATE.md).", valueName: "path"))
    var state: String?

    @Option(help: ArgumentHelp("Who makes the change (default: $STATEJOURNAL_ACTOR, else user@host).", valueName: "name"))
    var actor: String?

    @Option(name: .customLong("lock-timeout"),
            help: ArgumentHelp("Seconds to wait for the lock; fractions allowed (default: 10).", valueName: "seconds"))
    var lockTimeout: Double?

    @Flag(name: .customLong("allow-symlinks"),
          help: "Follow symbolic links for STATE.md, its lock files and journal directory (refused by default).")
    var allowSymlinks = false

    func validate() throws {
        if let lockTimeout, !(lockTimeout.isFinite && lockTimeout >= 0) {
            throw ValidationError("--lock-timeout must be a number of seconds ≥ 0, e.g. 2.5")
        }
        if let actor, actor.isEmpty { throw ValidationError("--actor must not be empty") }
        if let state, state.isEmpty { throw ValidationError("--state must not be empty") }
    }

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

    /// A manager for this invocation; `command` is recorded in the lock file.
    func manager(command: String) -> StateManager {
        var lock = LockPolicy()
        if let lockTimeout { lock.timeout = lockTimeout }
        var config = StateManager.Configuration(statePath: statePath, actor: resolvedActor, lock: lock,
                                                command: "statejournal " + command)
        config.allowSymlinks = allowSymlinks
        return StateManager(configuration: config, logger: CLILog.logger)
    }
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

    var options: StateManager.WriteOptions {
        StateManager.WriteOptions(expectSeq: expectSeq, idempotencyKey: idempotencyKey)
    }
}

/// What a command that writes one event takes: the options every command
/// accepts, then the write flags.
struct WriteOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: WriteFlags

    /// Writes `payload` and reports it: JSON on stdout with `--json`, a line
    /// on stderr otherwise. `command` is recorded in the lock file.
    func perform(_ command: String, _ payload: Event.Payload) throws {
        let manager = global.manager(command: command)
        reportWrite(try manager.write(payload, options: flags.options), flags, manager)
    }
}
