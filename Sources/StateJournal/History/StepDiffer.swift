import StateJournalEngine

/// What each event changes in STATE.md, for `replay --step`, at a cost that
/// does not grow with the state (issue 17, item 6).
///
/// Rendering every state and diffing it against the previous one costs the
/// state's size per event: a history that grows its state as it goes costs
/// events² (8,000 events took a minute). Instead the rendered body (the
/// file without its footer line) is kept as ordered *blocks* — the header,
/// each section's heading, each `### Wave` line and the blank line that
/// ends its group, each task's lines, each note, each metadata entry — in a
/// tree that knows how many lines come before any block. A task, note,
/// metadata or wave event changes a few blocks; their line numbers come
/// from the tree; the diff is those blocks' old and new lines. An event
/// that replaces the whole state (`workflow.initialized`, `state.replaced`,
/// `state.restored`) rebuilds the blocks and diffs the whole body, which
/// costs the state's size — as much as reading that event.
///
/// ```swift
/// var differ = StepDiffer(before: nil)
/// let diff = differ.step(event, after: state)   // the same hunks as LineDiff(old body, new body) gives, or equally short ones
/// ```
package struct StepDiffer {
    /// Where a block sorts: section, wave, slot, ordinal.
    struct Key: Comparable, Hashable {
        var section: Int
        var wave: Int
        var slot: Int
        var ordinal: Int

        static func < (a: Key, b: Key) -> Bool {
            (a.section, a.wave, a.slot, a.ordinal) < (b.section, b.wave, b.slot, b.ordinal)
        }

        static let header = Key(section: -1, wave: 0, slot: 0, ordinal: 0)
        /// `## …` and the blank line after it.
        static func heading(_ section: Int) -> Key { Key(section: section, wave: .min, slot: 0, ordinal: 0) }
        /// The blank line that ends a section listed without wave groups.
        static func trailer(_ section: Int) -> Key { Key(section: section, wave: .max, slot: 0, ordinal: 0) }
        static func waveHeader(_ section: Int, _ wave: Int) -> Key { Key(section: section, wave: wave, slot: 0, ordinal: 0) }
        static func item(_ section: Int, _ wave: Int, _ ordinal: Int) -> Key { Key(section: section, wave: wave, slot: 1, ordinal: ordinal) }
        /// The blank line that ends a wave group.
        static func waveTrailer(_ section: Int, _ wave: Int) -> Key { Key(section: section, wave: wave, slot: 2, ordinal: 0) }
    }

    /// The sections in order; indices into it are `Key.section`.
    private static let sections = StateFileSection.allCases
    private static let notes = sections.firstIndex(of: .notes)!
    private static let metadata = sections.firstIndex(of: .metadata)!
    private static func index(_ status: TaskStatus) -> Int { sections.firstIndex { $0.status == status }! }

    /// What is known of a task: its wave, where it sorts, its section.
    private struct TaskPlace {
        var wave: Int
        var ordinal: Int
        var section: Int
    }

    /// One task section's counts, and whether it is shown in wave groups.
    private struct SectionCounts {
        var tasks = 0
        var byWave: [Int: Int] = [:]
        var grouped = false
    }

    private var tree = BlockTree()
    private var places: [String: TaskPlace] = [:]
    private var counts: [SectionCounts] = Array(repeating: SectionCounts(), count: 4)
    private var metadataOrdinals: [String: Int] = [:]
    private var noteCount = 0
    private var nextOrdinal = 0
    private var currentWave = 0
    /// Blocks to change for the event being applied: new lines, or nil to remove.
    private var pending: [Key: [String]?] = [:]

    /// A differ whose STATE.md is `state`'s (nil: no workflow, an empty file).
    package init(before state: WorkflowState?) {
        rebuild(state)
        if let state, !state.sections.isEmpty { plain = Self.renderedLines(state) }
    }

    /// The body as the blocks hold it (for tests: equal to ``MarkdownRenderer/renderBody(_:)``).
    package var bodyLines: [String] { plain ?? tree.allLines() }

    /// The body's lines while the state has free sections (kept from edits
    /// of STATE.md), which the blocks do not follow: each step renders the
    /// whole body and diffs it.
    private var plain: [String]?

    private static func renderedLines(_ state: WorkflowState) -> [String] {
        Array(MarkdownRenderer.renderBody(state).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init))
    }

    /// Applies `event`, after which the state is `after`, and returns what it
    /// changed in STATE.md (footer line left out).
    package mutating func step(_ event: Event, after: WorkflowState) -> LineDiff {
        if plain != nil || !after.sections.isEmpty {
            let old = bodyLines
            let new = Self.renderedLines(after)
            if after.sections.isEmpty {
                rebuild(after)
                plain = nil
            } else {
                plain = new
            }
            return LineDiff(oldLines: old, newLines: new)
        }
        switch event.payload {
        case .taskEdited, .noteRemoved, .metadataRemoved, .workflowRenamed, .sectionSet:
            return replace(after)
        case .workflowInitialized, .stateReplaced, .stateRestored:
            let old = tree.allLines()
            rebuild(after)
            return LineDiff(oldLines: old, newLines: tree.allLines())
        case .taskAdded(let id, _, _, _):
            guard let task = after.task(id) else { return replace(after) }
            let place = TaskPlace(wave: task.wave, ordinal: nextOrdinal, section: Self.index(task.status))
            nextOrdinal += 1
            places[id] = place
            enter(task, place)
            reconcile(place.section, touched: [place.wave])
        case .taskStarted(let id), .taskCompleted(let id, _, _, _), .taskFailed(let id, _, _), .taskClaimed(let id, _, _, _, _),
             .taskLeaseRenewed(let id, _, _), .taskReleased(let id, _, _):
            guard let task = after.task(id), var place = places[id] else { return replace(after) }
            let from = place.section
            leave(place)
            place.section = Self.index(task.status)
            places[id] = place
            enter(task, place)
            reconcile(from, touched: [place.wave])
            if place.section != from { reconcile(place.section, touched: [place.wave]) }
        case .waveSet:
            currentWave = after.currentWave
            for section in 0..<4 { reconcile(section, touched: []) }
        case .noteAdded:
            guard let text = after.notes.last, after.notes.count == noteCount + 1 else { return replace(after) }
            pending[Key.item(Self.notes, 0, noteCount)] = [MarkdownRenderer.noteLine(text)]
            noteCount += 1
            listSection(Self.notes, present: true)
        case .metadataSet(let key, _):
            guard let entry = after.metadata.first(where: { $0.key == key }) else { return replace(after) }
            let ordinal = metadataOrdinals[key] ?? metadataOrdinals.count
            metadataOrdinals[key] = ordinal
            pending[Key.item(Self.metadata, 0, ordinal)] = [MarkdownRenderer.metadataLine(entry)]
            listSection(Self.metadata, present: true)
        }
        pending[.header] = header(after)
        return commit()
    }

    // MARK: Building

    /// Starts over from `state`.
    private mutating func rebuild(_ state: WorkflowState?) {
        tree = BlockTree()
        places = [:]
        counts = Array(repeating: SectionCounts(), count: 4)
        metadataOrdinals = [:]
        noteCount = 0
        nextOrdinal = 0
        pending = [:]
        guard let state else { return }
        currentWave = state.currentWave
        for task in state.tasks {
            let place = TaskPlace(wave: task.wave, ordinal: nextOrdinal, section: Self.index(task.status))
            nextOrdinal += 1
            places[task.id] = place
            enter(task, place)
        }
        for section in 0..<4 { reconcile(section, touched: Array(counts[section].byWave.keys), force: true) }
        for note in state.notes {
            pending[Key.item(Self.notes, 0, noteCount)] = [MarkdownRenderer.noteLine(note)]
            noteCount += 1
        }
        listSection(Self.notes, present: noteCount > 0)
        for entry in state.metadata {
            metadataOrdinals[entry.key] = metadataOrdinals.count
            pending[Key.item(Self.metadata, 0, metadataOrdinals.count - 1)] = [MarkdownRenderer.metadataLine(entry)]
        }
        listSection(Self.metadata, present: !metadataOrdinals.isEmpty)
        pending[.header] = header(state)
        tree = BlockTree(sorted: pending.compactMap { key, lines in lines.map { (key, $0) } }.sorted { $0.0 < $1.0 })
        pending = [:]
    }

    /// A change this differ does not follow block by block (it never
    /// happens for events the fold accepts): the whole body is diffed.
    private mutating func replace(_ state: WorkflowState) -> LineDiff {
        let old = tree.allLines()
        rebuild(state)
        return LineDiff(oldLines: old, newLines: tree.allLines())
    }

    private func header(_ state: WorkflowState) -> [String] {
        MarkdownRenderer.headerLines(of: state, completed: counts[Self.index(.completed)].tasks, tasks: places.count)
    }

    private mutating func enter(_ task: WorkflowTask, _ place: TaskPlace) {
        pending[Key.item(place.section, place.wave, place.ordinal)] = MarkdownRenderer.taskLines(task, checkbox: Self.sections[place.section].checkbox)
        counts[place.section].tasks += 1
        counts[place.section].byWave[place.wave, default: 0] += 1
    }

    private mutating func leave(_ place: TaskPlace) {
        pending[Key.item(place.section, place.wave, place.ordinal)] = .some(nil)
        counts[place.section].tasks -= 1
        let left = (counts[place.section].byWave[place.wave] ?? 1) - 1
        counts[place.section].byWave[place.wave] = left == 0 ? nil : left
    }

    /// Brings a task section's heading, wave groups and trailing line in
    /// line with its counts; `touched` are the waves whose counts changed.
    /// As ``MarkdownRenderer``: pending always in wave groups, failed never,
    /// the others when a task is not in the default wave.
    private mutating func reconcile(_ section: Int, touched: [Int], force: Bool = false) {
        let counts = self.counts[section]
        let present = counts.tasks > 0
        let kind = Self.sections[section]
        let defaultWave = StateMarkdown.defaultWave(currentWave: currentWave)
        let grouped = present && kind != .failed
            && (kind.alwaysGroupsByWave || counts.tasks - (counts.byWave[defaultWave] ?? 0) > 0)
        pending[Key.heading(section)] = present ? [kind.heading(taskCount: counts.tasks), ""] : .some(nil)
        pending[Key.trailer(section)] = present && !grouped ? [""] : .some(nil)
        let waves = grouped != counts.grouped || force ? Set(counts.byWave.keys).union(touched) : Set(touched)
        for wave in waves {
            let shown = grouped && (counts.byWave[wave] ?? 0) > 0
            pending[Key.waveHeader(section, wave)] = shown ? [StateMarkdown.wavePrefix + String(wave)] : .some(nil)
            pending[Key.waveTrailer(section, wave)] = shown ? [""] : .some(nil)
        }
        self.counts[section].grouped = grouped
    }

    /// Notes or metadata: the heading and the trailing blank line when there are entries.
    private mutating func listSection(_ section: Int, present: Bool) {
        pending[Key.heading(section)] = present ? [Self.sections[section].heading(taskCount: 0), ""] : .some(nil)
        pending[Key.trailer(section)] = present ? [""] : .some(nil)
    }

    // MARK: Diffing

    /// Applies the pending block changes and returns the diff they make.
    private mutating func commit() -> LineDiff {
        let keys = pending.keys.sorted()
        // Where each changed block was, and what it held, before.
        var before: [(start: Int, lines: [String])] = []
        for key in keys {
            before.append((tree.linesBefore(key), tree.lines(key) ?? []))
        }
        for key in keys { tree.set(key, pending[key] ?? nil) }
        var edits: [(oldStart: Int, removed: [String], newStart: Int, added: [String])] = []
        for (i, key) in keys.enumerated() {
            let old = before[i]
            let new: [String] = (pending[key] ?? nil) ?? []
            guard old.lines != new else { continue }
            let newStart = tree.linesBefore(key)
            for hunk in LineDiff(oldLines: old.lines, newLines: new).hunks {
                // 0-based positions of the first line removed / added (or where they go).
                let removed = hunk.lines.compactMap { if case .removed(let text) = $0 { return text } else { return nil } }
                let added = hunk.lines.compactMap { if case .added(let text) = $0 { return text } else { return nil } }
                let oldAt = old.start + (hunk.oldCount == 0 ? hunk.oldStart : hunk.oldStart - 1)
                let newAt = newStart + (hunk.newCount == 0 ? hunk.newStart : hunk.newStart - 1)
                if let last = edits.last, last.oldStart + last.removed.count == oldAt, last.newStart + last.added.count == newAt {
                    edits[edits.count - 1].removed += removed
                    edits[edits.count - 1].added += added
                } else {
                    edits.append((oldAt, removed, newAt, added))
                }
            }
        }
        pending = [:]
        // Blocks that changed side by side (a section that appears where
        // another goes) are diffed as one run, so that lines they share (a
        // blank line) are kept, as a diff of the whole file would keep them.
        var hunks: [LineDiff.Hunk] = []
        for edit in edits {
            for hunk in LineDiff(oldLines: edit.removed, newLines: edit.added).hunks {
                var moved = hunk
                moved.oldStart += edit.oldStart
                moved.newStart += edit.newStart
                hunks.append(moved)
            }
        }
        return LineDiff(hunks: hunks)
    }
}

