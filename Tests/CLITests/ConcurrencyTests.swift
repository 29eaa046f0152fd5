import Foundation
import Testing
import StateJournal

/// Many real processes writing at once.
@Suite struct ConcurrencyTests {
    /// 8 processes × 25 `task complete` calls: every update lands, sequence
    /// numbers have no gaps, STATE.md is valid and shows all 200.
    @Test func eightProcessesCompleteTwoHundredTasks() throws {
        let ws = Workspace()
        let r = try ws.sj("init", "--id", "wf_c", "--name", "Contention", "--plan", "-", stdin: planJSON(waves: 8, perWave: 25))
        #expect(r.status == 0, "\(r.stderr)")
        // Writer k completes wave k+1's 25 tasks, one CLI process per call.
        let script = """
            for i in $(seq 1 25); do
              "$SJ" task complete "w${W}_t$i" --commit "c$W$i" --state "$ST" --actor "agent-$W" --lock-timeout 120 || exit 1
            done
            """
        var writers: [Process] = []
        for w in 1...8 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script]
            p.standardError = FileHandle.nullDevice
            p.environment = ["SJ": CLI.binary, "ST": ws.state, "W": String(w), "PATH": "/usr/bin:/bin"]
            try p.run()
            writers.append(p)
        }
        for p in writers { p.waitUntilExit() }
        #expect(writers.allSatisfy { $0.terminationStatus == 0 })

        let json = try ws.showJSON()
        let tasks = json["tasks"]?.arrayValue ?? []
        #expect(tasks.count == 200)
        #expect(tasks.allSatisfy { $0["status"]?.stringValue == "completed" })
        #expect(json["seq"]?.intValue == 201)

        let seqs = try CLI.run(["export", "--state", ws.state]).stdout.split(separator: "\n")
            .map { try JSON.parse(String($0))["seq"]?.intValue ?? -1 }
        #expect(seqs == Array(1...201))

        #expect(try ws.sj("validate", ws.state).status == 0)
        let md = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(md.contains("## ✅ Completed (200 tasks)"))
        #expect(md.contains("seq=201 "))
    }
}
