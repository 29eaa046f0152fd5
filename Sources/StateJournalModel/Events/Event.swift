/// One change to a workflow, as recorded in the journal.
///
/// The envelope (sequence number, time, actor, process id, optional
/// idempotency key) is the same for every event; ``Payload`` says what
/// changed.
public struct Event: Sendable, Equatable {
    /// Strictly increasing, without gaps, from 1.
    public var seq: UInt64
    /// When the event was written (never before the previous event).
    public var time: Timestamp
    /// Who wrote it (`--actor`, or `user@host`).
    public var actor: String
    /// The writing process's id.
    public var pid: Int32
    /// A caller-chosen key: a retried write with the same key writes nothing.
    public var idempotencyKey: String?
    /// The change it records.
    public var payload: Payload
    /// How the change was made: `"edit"` for an event recorded from a
    /// person's or an agent's edit of STATE.md; nil for a command's write.
    public package(set) var via: String?
    /// For an event recorded from an edit: when the edited STATE.md was last
    /// modified (its `mtime`).
    public package(set) var fileModified: Timestamp?
    /// For an event recorded from an edit: the CRC-32C of the edited
    /// STATE.md's bytes (`file_crc`) — the edit's identity, so one file is
    /// recorded once and a second save is never taken for the first.
    package var fileChecksum: UInt32?
    /// A checksum of the event as its store holds it (for the file journal,
    /// the record's CRC-32C), set when the event is read from a store or
    /// prepared for writing; 0 when unknown. Two events with the same
    /// sequence number and different identities belong to different
    /// histories: STATE.md's footer and snapshots carry the identity of the
    /// last event they show, so neither is taken for current after the
    /// journal was put back from an older copy. Not part of `==`.
    package var identity: UInt32 = 0

    /// An event; its identity is computed when it is written.
    public init(seq: UInt64, time: Timestamp, actor: String, pid: Int32,
                idempotencyKey: String? = nil, payload: Payload) {
        self.seq = seq
        self.time = time
        self.actor = actor
        self.pid = pid
        self.idempotencyKey = idempotencyKey
        self.payload = payload
    }

    public static func == (a: Event, b: Event) -> Bool {
        a.seq == b.seq && a.time == b.time && a.actor == b.actor && a.pid == b.pid
            && a.idempotencyKey == b.idempotencyKey && a.payload == b.payload
            && a.via == b.via && a.fileModified == b.fileModified && a.fileChecksum == b.fileChecksum
    }

    /// The value of ``via`` for events recorded from an edit of STATE.md.
    package static let viaEdit = "edit"

    /// The identity the file journal gives this event once written: the
    /// checksum of its length-prefixed encoding, which its record carries.
    package func computedIdentity() -> UInt32 {
        encoded().withUnsafeBytes { CRC32C.maskedFramed($0) }
    }

    /// This event with its identity computed (see ``identity``).
    package func withIdentity() -> Event {
        var copy = self
        copy.identity = computedIdentity()
        return copy
    }

    /// A task as planned by `workflow.initialized`.
    public struct PlannedTask: Sendable, Equatable {
        /// The task's identifier, unique in the workflow.
        public var id: String
        /// What the task is.
        public var description: String
        /// The tasks that must be completed before this one is ready.
        public var dependsOn: [String]
        /// A planned task.
        public init(id: String, description: String, dependsOn: [String] = []) {
            self.id = id
            self.description = description
            self.dependsOn = dependsOn
        }
    }

    /// What an event records: one change to the state.
    public enum Payload: Sendable, Equatable {
        /// A workflow started with its waves of tasks and metadata.
        case workflowInitialized(id: String, name: String, waves: [[PlannedTask]], metadata: [MetadataEntry])
        /// A task added to a wave, with the tasks it depends on.
        case taskAdded(taskID: String, wave: Int, description: String, dependsOn: [String] = [])
        /// A task moved to in progress.
        case taskStarted(taskID: String)
        /// A task completed, with the commit and files it produced; `force`:
        /// completed although another actor held a live claim on it.
        case taskCompleted(taskID: String, commit: String?, files: [String], force: Bool = false)
        /// A task failed, with the error; `force` as for ``taskCompleted(taskID:commit:files:force:)``.
        case taskFailed(taskID: String, error: String, force: Bool = false)
        /// A task claimed by `owner` (the event's actor): in progress, held
        /// until `leaseExpires` (nil: no expiry). `previousOwner`: the actor
        /// whose claim this one replaces (an expired lease, or `force`).
        case taskClaimed(taskID: String, owner: String, leaseExpires: Timestamp?, previousOwner: String?, force: Bool)
        /// The owner's lease on a claimed task extended to `leaseExpires` (nil: no expiry).
        case taskLeaseRenewed(taskID: String, owner: String, leaseExpires: Timestamp?)
        /// A claimed task given back (pending again); `owner` is the actor
        /// whose claim ended, `force` set when another actor ended a live one.
        case taskReleased(taskID: String, owner: String, force: Bool)
        /// The current wave set.
        case waveSet(wave: Int)
        /// A note appended.
        case noteAdded(text: String)
        /// A metadata entry set (added or replaced).
        case metadataSet(key: String, value: String)
        /// The whole state at once (the earlier tool's bulk `update`).
        case stateReplaced(StateImage)
        /// The state as of an earlier sequence number, made current again.
        case stateRestored(fromSeq: UInt64, state: StateImage)
        /// A task's description, commit, files and error set (an edit of
        /// STATE.md that changed them); its status is unchanged.
        case taskEdited(taskID: String, description: String, commit: String?, files: [String], error: String?)
        /// The first note with this text removed.
        case noteRemoved(text: String)
        /// A metadata entry removed.
        case metadataRemoved(key: String)
        /// The workflow's name changed.
        case workflowRenamed(name: String)
        /// A section STATE.md's format does not know (e.g. `## Decisions`)
        /// set to its markdown, or removed when the markdown is empty.
        case sectionSet(FreeSection)

