/// How long to wait for the writers' lock, and how to back off meanwhile.
public struct LockPolicy: Sendable, Equatable {
    /// Give up after this many seconds (fractions allowed).
    public var timeout: Double
    /// The first retry waits about this long (seconds); each retry doubles it.
    public var initialBackoff: Double
    /// Retries never wait longer than this (seconds).
    public var maximumBackoff: Double

    /// A policy; the defaults wait up to 10 s, retrying after 0.5 ms to 50 ms.
    public init(timeout: Double = 10, initialBackoff: Double = 0.000_5, maximumBackoff: Double = 0.05) {
        self.timeout = timeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}