/// Blocks of lines in key order, with the number of lines before any key
/// in O(log n): a treap whose nodes count the lines below them.
struct BlockTree {
    typealias Key = StepDiffer.Key

    final class Node {
        let key: Key
        var lines: [String]
        var total: Int
        let priority: UInt64
        var left: Node?
        var right: Node?

        init(_ key: Key, _ lines: [String], priority: UInt64) {
            self.key = key
            self.lines = lines
            self.total = lines.count
            self.priority = priority
        }

        func update() { total = lines.count + (left?.total ?? 0) + (right?.total ?? 0) }
    }

    private var root: Node?
    private var seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    init() {}

    /// A tree of `blocks`, given in ascending key order.
    init(sorted blocks: [(Key, [String])]) {
        for (key, lines) in blocks { root = Self.merge(root, Node(key, lines, priority: nextPriority())) }
    }

    private mutating func nextPriority() -> UInt64 {
        // xorshift64*: deterministic, so that runs are reproducible.
        seed ^= seed >> 12
        seed ^= seed << 25
        seed ^= seed >> 27
        return seed &* 0x2545_F491_4F6C_DD1D
    }

    /// The lines of the block at `key`, if there is one.
    func lines(_ key: Key) -> [String]? {
        var node = root
        while let n = node {
            if key == n.key { return n.lines }
            node = key < n.key ? n.left : n.right
        }
        return nil
    }

