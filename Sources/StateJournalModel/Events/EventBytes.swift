#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Decoding an event straight from its bytes

/// Decodes events from the bytes the journal stores without building a JSON
/// tree: the journal holds exactly what ``Event/json()`` writes, compact and
/// in a fixed member order, so a scanner that expects that order finds
/// every field with one pass over the bytes and one `String` per value.
///
/// Anything it does not expect — white space, another member order, an
/// unknown or repeated member, an escape in a string, a number that is not a
/// plain integer, a `state.replaced` or `state.restored` event — makes it
/// give up (nil), and the caller decodes with the general parser,
/// `Event(json: JSON.parse(bytes))`. The scanner accepts only text that the
/// general decoder decodes to the same event, so which of the two decoded an
/// event never shows: not in the event, not in an error
/// (`EventDecodingTests` fold journals both ways and compare).
///
/// One decoder is kept across the records of a scan: it reuses the actor
/// strings it has seen (a journal has few writers).
package struct CanonicalEventDecoder {
    /// The actors seen so far (a few at most), reused instead of allocated,
    /// with their bytes to compare against.
    private var actors: [(bytes: [UInt8], string: String)] = []
    private static let maximumActors = 16

    package init() {}

    /// The event encoded in `bytes`, or nil when they are not in the
    /// canonical form this decoder reads (decode them with
    /// ``Event/init(json:)`` then).
    package mutating func decode(_ bytes: UnsafeRawBufferPointer) -> Event? {
        var s = EventScanner(bytes: bytes)
        guard s.literal("{\"seq\":"), let seq = s.integer(), seq > 0,
              s.literal(",\"time\":"), let time = s.timestamp(),
              s.literal(",\"actor\":"), let actor = actor(&s),
              s.literal(",\"pid\":"), let pid = s.integer(),
              s.literal(",\"type\":\""), let type = s.typeName() else { return nil }
        var idempotencyKey: String?
        if s.literal(",\"idempotency_key\":") {
            guard let key = s.string() else { return nil }
            idempotencyKey = key
        }
        guard let payload = s.payload(type), s.literal("}"), s.atEnd else { return nil }
        return Event(seq: UInt64(seq), time: time, actor: actor, pid: Int32(truncatingIfNeeded: pid),
                     idempotencyKey: idempotencyKey, payload: payload)
    }

    private mutating func actor(_ s: inout EventScanner) -> String? {
        guard let span = s.stringSpan() else { return nil }
        if !span.ascii { return s.makeString(span) }
        let bytes = s.slice(span)
        for known in actors where known.bytes.count == bytes.count {
            let same = known.bytes.withUnsafeBufferPointer { k in
                bytes.count == 0 || memcmpEqual(k.baseAddress!, bytes.baseAddress!, bytes.count)
            }
            if same { return known.string }
        }
        let made = String(decoding: bytes, as: UTF8.self)
        if actors.count < Self.maximumActors { actors.append((Array(bytes), made)) }
        return made
    }
}

private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    let b = b.assumingMemoryBound(to: UInt8.self)
    var i = 0
    while i + 8 <= count {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) { return false }
        i += 8
    }
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// The event types the scanner decodes itself.
private enum ScannedType {
    case workflowInitialized, taskAdded, taskStarted, taskCompleted, taskFailed, waveSet, noteAdded, metadataSet
}

