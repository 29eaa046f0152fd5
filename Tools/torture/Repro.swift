import Foundation
import StateJournal
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `torture repro segment-dir-fsync`: a deterministic reproduction of a
/// durability gap the lost-write phase found (Docs/GUARANTEES.md, "Known
/// gaps"). The directory fsync right after a new segment is renamed into
/// place fails once (EIO); that write fails — correctly — but the segment
/// stays, its directory entry not durable. The next writes append to it and
/// are acknowledged; a machine crash before anything else fsyncs the
/// directory loses them. Exits 1 while the gap is there, 0 once it is fixed.
enum Repro {
    static func run(_ name: String?, work: String) -> Int32 {
        switch name {
        case "segment-dir-fsync": return segmentDirectoryFsync(work: work)
        default:
            FileHandle.standardError.write(Data("usage: torture repro segment-dir-fsync\n".utf8))
            return 2
        }
    }

    static func segmentDirectoryFsync(work: String) -> Int32 {
        let ws = Workspace(work + "/repro-segment-dir-fsync")
        let disk = SimulatedDisk(root: ws.directory, seed: 1)
        let failing = FailDirectorySyncAfterNewSegment(disk)
        var configuration = StateManager.Configuration(statePath: ws.statePath, actor: "repro", fileSystem: FileSystem(failing))
        configuration.journal.segmentSize = 2 << 10  // rotate after a few events
        let manager = StateManager(configuration: configuration, logger: quietLogger)
        var acknowledged: [UInt64] = []
        var report: [String] = []
        do {
            acknowledged.append(try manager.write(.workflowInitialized(id: "wf", name: "repro", waves: [[]], metadata: [])).event.seq)
            var failed = false
            var afterFailure = 0
            for i in 0..<200 where afterFailure < 3 {
                do {
                    let seq = try manager.write(.noteAdded(text: "note \(i) " + String(repeating: "x", count: 100))).event.seq
                    acknowledged.append(seq)
                    if failed { afterFailure += 1; report.append("acknowledged seq \(seq) (appended to the new segment)") }
                } catch {
                    failed = true
                    report.append("write \(i) failed as it should: \(error)")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("repro: setup failed: \(error)\n".utf8))
            return 2
        }
        disk.crash()
        disk.materialize(.dropAll)
        let recovered = Set(((try? StateManager(configuration: .init(statePath: ws.statePath, actor: "repro"), logger: quietLogger).events()) ?? []).map(\.seq))
        let lost = acknowledged.filter { !recovered.contains($0) }
        for line in report { print(line) }
        print("after a simulated crash: \(acknowledged.count) acknowledged, \(lost.count) lost\(lost.isEmpty ? "" : ": seq " + lost.map(String.init).joined(separator: ", "))")
        ws.remove()
        return lost.isEmpty ? 0 : 1
    }
}

/// Fails, once, the first directory fsync after a segment other than the
/// first is renamed into place.
final class FailDirectorySyncAfterNewSegment: SystemCalls, Sendable {
    private let base: any SystemCalls
    private let armed = Mutex((segments: 0, armed: false, fired: false))

    init(_ base: any SystemCalls) { self.base = base }

    func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let result = base.rename(from, to)
        if case .success = result, to.hasSuffix(".log"), to.contains("/segment-") {
            armed.withLock { s in
                s.segments += 1
                if s.segments == 2 && !s.fired { s.armed = true }
            }
        }
        return result
    }

    func fsync(_ fd: Int32) -> Result<Void, Errno> {
        var st = stat()
        let isDirectory = Glibc.fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
        let fire = isDirectory && armed.withLock { s in
            guard s.armed else { return false }
            s.armed = false
            s.fired = true
            return true
        }
        return fire ? .failure(.ioError) : base.fsync(fd)
    }

    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
}
