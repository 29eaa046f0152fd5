import CZstd
import StateJournalModel

/// Why libzstd refused or failed.
package struct ZstdError: Error, CustomStringConvertible {
    package let description: String
    package init(_ code: Int) { description = String(cString: ZSTD_getErrorName(code)) }
    package init(message: String) { description = message }
}

/// Streaming zstd compression of one frame, with the frame's content
/// checksum on, so that `zstd -t` can verify it without StateJournal.
package final class ZstdCompressor {
    private let ctx: OpaquePointer
    private var output: [UInt8]

    package init(level: Int32 = 3) throws(ZstdError) {
        guard let ctx = ZSTD_createCCtx() else { throw ZstdError(message: "out of memory creating a zstd context") }
        self.ctx = ctx
        self.output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        for (param, value) in [(ZSTD_c_compressionLevel, level), (ZSTD_c_checksumFlag, 1)] {
            let r = ZSTD_CCtx_setParameter(ctx, param, value)
            if ZSTD_isError(r) != 0 { ZSTD_freeCCtx(ctx); throw ZstdError(r) }
        }
    }

    deinit { ZSTD_freeCCtx(ctx) }

    /// Compresses `input`; `last` ends the frame. Compressed bytes go to `sink`.
    package func compress(_ input: UnsafeRawBufferPointer, last: Bool,
                  _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let mode = last ? ZSTD_e_end : ZSTD_e_continue
        while true {
            let (remaining, produced): (Int, Int) = output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_compressStream2(ctx, &outBuffer, &inBuffer, mode)
                return (r, outBuffer.pos)
            }
            if ZSTD_isError(remaining) != 0 { throw ZstdError(remaining) }
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            let done = last ? remaining == 0 : inBuffer.pos == inBuffer.size
            if done { return }
        }
    }
}

/// Streaming zstd decompression; skippable frames are passed over.
package final class ZstdDecompressor {
    private let ctx: OpaquePointer
    private var output: [UInt8]
    /// libzstd's hint after the last call: 0 when a frame was completely
    /// decoded and checked, more when input is still expected.
    package private(set) var expectingMore = false

    package init() throws(ZstdError) {
        guard let ctx = ZSTD_createDCtx() else { throw ZstdError(message: "out of memory creating a zstd context") }
        self.ctx = ctx
        self.output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
    }

    deinit { ZSTD_freeDCtx(ctx) }

    /// Decompresses `input`, handing decompressed bytes to `sink`.
    /// - Throws: ``ZstdError`` on corrupt data or a checksum mismatch.
    package func decompress(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            let (hint, produced): (Int, Int) = output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_decompressStream(ctx, &outBuffer, &inBuffer)
                return (r, outBuffer.pos)
            }
            if ZSTD_isError(hint) != 0 { throw ZstdError(hint) }
            expectingMore = hint != 0
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            // Output buffer full means more may be pending even with no input left.
            if inBuffer.pos == inBuffer.size && produced < output.count { return }
        }
    }
}

/// Whole-buffer helpers over the streaming API.
package enum Zstd {
    /// One zstd frame holding `bytes` (content checksum on).
    package static func compress(_ bytes: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        let compressor = try ZstdCompressor(level: level)
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { raw in
            try compressor.compress(raw, last: true) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The content of the zstd frame(s) in `bytes`.
    /// - Throws: ``ZstdError`` on damage, truncation, or output beyond `limit` bytes.
    package static func decompress(_ bytes: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        let decompressor = try ZstdDecompressor()
        var out: [UInt8] = []
        try decompressor.decompress(bytes) { chunk in
            guard out.count + chunk.count <= limit else { throw ZstdError(message: "content larger than \(limit) bytes") }
            out.append(contentsOf: chunk)
        }
        if decompressor.expectingMore { throw ZstdError(message: "the compressed data is truncated") }
        return out
    }
}
