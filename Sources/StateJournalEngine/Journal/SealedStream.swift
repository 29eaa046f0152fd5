#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// The reading of one sealed segment's compressed bytes, fed in order:
/// their checksum, zstd, the raw checksum and size, the segment header, the
/// records (through a ``FileJournal/RecordWalker``, which decodes them and
/// hands the events over). ``finish()`` makes the checks that need the
/// whole stream. Any damage is corruption, worded the same way whether the
/// stream is read on the caller's thread or on a second one
/// (``SealedPipeline``).
package struct SealedStream {
    package let file: String
    package let header: SealedSegmentHeader
    let walker: FileJournal.RecordWalker
    private let decompressor: ZstdDecompressor
    private let end: Int64
    private var assembler: RecordAssembler
    private var segmentHeader: [UInt8] = []
    private var crc: UInt32 = 0
    private var compressedCRC: UInt32 = 0
    private var rawSize: UInt64 = 0
    private var clean = true

    package init(file: String, header: SealedSegmentHeader, walker: FileJournal.RecordWalker, end: Int64,
                 maximumRecordSize: Int) throws {
        self.file = file
        self.header = header
        self.walker = walker
        self.end = end
        do { decompressor = try ZstdDecompressor() } catch { throw StateJournalError(.io, "zstd: \(error)") }
        assembler = RecordAssembler(startingAt: RecordFormat.headerSize, maximumSize: maximumRecordSize)
    }

    package func damaged(_ what: String) -> StateJournalError {
        .corruption("sealed segment '\(file)' (seq \(header.firstSeq)…\(header.lastSeq)) is damaged: \(what); restore it from a backup",
                    path: file)
    }

    /// Takes the next compressed bytes; the events of the records they
    /// complete go to the walker's body.
    package mutating func consume(_ input: UnsafeRawBufferPointer) throws {
        compressedCRC = CRC32C.update(compressedCRC, input)
        do {
            try decompressor.decompress(input) { out in
                crc = CRC32C.update(crc, out)
                rawSize += UInt64(out.count)
                var data = out
                if segmentHeader.count < RecordFormat.headerSize {
                    let take = min(RecordFormat.headerSize - segmentHeader.count, data.count)
                    segmentHeader.append(contentsOf: data[0..<take])
                    data = UnsafeRawBufferPointer(rebasing: data[take...])
                }
                if clean && !data.isEmpty { clean = try assembler.feed(data, walker.visit) }
            }
        } catch let error as ZstdError {
            throw damaged("zstd: \(error)")
        }
    }

    /// Reads the compressed bytes from `offset` to the end of the file in
    /// chunks of `chunkSize` with `read` and consumes them on this thread,
    /// then makes the final checks.
    package mutating func readAll(from offset: Int64, chunkSize: Int,
                                  read: (UnsafeMutableRawBufferPointer, Int64) throws -> Int) throws -> SealedSegmentHeader {
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var fileOffset = offset
        while true {
            let n = try buffer.withUnsafeMutableBytes { try read($0, fileOffset) }
            if n == 0 { break }
            fileOffset += Int64(n)
            try buffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return try finish()
    }

    /// After the last compressed byte: the checks of the whole stream.
    package func finish() throws -> SealedSegmentHeader {
        if decompressor.expectingMore { throw damaged("the compressed data is truncated") }
        guard compressedCRC == header.compressedChecksum else { throw damaged("the checksum of its compressed bytes does not match") }
        guard segmentHeader.count == RecordFormat.headerSize,
              case .success(let inner) = segmentHeader.withUnsafeBytes({ RecordFormat.decodeHeader($0) }),
              inner.firstSeq == header.firstSeq else { throw damaged("its segment header is damaged") }
        guard clean, assembler.leftover == 0 else { throw damaged("record at byte \(assembler.offset) (after seq \(walker.next - 1)) is damaged") }
        guard crc == header.rawChecksum, rawSize == header.rawSize else { throw damaged("the checksum of its content does not match") }
        guard walker.next - 1 == header.lastSeq || end != .max, header.count == header.lastSeq + 1 - header.firstSeq else {
            throw damaged("it holds events up to seq \(walker.next - 1), not \(header.lastSeq) as its header says")
        }
        return header
    }
}

/// A sealed segment read on two threads: the caller's thread reads the
/// compressed bytes (every system call stays on it, in the order of a
/// one-thread read) and applies the events; a second thread runs a
/// ``SealedStream`` over them — checksums, zstd, records, decoding — and
/// hands the events back in batches. What the caller sees is what one
/// thread gives: the same events in the same order, then the same error at
/// the same point, or the header.
///
/// Memory stays bounded: at most ``maximumChunks`` compressed chunks and
/// ``maximumBatches`` batches of ``batchSize`` events are in flight.
package final class SealedPipeline: @unchecked Sendable {
    static let maximumChunks = 2
    static let maximumBatches = 4
    static let batchSize = 256

    /// What the reading thread gives the decoding one, in order.
    private enum Input {
        case chunk(UnsafeMutableRawBufferPointer, count: Int)
        /// A read failed: the decoding thread stops there and passes the error on.
        case failed(any Error)
        /// The file ended.
        case end
    }

    /// What the decoding thread gives back, in order.
    private enum Output {
        case events([Event])
        case failed(any Error)
        case finished(SealedSegmentHeader)
    }

    /// Stops the decoding thread once the caller no longer wants its output.
    private struct Cancelled: Error {}

    /// Set before the thread starts; the decoding thread's alone after.
    private var stream: SealedStream?
    private let chunkSize: Int
    // Guarded by `mutex`.
    private var inputs: [Input] = []
    private var outputs: [Output] = []
    private var spareChunks: [UnsafeMutableRawBufferPointer] = []
    private var spareBatches: [[Event]] = []
    private var cancelled = false
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Every chunk buffer allocated (at most ``maximumChunks`` + 2), freed with the pipeline.
    private var allocated: [UnsafeMutableRawBufferPointer] = []
    // The decoding thread's own.
    @exclusivity(unchecked) private var batch: [Event] = []

    /// Whether a second thread can pay: more than one CPU to run it on.
    package static let available: Bool = sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1

    private init(chunkSize: Int) {
        self.chunkSize = chunkSize
        mutex.initialize(to: pthread_mutex_t())
        changed.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        for buffer in allocated { buffer.deallocate() }
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Reads a sealed segment from `offset` in chunks of `chunkSize` with
    /// `read`, decoding them with the stream `makeStream` makes (its walker
    /// must hand its events to `emit`) on a second thread, and hands each
    /// event to `body` on this one. Nil when no thread could be started
    /// (nothing was read: read the segment on this thread then).
    package static func run(from offset: Int64, chunkSize: Int,
                            makeStream: (_ emit: @escaping (Event) throws -> Void) throws -> SealedStream,
                            read: (UnsafeMutableRawBufferPointer, Int64) throws -> Int,
                            _ body: (Event) throws -> Void) throws -> SealedSegmentHeader? {
        let pipeline = SealedPipeline(chunkSize: chunkSize)
        // The pipeline outlives its stream (it holds it, and joins the thread before it goes).
        pipeline.stream = try makeStream { [unowned(unsafe) pipeline] event in try pipeline.emit(event) }
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let context = Unmanaged.passRetained(pipeline).toOpaque()
        guard pthread_create(&thread, nil, { context in
            Unmanaged<SealedPipeline>.fromOpaque(context!).takeRetainedValue().decode()
            return nil
        }, context) == 0 else {
            Unmanaged<SealedPipeline>.fromOpaque(context).release()
            return nil
        }
        defer {
            pipeline.locked { p in
                p.cancelled = true
                pthread_cond_broadcast(p.changed)
            }
            #if canImport(Darwin)
            if let thread { pthread_join(thread, nil) }
            #else
            pthread_join(thread, nil)
            #endif
        }
        return try pipeline.drive(from: offset, read: read, body)
    }

    // MARK: The caller's thread

    private func drive(from start: Int64, read: (UnsafeMutableRawBufferPointer, Int64) throws -> Int,
                       _ body: (Event) throws -> Void) throws -> SealedSegmentHeader {
        var offset = start
        var inputEnded = false
        while true {
            // Read while there is room: the decoding thread never waits for
            // input that this thread could give it.
            var chunk: UnsafeMutableRawBufferPointer?
            var output: Output?
            locked { p in
                while true {
                    if !p.outputs.isEmpty { output = p.outputs.removeFirst(); break }
                    if !inputEnded && p.inputs.count < Self.maximumChunks {
                        if let spare = p.spareChunks.popLast() {
                            chunk = spare
                        } else {
                            let made = UnsafeMutableRawBufferPointer.allocate(byteCount: p.chunkSize, alignment: 16)
                            p.allocated.append(made)
                            chunk = made
                        }
                        break
                    }
                    pthread_cond_wait(p.changed, p.mutex)
                }
            }
            if let buffer = chunk {
                let input: Input
                do {
                    let n = try read(buffer, offset)
                    offset += Int64(n)
                    input = n == 0 ? .end : .chunk(buffer, count: n)
                } catch {
                    input = .failed(error)
                }
                if case .chunk = input {} else { inputEnded = true }
                locked { p in
                    p.inputs.append(input)
                    if case .chunk = input {} else { p.spareChunks.append(buffer) }
                    pthread_cond_broadcast(p.changed)
                }
                continue
            }
            switch output {
            case .events(var events)?:
                for event in events { try body(event) }
                events.removeAll(keepingCapacity: true)
                locked { p in
                    p.spareBatches.append(events)
                    pthread_cond_broadcast(p.changed)
                }
            case .failed(let error)?:
                throw error
            case .finished(let header)?:
                return header
            case nil:
                break
            }
        }
    }

    // MARK: The decoding thread

    private func decode() {
        guard var stream = stream.take() else { return }
        do throws(Cancelled) {
            while true {
                let input = try locked { p throws(Cancelled) -> Input in
                    while p.inputs.isEmpty {
                        if p.cancelled { throw Cancelled() }
                        pthread_cond_wait(p.changed, p.mutex)
                    }
                    if p.cancelled { throw Cancelled() }
                    pthread_cond_broadcast(p.changed)
                    return p.inputs.removeFirst()
                }
                switch input {
                case .chunk(let buffer, let count):
                    do {
                        try stream.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    } catch is Cancelled {
                        throw Cancelled()
                    } catch {
                        try publish(.failed(error))
                        return
                    }
                    locked { p in p.spareChunks.append(buffer) }
                case .failed(let error):
                    try publish(.failed(error))
                    return
                case .end:
                    let last: Output
                    do { last = .finished(try stream.finish()) } catch { last = .failed(error) }
                    try publish(last)
                    return
                }
            }
        } catch {
            // Cancelled: the caller stopped reading.
        }
    }

    /// An event the walker handed over: into the batch, and the batch out when full.
    private func emit(_ event: Event) throws {
        if batch.capacity == 0 {
            batch = locked { $0.spareBatches.popLast() } ?? []
            batch.reserveCapacity(Self.batchSize)
        }
        batch.append(event)
        if batch.count >= Self.batchSize { try publish(nil) }
    }

    /// The batch so far, then `last` (when given), out to the caller.
    private func publish(_ last: Output?) throws(Cancelled) {
        let events = batch
        batch = []
        try locked { p throws(Cancelled) in
            while p.outputs.count >= Self.maximumBatches {
                if p.cancelled { throw Cancelled() }
                pthread_cond_wait(p.changed, p.mutex)
            }
            if p.cancelled { throw Cancelled() }
            if !events.isEmpty { p.outputs.append(.events(events)) }
            if let last { p.outputs.append(last) }
            pthread_cond_broadcast(p.changed)
        }
    }

    private func locked<R, E: Error>(_ body: (SealedPipeline) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(self)
    }
}
