/// Where a task stands.
public enum TaskStatus: String, Sendable, CaseIterable {
    /// Not started.
    case pending
    /// Started, not finished.
    case inProgress = "in_progress"
    /// Finished successfully.
    case completed
    /// Finished with an error; may be started again.
    case failed
}

/// One task of a workflow.
public struct WorkflowTask: Sendable, Equatable {
    /// The task's identifier, unique in the workflow.
    public var id: String
    /// What the task is.
    public var description: String
    /// Where the task is.
    public var status: TaskStatus
    /// The wave the task belongs to, from 1.
    public var wave: Int
    /// The commit a completed task produced, if given.
    public var commit: String?
    /// Every file recorded for the task (STATE.md shows the first three).
    public var files: [String]
    /// Why a failed task failed.
    public var error: String?
    /// The tasks that must be completed before this one is ready, in the
    /// order given.
    public var dependsOn: [String]
    /// The actor that holds the task's claim (`task.claimed`), while it is
    /// in progress; nil when nobody claimed it.
    public var owner: String?
    /// When the owner's lease ends; nil while the task is unclaimed or when
    /// the claim has no expiry. A lease is live while the time of the event
    /// being applied (or, for reads, the clock) is before this.
    public var leaseExpires: Timestamp?

    package init(id: String, description: String, status: TaskStatus = .pending, wave: Int,
                commit: String? = nil, files: [String] = [], error: String? = nil,
                dependsOn: [String] = [], owner: String? = nil, leaseExpires: Timestamp? = nil) {
        self.id = id
        self.description = description
        self.status = status
        self.wave = wave
        self.commit = commit
        self.files = files
        self.error = error
        self.dependsOn = dependsOn
        self.owner = owner
        self.leaseExpires = leaseExpires
    }

    /// Whether the task is held by a claim that is live at `time`: it has
    /// an owner and a lease that has not expired (or no expiry at all).
    public func isClaimed(at time: Timestamp) -> Bool {
        guard status == .inProgress, owner != nil else { return false }
        guard let leaseExpires else { return true }
        return time < leaseExpires
    }
}

/// A metadata entry; metadata keeps the order in which keys were first set.
public struct MetadataEntry: Sendable, Equatable {
    /// The entry's key, unique in the workflow.
    public var key: String
    /// The entry's value.
    public var value: String
    /// An entry.
    public init(key: String, value: String) { self.key = key; self.value = value }
}

/// The folded state of a workflow: what STATE.md shows.
///
/// A value of this type is the result of applying events, in order, with
/// ``WorkflowState/applying(_:)``; it is never edited in place by the
/// journal's users.
public struct WorkflowState: Sendable, Equatable {
    /// The workflow's identifier.
    public var workflowID: String
    /// The workflow's name.
    public var name: String
    /// The wave being worked on; 0 before the first wave starts.
    public var currentWave: Int
    /// How many waves the plan has.
    public var totalWaves: Int
    /// When the workflow was initialized.
    public var started: Timestamp
    /// The time of the last event.
    public var updated: Timestamp
    /// Tasks in plan order: by wave, then in the order they were planned or added.
    public private(set) var tasks: [WorkflowTask]
    /// Notes, oldest first.
    public var notes: [String]
    /// Metadata entries in the order they were first set.
    public private(set) var metadata: [MetadataEntry]
    /// Sections STATE.md's format does not know, kept from edits, in the
    /// order they were first set.
    public package(set) var sections: [FreeSection] = []
    /// The sequence number of the last event folded into this state.
    public var seq: UInt64
    /// The ``Event/identity`` of that event (0 when unknown). STATE.md's
    /// footer carries it, so a file that shows another history's event
    /// `seq` is not taken for current. Not part of `==`.
    package var eventIdentity: UInt32 = 0

    private var taskIndex: [String: Int]

    package init(workflowID: String, name: String, currentWave: Int = 0, totalWaves: Int,
                started: Timestamp, updated: Timestamp, tasks: [WorkflowTask] = [],
                notes: [String] = [], metadata: [MetadataEntry] = [], sections: [FreeSection] = [], seq: UInt64 = 0) {
        self.workflowID = workflowID
        self.name = name
        self.currentWave = currentWave
        self.totalWaves = totalWaves
        self.started = started
        self.updated = updated
        self.tasks = []
        self.notes = notes
        self.metadata = []
        self.sections = sections
        self.seq = seq
        self.taskIndex = [:]
        for task in tasks { insertTask(task) }
        for entry in metadata { setMetadata(entry.key, entry.value) }
    }

    public static func == (a: WorkflowState, b: WorkflowState) -> Bool {
        a.workflowID == b.workflowID && a.name == b.name && a.currentWave == b.currentWave
            && a.totalWaves == b.totalWaves && a.started == b.started && a.updated == b.updated
            && a.tasks == b.tasks && a.notes == b.notes && a.metadata == b.metadata && a.seq == b.seq
            && a.sections == b.sections
    }

    /// The task with this id, if any.
    public func task(_ id: String) -> WorkflowTask? {
        taskIndex[id].map { tasks[$0] }
    }

    /// The tasks with `status`, in plan order.
    public func tasks(withStatus status: TaskStatus) -> [WorkflowTask] {
        tasks.filter { $0.status == status }
    }

    /// The value of metadata entry `key`, if set.
    public func metadataValue(_ key: String) -> String? {
        metadata.first { $0.key == key }?.value
    }

    /// Inserts a task after the last task of its wave (plan order).
    /// A task whose id exists already replaces it in place.
    package mutating func insertTask(_ task: WorkflowTask) {
        if let i = taskIndex[task.id] {
            tasks[i] = task
            return
        }
        var position = tasks.count
        while position > 0 && tasks[position - 1].wave > task.wave { position -= 1 }
        if position == tasks.count {
            taskIndex[task.id] = tasks.count
            tasks.append(task)
        } else {
            tasks.insert(task, at: position)
            for i in position..<tasks.count { taskIndex[tasks[i].id] = i }
        }
    }

    /// Makes room for `count` more tasks (a plan's), so that adding them
    /// does not grow the list and its index step by step.
    package mutating func reserveTasks(_ count: Int) {
        tasks.reserveCapacity(tasks.count + count)
        taskIndex.reserveCapacity(tasks.count + count)
    }

    /// Appends `task`, which belongs after every task there (a plan's tasks,
    /// wave by wave); false, and nothing changes, when its id is taken.
    package mutating func appendNewTask(_ task: WorkflowTask) -> Bool {
        if let taken = taskIndex.updateValue(tasks.count, forKey: task.id) {
            taskIndex[task.id] = taken
            return false
        }
        tasks.append(task)
        return true
    }

    /// Where the task with this id is in ``tasks``.
    package func taskPosition(_ id: String) -> Int? { taskIndex[id] }

    /// Changes the task at `position` (from ``taskPosition(_:)``) in place.
    package mutating func updateTask(at position: Int, _ body: (inout WorkflowTask) -> Void) {
        body(&tasks[position])
    }

    package mutating func updateTask(_ id: String, _ body: (inout WorkflowTask) -> Void) {
        guard let i = taskIndex[id] else { return }
        body(&tasks[i])
    }

    package mutating func setMetadata(_ key: String, _ value: String) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append(MetadataEntry(key: key, value: value))
        }
    }

    package mutating func removeMetadata(_ key: String) {
        metadata.removeAll { $0.key == key }
    }

    package mutating func replaceMetadata(_ entries: [MetadataEntry]) {
        metadata = []
        for entry in entries { setMetadata(entry.key, entry.value) }
    }
}
