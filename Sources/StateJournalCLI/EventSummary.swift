import StateJournal

extension Event {
    /// A short description of the payload for `log`: the task and what changed.
    var summary: String {
        switch payload {
        case .workflowInitialized(let id, let name, let waves, _):
            let tasks = waves.reduce(0) { $0 + $1.count }
            return "\(id) “\(Terminal.oneLine(name, limit: 40))”: \(tasks) task\(tasks == 1 ? "" : "s") in \(waves.count) wave\(waves.count == 1 ? "" : "s")"
        case .taskAdded(let id, let wave, let description, let dependsOn):
            return "\(id) → wave \(wave)" + (description.isEmpty ? "" : ": " + Terminal.oneLine(description, limit: 60))
                + (dependsOn.isEmpty ? "" : " (after \(dependsOn.joined(separator: ", ")))")
        case .taskStarted(let id):
            return id
        case .taskCompleted(let id, let commit, let files, let force):
            var parts: [String] = []
            if let commit { parts.append("commit \(commit)") }
            if !files.isEmpty { parts.append("\(files.count) file\(files.count == 1 ? "" : "s")") }
            if force { parts.append("forced") }
            return id + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
        case .taskFailed(let id, let error, let force):
            return "\(id): " + Terminal.oneLine(error, limit: 60) + (force ? " (forced)" : "")
        case .taskClaimed(let id, let owner, let expires, let previous, let force):
            var text = "\(id) by \(Terminal.oneLine(owner, limit: 40)) " + Self.leaseText(expires)
            if let previous { text += ", from \(Terminal.oneLine(previous, limit: 40))" }
            return text + (force ? " (forced)" : "")
        case .taskLeaseRenewed(let id, let owner, let expires):
            return "\(id) by \(Terminal.oneLine(owner, limit: 40)) " + Self.leaseText(expires)
        case .taskReleased(let id, let owner, let force):
            return "\(id) from \(Terminal.oneLine(owner, limit: 40))" + (force ? " (forced)" : "")
        case .waveSet(let wave):
            return "wave \(wave)"
        case .noteAdded(let text):
            return Terminal.oneLine(text)
        case .metadataSet(let key, let value):
            return Terminal.oneLine(key, limit: 30) + " = " + Terminal.oneLine(value, limit: 50)
        case .stateReplaced(let image):
            return Self.imageSummary(image)
        case .stateRestored(let seq, let image):
            return "state of seq \(seq): " + Self.imageSummary(image)
        case .taskEdited(let id, let description, let commit, let files, let error):
            var parts: [String] = []
            if !description.isEmpty { parts.append(Terminal.oneLine(description, limit: 40)) }
            if let commit { parts.append("commit \(commit)") }
            if !files.isEmpty { parts.append("\(files.count) file\(files.count == 1 ? "" : "s")") }
            if let error { parts.append("error: " + Terminal.oneLine(error, limit: 40)) }
            return id + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
        case .noteRemoved(let text):
            return "− " + Terminal.oneLine(text)
        case .metadataRemoved(let key):
            return "− " + Terminal.oneLine(key, limit: 30)
        case .workflowRenamed(let name):
            return "“" + Terminal.oneLine(name, limit: 60) + "”"
        case .sectionSet(let section):
            return "## " + Terminal.oneLine(section.name, limit: 40)
                + (section.markdown.isEmpty ? " removed" : ": " + Terminal.oneLine(section.markdown, limit: 50))
        }
    }

    /// `until 2026-11-30 05:15:00` (local time, as STATE.md shows it) or `without expiry`.
    static func leaseText(_ expires: Timestamp?) -> String {
        expires.map { "until \($0.localDateTime)" } ?? "without expiry"
    }

    private static func imageSummary(_ image: StateImage) -> String {
        "\(image.workflowID), wave \(image.currentWave)/\(image.totalWaves), \(image.tasks.count) task\(image.tasks.count == 1 ? "" : "s")"
    }

    /// How `log` marks an event recorded from an edit of STATE.md.
    var viaLabel: String { via == "edit" ? "edit of STATE.md" : "via \(via ?? "")" }

    /// The colour of the event type in tables.
    var typeStyle: Terminal.Style {
        switch payload {
        case .taskCompleted: return .green
        case .taskFailed: return .red
        case .taskStarted, .taskClaimed, .taskLeaseRenewed: return .yellow
        case .stateReplaced, .stateRestored, .workflowInitialized: return .blue
        default: return .cyan
        }
    }
}

/// Completed tasks over all tasks, as STATE.md's bar counts them.
enum Progress {
    /// floor(done · 100 / all); 0 when there are no tasks.
    static func percent(_ done: Int, of all: Int) -> Int { all > 0 ? done * 100 / all : 0 }
}