/// A cursor over an encoded event. Every method either consumes what it
/// expects and returns it, or returns nil/false (the decoder then gives up).
private struct EventScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    /// Consumes `text` if the bytes continue with it. (Inlined: with the
    /// literal's length known, the comparison needs no call.)
    @inline(__always)
    mutating func literal(_ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard bytes.count - index >= n, let base = bytes.baseAddress else { return false }
        if n == 1 {
            guard bytes[index] == text.utf8Start.pointee else { return false }
        } else {
            guard memcmp(base + index, text.utf8Start, n) == 0 else { return false }
        }
        index += n
        return true
    }

    /// A plain JSON integer (`-?(0|[1-9][0-9]*)`) that fits in Int64 and is
    /// not followed by a fraction or exponent (the general parser would
    /// read those as a double).
    mutating func integer() -> Int64? {
        var i = index
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        let first = i
        var magnitude: UInt64 = 0
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 48))
            if o1 || o2 { return nil }
            magnitude = a
            i += 1
        }
        guard i > first, !(bytes[first] == 48 && i - first > 1) else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            return nil
        }
        let value: Int64
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        } else {
            guard magnitude <= UInt64(Int64.max) else { return nil }
            value = Int64(magnitude)
        }
        index = i
        return value
    }

    struct Span { var start: Int; var end: Int; var ascii: Bool }

    /// A string without escapes or control characters: where its bytes are.
    mutating func stringSpan() -> Span? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var i = start
        var ascii = true
        // Eight bytes at a time while none is a quote, a backslash or a
        // control character; the byte loop below takes over at the word
        // that holds one.
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        while bytes.count - i >= 8 {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let quote = w ^ (ones &* 0x22)
            let backslash = w ^ (ones &* 0x5C)
            let special = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- ones &* 0x20) & ~w)) & high
            if special != 0 {
                // The lowest flagged byte is the first special one (flags
                // above it may be false, never below it).
                let k = special.trailingZeroBitCount >> 3
                if k > 0 && w & high & (UInt64.max >> (64 - 8 * k)) != 0 { ascii = false }
                i += k
                guard bytes[i] == UInt8(ascii: "\"") else { return nil }  // an escape or a control character
                index = i + 1
                return Span(start: start, end: i, ascii: ascii)
            }
            if w & high != 0 { ascii = false }
            i += 8
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                index = i + 1
                return Span(start: start, end: i, ascii: ascii)
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        return nil
    }

    func slice(_ span: Span) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end])
    }

    /// The string the general parser makes of these bytes; nil when they
    /// are not valid UTF-8 (it rejects them).
    func makeString(_ span: Span) -> String? {
        let raw = slice(span)
        return span.ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self)
    }

    mutating func string() -> String? {
        guard let span = stringSpan() else { return nil }
        return makeString(span)
    }

    /// The event's time in its canonical form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`
    /// (any other form: as ``Timestamp/init(parsing:)`` reads it).
    mutating func timestamp() -> Timestamp? {
        // The canonical form is 27 bytes between quotes, none of them a
        // quote, a backslash or a control character (it is checked byte by
        // byte): no need to look for the closing quote.
        if bytes.count - index >= 29, bytes[index] == UInt8(ascii: "\""), bytes[index + 28] == UInt8(ascii: "\""),
           let t = Timestamp(canonical: UnsafeRawBufferPointer(rebasing: bytes[(index + 1)..<(index + 28)])) {
            index += 29
            return t
        }
        guard let span = stringSpan() else { return nil }
        if let t = Timestamp(canonical: slice(span)) { return t }
        guard let text = makeString(span) else { return nil }
        return Timestamp(parsing: text)
    }

    static let typeNames: [(StaticString, ScannedType)] = [
        ("task.started", .taskStarted), ("task.completed", .taskCompleted), ("task.failed", .taskFailed),
        ("note.added", .noteAdded), ("metadata.set", .metadataSet), ("wave.set", .waveSet),
        ("task.added", .taskAdded), ("workflow.initialized", .workflowInitialized),
    ]

    /// The type name and its closing quote.
    mutating func typeName() -> ScannedType? {
        let rest = bytes.count - index
        func matches(_ name: StaticString) -> Bool {
            let n = name.utf8CodeUnitCount
            guard rest > n, bytes[index + n] == UInt8(ascii: "\"") else { return false }
            let p = name.utf8Start
            for i in 0..<n where bytes[index + i] != p[i] { return false }
            return true
        }
        for (name, type) in Self.typeNames where matches(name) {
            index += name.utf8CodeUnitCount + 1
            return type
        }
        return nil
    }

    /// The payload's members, in the order ``Event/json()`` writes them.
    mutating func payload(_ type: ScannedType) -> Event.Payload? {
        switch type {
        case .taskStarted:
            guard literal(",\"task_id\":"), let id = string() else { return nil }
            return .taskStarted(taskID: id)
        case .taskCompleted:
            guard literal(",\"task_id\":"), let id = string() else { return nil }
            var commit: String?
            if literal(",\"commit\":") {
                guard let c = string() else { return nil }
                commit = c
            }
            var files: [String] = []
            if literal(",\"files\":") {
                guard let f = stringArray() else { return nil }
                files = f
            }
            return .taskCompleted(taskID: id, commit: commit, files: files)
        case .taskFailed:
            guard literal(",\"task_id\":"), let id = string(), literal(",\"error\":"), let error = string() else { return nil }
            return .taskFailed(taskID: id, error: error)
        case .noteAdded:
            guard literal(",\"text\":"), let text = string() else { return nil }
            return .noteAdded(text: text)
        case .metadataSet:
            guard literal(",\"key\":"), let key = string(), literal(",\"value\":"), let value = string() else { return nil }
            return .metadataSet(key: key, value: value)
        case .waveSet:
            guard literal(",\"wave\":"), let wave = integer() else { return nil }
            return .waveSet(wave: Int(wave))
        case .taskAdded:
            guard literal(",\"task_id\":"), let id = string(), literal(",\"wave\":"), let wave = integer(),
                  literal(",\"description\":"), let description = string() else { return nil }
            return .taskAdded(taskID: id, wave: Int(wave), description: description)
        case .workflowInitialized:
            guard literal(",\"workflow_id\":"), let id = string(), literal(",\"workflow_name\":"), let name = string(),
                  literal(",\"waves\":["), let waves = waves(), literal(",\"metadata\":{"), let metadata = metadata() else { return nil }
            return .workflowInitialized(id: id, name: name, waves: waves, metadata: metadata)
        }
    }

    /// `["a","b",…]`.
    mutating func stringArray() -> [String]? {
        guard literal("[") else { return nil }
        var out: [String] = []
        if literal("]") { return out }
        repeat {
            guard let s = string() else { return nil }
            out.append(s)
        } while literal(",")
        return literal("]") ? out : nil
    }

    /// The rest of `[[{"task_id":…,"description":…},…],…]` after its `[`.
    mutating func waves() -> [[Event.PlannedTask]]? {
        var waves: [[Event.PlannedTask]] = []
        if literal("]") { return waves }
        repeat {
            guard literal("[") else { return nil }
            var tasks: [Event.PlannedTask] = []
            if !literal("]") {
                repeat {
                    guard literal("{\"task_id\":"), let id = string(), literal(",\"description\":"), let description = string(),
                          literal("}") else { return nil }
                    tasks.append(Event.PlannedTask(id: id, description: description))
                } while literal(",")
                guard literal("]") else { return nil }
            }
            waves.append(tasks)
        } while literal(",")
        return literal("]") ? waves : nil
    }

    /// The rest of a metadata object of strings after its `{`; members are
    /// kept in order, repeated keys included, as ``metadataEntries(_:)`` does.
    mutating func metadata() -> [MetadataEntry]? {
        var entries: [MetadataEntry] = []
        if literal("}") { return entries }
        repeat {
            guard let key = string(), literal(":"), let value = string() else { return nil }
            entries.append(MetadataEntry(key: key, value: value))
        } while literal(",")
        return literal("}") ? entries : nil
    }
}

