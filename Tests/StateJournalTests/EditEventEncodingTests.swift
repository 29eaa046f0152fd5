import Testing
@testable import StateJournal
@testable import StateJournalModel

/// An event recorded from an edit of STATE.md carries `via`, `file_mtime`
/// and `file_crc`; the direct encoder must write them as `json()` does
/// (they were dropped once: the audit trail lost which events came from an
/// edit, and an edit's identity was lost with them).
@Suite struct EditEventEncodingTests {
    @Test func anEditsEventsEncodeTheirOriginAndReadBack() {
        let time = Timestamp(microseconds: 1_795_000_000_000_000)
        let payloads: [Event.Payload] = [
            .taskStarted(taskID: "t1"), .taskCompleted(taskID: "t1", commit: nil, files: [], force: false),
            .taskFailed(taskID: "t1", error: "e", force: false), .noteAdded(text: "n"),
            .metadataSet(key: "k", value: "v"), .waveSet(wave: 1),
            .taskAdded(taskID: "t9", wave: 1, description: "d", dependsOn: []),
        ]
        for payload in payloads {
            var event = Event(seq: 7, time: time, actor: "person", pid: 3, payload: payload)
            event.via = "edit"
            event.fileModified = time
            event.fileChecksum = 0xDEAD_BEEF
            let bytes = event.encoded()
            #expect(bytes == event.json().encoded(), "\(payload.typeName)")
            #expect(ReviewCodecTests.general(bytes) == event, "\(payload.typeName)")
            #expect(String(decoding: bytes, as: UTF8.self).contains("\"via\":\"edit\""), "\(payload.typeName)")
        }
    }
}
