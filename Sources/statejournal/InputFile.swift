#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal

/// Reads a file named on the command line, or stdin for `-`.
enum InputFile {
    /// The most a plan or an update may hold: each becomes one journal event,
    /// and an event is at most 16 MiB (the record limit); four times that
    /// leaves room for white space. Larger input is refused before it is read.
    static let eventInputLimit = 4 * RecordFormat.defaultMaximumRecordSize

    static func read(_ path: String, limit: Int = .max) throws -> [UInt8] {
        func tooLarge() -> StateJournalError {
            StateJournalError(.badInput, "\(path == "-" ? "stdin" : "'\(path)'") holds more than \(limit >> 20) MiB; "
                + "a plan or an update becomes one journal event, of at most \(RecordFormat.defaultMaximumRecordSize >> 20) MiB — "
                + "initialize with fewer tasks and add the others with 'task add'", path: path == "-" ? nil : path)
        }
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
                if out.count > limit { throw tooLarge() }
            }
        }
        if limit < .max, let fd = try FileSystem().openIfExists(path, O_RDONLY) {
            defer { _ = RealSystemCalls().close(fd) }
            if case .success(let status) = RealSystemCalls().fstat(fd), status.size > Int64(limit) { throw tooLarge() }
        }
        guard let bytes = try FileSystem().readFileIfExists(path) else {
            throw StateJournalError(.badInput, "'\(path)' does not exist; give the path of an existing file", path: path)
        }
        return bytes
    }
}
