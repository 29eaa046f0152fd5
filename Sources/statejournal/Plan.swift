import StateJournal

/// The JSON plan of `init --plan`.
struct Plan {
    var waves: [[Event.PlannedTask]]
    var metadata: [MetadataEntry]

    static func parse(_ bytes: [UInt8], source: String) throws -> Plan {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw StateJournalError(.badInput, "the plan in \(source) is not valid JSON (\(error)); expected "
                + #"{"waves": [[{"task_id": "…", "description": "…"}]], "metadata": {}}"#)
        }
        func bad(_ what: String) -> StateJournalError {
            StateJournalError(.badInput, "the plan in \(source): \(what); expected "
                + #"{"waves": [[{"task_id": "…", "description": "…"}]], "metadata": {"key": "value"}}"#)
        }
        guard json.objectValue != nil else { throw bad("the top level must be an object") }
        guard let wavesJSON = json["waves"]?.arrayValue else { throw bad("'waves' must be an array of waves") }
        var waves: [[Event.PlannedTask]] = []
        for (w, wave) in wavesJSON.enumerated() {
            guard let tasks = wave.arrayValue else { throw bad("wave \(w + 1) must be an array of tasks") }
            var planned: [Event.PlannedTask] = []
            for (t, task) in tasks.enumerated() {
                guard task.objectValue != nil else { throw bad("task \(t + 1) of wave \(w + 1) must be an object") }
                guard let id = task["task_id"]?.stringValue else {
                    throw bad("task \(t + 1) of wave \(w + 1) has no string 'task_id'")
                }
                let description = task["description"]?.stringValue ?? ""
                planned.append(Event.PlannedTask(id: id, description: description))
            }
            waves.append(planned)
        }
        var metadata: [MetadataEntry] = []
        if let meta = json["metadata"], !meta.isNull {
            guard let members = meta.objectValue else { throw bad("'metadata' must be an object of strings") }
            for member in members {
                guard let value = member.value.stringValue else { throw bad("metadata '\(member.key)' must be a string") }
                metadata.append(MetadataEntry(key: member.key, value: value))
            }
        }
        return Plan(waves: waves, metadata: metadata)
    }
}