        /// The event type's name, e.g. `task.completed`.
        public var typeName: String {
            switch self {
            case .workflowInitialized: return "workflow.initialized"
            case .taskAdded: return "task.added"
            case .taskStarted: return "task.started"
            case .taskCompleted: return "task.completed"
            case .taskFailed: return "task.failed"
            case .taskClaimed: return "task.claimed"
            case .taskLeaseRenewed: return "task.lease_renewed"
            case .taskReleased: return "task.released"
            case .waveSet: return "wave.set"
            case .noteAdded: return "note.added"
            case .metadataSet: return "metadata.set"
            case .stateReplaced: return "state.replaced"
            case .stateRestored: return "state.restored"
            case .taskEdited: return "task.edited"
            case .noteRemoved: return "note.removed"
            case .metadataRemoved: return "metadata.removed"
            case .workflowRenamed: return "workflow.renamed"
            case .sectionSet: return "section.set"
            }
        }

        /// The task the event concerns, for `log --task` and `blame`.
        public var taskIDs: [String] {
            switch self {
            case .taskEdited(let id, _, _, _, _),
                 .taskAdded(let id, _, _, _), .taskStarted(let id), .taskCompleted(let id, _, _, _), .taskFailed(let id, _, _),
                 .taskClaimed(let id, _, _, _, _), .taskLeaseRenewed(let id, _, _), .taskReleased(let id, _, _):
                return [id]
            case .workflowInitialized(_, _, let waves, _):
                return waves.flatMap { $0.map(\.id) }
            case .stateReplaced(let image), .stateRestored(_, let image):
                return image.tasks.map(\.id)
            default:
                return []
            }
        }

        package static let allTypeNames = [
            "workflow.initialized", "task.added", "task.started", "task.completed", "task.failed",
            "wave.set", "note.added", "metadata.set", "state.replaced", "state.restored",
            "task.edited", "note.removed", "metadata.removed", "workflow.renamed", "section.set",
            "task.claimed", "task.lease_renewed", "task.released",
        ]
    }
}

/// A whole workflow state carried inside an event (replace, restore):
/// everything but the envelope-derived `seq` and `updated`.
public struct StateImage: Sendable, Equatable {
    package var workflowID: String
    package var name: String
    package var currentWave: Int
    package var totalWaves: Int
    package var started: Timestamp
    package var tasks: [WorkflowTask]
    package var notes: [String]
    package var metadata: [MetadataEntry]
    package var sections: [FreeSection]

    package init(workflowID: String, name: String, currentWave: Int, totalWaves: Int, started: Timestamp,
                tasks: [WorkflowTask], notes: [String], metadata: [MetadataEntry], sections: [FreeSection] = []) {
        self.workflowID = workflowID
        self.name = name
        self.currentWave = currentWave
        self.totalWaves = totalWaves
        self.started = started
        self.tasks = tasks
        self.notes = notes
        self.metadata = metadata
        self.sections = sections
    }

    package init(_ state: WorkflowState) {
        self.init(workflowID: state.workflowID, name: state.name, currentWave: state.currentWave,
                  totalWaves: state.totalWaves, started: state.started, tasks: state.tasks,
                  notes: state.notes, metadata: state.metadata, sections: state.sections)
    }

    package func state(seq: UInt64, updated: Timestamp) -> WorkflowState {
        WorkflowState(workflowID: workflowID, name: name, currentWave: currentWave, totalWaves: totalWaves,
                      started: started, updated: updated, tasks: tasks, notes: notes, metadata: metadata,
                      sections: sections, seq: seq)
    }
}

/// A section of STATE.md its format does not know — `## Decisions`, `## Links`,
/// free text under a heading — kept from an edit and rendered back verbatim.
public struct FreeSection: Sendable, Equatable {
    /// The heading's text after `## `, unique in the state.
    public var name: String
    /// Where it goes: after the header (`header`) or after the place of a
    /// section the format knows (`completed`, `in_progress`, `pending`,
    /// `failed`, `notes`, `metadata`), whether or not that one is shown.
    public var after: String
    /// Its lines after the heading, verbatim, without trailing blank lines
    /// (empty in a ``Event/Payload/sectionSet(_:)``: remove the section).
    public var markdown: String

    /// A section.
    public init(name: String, after: String, markdown: String) {
        self.name = name
        self.after = after
        self.markdown = markdown
    }

    /// The places a section can follow, in the order STATE.md shows them.
    package static let places = ["header", "completed", "in_progress", "pending", "failed", "notes", "metadata"]
}
