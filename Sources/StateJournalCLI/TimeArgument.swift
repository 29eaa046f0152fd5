#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal

/// TIME arguments as people type them (`log --since/--until`, `show --at`,
/// `restore --at`; Docs/CLI.md, TIME) and times as people read them.
enum TimeArgument {
    /// Which end of a day a bare date (`2026-11-29`, `today`, `yesterday`) means.
    enum Role {
        /// The start of the day (`--since`, `--at`).
        case start
        /// The end of the day, inclusive (`--until`).
        case end
    }

    /// What the error messages list.
    static let forms = "RFC 3339 (2026-11-20T10:00:00Z), 'YYYY-MM-DD HH:MM:SS' (local), a date (2026-11-29), "
        + "a time ago (30m, 2h, 1d, 1w, '3 days ago'), today, yesterday or now"

    /// The time `text` stands for, or nil when it is none of ``forms``.
    static func parse(_ text: String, as role: Role, now: Timestamp = .now()) -> Timestamp? {
        let trimmed = text.trimmingSpaces.lowercased()
        switch trimmed {
        case "now": return now
        case "today": return day(of: now, offset: 0, role)
        case "yesterday": return day(of: now, offset: -1, role)
        default: break
        }
        if let ago = duration(trimmed) {
            return Timestamp(microseconds: now.microseconds - ago)
        }
        if let date = date(trimmed) { return day(of: date, offset: 0, role) }
        return Timestamp(parsing: text)
    }

    /// `2026-11-29`: local midnight of that day.
    private static func date(_ text: String) -> Timestamp? {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        return Timestamp(parsing: text + " 00:00:00")
    }

    /// Microseconds in `30m`, `2h`, `1d`, `1w`, `90s`, `2 hours`, `3 days ago`…; nil otherwise.
    private static func duration(_ text: String) -> Int64? {
        var rest = Substring(text)
        if rest.hasSuffix(" ago") { rest = rest.dropLast(4) }
        rest = Substring(String(rest).trimmingSpaces)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let amount = Int64(digits) else { return nil }
        let unit = String(rest.dropFirst(digits.count)).trimmingSpaces
        let seconds: Int64
        switch unit {
        case "s", "sec", "secs", "second", "seconds": seconds = 1
        case "m", "min", "mins", "minute", "minutes": seconds = 60
        case "h", "hr", "hrs", "hour", "hours": seconds = 3600
        case "d", "day", "days": seconds = 86_400
        case "w", "week", "weeks": seconds = 7 * 86_400
        default: return nil
        }
        return amount * seconds * 1_000_000
    }

    /// The start (local midnight) or the last microsecond of the day `offset`
    /// days from the day of `time`.
    private static func day(of time: Timestamp, offset: Int, _ role: Role) -> Timestamp {
        var seconds = time_t(time.microseconds / 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        parts.tm_mday += Int32(offset + (role == .end ? 1 : 0))
        parts.tm_isdst = -1
        let midnight = Int64(mktime(&parts)) * 1_000_000
        return Timestamp(microseconds: role == .end ? midnight - 1 : midnight)
    }

    /// The local time zone's name at `time` (`UTC`, `CET`, `CEST`), or its
    /// offset (`+0530`) when it has none.
    static func zoneMarker(_ time: Timestamp) -> String {
        var seconds = time_t(time.microseconds / 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        if let zone = parts.tm_zone {
            let name = String(cString: zone)
            if !name.isEmpty, name.first?.isLetter == true { return name }
        }
        let offset = Int(parts.tm_gmtoff) / 60
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 60, minutes = abs(offset) % 60
        return sign + (hours < 10 ? "0" : "") + String(hours) + (minutes < 10 ? "0" : "") + String(minutes)
    }

    /// "just now", "5 seconds ago", "3 minutes ago", "2 hours ago", "4 days ago".
    static func ago(_ time: Timestamp, now: Timestamp) -> String {
        let seconds = max(0, (now.microseconds - time.microseconds) / 1_000_000)
        func unit(_ n: Int64, _ name: String) -> String { "\(n) \(name)\(n == 1 ? "" : "s") ago" }
        switch seconds {
        case ..<2: return "just now"
        case ..<60: return unit(seconds, "second")
        case ..<3600: return unit(seconds / 60, "minute")
        case ..<86_400: return unit(seconds / 3600, "hour")
        default: return unit(seconds / 86_400, "day")
        }
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