extension Timestamp {
    /// Reads the form ``rfc3339`` writes, `YYYY-MM-DDTHH:MM:SS.ffffffZ`,
    /// from bytes; nil for anything else (``init(parsing:)`` reads more
    /// forms). For what both read, both give the same time: the fields are
    /// checked as ``init(parsing:)`` checks them and counted from the epoch
    /// as `timegm` counts them (an overflowing day or second carries over).
    package init?(canonical b: UnsafeRawBufferPointer) {
        guard b.count == 27, b[4] == 45, b[7] == 45, b[10] == UInt8(ascii: "T"), b[13] == 58, b[16] == 58,
              b[19] == UInt8(ascii: "."), b[26] == UInt8(ascii: "Z") else { return nil }
        var bad: UInt8 = 0
        @inline(__always) func digit(_ i: Int) -> Int {
            let d = b[i] &- 48
            bad |= d > 9 ? 1 : 0
            return Int(d)
        }
        let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)
        let month = digit(5) * 10 + digit(6)
        let day = digit(8) * 10 + digit(9)
        let hour = digit(11) * 10 + digit(12)
        let minute = digit(14) * 10 + digit(15)
        let second = digit(17) * 10 + digit(18)
        let micros = digit(20) * 100_000 + digit(21) * 10_000 + digit(22) * 1000 + digit(23) * 100 + digit(24) * 10 + digit(25)
        guard bad == 0, month >= 1, month <= 12, day >= 1, day <= 31, hour < 24, minute < 60, second < 61 else { return nil }
        // Days from 1970-01-01 to year-month-01 (proleptic Gregorian), then the day's offset.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468 + (day - 1)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        let value = Int64(seconds) * 1_000_000 + Int64(micros)
        // As `init(parsing:)`: only times written back as they were read.
        guard (Timestamp.earliest.microseconds...Timestamp.latest.microseconds).contains(value) else { return nil }
        self.init(microseconds: value)
    }
}
