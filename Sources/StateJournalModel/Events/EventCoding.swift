/// JSON shapes of events and states.
///
/// An event is one flat JSON object — the envelope (`seq`, `time`, `actor`,
/// `pid`, `type`, optional `idempotency_key`) followed by the payload's
/// fields. The journal stores exactly this text, and `log --json` and
/// `export` print it, so what `zstd -d` shows is what the tools show.
extension Event {
    package func json() -> JSON {
        var members: [JSON.Member] = [
            .init("seq", .int(Int64(seq))),
            .init("time", .string(time.rfc3339)),
            .init("actor", .string(actor)),
            .init("pid", .int(Int64(pid))),
            .init("type", .string(payload.typeName)),
        ]
        if let idempotencyKey { members.append(.init("idempotency_key", .string(idempotencyKey))) }
        if let via { members.append(.init("via", .string(via))) }
        if let fileModified { members.append(.init("file_mtime", .string(fileModified.rfc3339))) }
        if let fileChecksum { members.append(.init("file_crc", .int(Int64(fileChecksum)))) }
        switch payload {
        case .workflowInitialized(let id, let name, let waves, let metadata):
            members.append(.init("workflow_id", .string(id)))
            members.append(.init("workflow_name", .string(name)))
            members.append(.init("waves", .array(waves.map { wave in
                .array(wave.map { task in
                    var fields: [JSON.Member] = [.init("task_id", .string(task.id)), .init("description", .string(task.description))]
                    if !task.dependsOn.isEmpty { fields.append(.init("depends_on", .array(task.dependsOn.map { .string($0) }))) }
                    return .object(fields)
                })
            })))
            members.append(.init("metadata", metadataJSON(metadata)))
        case .taskAdded(let taskID, let wave, let description, let dependsOn):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("wave", .int(Int64(wave))))
            members.append(.init("description", .string(description)))
            if !dependsOn.isEmpty { members.append(.init("depends_on", .array(dependsOn.map { .string($0) }))) }
        case .taskStarted(let taskID):
            members.append(.init("task_id", .string(taskID)))
        case .taskCompleted(let taskID, let commit, let files, let force):
            members.append(.init("task_id", .string(taskID)))
            if let commit { members.append(.init("commit", .string(commit))) }
            if !files.isEmpty { members.append(.init("files", .array(files.map { .string($0) }))) }
            if force { members.append(.init("forced", .bool(true))) }
        case .taskFailed(let taskID, let error, let force):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("error", .string(error)))
            if force { members.append(.init("forced", .bool(true))) }
        case .taskClaimed(let taskID, let owner, let leaseExpires, let previousOwner, let force):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("owner", .string(owner)))
            members.append(.init("lease_expires", leaseExpires.map { .string($0.rfc3339) } ?? .null))
            if let previousOwner { members.append(.init("previous_owner", .string(previousOwner))) }
            if force { members.append(.init("forced", .bool(true))) }
        case .taskLeaseRenewed(let taskID, let owner, let leaseExpires):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("owner", .string(owner)))
            members.append(.init("lease_expires", leaseExpires.map { .string($0.rfc3339) } ?? .null))
        case .taskReleased(let taskID, let owner, let force):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("owner", .string(owner)))
            if force { members.append(.init("forced", .bool(true))) }
        case .waveSet(let wave):
            members.append(.init("wave", .int(Int64(wave))))
        case .noteAdded(let text):
            members.append(.init("text", .string(text)))
        case .metadataSet(let key, let value):
            members.append(.init("key", .string(key)))
            members.append(.init("value", .string(value)))
        case .stateReplaced(let image):
            members.append(.init("state", image.json()))
        case .stateRestored(let fromSeq, let image):
            members.append(.init("restored_seq", .int(Int64(fromSeq))))
            members.append(.init("state", image.json()))
        case .taskEdited(let taskID, let description, let commit, let files, let error):
            members.append(.init("task_id", .string(taskID)))
            members.append(.init("description", .string(description)))
            members.append(.init("commit", commit.map { .string($0) } ?? .null))
            members.append(.init("files", .array(files.map { .string($0) })))
            members.append(.init("error", error.map { .string($0) } ?? .null))
        case .noteRemoved(let text):
            members.append(.init("text", .string(text)))
        case .metadataRemoved(let key):
            members.append(.init("key", .string(key)))
        case .workflowRenamed(let name):
            members.append(.init("workflow_name", .string(name)))
        case .sectionSet(let section):
            members += section.jsonMembers()
        }
        return .object(members)
    }

    /// Decodes an event from its JSON object; the error says which field is wrong.
    package init(json: JSON) throws(EventDecodingError) {
        let r = FieldReader(json)
        let seq = try r.int("seq")
        guard seq > 0 else { throw EventDecodingError("'seq' must be positive") }
        let timeText = try r.string("time")
        guard let time = Timestamp(parsing: timeText) else { throw EventDecodingError("'time' is not an RFC 3339 time") }
        let type = try r.string("type")
        let payload: Payload
        switch type {
        case "workflow.initialized":
            let waves = try r.array("waves").map { (wave: JSON) throws(EventDecodingError) -> [PlannedTask] in
                guard let tasks = wave.arrayValue else { throw EventDecodingError("'waves' must be an array of arrays") }
                return try tasks.map { (task: JSON) throws(EventDecodingError) -> PlannedTask in
                    let t = FieldReader(task)
                    return PlannedTask(id: try t.string("task_id"), description: try t.string("description"),
                                       dependsOn: try t.stringArray("depends_on"))
                }
            }
            payload = .workflowInitialized(id: try r.string("workflow_id"), name: try r.string("workflow_name"),
                                           waves: waves, metadata: try metadataEntries(r.json["metadata"]))
        case "task.added":
            payload = .taskAdded(taskID: try r.string("task_id"), wave: Int(try r.int("wave")),
                                 description: try r.string("description"), dependsOn: try r.stringArray("depends_on"))
        case "task.started":
            payload = .taskStarted(taskID: try r.string("task_id"))
        case "task.completed":
            payload = .taskCompleted(taskID: try r.string("task_id"), commit: try r.optionalString("commit"),
                                     files: try r.stringArray("files"), force: try r.flag("forced"))
        case "task.failed":
            payload = .taskFailed(taskID: try r.string("task_id"), error: try r.string("error"), force: try r.flag("forced"))
        case "task.claimed":
            payload = .taskClaimed(taskID: try r.string("task_id"), owner: try r.string("owner"),
                                   leaseExpires: try r.optionalTime("lease_expires"),
                                   previousOwner: try r.optionalString("previous_owner"), force: try r.flag("forced"))
        case "task.lease_renewed":
            payload = .taskLeaseRenewed(taskID: try r.string("task_id"), owner: try r.string("owner"),
                                        leaseExpires: try r.optionalTime("lease_expires"))
        case "task.released":
            payload = .taskReleased(taskID: try r.string("task_id"), owner: try r.string("owner"), force: try r.flag("forced"))
        case "wave.set":
            payload = .waveSet(wave: Int(try r.int("wave")))
        case "note.added":
            payload = .noteAdded(text: try r.string("text"))
        case "metadata.set":
            payload = .metadataSet(key: try r.string("key"), value: try r.string("value"))
        case "state.replaced":
            payload = .stateReplaced(try StateImage(json: r.required("state")))
        case "state.restored":
            let restored = try r.int("restored_seq")
            guard restored >= 0 else { throw EventDecodingError("'restored_seq' must not be negative") }
            payload = .stateRestored(fromSeq: UInt64(restored), state: try StateImage(json: r.required("state")))
        case "task.edited":
            payload = .taskEdited(taskID: try r.string("task_id"), description: try r.optionalString("description") ?? "",
                                  commit: try r.optionalString("commit"), files: try r.stringArray("files"),
                                  error: try r.optionalString("error"))
        case "note.removed":
            payload = .noteRemoved(text: try r.string("text"))
        case "metadata.removed":
            payload = .metadataRemoved(key: try r.string("key"))
        case "workflow.renamed":
            payload = .workflowRenamed(name: try r.string("workflow_name"))
        case "section.set":
            payload = .sectionSet(try FreeSection(json: r.json))
        default:
            throw EventDecodingError("unknown event type '\(type)'")
        }
        self.init(seq: UInt64(seq), time: time, actor: try r.string("actor"),
                  pid: Int32(truncatingIfNeeded: try r.int("pid")),
                  idempotencyKey: try r.optionalString("idempotency_key"), payload: payload)
        via = try r.optionalString("via")
        if let text = try r.optionalString("file_mtime") {
            guard let time = Timestamp(parsing: text) else { throw EventDecodingError("'file_mtime' is not an RFC 3339 time") }
            fileModified = time
        }
        // Absent in journals written before edits carried it.
        if let v = r.json["file_crc"], !v.isNull {
            guard let crc = v.intValue, let value = UInt32(exactly: crc) else {
                throw EventDecodingError("'file_crc' must be an unsigned 32-bit integer")
            }
            fileChecksum = value
        }
    }
}

