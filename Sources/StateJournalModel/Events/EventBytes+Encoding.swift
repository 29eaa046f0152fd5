#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Encoding an event straight to bytes

extension Event {
    /// The compact encoding of ``json()`` — the bytes the journal stores —
    /// written straight into bytes, without building the JSON tree first
    /// (the whole-state events still build their state's tree).
    /// `EventDecodingTests` checks that the bytes are those of
    /// `json().encoded()`.
    package func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(192)
        encode(into: &out)
        return out
    }

    /// Whether ``encode(into:)`` writes this event itself; the others
    /// (whole states, claims, dependencies, forced transitions) go through
    /// ``json()``.
    private var encodesDirectly: Bool {
        // An event recorded from an edit of STATE.md carries `via`,
        // `file_mtime` and `file_crc`, which only json() writes.
        guard via == nil, fileModified == nil, fileChecksum == nil else { return false }
        switch payload {
        case .workflowInitialized(_, _, let waves, _):
            return waves.allSatisfy { $0.allSatisfy { $0.dependsOn.isEmpty } }
        case .taskAdded(_, _, _, let dependsOn): return dependsOn.isEmpty
        case .taskCompleted(_, _, _, let force), .taskFailed(_, _, let force): return !force
        case .taskStarted, .waveSet, .noteAdded, .metadataSet: return true
        default: return false
        }
    }

    /// Appends ``encoded()`` to `out`.
    package func encode(into out: inout [UInt8]) {
        guard encodesDirectly else {
            json().write(into: &out)
            return
        }
        out.append(contentsOf: Self.encodedPrefix)
        appendDecimal(Int64(bitPattern: seq), to: &out)
        key(",\"time\":\"", &out)
        time.writeRFC3339(into: &out)
        out.append(UInt8(ascii: "\""))
        key(",\"actor\":", &out)
        JSON.writeString(actor, into: &out)
        key(",\"pid\":", &out)
        appendDecimal(Int64(pid), to: &out)
        key(",\"type\":", &out)
        JSON.writeString(payload.typeName, into: &out)
        if let idempotencyKey {
            key(",\"idempotency_key\":", &out)
            JSON.writeString(idempotencyKey, into: &out)
        }
        switch payload {
        case .workflowInitialized(let id, let name, let waves, let metadata):
            key(",\"workflow_id\":", &out)
            JSON.writeString(id, into: &out)
            key(",\"workflow_name\":", &out)
            JSON.writeString(name, into: &out)
            key(",\"waves\":[", &out)
            for (w, wave) in waves.enumerated() {
                if w > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                for (t, task) in wave.enumerated() {
                    key(t > 0 ? ",{\"task_id\":" : "{\"task_id\":", &out)
                    JSON.writeString(task.id, into: &out)
                    key(",\"description\":", &out)
                    JSON.writeString(task.description, into: &out)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            }
            key("],\"metadata\":{", &out)
            for (i, entry) in metadata.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(entry.key, into: &out)
                out.append(UInt8(ascii: ":"))
                JSON.writeString(entry.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .taskAdded(let taskID, let wave, let description, _):
            key(",\"task_id\":", &out)
            JSON.writeString(taskID, into: &out)
            key(",\"wave\":", &out)
            appendDecimal(Int64(wave), to: &out)
            key(",\"description\":", &out)
            JSON.writeString(description, into: &out)
        case .taskStarted(let taskID):
            key(",\"task_id\":", &out)
            JSON.writeString(taskID, into: &out)
        case .taskCompleted(let taskID, let commit, let files, _):
            key(",\"task_id\":", &out)
            JSON.writeString(taskID, into: &out)
            if let commit {
                key(",\"commit\":", &out)
                JSON.writeString(commit, into: &out)
            }
            if !files.isEmpty {
                key(",\"files\":[", &out)
                for (i, file) in files.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    JSON.writeString(file, into: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
        case .taskFailed(let taskID, let error, _):
            key(",\"task_id\":", &out)
            JSON.writeString(taskID, into: &out)
            key(",\"error\":", &out)
            JSON.writeString(error, into: &out)
        case .waveSet(let wave):
            key(",\"wave\":", &out)
            appendDecimal(Int64(wave), to: &out)
        case .noteAdded(let text):
            key(",\"text\":", &out)
            JSON.writeString(text, into: &out)
        case .metadataSet(let k, let value):
            key(",\"key\":", &out)
            JSON.writeString(k, into: &out)
            key(",\"value\":", &out)
            JSON.writeString(value, into: &out)
        default:
            break  // encodesDirectly is false: written by json()
        }
        out.append(UInt8(ascii: "}"))
    }
}

@inline(__always)
private func key(_ text: StaticString, _ out: inout [UInt8]) {
    out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

/// `String(value)`'s digits, without making the string.
private func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    var divisor: UInt64 = 1
    while magnitude / divisor >= 10 { divisor *= 10 }
    while divisor > 0 {
        out.append(UInt8(truncatingIfNeeded: magnitude / divisor) + 48)
        magnitude %= divisor
        divisor /= 10
    }
}

extension Timestamp {
    /// Appends ``rfc3339`` to `out`, computed without the C library for the
    /// years 0001…9999 (the same proleptic Gregorian calendar as `gmtime_r`;
    /// `EventDecodingTests` compares the two); other years as
    /// ``rfc3339ByCLibrary``.
    package func writeRFC3339(into out: inout [UInt8]) {
        let s = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let micros = Int(microseconds - s * 1_000_000)
        let days = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let secondOfDay = Int(s - days * 86_400)
        // Civil date from days since 1970-01-01 (proleptic Gregorian).
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard year >= 1 && year <= 9999 else {
            out.append(contentsOf: rfc3339ByCLibrary.utf8)
            return
        }
        func put(_ v: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = v
            while divisor > 0 {
                out.append(UInt8(truncatingIfNeeded: v / divisor) + 48)
                v %= divisor
                divisor /= 10
            }
        }
        put(year, 4); out.append(45); put(month, 2); out.append(45); put(day, 2)
        out.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, 2); out.append(58); put(secondOfDay / 60 % 60, 2); out.append(58); put(secondOfDay % 60, 2)
        out.append(UInt8(ascii: "."))
        put(micros, 6)
        out.append(UInt8(ascii: "Z"))
    }
}
