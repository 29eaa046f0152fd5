#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one table `make bench` prints.
struct Report {
    struct Row {
        var scenario: String
        var figure: String
        var detail: String = ""
        var ratio: String = ""
        var target: String = ""
        /// nil: no target on this row.
        var met: Bool? = nil
        /// CPU time (user + system) per write, or per command on the
        /// command-line rows; empty on rows that are not writes.
        var cpu: String = ""
        /// System calls per write (per command on the command-line rows).
        var syscalls: String = ""
    }

    var rows: [Row] = []

    mutating func add(_ scenario: String, _ figure: String, detail: String = "", ratio: String = "", target: String = "", met: Bool? = nil,
                      cpu: String = "", syscalls: String = "") {
        rows.append(Row(scenario: scenario, figure: figure, detail: detail, ratio: ratio, target: target, met: met,
                        cpu: cpu, syscalls: syscalls))
    }

    mutating func section(_ title: String) {
        rows.append(Row(scenario: "§ " + title, figure: ""))
    }

    var targets: (met: Int, missed: Int) {
        (rows.filter { $0.met == true }.count, rows.filter { $0.met == false }.count)
    }

    /// A markdown table: readable in a terminal, pasteable into Docs/PERFORMANCE.md.
    func render() -> String {
        let header = Row(scenario: "scenario", figure: "figure", detail: "detail", ratio: "ratio (same run)", target: "target",
                         cpu: "CPU/write", syscalls: "syscalls/write")
        let body = rows.filter { !$0.scenario.hasPrefix("§ ") }
        let all = [header] + body
        func width(_ key: KeyPath<Row, String>) -> Int { all.map { $0[keyPath: key].count }.max() ?? 0 }
        let w = [width(\.scenario), width(\.figure), width(\.cpu), width(\.syscalls), width(\.detail), width(\.ratio), width(\.target), 6]
        func line(_ cells: [String], right: [Bool]) -> String {
            "| " + zip(zip(cells, w), right).map { Format.pad($0.0, $0.1, right: $1) }.joined(separator: " | ") + " |"
        }
        func status(_ row: Row) -> String {
            switch row.met {
            case .some(true): return "met"
            case .some(false): return "MISSED"
            case .none: return ""
            }
        }
        let numeric = [false, true, true, true, false, true, false, false]
        var out = [line([header.scenario, header.figure, header.cpu, header.syscalls, header.detail, header.ratio, header.target, "result"],
                        right: Array(repeating: false, count: 8))]
        out.append("|" + w.enumerated().map { i, n in numeric[i] ? String(repeating: "-", count: n + 1) + ":" : String(repeating: "-", count: n + 2) }.joined(separator: "|") + "|")
        for row in rows {
            if row.scenario.hasPrefix("§ ") {
                out.append(line(["**" + row.scenario.dropFirst(2) + "**", "", "", "", "", "", "", ""], right: Array(repeating: false, count: 8)))
                continue
            }
            out.append(line([row.scenario, row.figure, row.cpu, row.syscalls, row.detail, row.ratio, row.target, status(row)],
                             right: numeric))
        }
        return out.joined(separator: "\n")
    }
}

/// The machine the figures come from.
enum Machine {
    static func describe(directory: String) -> [String] {
        var lines: [String] = []
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let model = firstValue(in: "/proc/cpuinfo", key: "model name") ?? "unknown CPU"
        let memory = firstValue(in: "/proc/meminfo", key: "MemTotal").map { $0.replacingOccurrences(" kB", "") }
            .flatMap { Double($0.trimmingSpaces) }.map { Format.fixed($0 / 1_048_576, 1) + " GiB" } ?? "?"
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        lines.append("machine: \(cpus) CPUs (\(model)), \(memory) RAM, Linux \(kernel)")
        lines.append("directory: \(directory) on \(mount(of: directory))")
        let load = (try? Files.read("/proc/loadavg")).map { String(decoding: $0, as: UTF8.self) }?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        lines.append("load average at start: \(load)")
        return lines
    }

    static func firstValue(in file: String, key: String) -> String? {
        guard let bytes = try? Files.read(file) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(key) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return String(line[line.index(after: colon)...]).trimmingSpaces
        }
        return nil
    }

    /// `device fstype (options)` of the mount holding `path` (longest mount-point prefix).
    static func mount(of path: String) -> String {
        guard let bytes = try? Files.read("/proc/mounts") else { return "?" }
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let absolute = realpath(path, &resolved) != nil
            ? String(decoding: resolved.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : path
        var best: (point: String, text: String) = ("", "?")
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 4 else { continue }
            let point = String(f[1])
            let inside = absolute == point || absolute.hasPrefix(point == "/" ? "/" : point + "/")
            if inside && point.count >= best.point.count {
                best = (point, "\(f[0]) \(f[2]) mounted at \(point) (\(f[3]))")
            }
        }
        return best.text
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }

    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
