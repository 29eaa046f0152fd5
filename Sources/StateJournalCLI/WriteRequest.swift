import StateJournal

/// The event a one-event write command appends and the command line it
/// records in the lock file, built here once for argument parser's commands
/// (their ``OneEventCommand/event``) and for the fast path (FastPath.swift).
struct OneEventWrite: Equatable {
    var command: String
    var payload: Event.Payload

    static func taskAdd(id: String, wave: Int, description: String, after: [String] = []) -> Self {
        Self(command: "task add \(id)", payload: .taskAdded(taskID: id, wave: wave, description: description, dependsOn: after))
    }

    static func taskStart(id: String) -> Self {
        Self(command: "task start \(id)", payload: .taskStarted(taskID: id))
    }

    static func taskComplete(id: String, commit: String?, files: [String], force: Bool = false) -> Self {
        Self(command: "task complete \(id)", payload: .taskCompleted(taskID: id, commit: commit, files: files, force: force))
    }

    static func taskFail(id: String, error: String, force: Bool = false) -> Self {
        Self(command: "task fail \(id)", payload: .taskFailed(taskID: id, error: error, force: force))
    }

    static func note(text: String) -> Self {
        Self(command: "note", payload: .noteAdded(text: text))
    }

    static func waveSet(wave: Int) -> Self {
        Self(command: "wave set \(wave)", payload: .waveSet(wave: wave))
    }

    static func metaSet(key: String, value: String) -> Self {
        Self(command: "meta set \(key)", payload: .metadataSet(key: key, value: value))
    }
}

/// A one-event write with everything its command line said: what
/// `statejournal task complete …` and the other one-event commands do,
/// whichever parser read the arguments.
struct WriteRequest: Equatable {
    var global: GlobalSettings
    var flags: WriteSettings
    var write: OneEventWrite

    /// Writes the event and reports it: JSON on stdout with `--json`, a line
    /// on stderr otherwise (see ``recordWrite(_:json:key:extra:_:)``). With
    /// no workflow at the state path it stops before creating anything.
    func perform() throws {
        let manager = try global.existingManager(command: write.command)
        try recordWrite(manager, json: flags.json, key: flags.idempotencyKey) {
            // --force: recorded only when it overrides another actor's live
            // claim, which is known only under the lock.
            switch write.payload {
            case .taskCompleted(let id, let commit, let files, true):
                return try manager.completeTask(id, commit: commit, files: files, force: true, options: flags.options)
            case .taskFailed(let id, let error, true):
                return try manager.failTask(id, error: error, force: true, options: flags.options)
            default:
                return try manager.write(write.payload, options: flags.options)
            }
        }
    }
}
