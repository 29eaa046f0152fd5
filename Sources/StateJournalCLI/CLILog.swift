import Logging

/// The command line's logger: the library's notices and warnings go to
/// stderr, so that stdout carries only results.
package enum CLILog {
    package static let logger: Logger = {
        var logger = Logger(label: "statejournal") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .notice
        return logger
    }()
}
