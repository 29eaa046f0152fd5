import StateJournalEngine
/// A line diff of two texts, for `replay --step` and `restore --dry-run`.
///
/// The common prefix and suffix are cut first (one event usually changes a
/// few lines of STATE.md), then the middle is diffed with Myers' O((N+M)·D)
/// algorithm. When the middle differs in more than ``maximumEdits`` lines
/// the diff gives up on finding a shortest script and reports the middle as
/// removed and added — still correct, never quadratic.
///
/// ```swift
/// let headers = LineDiff(old: before, new: after).hunks.map(\.header)
/// ```
package struct LineDiff: Sendable, Equatable {
    /// One line of the diff.
    package enum Line: Sendable, Equatable {
        case removed(String)
        case added(String)

        /// `-text` or `+text`, as in a unified diff.
        package var unified: String {
            switch self {
            case .removed(let text): return "-" + text
            case .added(let text): return "+" + text
            }
        }
    }

    /// A run of changed lines: `oldStart`/`newStart` are 1-based line numbers
    /// (for an empty side, the line after which the change goes).
    package struct Hunk: Sendable, Equatable {
        package var oldStart: Int
        package var oldCount: Int
        package var newStart: Int
        package var newCount: Int
        package var lines: [Line]

        /// `@@ -oldStart,oldCount +newStart,newCount @@`.
        package var header: String { "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@" }
    }

    /// The most edits searched for a shortest script.
    package static let maximumEdits = 1000

    /// The changes, in order; empty when the texts are equal.
    package let hunks: [Hunk]

    package var isEmpty: Bool { hunks.isEmpty }

    /// The diff of two texts split into lines (a final newline does not make
    /// an extra empty line).
    package init(old: String, new: String) {
        self.init(oldLines: LineDiff.lines(old), newLines: LineDiff.lines(new))
    }

    /// A diff made of `hunks` (in order, none adjacent to the next).
    package init(hunks: [Hunk]) {
        self.hunks = hunks
    }

    package init(oldLines a: [String], newLines b: [String]) {
        var prefix = 0
        while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix && suffix < b.count - prefix
                && a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let oldMiddle = Array(a[prefix..<(a.count - suffix)])
        let newMiddle = Array(b[prefix..<(b.count - suffix)])
        let script = LineDiff.editScript(oldMiddle, newMiddle)
        hunks = LineDiff.group(script, old: oldMiddle, new: newMiddle, offset: prefix)
    }

    /// The unified lines: each hunk's header followed by its lines.
    package var unifiedLines: [String] {
        hunks.flatMap { [$0.header] + $0.lines.map(\.unified) }
    }

    package static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    private enum Edit { case keep, remove, insert }

    /// Myers' greedy algorithm; each round's frontier is kept (only the
    /// diagonals it can reach, so memory is O(D²)) to walk back the path.
    private static func editScript(_ a: [String], _ b: [String]) -> [Edit] {
        let n = a.count, m = b.count
        if n == 0 { return Array(repeating: .insert, count: m) }
        if m == 0 { return Array(repeating: .remove, count: n) }
        let limit = min(n + m, maximumEdits)
        let offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        // trace[d][i] is v[offset - d - 1 + i] as it was before round d.
        var trace: [[Int]] = []
        var found = false
        search: for d in 0...limit {
            trace.append(Array(v[(offset - d - 1)...(offset + d + 1)]))
            var k = -d
            while k <= d {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]
                } else {
                    x = v[offset + k - 1] + 1
                }
                var y = x - k
                while x < n && y < m && a[x] == b[y] { x += 1; y += 1 }
                v[offset + k] = x
                if x >= n && y >= m { found = true; break search }
                k += 2
            }
        }
        guard found else {
            return Array(repeating: .remove, count: n) + Array(repeating: .insert, count: m)
        }
        var edits: [Edit] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let frontier = trace[d]
            func at(_ k: Int) -> Int { frontier[k + d + 1] }
            let k = x - y
            let previousK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let previousX = d == 0 ? 0 : at(previousK)
            let previousY = previousX - previousK
            while x > previousX && y > previousY { edits.append(.keep); x -= 1; y -= 1 }
            if d > 0 { edits.append(x == previousX ? .insert : .remove) }
            x = previousX
            y = previousY
        }
        return edits.reversed()
    }

    private static func group(_ script: [Edit], old: [String], new: [String], offset: Int) -> [Hunk] {
        var hunks: [Hunk] = []
        var i = 0, j = 0
        var lines: [Line] = []
        var oldStart = 0, newStart = 0, oldCount = 0, newCount = 0
        func flush() {
            guard !lines.isEmpty else { return }
            // Unified-diff convention: an empty side names the line before it.
            hunks.append(Hunk(oldStart: oldCount == 0 ? oldStart - 1 : oldStart, oldCount: oldCount,
                              newStart: newCount == 0 ? newStart - 1 : newStart, newCount: newCount, lines: lines))
            lines = []
            oldCount = 0
            newCount = 0
        }
        for edit in script {
            if edit != .keep && lines.isEmpty {
                oldStart = offset + i + 1
                newStart = offset + j + 1
            }
            switch edit {
            case .keep:
                flush()
                i += 1; j += 1
            case .remove:
                lines.append(.removed(old[i]))
                oldCount += 1
                i += 1
            case .insert:
                lines.append(.added(new[j]))
                newCount += 1
                j += 1
            }
        }
        flush()
        return hunks
    }
}
