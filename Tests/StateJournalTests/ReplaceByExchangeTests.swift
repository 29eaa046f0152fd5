import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// STATE.md is replaced by exchanging names (Linux `renameat2`), falling
/// back to a hard link and renames where the file system cannot.
@Suite struct ReplaceByExchangeTests {
    let dir = TemporaryDirectory()

    func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    /// Write after write, STATE.md.backup is the previous STATE.md byte for
    /// byte — the very file (same inode) — and nothing else is left beside them.
    @Test func theBackupIsThePreviousFileAndNothingIsLeft() throws {
        let fs = FileSystem()
        let path = dir.file("STATE.md"), backup = path + ".backup"
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        #expect(readBytes(backup) == nil, "no backup of a file that was not there")
        var previousInode = try #require(try fs.lstat(path)).inode
        for text in ["two\n", "three\n", "four\n"] {
            let before = try #require(readBytes(path))
            try fs.atomicReplace(path, with: Array(text.utf8), backup: backup, durable: false)
            #expect(readBytes(path) == Array(text.utf8))
            #expect(readBytes(backup) == before)
            #expect(try fs.lstat(backup)?.inode == previousInode, "the backup is the previous file itself")
            previousInode = try #require(try fs.lstat(path)).inode
            #expect(names() == ["STATE.md", "STATE.md.backup"])
        }
    }

    /// Where the file system cannot exchange (`EINVAL`), the backup is kept
    /// the way it was before: the same files in the end.
    @Test func withoutExchangeTheSameFilesResult() throws {
        final class NoExchange: ForwardingSystemCalls, @unchecked Sendable {
            let base: any SystemCalls = RealSystemCalls()
            func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { .failure(Errno(rawValue: EINVAL)) }
        }
        let fs = FileSystem(NoExchange())
        let path = dir.file("STATE.md"), backup = path + ".backup"
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        #expect(readBytes(path) == Array("three\n".utf8))
        #expect(readBytes(backup) == Array("two\n".utf8))
        #expect(names() == ["STATE.md", "STATE.md.backup"])
    }

    /// The backup cannot be renamed into place: the commit fails, STATE.md
    /// is the previous file again and no temporary is left.
    @Test func aFailedBackupLeavesStateMdAsItWas() throws {
        let faults = FaultInjector(RealSystemCalls())
        let fs = FileSystem(faults)
        let path = dir.file("STATE.md"), backup = path + ".backup"
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        faults.fail(.rename, errno: .ioError)
        #expect(throws: StateJournalError.self) {
            try fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        }
        #expect(readBytes(path) == Array("two\n".utf8))
        #expect(names().allSatisfy { !$0.contains(".tmp-") }, "\(names())")
    }

    /// A directory where STATE.md should be is never exchanged away (moved
    /// to the backup's name): the replace fails and the directory stays.
    @Test func aDirectoryAtThePathIsNotMoved() throws {
        let fs = FileSystem()
        let path = dir.file("STATE.md"), backup = path + ".backup"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: path + "/inside", contents: Data("x".utf8)))
        #expect(throws: StateJournalError.self) {
            try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(readBytes(path + "/inside") == Array("x".utf8))
        #expect(readBytes(backup) == nil)
    }
}
