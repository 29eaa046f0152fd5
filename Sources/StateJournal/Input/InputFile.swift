#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalEngine

/// Reads a file a user names as a command's input (a plan, an update, a
/// STATE.md to import or validate), or standard input for `-`.
package enum InputFile {
    /// The most a plan or an update may hold: each becomes one journal event,
    /// and an event is at most 16 MiB (the record limit); four times that
    /// leaves room for white space. Larger input is refused before it is read.
    package static let eventInputLimit = 4 * RecordFormat.defaultMaximumRecordSize

    /// The bytes of `path` (`-`: standard input).
    ///
    /// - Throws: ``StateJournalError/Code/badInput`` when the file does not
    ///   exist or holds more than `limit` bytes; ``StateJournalError/Code/io``
    ///   when reading fails.
    package static func read(_ path: String, limit: Int = .max) throws(StateJournalError) -> [UInt8] {
        let fs = FileSystem()
        func tooLarge() -> StateJournalError {
            StateJournalError(.badInput, "\(path == "-" ? "stdin" : "'\(path)'") holds more than \(limit >> 20) MiB; "
                + "a plan or an update becomes one journal event, of at most \(RecordFormat.defaultMaximumRecordSize >> 20) MiB — "
                + "initialize with fewer tasks and add the others with 'task add'", path: path == "-" ? nil : path)
        }
        if path == "-" {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = try buffer.withUnsafeMutableBytes { fs.sys.read(STDIN_FILENO, into: $0) }.get("read", "stdin")
                if n == 0 { return out }
                out.append(contentsOf: buffer[0..<n])
                if out.count > limit { throw tooLarge() }
            }
        }
        if limit < .max, let fd = try fs.openIfExists(path, O_RDONLY) {
            defer { fs.closeQuietly(fd) }
            if case .success(let status) = fs.sys.fstat(fd), status.size > Int64(limit) { throw tooLarge() }
        }
        guard let bytes = try fs.readFileIfExists(path) else {
            throw StateJournalError(.badInput, "'\(path)' does not exist; give the path of an existing file", path: path)
        }
        return bytes
    }
}
