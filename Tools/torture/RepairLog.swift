import Foundation
import Logging
import Synchronization

/// Counts the repairs the library reports through its logger (torn tails
/// cut, STATE.md regenerated or kept aside) when it runs inside the harness.
final class RepairLog: Sendable {
    private let counter = Atomic<Int>(0)
    let echo: Bool

    init(echo: Bool = false) { self.echo = echo }

    var count: Int { counter.load(ordering: .relaxed) }

    /// Returns how many repairs were logged since the last call.
    func take() -> Int { counter.exchange(0, ordering: .relaxed) }

    fileprivate func record(_ level: Logger.Level, _ message: String) {
        if countRepairs(message) > 0 { counter.add(1, ordering: .relaxed) }
        if echo || level >= .error { FileHandle.standardError.write(Data("[library \(level)] \(message)\n".utf8)) }
    }

    func logger(label: String = "statejournal") -> Logger {
        Logger(label: label) { _ in Handler(sink: self) }
    }

    private struct Handler: LogHandler {
        let sink: RepairLog
        var logLevel: Logger.Level = .notice
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var text = "\(event.message)"
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            if !merged.isEmpty { text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
            sink.record(event.level, text)
        }
    }
}

/// The library's logger for the harness's own checks: repairs are counted
/// by the phase that asks for them, nothing is printed.
let checkRepairs = RepairLog()
let quietLogger = checkRepairs.logger()
