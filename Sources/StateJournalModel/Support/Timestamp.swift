#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in time: microseconds since 1970-01-01T00:00:00Z.
///
/// Events are stamped in UTC with microsecond precision; STATE.md shows local
/// time to the second, as the earlier tool did.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    /// The time `microseconds` after 1970-01-01T00:00:00Z.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    private var secondsAndMicros: (Int, Int) {
        let s = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        return (Int(s), Int(microseconds - s * 1_000_000))
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func components(_ t: time_t, local: Bool) -> tm {
        var t = t
        var parts = tm()
        if local { localtime_r(&t, &parts) } else { gmtime_r(&t, &parts) }
        return parts
    }

    private static func dateTime(_ p: tm, separator: String) -> String {
        pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2)
            + separator + pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2)
    }

    /// RFC 3339 in UTC with microseconds: `2026-11-20T10:00:00.123456Z`.
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        writeRFC3339(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``rfc3339`` through `gmtime_r` (the years ``writeRFC3339(into:)``
    /// leaves to the C library).
    package var rfc3339ByCLibrary: String {
        let (s, us) = secondsAndMicros
        return Self.dateTime(Self.components(time_t(s), local: false), separator: "T") + "." + Self.pad(us, 6) + "Z"
    }

    /// Local time to the second, `YYYY-MM-DD HH:MM:SS`, as STATE.md shows it.
    package var localDateTime: String {
        Self.dateTime(Self.components(time_t(secondsAndMicros.0), local: true), separator: " ")
    }

    public var description: String { rfc3339 }

    /// Parses RFC 3339 (`2026-11-20T10:00:00Z`, `…T10:00:00.5+01:00`, a space
    /// instead of `T` is accepted) or `YYYY-MM-DD HH:MM:SS` in local time.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45,
              let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == 32,
              let hour = num(11, 2), b[13] == 58, let minute = num(14, 2), b[16] == 58, let second = num(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var micros = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, (48...57).contains(b[i]) {
                if digits < 6 { micros = micros * 10 + Int(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds: Int
        if i == b.count {
            // No zone: local time.
            parts.tm_isdst = -1
            seconds = Int(mktime(&parts))
        } else if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            guard i + 1 == b.count else { return nil }
            seconds = Int(timegm(&parts))
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard i + 6 == b.count, let oh = num(i + 1, 2), b[i + 3] == 58, let om = num(i + 4, 2) else { return nil }
            let offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            seconds = Int(timegm(&parts)) - offset
        } else {
            return nil
        }
        let value = Int64(seconds) * 1_000_000 + Int64(micros)
        // Only times that are written back as they were read (years 1–9999).
        guard (Timestamp.earliest.microseconds...Timestamp.latest.microseconds).contains(value) else { return nil }
        self.microseconds = value
    }

    /// 0001-01-01T00:00:00Z: the earliest time the journal writes and reads back.
    package static let earliest = Timestamp(microseconds: -62_135_596_800_000_000)
    /// 9999-12-31T23:59:59.999999Z: the latest time the journal writes and reads back.
    package static let latest = Timestamp(microseconds: 253_402_300_799_999_999)
}

extension Timestamp {
    /// `20261127T232825.123456Z`: sortable and safe in a file name.
    package var compactUTC: String {
        rfc3339.filter { $0 != "-" && $0 != ":" }
    }
}
