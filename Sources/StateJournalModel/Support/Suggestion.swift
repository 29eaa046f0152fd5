/// "Did you mean …?" for a name that is not known: the known names closest
/// to it by edit distance (insertions, deletions, substitutions and swaps of
/// two neighbouring characters each cost 1), or that it begins.
package enum Suggestion {
    /// The optimal string alignment distance between `a` and `b`, compared
    /// without regard to case; stops early once it exceeds `limit`.
    package static func distance(_ a: String, _ b: String, limit: Int = .max) -> Int {
        let x = Array(a.lowercased().unicodeScalars), y = Array(b.lowercased().unicodeScalars)
        if abs(x.count - y.count) > limit { return limit + 1 }
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous2 = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            var best = current[0]
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d = min(d, previous2[j - 2] + 1) }
                current[j] = d
                best = min(best, d)
            }
            if best > limit { return limit + 1 }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[y.count]
    }

    /// Up to `count` of `candidates` that `name` is probably a typo of,
    /// closest first: within a distance of a third of the name's length (at
    /// least 1, at most 3), or names that begin with it (when it has at least
    /// 3 characters). Empty when nothing is close.
    package static func closest(to name: String, in candidates: some Sequence<String>, count: Int = 3) -> [String] {
        let length = name.unicodeScalars.count
        let limit = min(max(1, length / 3), 3)
        var scored: [(distance: Int, name: String)] = []
        for candidate in candidates where candidate != name {
            let d = distance(name, candidate, limit: limit)
            if d <= limit {
                scored.append((d, candidate))
            } else if length >= 3, candidate.lowercased().hasPrefix(name.lowercased()) {
                scored.append((limit + 1, candidate))
            }
        }
        scored.sort { ($0.distance, $0.name) < ($1.distance, $1.name) }
        return scored.prefix(count).map(\.name)
    }

    /// `did you mean 'a'?`, `did you mean 'a' or 'b'?`, or nil.
    package static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String? {
        let found = closest(to: name, in: candidates)
        guard !found.isEmpty else { return nil }
        let quoted = found.map { "'\($0)'" }
        let list = quoted.count == 1 ? quoted[0] : quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
        return "did you mean \(list)?"
    }
}