/// Why a JSON object is not a valid event or state.
package struct EventDecodingError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}

package func metadataJSON(_ entries: [MetadataEntry]) -> JSON {
    .object(entries.map { JSON.Member($0.key, .string($0.value)) })
}

package func metadataEntries(_ json: JSON?) throws(EventDecodingError) -> [MetadataEntry] {
    guard let json, !json.isNull else { return [] }
    guard let members = json.objectValue else { throw EventDecodingError("'metadata' must be an object") }
    var entries: [MetadataEntry] = []
    for member in members {
        switch member.value {
        case .string(let s): entries.append(MetadataEntry(key: member.key, value: s))
        case .int(let i): entries.append(MetadataEntry(key: member.key, value: String(i)))
        case .double(let d): entries.append(MetadataEntry(key: member.key, value: String(d)))
        case .bool(let b): entries.append(MetadataEntry(key: member.key, value: b ? "true" : "false"))
        case .null: entries.append(MetadataEntry(key: member.key, value: ""))
        case .array, .object: entries.append(MetadataEntry(key: member.key, value: member.value.compactString))
        }
    }
    return entries
}

/// Reads typed fields from a JSON object, with errors that name the field.
package struct FieldReader {
    package let json: JSON
    package init(_ json: JSON) { self.json = json }

    package func required(_ key: String) throws(EventDecodingError) -> JSON {
        guard json.objectValue != nil else { throw EventDecodingError("expected a JSON object") }
        guard let v = json[key], !v.isNull else { throw EventDecodingError("missing field '\(key)'") }
        return v
    }
    package func string(_ key: String) throws(EventDecodingError) -> String {
        guard let s = try required(key).stringValue else { throw EventDecodingError("'\(key)' must be a string") }
        return s
    }
    package func optionalString(_ key: String) throws(EventDecodingError) -> String? {
        guard let v = json[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw EventDecodingError("'\(key)' must be a string") }
        return s
    }
    package func optionalTime(_ key: String) throws(EventDecodingError) -> Timestamp? {
        guard let text = try optionalString(key) else { return nil }
        guard let time = Timestamp(parsing: text) else { throw EventDecodingError("'\(key)' is not an RFC 3339 time") }
        return time
    }
    /// A boolean that is false when absent.
    package func flag(_ key: String) throws(EventDecodingError) -> Bool {
        guard let v = json[key], !v.isNull else { return false }
        guard case .bool(let b) = v else { throw EventDecodingError("'\(key)' must be true or false") }
        return b
    }
    package func int(_ key: String) throws(EventDecodingError) -> Int64 {
        guard let i = try required(key).intValue else { throw EventDecodingError("'\(key)' must be an integer") }
        return i
    }
    package func array(_ key: String) throws(EventDecodingError) -> [JSON] {
        guard let a = try required(key).arrayValue else { throw EventDecodingError("'\(key)' must be an array") }
        return a
    }
    package func stringArray(_ key: String) throws(EventDecodingError) -> [String] {
        guard let v = json[key], !v.isNull else { return [] }
        guard let a = v.arrayValue else { throw EventDecodingError("'\(key)' must be an array of strings") }
        var out: [String] = []
        for item in a {
            guard let s = item.stringValue else { throw EventDecodingError("'\(key)' must be an array of strings") }
            out.append(s)
        }
        return out
    }
}

