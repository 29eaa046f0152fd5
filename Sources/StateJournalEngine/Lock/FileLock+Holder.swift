#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

// Who holds the lock: what a holder recorded about itself, or what the
// kernel says (`/proc/locks`) for a holder that recorded nothing.
extension FileLock {
    /// What the holder recorded about itself.
    package struct Holder: Sendable, Equatable, CustomStringConvertible {
        package var pid: Int32?
        package var command: String?
        package var since: Timestamp?

        package var description: String {
            var parts = ["process \(pid.map(String.init) ?? "unknown")"]
            if let command { parts.append("(\(command))") }
            if let since {
                let held = Double(Timestamp.now().microseconds - since.microseconds) / 1_000_000
                parts.append("which has held it for \(Self.seconds(held))")
            }
            return parts.joined(separator: " ")
        }

        package static func seconds(_ s: Double) -> String {
            let tenths = Int((s * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)s"
        }

        package static func parse(_ text: String) -> Holder {
            var holder = Holder()
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = line[..<eq], value = String(line[line.index(after: eq)...])
                switch key {
                case "pid": holder.pid = Int32(value)
                case "command": holder.command = value
                case "since": holder.since = Timestamp(parsing: value)
                default: break
                }
            }
            return holder
        }
    }

    /// The process holding an `flock` on the file (`device`, `inode`), from
    /// `/proc/locks` as `lslocks` finds it, for a holder that wrote nothing
    /// about itself (another tool, `flock(1)`).
    package func kernelHolder(device: UInt64, inode: UInt64) -> Holder? {
        guard let text = readProcFile("/proc/locks") else { return nil }
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (maj:min in hex).
        let major = (device >> 8) & 0xfff | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK" || fields[1] == "OFDLCK", let pid = Int32(fields[4]) else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[0], radix: 16) == major, UInt64(id[1], radix: 16) == minor, UInt64(id[2]) == inode else { continue }
            guard pid > 0 else { continue }
            let command = readProcFile("/proc/\(pid)/cmdline").map {
                $0.split(separator: "\0").joined(separator: " ")
            }
            return Holder(pid: pid, command: command.map { $0.isEmpty ? "?" : $0 }, since: nil)
        }
        return nil
    }

    func readProcFile(_ path: String) -> String? {
        guard let bytes = (try? fs.readFileIfExists(path)) ?? nil else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
