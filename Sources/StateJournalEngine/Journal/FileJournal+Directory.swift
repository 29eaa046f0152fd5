#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import StateJournalModel

// Every name in the journal directory, and the one listing of it.
extension FileJournal {
    package static let segmentPrefix = "segment-"
    package static let rawSuffix = ".log"
    package static let sealedSuffix = ".log.zst"
    package static let snapshotPrefix = "snapshot-"
    package static let snapshotSuffix = ".snap"
    package static let temporaryMarker = ".tmp-"
    /// The lock projectors of STATE.md take (see ``StateManager``).
    package static let projectorLockName = "projector.lock"

    /// The journal directory kept for the state file `statePath`.
    package static func directory(forState statePath: String) -> String { statePath + ".journal" }
    /// The writers' lock of the state file `statePath`.
    package static func lockPath(forState statePath: String) -> String { statePath + ".lock" }
    /// The lock projectors of `statePath` take: in the journal directory,
    /// where ``listing()`` knows it is not part of the journal.
    package static func projectorLockPath(forState statePath: String) -> String {
        FileSystem.join(directory(forState: statePath), projectorLockName)
    }

    package static func padded(_ seq: UInt64) -> String {
        let digits = String(seq)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    package static func segmentName(firstSeq: UInt64) -> String { segmentPrefix + padded(firstSeq) + rawSuffix }
    package static func sealedName(firstSeq: UInt64) -> String { segmentPrefix + padded(firstSeq) + sealedSuffix }
    package static func snapshotName(seq: UInt64) -> String { snapshotPrefix + padded(seq) + snapshotSuffix }

    package struct SegmentFiles {
        package var firstSeq: UInt64
        package var raw: String?
        package var sealed: String?
    }

    package struct Listing {
        package var segments: [SegmentFiles] = []
        package var snapshots: [(seq: UInt64, name: String)] = []
        package var temporaries: [String] = []
        package var strays: [String] = []
    }

    package func path(_ name: String) -> String { FileSystem.join(directory, name) }

    private static func number(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// Whether `name` contains ``temporaryMarker``, compared as bytes
    /// (`String.contains(_:)` builds a search table on every call).
    package static func containsTemporaryMarker(_ name: String) -> Bool {
        let marker = Array(temporaryMarker.utf8)
        let bytes = Array(name.utf8)
        guard bytes.count >= marker.count else { return false }
        for start in 0...(bytes.count - marker.count) where bytes[start..<(start + marker.count)].elementsEqual(marker) {
            return true
        }
        return false
    }

    package func listing() throws(StateJournalError) -> Listing {
        var result = Listing()
        guard let status = try fs.lstat(directory) else { return result }
        if status.isSymbolicLink {
            try fs.refuseSymbolicLink(directory, as: "the journal directory")
        } else if !status.isDirectory {
            throw StateJournalError(.corruption, "'\(directory)' is not a directory; the journal must be a directory of segment files — move it away", path: directory)
        }
        // Sorted and paired by seq, not gathered in a dictionary keyed by
        // seq: a command line process then instantiates no dictionary type
        // at run time (a conformance scan of the whole binary).
        var segmentNames: [(seq: UInt64, sealed: Bool, name: String)] = []
        for name in try fs.list(directory) {
            if name == Self.projectorLockName {
                continue
            } else if Self.containsTemporaryMarker(name) {
                result.temporaries.append(name)
            } else if let seq = Self.number(name, prefix: Self.segmentPrefix, suffix: Self.sealedSuffix) {
                segmentNames.append((seq, true, name))
            } else if let seq = Self.number(name, prefix: Self.segmentPrefix, suffix: Self.rawSuffix) {
                segmentNames.append((seq, false, name))
            } else if let seq = Self.number(name, prefix: Self.snapshotPrefix, suffix: Self.snapshotSuffix) {
                result.snapshots.append((seq, name))
            } else {
                result.strays.append(name)
            }
        }
        segmentNames.sort { $0.seq < $1.seq }
        for (seq, sealed, name) in segmentNames {
            if result.segments.last?.firstSeq != seq { result.segments.append(SegmentFiles(firstSeq: seq)) }
            if sealed { result.segments[result.segments.count - 1].sealed = name } else { result.segments[result.segments.count - 1].raw = name }
        }
        result.snapshots.sort { $0.seq < $1.seq }
        for stray in result.strays {
            logger.warning("the journal directory holds a file that is not part of the journal; it is left alone",
                           metadata: ["file": "\(path(stray))"])
        }
        return result
    }

    /// Under the lock: removes temporary files left by a crashed writer and
    /// finishes a seal that was interrupted after its compressed file was
    /// renamed into place.
    package func recoverInterruptedWork() throws {
        guard locked, !recovered else { return }
        recovered = true
        let list = try currentListing()
        if !list.temporaries.isEmpty || list.segments.contains(where: { $0.raw != nil && $0.sealed != nil }) { forgetListing() }
        for temp in list.temporaries {
            try fs.unlinkIfExists(path(temp))
            logger.notice("removed a temporary file left by an interrupted write", metadata: ["file": "\(path(temp))"])
        }
        for segment in list.segments {
            guard let raw = segment.raw, let sealed = segment.sealed else { continue }
            // The sealed file was renamed into place only after it was fsynced;
            // check it decodes before dropping the raw copy.
            do {
                _ = try scanSealed(sealed, firstSeq: segment.firstSeq, previous: nil, after: UInt64.max, verifyAll: true) { _ in }
                try fs.unlinkIfExists(path(raw))
                try fs.fsyncDirectory(directory)
                logger.notice("finished an interrupted seal", metadata: ["file": "\(path(sealed))"])
            } catch let error as StateJournalError where error.code == .corruption {
                logger.warning("an interrupted seal left a damaged compressed segment; keeping the raw one and setting the damaged copy aside",
                               metadata: ["file": "\(path(sealed))", "error": "\(error)"])
                try fs.rename(path(sealed), path(sealed) + ".damaged-" + Timestamp.now().compactUTC)
                try fs.fsyncDirectory(directory)
            }
        }
    }
}