extension WorkflowTask {
    /// The task as events and snapshots carry it: `depends_on`, `owner` and
    /// `lease_expires` only when set (so that a state without them encodes
    /// as it did before they existed); `complete`: always (`show --json`).
    package func json(complete: Bool = false) -> JSON {
        var members: [JSON.Member] = [
            .init("task_id", .string(id)),
            .init("description", .string(description)),
            .init("status", .string(status.rawValue)),
            .init("wave", .int(Int64(wave))),
            .init("commit", commit.map { .string($0) } ?? .null),
            .init("files", .array(files.map { .string($0) })),
            .init("error", error.map { .string($0) } ?? .null),
        ]
        if complete || !dependsOn.isEmpty { members.append(.init("depends_on", .array(dependsOn.map { .string($0) }))) }
        if complete || owner != nil { members.append(.init("owner", owner.map { .string($0) } ?? .null)) }
        if complete || leaseExpires != nil {
            members.append(.init("lease_expires", leaseExpires.map { .string($0.rfc3339) } ?? .null))
        }
        return .object(members)
    }

    package init(json: JSON) throws(EventDecodingError) {
        let r = FieldReader(json)
        let statusText = try r.string("status")
        guard let status = TaskStatus(rawValue: statusText) else {
            throw EventDecodingError("unknown task status '\(statusText)'")
        }
        self.init(id: try r.string("task_id"), description: try r.optionalString("description") ?? "",
                  status: status, wave: Int(try r.int("wave")), commit: try r.optionalString("commit"),
                  files: try r.stringArray("files"), error: try r.optionalString("error"),
                  dependsOn: try r.stringArray("depends_on"), owner: try r.optionalString("owner"),
                  leaseExpires: try r.optionalTime("lease_expires"))
    }
}

extension FreeSection {
    /// `name`, `after`, `markdown`: a `section.set` event's payload fields
    /// and an element of a state's `sections`.
    package func jsonMembers() -> [JSON.Member] {
        [.init("name", .string(name)), .init("after", .string(after)), .init("markdown", .string(markdown))]
    }

