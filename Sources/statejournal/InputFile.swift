#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal

/// Reads a file named on the command line, or stdin for `-`.
enum InputFile {
    static func read(_ path: String) throws -> [UInt8] {
        if path == "-" {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StateJournalError(.io, "reading stdin failed", errno: Errno(rawValue: errno))
                }
                if n == 0 { return out }
                out.append(contentsOf: buffer[0..<n])
            }
        }
        guard let bytes = try FileSystem().readFileIfExists(path) else {
            throw StateJournalError(.badInput, "'\(path)' does not exist; give the path of an existing file", path: path)
        }
        return bytes
    }
}
