import StateJournalModel
/// The snapshot file: a fixed header, then the snapshot as JSON.
///
/// ```
/// header := "SJSNAPSH" | version u16 | flags u16 (bit 0: payload is a zstd frame) | seq u64
///           | segment first seq u64 | byte offset in that segment u64
///           | payload size u64 | masked crc32c of the payload u32
///           | masked crc32c of the preceding 48 bytes u32
/// ```
/// The segment and offset say where the record of event `seq` starts (version
/// 2; version 1 pointed after it), so a reader can seek there, check that
/// event's identity against the payload's `last_event_identity`, and go on,
/// instead of scanning the active segment (0, 0 when unknown). The payload
/// checksum covers the stored (compressed) bytes.
package enum SnapshotFormat {
    package static let magic: [UInt8] = Array("SJSNAPSH".utf8)
    package static let version: UInt16 = 2
    package static let headerSize = 52
    package static let compressedFlag: UInt16 = 1
    /// The largest decompressed payload accepted (a guard against a damaged size).
    package static let maximumPayload = 1 << 30

    package struct Position: Equatable, Sendable {
        package var segmentFirstSeq: UInt64
        package var offset: UInt64
        /// The checksum of the record that must start at `offset` (not
        /// stored: the snapshot's `last_event_identity`). A reader seeks to
        /// `offset` only after checking that record is there — the segment
        /// may be of another history than the snapshot.
        package var identity: UInt32 = 0

        package init(segmentFirstSeq: UInt64, offset: UInt64, identity: UInt32 = 0) {
            self.segmentFirstSeq = segmentFirstSeq
            self.offset = offset
            self.identity = identity
        }
    }

    package static func encode(_ snapshot: Snapshot, position: Position?) -> [UInt8] {
        var keys = snapshot.idempotencyKeys.map { JSON.Member($0.key, .int(Int64($0.value))) }
        keys.sort { $0.key < $1.key }
        let json = JSON.obj([
            "seq": .int(Int64(snapshot.seq)),
            "last_time": .string(snapshot.lastTime.rfc3339),
            "state": snapshot.state.map { $0.json() } ?? .null,
            "idempotency_keys": .object(keys),
            "last_event_identity": snapshot.lastEventIdentity.map { .int(Int64($0)) } ?? .null,
        ]).encoded()
        // State JSON compresses about tenfold; checkpoints are kept for good.
        let compressed = try? Zstd.compress(json)
        let payload = compressed ?? json
        let flags = compressed == nil ? 0 : compressedFlag
        var out = magic
        out.appendLE(version)
        out.appendLE(flags)
        out.appendLE(snapshot.seq)
        out.appendLE(position?.segmentFirstSeq ?? 0)
        out.appendLE(position?.offset ?? 0)
        out.appendLE(UInt64(payload.count))
        out.appendLE(CRC32C.mask(CRC32C.checksum(payload)))
        out.appendLE(CRC32C.mask(CRC32C.checksum(out)))
        return out + payload
    }

    package enum Problem: Error, Equatable, CustomStringConvertible {
        case header(RecordFormat.HeaderProblem)
        case payload(String)
        package var description: String {
            switch self {
            case .header(let p): return "\(p)".replacingOccurrences("segment", "snapshot")
            case .payload(let s): return s
            }
        }
    }

    package static func decode(_ bytes: [UInt8]) -> Result<(Snapshot, Position?), Problem> {
        bytes.withUnsafeBytes { raw in
            guard raw.count >= headerSize else { return .failure(.header(.truncated)) }
            guard raw[0..<8].elementsEqual(magic) else { return .failure(.header(.badMagic)) }
            guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<48]))) == raw.loadLE(UInt32.self, at: 48) else {
                return .failure(.header(.checksumMismatch))
            }
            let version = raw.loadLE(UInt16.self, at: 8)
            guard version <= Self.version else { return .failure(.header(.unsupportedVersion(version))) }
            let seq = raw.loadLE(UInt64.self, at: 12)
            let position = Position(segmentFirstSeq: raw.loadLE(UInt64.self, at: 20), offset: raw.loadLE(UInt64.self, at: 28))
            let size = raw.loadLE(UInt64.self, at: 36)
            guard UInt64(raw.count - headerSize) == size else { return .failure(.payload("the payload is truncated")) }
            let stored = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
            guard CRC32C.mask(CRC32C.checksum(stored)) == raw.loadLE(UInt32.self, at: 44) else {
                return .failure(.payload("the payload's checksum does not match"))
            }
            do {
                let json: JSON
                if raw.loadLE(UInt16.self, at: 10) & compressedFlag != 0 {
                    json = try JSON.parse(try Zstd.decompress(stored, limit: maximumPayload))
                } else {
                    json = try JSON.parse(stored)
                }
                let r = FieldReader(json)
                let payloadSeq = try r.int("seq")
                guard payloadSeq >= 0, UInt64(payloadSeq) == seq, let lastTime = Timestamp(parsing: try r.string("last_time")) else {
                    return .failure(.payload("the payload disagrees with the header"))
                }
                var state: WorkflowState?
                if let s = json["state"], !s.isNull {
                    let image = try StateImage(json: s)
                    guard let updated = Timestamp(parsing: try FieldReader(s).string("updated")) else {
                        return .failure(.payload("'updated' is not a time"))
                    }
                    let stateSeq = try FieldReader(s).int("seq")
                    guard stateSeq >= 0 else { return .failure(.payload("the state's 'seq' is negative")) }
                    // Only a state the fold could have made: a snapshot is a shortcut, not a source of new states.
                    do throws(StateJournalError) { try WorkflowState.check(image) } catch {
                        return .failure(.payload("its state is not one the journal could hold: \(error.message)"))
                    }
                    state = image.state(seq: UInt64(stateSeq), updated: updated)
                }
                var keys: [String: UInt64] = [:]
                for member in json["idempotency_keys"]?.objectValue ?? [] {
                    guard let v = member.value.intValue, v > 0 else { return .failure(.payload("bad idempotency key entry")) }
                    keys[member.key] = UInt64(v)
                }
                var identity: UInt32?
                if version >= 2, let value = json["last_event_identity"]?.intValue {
                    guard value >= 0, value <= Int64(UInt32.max) else { return .failure(.payload("bad last_event_identity")) }
                    identity = UInt32(value)
                }
                let snapshot = Snapshot(seq: seq, lastTime: lastTime, state: state, idempotencyKeys: keys, lastEventIdentity: identity)
                // Version 1 positions pointed after event `seq`: not used.
                return .success((snapshot, position.segmentFirstSeq == 0 || version < 2 ? nil : position))
            } catch {
                return .failure(.payload("the payload cannot be decoded: \(error)"))
            }
        }
    }
}

extension String {
    package func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    package func range(of target: String) -> Range<Index>? {
        guard let first = target.first else { return nil }
        var i = startIndex
        while let found = self[i...].firstIndex(of: first) {
            if self[found...].hasPrefix(target) { return found..<(index(found, offsetBy: target.count)) }
            i = index(after: found)
        }
        return nil
    }
}
