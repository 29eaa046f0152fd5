import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `torture repro NAME`: a deterministic reproduction of a known finding
/// (``Findings``). Runs every variant of its scenario once; exits 1 while
/// the bug is there, 0 once it is fixed, 2 when the fault it needs did not
/// fire (the run proves nothing). `torture repro all` runs every one and
/// exits with the worst status.
enum Repro {
    static func run(_ name: String?, work: String, cli: CLIRunner?) -> Int32 {
        let usage = "usage: torture repro NAME|all   (names: " + Findings.all.map(\.name).joined(separator: ", ") + ")\n"
        guard let name else {
            FileHandle.standardError.write(Data(usage.utf8))
            return 2
        }
        let findings = name == "all" ? Findings.all : Findings.named(name).map { [$0] } ?? []
        guard !findings.isEmpty else {
            FileHandle.standardError.write(Data(("torture: no finding named '\(name)'\n" + usage).utf8))
            return 2
        }
        try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var worst: Int32 = 0
        var lines: [String] = []
        for finding in findings {
            var status: Int32 = 0
            for variant in 0..<finding.variants {
                let o = finding.run(FindingContext(work: work, variant: variant, seed: UInt64(variant + 1), cli: cli))
                let verdict: Int32 = !o.fired ? 2 : (o.failed ? 1 : 0)
                print("repro \(finding.name) variant \(variant): \(verdict == 0 ? "OK" : verdict == 1 ? "BUG PRESENT" : "FAULT DID NOT FIRE") — \(o.why)")
                for p in o.problems { print("  - \(p)") }
                status = max(status, verdict == 2 ? 2 : verdict) == 2 ? 2 : max(status, verdict)
            }
            lines.append("\(finding.name): \(status == 0 ? "fixed (exit 0)" : status == 1 ? "BUG PRESENT (exit 1)" : "did not fire (exit 2)") — \(finding.summary)")
            worst = worst == 2 || status == 2 ? 2 : max(worst, status)
        }
        if findings.count > 1 { print("\nrepro summary:\n" + lines.map { "  " + $0 }.joined(separator: "\n")) }
        if worst != 1 { try? FileManager.default.removeItem(atPath: work) } else { print("workspaces kept under \(work)") }
        return worst
    }
}

/// Fails, once, the first directory fsync after a segment other than the
/// first is renamed into place.
final class FailDirectorySyncAfterNewSegment: SystemCalls, Sendable {
    private let base: any SystemCalls
    private let armed = Mutex((segments: 0, armed: false, fired: false))

    init(_ base: any SystemCalls) { self.base = base }

    var fired: Bool { armed.withLock { $0.fired } }

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
