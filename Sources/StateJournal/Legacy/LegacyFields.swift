import StateJournalEngine
/// Reading the loosely typed task objects of the earlier Python tool's
/// `initialize()` and `update()` calls, with its fallbacks.
package enum LegacyFields {
    /// A string, or an integer written as one (the tool formatted whatever
    /// it was given); nil when absent or null.
    package static func text(_ value: JSON?) -> String? {
        switch value {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .double(let d)? where d.rounded() == d && abs(d) < 9.0e15: return String(Int64(d))
        default: return nil
        }
    }

    /// Any value as text: strings as they are, other values as JSON.
    package static func anyText(_ value: JSON?) -> String? {
        guard let value, !value.isNull else { return nil }
        if let s = value.stringValue { return s }
        if case .bool(let b) = value { return b ? "True" : "False" }
        return text(value) ?? value.compactString
    }

    /// Python truthiness: false for null, false, 0, "", [] and {}.
    package static func isTruthy(_ value: JSON?) -> Bool {
        switch value {
        case nil, .null?: return false
        case .bool(let b)?: return b
        case .int(let i)?: return i != 0
        case .double(let d)?: return d != 0
        case .string(let s)?: return !s.isEmpty
        case .array(let a)?: return !a.isEmpty
        case .object(let o)?: return !o.isEmpty
        }
    }

    /// `task_id`, else `agent_id`.
    package static func taskID(_ task: JSON) -> String? {
        text(task["task_id"]) ?? text(task["agent_id"])
    }

    /// `description`, else `task` (each when not empty), else the first 100
    /// characters of `prompt`, else empty.
    package static func description(_ task: JSON) -> String {
        if isTruthy(task["description"]), let d = anyText(task["description"]) { return d }
        if isTruthy(task["task"]), let t = anyText(task["task"]) { return t }
        if let prompt = anyText(task["prompt"]) {
            // Python slices by code point, not by grapheme.
            return String(String.UnicodeScalarView(prompt.unicodeScalars.prefix(100)))
        }
        return ""
    }

    /// Metadata values of any JSON type, as the tool printed them.
    package static func metadata(_ value: JSON?, _ bad: (String) -> StateJournalError) throws(StateJournalError) -> [MetadataEntry] {
        guard let value, !value.isNull else { return [] }
        guard let members = value.objectValue else { throw bad("'metadata' must be an object of key: value") }
        return members.map { MetadataEntry(key: $0.key, value: anyText($0.value) ?? "") }
    }

    /// A list of strings (or nil when absent or null).
    package static func strings(_ value: JSON?, _ what: String, _ bad: (String) -> StateJournalError) throws(StateJournalError) -> [String]? {
        guard let value, !value.isNull else { return nil }
        guard let items = value.arrayValue else { throw bad("\(what) must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard let s = anyText(item) else { throw bad("\(what) must be an array of strings") }
            out.append(s)
        }
        return out
    }

    package static func int(_ value: JSON?, _ what: String, _ bad: (String) -> StateJournalError) throws(StateJournalError) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard let i = value.intValue, i >= 0, i <= 1_000_000 else { throw bad("\(what) must be a whole number ≥ 0") }
        return Int(i)
    }
}
