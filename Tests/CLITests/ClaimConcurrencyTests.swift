import Foundation
import Testing
import StateJournal

/// Many real processes claiming and completing tasks with leases (Docs/AGENTS.md):
/// every task completed exactly once, by the task's owner, never two live
/// claims on one task — checked from the journal itself.
@Suite(.serialized) struct ClaimConcurrencyTests {
    /// 100 tasks in one wave; task i depends on tasks i−16 and i−17 (when
    /// they exist), so at most 16 are ready at once and most wait.
    static func dependentPlan(tasks: Int) -> String {
        let list = (1...tasks).map { i -> String in
            let deps = [i - 16, i - 17].filter { $0 >= 1 }.map { "\"t\($0)\"" }.joined(separator: ",")
            return #"{"task_id": "t\#(i)", "description": "Task \#(i)", "depends_on": [\#(deps)]}"#
        }
        return #"{"waves": [[\#(list.joined(separator: ","))]]}"#
    }

    /// The claimers' loop: claim (exit 4: nothing ready — stop when every
    /// task is completed, else retry), then complete. A complete refused with
    /// exit 4 means the lease ran out and another agent took the task over:
    /// it moves on, as an agent must — as does a complete refused because
    /// the new owner completed it already (exit 2). Any other failure ends
    /// the loop with status 10 or 11; 3000 rounds without the end, 12.
    static let claimerScript = """
        err="$TMPDIR_CLAIM/err-$A"
        n=0
        while [ $n -lt 3000 ]; do
          n=$((n + 1))
          id=$("$SJ" task claim --lease "$LEASE" --state "$ST" --actor "$A" --lock-timeout 120 2>"$err"); rc=$?
          if [ $rc -eq 4 ]; then
            if grep -q "every task is completed" "$err"; then exit 0; fi
            sleep 0.2; continue
          fi
          [ $rc -eq 0 ] || { cat "$err" >&2; exit 10; }
          "$SJ" task complete "$id" --commit "c-$id" --state "$ST" --actor "$A" --lock-timeout 120 2>"$err"; rc=$?
          [ $rc -eq 0 ] || [ $rc -eq 4 ] || { [ $rc -eq 2 ] && grep -q "is completed and cannot become completed" "$err"; } || { cat "$err" >&2; exit 11; }
        done
        exit 12
        """

    static func startClaimer(_ ws: Workspace, actor: String, lease: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", claimerScript]
        p.standardError = FileHandle.nullDevice
        p.environment = ["SJ": CLI.binary, "ST": ws.state, "A": actor, "LEASE": lease, "TMPDIR_CLAIM": ws.path,
                         "PATH": "/usr/bin:/bin"]
        try p.run()
        return p
    }

    /// What the journal says about the claims: each rule broken, as text.
    static func claimViolations(_ events: [JSON], tasks: Int) -> (broken: [String], completions: [String: Int], reclaimedFrom: [String: String]) {
        struct Claim { var owner: String; var expires: Timestamp?; var active: Bool }
        var claims: [String: Claim] = [:]
        var completions: [String: Int] = [:]
        var reclaimedFrom: [String: String] = [:]
        var broken: [String] = []
        for (i, event) in events.enumerated() {
            let seq = event["seq"]?.intValue ?? -1
            if seq != Int64(i + 1) { broken.append("event \(i + 1) has seq \(seq)") }
            if i == 0 { continue }  // workflow.initialized
            guard let type = event["type"]?.stringValue, let id = event["task_id"]?.stringValue,
                  let actor = event["actor"]?.stringValue,
                  let time = event["time"]?.stringValue.flatMap(Timestamp.init(parsing:)) else { continue }
            switch type {
            case "task.claimed":
                if let held = claims[id], held.active, held.owner != actor, held.expires.map({ time < $0 }) ?? true {
                    broken.append("seq \(seq): \(actor) claimed \(id) while \(held.owner)'s lease was live")
                }
                if let previous = event["previous_owner"]?.stringValue { reclaimedFrom[id] = previous }
                if event["forced"] != nil { broken.append("seq \(seq): a forced claim") }
                claims[id] = Claim(owner: actor, expires: event["lease_expires"]?.stringValue.flatMap(Timestamp.init(parsing:)), active: true)
            case "task.completed":
                completions[id, default: 0] += 1
                guard let held = claims[id], held.active else { broken.append("seq \(seq): \(id) completed without a claim"); continue }
                if held.owner != actor { broken.append("seq \(seq): \(id) completed by \(actor), owned by \(held.owner)") }
                claims[id]?.active = false
            default:
                broken.append("seq \(seq): unexpected \(type)")
            }
        }
        for i in 1...tasks where completions["t\(i)"] != 1 {
            broken.append("t\(i) completed \(completions["t\(i)"] ?? 0) times")
        }
        return (broken, completions, reclaimedFrom)
    }