    /// How many lines the blocks before `key` hold.
    func linesBefore(_ key: Key) -> Int {
        var count = 0
        var node = root
        while let n = node {
            if n.key < key {
                count += (n.left?.total ?? 0) + n.lines.count
                node = n.right
            } else {
                node = n.left
            }
        }
        return count
    }

    /// Puts `lines` at `key` (nil or none: removes the block).
    mutating func set(_ key: Key, _ lines: [String]?) {
        let (below, rest) = Self.split(root, key, keepingEqualLeft: false)
        let (_, above) = Self.split(rest, key, keepingEqualLeft: true)
        var middle: Node?
        if let lines, !lines.isEmpty { middle = Node(key, lines, priority: nextPriority()) }
        root = Self.merge(Self.merge(below, middle), above)
    }

    /// Every block's lines, in key order.
    func allLines() -> [String] {
        var out: [String] = []
        out.reserveCapacity(root?.total ?? 0)
        var stack: [Node] = []
        var node = root
        while node != nil || !stack.isEmpty {
            while let n = node {
                stack.append(n)
                node = n.left
            }
            let n = stack.removeLast()
            out += n.lines
            node = n.right
        }
        return out
    }

    /// Keys below `key` (and equal to it, when `keepingEqualLeft`) on the left.
    private static func split(_ node: Node?, _ key: Key, keepingEqualLeft: Bool) -> (Node?, Node?) {
        guard let node else { return (nil, nil) }
        if node.key < key || (keepingEqualLeft && node.key == key) {
            let (left, right) = split(node.right, key, keepingEqualLeft: keepingEqualLeft)
            node.right = left
            node.update()
            return (node, right)
        } else {
            let (left, right) = split(node.left, key, keepingEqualLeft: keepingEqualLeft)
            node.left = right
            node.update()
            return (left, node)
        }
    }

    private static func merge(_ a: Node?, _ b: Node?) -> Node? {
        guard let a else { return b }
        guard let b else { return a }
        if a.priority > b.priority {
            a.right = merge(a.right, b)
            a.update()
            return a
        } else {
            b.left = merge(a, b.left)
            b.update()
            return b
        }
    }
}
