import StateJournal

/// The event a one-event write command appends and the command line it
/// records in the lock file, built here once for argument parser's commands
/// (their ``OneEventCommand/event``) and for the fast path (FastPath.swift).
struct OneEventWrite: Equatable {
    var command: String
    var payload: Event.Payload

    static func taskAdd(id: String, wave: Int, description: String) -> Self {
        Self(command: "task add \(id)", payload: .taskAdded(taskID: id, wave: wave, description: description))
    }

    static func taskStart(id: String) -> Self {
        Self(command: "task start \(id)", payload: .taskStarted(taskID: id))
    }

    static func taskComplete(id: String, commit: String?, files: [String]) -> Self {
        Self(command: "task complete \(id)", payload: .taskCompleted(taskID: id, commit: commit, files: files))
    }

    static func taskFail(id: String, error: String) -> Self {
        Self(command: "task fail \(id)", payload: .taskFailed(taskID: id, error: error))
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
            try manager.write(write.payload, options: flags.options)
        }
    }
}
