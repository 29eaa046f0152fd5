import Foundation
import StateJournal
#if canImport(Glibc)
import Glibc
import StateJournalEngine
import StateJournalModel
#endif

// The system calls, each through the simulated disk's bookkeeping.
extension SimulatedDisk {
    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        logged("open \(path) flags \(String(flags, radix: 8))") { s in
            let existed = Self.inode(path) != nil
            // O_DIRECT is emulated (tmpfs refuses it): reads come from the durable image.
            let result = real.open(path, flags: flags & ~Self.directFlag, mode: mode)
            if case .success(let fd) = result {
                var st = stat()
                Glibc.fstat(fd, &st)
                let ino = UInt64(st.st_ino)
                let id = existed ? Self.id(ofInode: ino, &s) : Self.newID(forInode: ino, &s)
                s.descriptors[fd] = Descriptor(id: id, isDirectory: st.st_mode & S_IFMT == S_IFDIR, path: path,
                                               direct: flags & Self.directFlag != 0)
                s.journal.append("  fd \(fd) = \(path) (id \(id), \(existed ? "existing" : "created"))")
                Self.trace("\(ObjectIdentifier(self)) open \(path) fd \(fd) id \(id) existed \(existed) flags \(flags)")
            }
            return result
        }
    }

    package func close(_ fd: Int32) -> Result<Void, Errno> {
        state.withLock { s in
            s.descriptors[fd] = nil
            s.journal.append("close fd \(fd)")
            // A dead process's descriptors are closed by the kernel too.
            return real.close(fd)
        }
    }

    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        gated { _ in real.read(fd, into: buffer) }
    }

    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        gated { s in
            guard let d = s.descriptors[fd], d.direct, !d.isDirectory else { return real.pread(fd, into: buffer, offset: offset) }
            // What the disk holds, not the page cache.
            let image = s.durableData[d.id] ?? []
            let start = min(Int(offset), image.count)
            let n = min(buffer.count, image.count - start)
            for i in 0..<n { buffer[i] = image[start + i] }
            return .success(n)
        }
    }

    /// A short write: a legal, partial success the caller must loop over.
    func shortened(_ buffer: UnsafeRawBufferPointer, _ s: inout State) -> UnsafeRawBufferPointer {
        guard buffer.count > 1, s.shortWriteChance > 0, s.rng.chance(s.shortWriteChance) else { return buffer }
        s.shortWrites += 1
        return UnsafeRawBufferPointer(rebasing: buffer[0..<Int.random(in: 1..<buffer.count, using: &s.rng)])
    }

    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        logged("write fd \(fd) \(buffer.count) bytes") { s in real.write(fd, from: shortened(buffer, &s)) }
    }

    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        logged("pwrite fd \(fd) \(buffer.count) bytes at \(offset)") { s in
            let result = real.pwrite(fd, from: shortened(buffer, &s), offset: offset)
            // Written again: dirty anew, so the next writeback writes it.
            if case .success(let n) = result, let id = s.descriptors[fd]?.id, var lost = s.lostWriteback[id] {
                let lower = Int(offset), upper = min(Int(offset) + n, lost.lost.count)
                if lower < upper { for i in lower..<upper { lost.lost[i] = false } }
                s.lostWriteback[id] = lost
            }
            return result
        }
    }

    func sync(_ fd: Int32) -> Result<Void, Errno> {
        logged("sync fd \(fd)") { s in
            guard let d = s.descriptors[fd] else { return .failure(Errno(rawValue: EBADF)) }
            s.syncs += 1
            if d.isDirectory {
                s.durableEntries[d.id] = Self.entries(of: d.path, &s)
                s.journal.append("  durable: \(d.path)/ = \((s.durableEntries[d.id] ?? [:]).map { "\($0.key)#\($0.value.id)" }.sorted())")
                Self.trace("sync dir \(d.path) id \(d.id): \(s.durableEntries[d.id]!.map { "\($0.key)=\($0.value.id)" }.sorted())")
            } else {
                // The descriptor may be write-only: read the same file through /proc.
                guard let bytes = FileManager.default.contents(atPath: "/proc/self/fd/\(fd)") else { return .failure(.ioError) }
                let patterned = s.writebackFailurePattern.map { d.path.contains($0) } ?? false
                if patterned || s.failingFileSyncs > 0 {
                    if patterned { s.writebackFailurePattern = nil } else { s.failingFileSyncs -= 1 }
                    s.writebackFailures += 1
                    // Dirty at the failure: what differs from the disk, or lies beyond it.
                    let old = s.durableData[d.id] ?? []
                    let live = [UInt8](bytes)
                    var lost = s.lostWriteback[d.id]?.lost ?? []
                    if lost.count < live.count { lost += [Bool](repeating: false, count: live.count - lost.count) }
                    for i in 0..<live.count where i >= old.count || old[i] != live[i] { lost[i] = true }
                    s.lostWriteback[d.id] = (lost, old)
                    s.journal.append("  writeback FAILED: \(d.path) (id \(d.id)): dirty bytes marked clean, not on disk")
                    return .failure(.ioError)
                }
                var durable = [UInt8](bytes)
                if let lost = s.lostWriteback[d.id] {
                    // Bytes dirty at the failed writeback and not written since never reach the disk.
                    for i in 0..<min(durable.count, lost.lost.count) where lost.lost[i] {
                        durable[i] = i < lost.durable.count ? lost.durable[i] : 0
                    }
                }
                s.durableData[d.id] = durable
                s.journal.append("  durable: \(d.path) (id \(d.id)) = \(bytes.count) bytes")
                Self.trace("sync fd \(fd) \(d.path) id \(d.id): \(bytes.count) bytes")
            }
            return .success(())
        }
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> { sync(fd) }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { sync(fd) }

    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        logged("ftruncate fd \(fd) to \(length)") { _ in real.ftruncate(fd, length: length) }
    }

    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { gated { _ in real.fstat(fd) } }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { gated { _ in real.lstat(path) } }
    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> { logged("rename \(from) -> \(to)") { _ in real.rename(from, to) } }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { logged("link \(from) -> \(to)") { _ in real.link(from, to) } }
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { logged("exchange \(a) <-> \(b)") { _ in real.exchange(a, b) } }
    package func unlink(_ path: String) -> Result<Void, Errno> { logged("unlink \(path)") { _ in real.unlink(path) } }

    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> {
        logged("mkdir \(path)") { s in
            let result = real.mkdir(path, mode: mode)
            if case .success = result, let (ino, _) = Self.inode(path) {
                _ = Self.newID(forInode: ino, &s)
            }
            return result
        }
    }

    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        // Unlocking is what the kernel does when a process dies, so it always works.
        if operation & LOCK_UN != 0 { return real.flock(fd, operation: operation) }
        return gated { _ in real.flock(fd, operation: operation) }
    }

    package func listDirectory(_ path: String) -> Result<[String], Errno> { gated { _ in real.listDirectory(path) } }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> { gated { _ in real.availableSpace(path) } }
}