    package init(json: JSON) throws(EventDecodingError) {
        let r = FieldReader(json)
        self.init(name: try r.string("name"), after: try r.optionalString("after") ?? "metadata",
                  markdown: try r.optionalString("markdown") ?? "")
    }
}

extension StateImage {
    /// `sections` is there only when the state has any, so that states
    /// without them encode as they did before sections existed.
    package func json() -> JSON {
        var members: [JSON.Member] = [
            .init("workflow_id", .string(workflowID)),
            .init("workflow_name", .string(name)),
            .init("current_wave", .int(Int64(currentWave))),
            .init("total_waves", .int(Int64(totalWaves))),
            .init("started", .string(started.rfc3339)),
            .init("tasks", .array(tasks.map { $0.json() })),
            .init("notes", .array(notes.map { .string($0) })),
            .init("metadata", metadataJSON(metadata)),
        ]
        if !sections.isEmpty { members.append(.init("sections", .array(sections.map { .object($0.jsonMembers()) }))) }
        return .object(members)
    }

    package init(json: JSON) throws(EventDecodingError) {
        let r = FieldReader(json)
        guard let started = Timestamp(parsing: try r.string("started")) else {
            throw EventDecodingError("'started' is not an RFC 3339 time")
        }
        self.init(workflowID: try r.string("workflow_id"), name: try r.string("workflow_name"),
                  currentWave: Int(try r.int("current_wave")), totalWaves: Int(try r.int("total_waves")),
                  started: started, tasks: try r.array("tasks").map { (t: JSON) throws(EventDecodingError) in try WorkflowTask(json: t) },
                  notes: try r.stringArray("notes"), metadata: try metadataEntries(json["metadata"]),
                  sections: try Self.sections(json["sections"]))
    }

    private static func sections(_ json: JSON?) throws(EventDecodingError) -> [FreeSection] {
        guard let json, !json.isNull else { return [] }
        guard let items = json.arrayValue else { throw EventDecodingError("'sections' must be an array") }
        var out: [FreeSection] = []
        for item in items { out.append(try FreeSection(json: item)) }
        return out
    }
}

extension WorkflowState {
    /// The `show --json` shape (Docs/CLI.md, The state object): the state image's fields with
    /// `seq` after `total_waves` and `updated` after `started`.
    package func json() -> JSON {
        var members = StateImage(self).json().objectValue ?? []
        if let i = members.firstIndex(where: { $0.key == "tasks" }) {
            members[i] = JSON.Member("tasks", .array(tasks.map { $0.json(complete: true) }))
        }
        members.insert(JSON.Member("seq", .int(Int64(seq))), at: 4)
        members.insert(JSON.Member("updated", .string(updated.rfc3339)), at: 6)
        return .object(members)
    }
}

// MARK: An encoded event, read without decoding it

/// What a store may learn of an encoded event (``Event/json()``, compact)
/// without parsing it: its sequence number and time lead the object. Stores
/// use this for their indexes and for telling damage from data, so that
/// their framing need not know the payload's shape.
extension Event {
    /// How every encoded event begins.
    package static let encodedPrefix: [UInt8] = Array("{\"seq\":".utf8)

    /// Whether the bytes at `offset` begin like an encoded event.
    package static func encodingStarts(in bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, bytes.count - offset >= encodedPrefix.count else { return false }
        for i in 0..<encodedPrefix.count where bytes[offset + i] != encodedPrefix[i] { return false }
        return true
    }

    /// The sequence number at the start of an encoded event (`{"seq":N,…`),
    /// read without parsing the rest; nil if it is not in that form.
    package static func encodedSeq(_ encoded: UnsafeRawBufferPointer) -> UInt64? {
        let n = encodedPrefix.count
        guard encoded.count > n, encodingStarts(in: encoded, at: 0) else { return nil }
        var value: UInt64 = 0
        var i = n
        while i < encoded.count, encoded[i] >= 48, encoded[i] <= 57 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(encoded[i] - 48))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return i > n ? value : nil
    }

    /// The `time` of an encoded event (`{"seq":N,"time":"…",…`), read
    /// without parsing the rest; nil if it is not in that form.
    package static func encodedTime(_ encoded: UnsafeRawBufferPointer) -> Timestamp? {
        let marker = Array(",\"time\":\"".utf8)
        guard let seqEnd = encoded.prefix(40).firstIndex(of: UInt8(ascii: ",")),
              encoded.count > seqEnd + marker.count,
              encoded[seqEnd..<(seqEnd + marker.count)].elementsEqual(marker) else { return nil }
        let start = seqEnd + marker.count
        guard let end = encoded[start...].prefix(40).firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return Timestamp(parsing: String(decoding: encoded[start..<end], as: UTF8.self))
    }
}