    static func exportedEvents(_ ws: Workspace) throws -> [JSON] {
        try CLI.run(["export", "--state", ws.state]).stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    /// 16 processes loop `task claim --lease 30s` → `task complete` over 100
    /// dependent tasks.
    @Test func sixteenClaimersCompleteEveryTaskExactlyOnce() throws {
        let ws = Workspace()
        let r = try ws.sj("init", "--id", "wf_claims", "--name", "Claims", "--plan", "-", stdin: Self.dependentPlan(tasks: 100))
        #expect(r.status == 0, "\(r.stderr)")
        let claimers = try (1...16).map { try Self.startClaimer(ws, actor: "agent-\($0)", lease: "30s") }
        for p in claimers { p.waitUntilExit() }
        #expect(claimers.map(\.terminationStatus) == Array(repeating: 0, count: 16))

        let events = try Self.exportedEvents(ws)
        let (broken, _, reclaimed) = Self.claimViolations(events, tasks: 100)
        #expect(events.first?["type"]?.stringValue == "workflow.initialized")
        #expect(broken.isEmpty, "\(broken.prefix(10))")
        #expect(reclaimed.isEmpty, "no lease of 30 s ran out: \(reclaimed)")
        #expect(events.count == 201)  // init, then one claim and one completion per task
        let state = try ws.showJSON()
        #expect((state["tasks"]?.arrayValue ?? []).allSatisfy { $0["status"]?.stringValue == "completed" && $0["owner"]?.isNull == true })
        #expect(try ws.sj("validate", ws.state).status == 0)
    }

    /// Four claimers are killed with SIGKILL while they hold a task (1 s
    /// leases); the twelve others retry until those leases run out (on the
    /// lease clock: the events' times) and
    /// reclaim the tasks. Nothing is completed twice, and each killed
    /// claimer's task is reclaimed from it.
    @Test func killedClaimersTasksAreReclaimedAfterTheirLeasesExpire() throws {
        let ws = Workspace()
        let r = try ws.sj("init", "--id", "wf_kill", "--name", "Kill", "--plan", "-", stdin: Self.dependentPlan(tasks: 100))
        #expect(r.status == 0, "\(r.stderr)")
        // A victim claims a task, says which, and "works" until it is killed.
        var victims: [(process: Process, marker: String)] = []
        for k in 1...4 {
            let marker = ws.path + "/victim-\(k)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", #"id=$("$SJ" task claim --lease 1s --state "$ST" --actor "victim-$K") || exit 1; printf '%s' "$id" > "$M.tmp"; mv "$M.tmp" "$M"; exec sleep 600"#]
            p.environment = ["SJ": CLI.binary, "ST": ws.state, "K": String(k), "M": marker, "PATH": "/usr/bin:/bin"]
            try p.run()
            victims.append((p, marker))
        }
        // The survivors' leases are longer: only the victims' run out.
        let survivors = try (1...12).map { try Self.startClaimer(ws, actor: "agent-\($0)", lease: "10s") }
        // Each victim holds its claim (the marker is written after the claim
        // returned); then it is killed mid-task.
        var held: [String: String] = [:]
        for (k, victim) in victims.enumerated() {
            let deadline = Date().addingTimeInterval(120)  // a bound for a broken run, not a timing assertion
            while !FileManager.default.fileExists(atPath: victim.marker), victim.process.isRunning, Date() < deadline { usleep(5_000) }
            held["victim-\(k + 1)"] = try? String(contentsOfFile: victim.marker, encoding: .utf8)
            kill(victim.process.processIdentifier, SIGKILL)
            victim.process.waitUntilExit()
        }
        #expect(held.count == 4 && held.values.allSatisfy { !$0.isEmpty }, "\(held)")
        for p in survivors { p.waitUntilExit() }
        #expect(survivors.map(\.terminationStatus) == Array(repeating: 0, count: 12))

        let events = try Self.exportedEvents(ws)
        let (broken, completions, reclaimed) = Self.claimViolations(events, tasks: 100)
        #expect(broken.isEmpty, "\(broken.prefix(10))")
        #expect(completions.values.allSatisfy { $0 == 1 } && completions.count == 100)
        for (victim, task) in held {
            #expect(reclaimed[task] != nil, "\(victim)'s task \(task) was reclaimed")
            // No event of a killed claimer after its claim: it died mid-task.
            #expect(events.filter { $0["actor"]?.stringValue == victim }.map { $0["type"]?.stringValue } == ["task.claimed"])
        }
        #expect(try ws.sj("validate", ws.state).status == 0)
    }
}
