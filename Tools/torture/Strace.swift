import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization

/// Targeted kills of CLI writers: strace injects SIGKILL at the entry of
/// one system call, and its trace (with descriptor paths) says where the
/// kill landed — deterministic, not a timer.
enum Strace {
    static let path = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? ""
    static var available: Bool { !path.isEmpty }

    /// `syscall`: `fdatasync:when=N` (the append's sync: killed between
    /// pwrite and fdatasync) or `link:when=1` (the STATE.md backup link:
    /// after the append, before the rename).
    static func arguments(killAt syscall: String, trace: String) -> [String] {
        ["-f", "-qq", "-y", "-o", trace, "-e", "trace=pwrite64,fdatasync,link,rename",
         "-e", "inject=\(syscall.split(separator: ":")[0]):signal=SIGKILL:\(syscall.split(separator: ":").dropFirst().joined(separator: ":"))"]
    }

    /// Where the kill landed, from the trace.
    static func landing(_ trace: String) -> String {
        guard let text = try? String(contentsOfFile: trace, encoding: .utf8) else { return Landing.unknown }
        var wrote = false, synced = false
        for line in text.split(separator: "\n") {
            let segment = line.contains("/segment-")
            if line.contains("pwrite64(") && segment { wrote = true; synced = false }
            if line.contains("fdatasync(") && segment {
                if line.contains("= 0") { synced = wrote } else if !line.contains("= -1") {
                    return wrote ? Landing.sync : "at a sync of the segment before this process appended"
                }
            }
            if (line.contains("link(") || line.contains("rename(")) && (line.hasSuffix("= ?") || line.contains("<unfinished")) {
                return synced ? Landing.postAppend : "at a STATE.md backup or rename (no append in this process)"
            }
        }
        return wrote && !synced ? Landing.sync : "elsewhere (strace)"
    }
}
