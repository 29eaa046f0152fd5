internal import CCRC32C

/// CRC-32C (Castagnoli), the checksum of every record, snapshot and footer.
///
/// The CPU's crc32 instruction where there is one, else software
/// slicing-by-8; the polynomial is the one iSCSI, ext4 and LevelDB
/// use (reflected 0x82F63B78).
package enum CRC32C {
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<8 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// Extends `crc` (the value of a previous call, or 0) over `bytes`.
    package static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if hardware, let base = bytes.baseAddress {
            return ~statejournal_crc32c_update(~crc, base, bytes.count)
        }
        return software(crc, bytes)
    }

    /// Whether the CPU's crc32 instruction is used (x86-64 with SSE4.2):
    /// the same function, about ten times faster than the tables.
    package static let hardware = statejournal_crc32c_hardware() == 1

    /// ``update(_:_:)`` with the tables (slicing-by-8).
    package static func software(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        tables.withUnsafeBufferPointer { t in
            var i = 0
            let n = bytes.count
            while i + 8 <= n {
                let lo = c ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(bytes[i + 4])] ^ t[2 * 256 + Int(bytes[i + 5])]
                    ^ t[1 * 256 + Int(bytes[i + 6])] ^ t[Int(bytes[i + 7])]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

    package static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable({ update(0, UnsafeRawBufferPointer($0)) }) { return r }
        return Array(bytes).withUnsafeBytes { update(0, $0) }
    }

    private static let maskDelta: UInt32 = 0xA282_EAD8

    /// The stored form of a CRC: rotated and offset, so that a CRC computed
    /// over data that itself contains CRCs is not mistaken for one (LevelDB).
    package static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ maskDelta }

    package static func unmask(_ masked: UInt32) -> UInt32 {
        let rot = masked &- maskDelta
        return (rot >> 17) | (rot << 15)
    }

    /// The masked checksum of a length-prefixed payload: a little-endian
    /// `UInt32` length, then the bytes. A journal record carries it, and it
    /// is an event's identity.
    package static func maskedFramed(_ payload: UnsafeRawBufferPointer) -> UInt32 {
        let length = UInt32(payload.count).littleEndian
        let crc = withUnsafeBytes(of: length) { update(checksum($0), payload) }
        return mask(crc)
    }
}
