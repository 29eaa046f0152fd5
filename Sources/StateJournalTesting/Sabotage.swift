import StateJournal
import StateJournalEngine
import StateJournalModel

/// A deliberately broken layer for the harness's self-test (`--sabotage`):
/// it reports success for `fsync`/`fdatasync` of files or of directories
/// without passing them on, like a library that forgot to sync. The
/// lost-write phase must then report lost events — proof that it can.
package final class Sabotage: ForwardingSystemCalls, @unchecked Sendable {
    package let base: any SystemCalls
    package enum Mode: String, Sendable { case fileSync = "file-sync", directorySync = "dir-sync" }

    package let mode: Mode

    package init(_ base: any SystemCalls, mode: Mode) {
        self.mode = mode
        self.base = base
    }

    private func skipped(_ fd: Int32) -> Bool {
        guard let isDirectory = Self.isDirectory(fd) else { return false }
        return isDirectory == (mode == .directorySync)
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> { skipped(fd) ? .success(()) : base.fsync(fd) }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { skipped(fd) ? .success(()) : base.fdatasync(fd) }
}
