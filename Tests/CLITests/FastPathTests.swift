import Foundation
import Testing
import ArgumentParser
import StateJournal
@testable import StateJournalCLI

/// The fast path of the one-event write commands (Sources/StateJournalCLI/FastPath.swift)
/// against swift-argument-parser: the same request for every argv it takes,
/// and, run as processes, the same stdout, stderr and exit status for every
/// argv, taken or declined.
@Suite struct FastPathTests {
    /// One argv of the table: `@S` stands for the workspace's STATE.md;
    /// `fast`: whether the fast path must take it.
    struct Case: CustomStringConvertible {
        var argv: [String]
        var fast: Bool
        var env: [String: String] = [:]
        var description: String { argv.joined(separator: " ") }
    }

    /// Run in this order on a 3-wave, 3-task-per-wave workflow: valid
    /// writes, library errors (exit 2, 4) and argv that argument parser
    /// must read (help, usage errors, forms the fast path declines).
    static let table: [Case] = [
        Case(argv: ["task", "add", "w3_t9", "--wave", "3", "--description", "Late task", "--state", "@S"], fast: true),
        Case(argv: ["--state", "@S", "task", "add", "w3_t10", "--wave=2"], fast: true),
        Case(argv: ["--state=@S", "--actor", "alice", "wave", "set", "1"], fast: true),
        Case(argv: ["task", "start", "w1_t1", "--state", "@S", "--actor=bob", "--lock-timeout", "2.5"], fast: true),
        Case(argv: ["task", "complete", "w1_t1", "--commit", "abc1234", "--file", "a.swift", "--file=b c.swift", "--json", "--state", "@S"], fast: true),
        Case(argv: ["task", "start", "w1_t2", "--json", "--state", "@S", "--idempotency-key", "retry-1"], fast: true),
        Case(argv: ["task", "start", "w1_t2", "--idempotency-key=retry-1", "--state", "@S"], fast: true),
        Case(argv: ["--lock-timeout", "0", "--allow-symlinks", "task", "fail", "w1_t2", "--error", "exit status 1: it broke", "--state", "@S"], fast: true),
        Case(argv: ["note", "remember this", "--state", "@S"], fast: true),
        Case(argv: ["note", "two\nlines, ünïcödé ✓", "--state", "@S", "--json"], fast: true),
        Case(argv: ["meta", "set", "branch", "main", "--state", "@S"], fast: true),
        Case(argv: ["meta", "--state", "@S", "set", "owner", "platform"], fast: false),
        Case(argv: ["meta", "set", "--state", "@S", "owner", "--json", "platform"], fast: true),
        Case(argv: ["task", "complete", "--commit", "0123456", "w1_t3", "--state", "@S", "--expect-seq", "1"], fast: true),
        Case(argv: ["task", "start", "w2_t1", "--state", "@S", "--expect-seq", "01"], fast: true),
        Case(argv: ["task", "start", "w1_t1", "--state", "@S"], fast: true),
        Case(argv: ["task", "start", "no_such_task", "--state", "@S"], fast: true),
        Case(argv: ["task", "add", "bad id", "--wave", "1", "--state", "@S"], fast: true),
        Case(argv: ["wave", "set", "0099", "--state", "@S"], fast: true),
        Case(argv: ["task", "start", "w2_t2"], fast: true, env: ["STATEJOURNAL_STATE": "@S"]),
        Case(argv: ["task", "start", "w2_t3"], fast: true),  // ./STATE.md in the workspace
        Case(argv: ["task", "start", "w3_t1", "--state", "@S.missing/STATE.md"], fast: true),
        // Argument parser's: help, completion, usage errors, declined forms.
        Case(argv: ["task", "complete", "--help"], fast: false),
        Case(argv: ["task", "complete", "-h"], fast: false),
        Case(argv: ["help", "task", "complete"], fast: false),
        Case(argv: ["note", "help", "--state", "@S"], fast: false),
        Case(argv: ["--generate-completion-script", "bash"], fast: false),
        Case(argv: ["task", "complete", "--state", "@S"], fast: false),
        Case(argv: ["task", "complete", "w3_t1", "w3_t2", "--state", "@S"], fast: false),
        Case(argv: ["task", "fail", "w3_t1", "--state", "@S"], fast: false),
        Case(argv: ["task", "add", "w3_t11", "--state", "@S"], fast: false),
        Case(argv: ["task", "add", "w3_t11", "--wave", "-1", "--state", "@S"], fast: false),
        Case(argv: ["task", "add", "w3_t11", "--wave", "three", "--state", "@S"], fast: false),
        Case(argv: ["task", "add", "w3_t11", "--wave", "+3", "--state", "@S"], fast: false),
        Case(argv: ["wave", "set", "-1", "--state", "@S"], fast: false),
        Case(argv: ["note", "--state", "@S", "--", "-1 retries left"], fast: false),
        Case(argv: ["note", "", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--bogus", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "-x", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--json=yes", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--json", "--json", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--state", "@S"], fast: false),
        Case(argv: ["--state", "@S", "task", "start", "w3_t1", "--state", "@S"], fast: false),
        Case(argv: ["--json", "task", "start", "w3_t1", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--lock-timeout", "1e1"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--lock-timeout=-1"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--lock-timeout", "inf"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--lock-timeout", "5."], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--actor", ""], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--actor="], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--expect-seq", "99999999999999999999999"], fast: false),
        Case(argv: ["task", "start", "w3_t1", "--state", "@S", "--expect-seq", "-3"], fast: false),
        Case(argv: ["task", "complete", "w3_t1", "--state", "@S", "--commit"], fast: false),
        Case(argv: ["task", "complete", "w3_t1", "--state", "@S", "--commit", "--json"], fast: false),
        Case(argv: ["task", "complete", "w3_t1", "--commit", "a", "--commit", "b", "--state", "@S"], fast: false),
        Case(argv: ["task", "frobnicate", "w3_t1", "--state", "@S"], fast: false),
        Case(argv: ["task", "--state", "@S"], fast: false),
        Case(argv: ["task", "start", "help", "--state", "@S"], fast: false),
        Case(argv: ["meta", "set", "k", "--state", "@S"], fast: false),
        Case(argv: [], fast: false),
    ]

    static func substitute(_ argv: [String], state: String) -> [String] {
        argv.map { $0.replacingOccurrences(of: "@S", with: state) }
    }

    @Test func theTableTakesTheFastPathWhereItShould() throws {
        for c in Self.table {
            let argv = Self.substitute(c.argv, state: "/w/STATE.md")
            let fast = FastPath.parse(argv)
            #expect((fast != nil) == c.fast, "\(c)")
            if let fast {
                let command = try StateJournalCommand.parseAsRoot(argv)
                #expect((command as? any OneEventCommand)?.request == fast, "\(c)")
            }
        }
    }

    /// Argv generated from each command's positionals and options, with
    /// values and traps mixed in (numbers argument parser reads otherwise,
    /// dashes, `help`, empty values, repeats, unknown options): whenever the
    /// fast path takes one, argument parser parses it too, into an equal
    /// request. (Argument parser takes ~40 ms per argv in a debug build, so
    /// it runs only on the argv the fast path took.)
    @Test func generatedArgvGiveTheSameRequestAsArgumentParser() throws {
        var rng = SplitMix(seed: 0x5EED_FA57)
        func pick<T>(_ items: [T]) -> T { items[rng.below(items.count)] }
        let values = ["w1_t1", "x y", "007", "12", "0", "ünï ✓", "a=b", "task", "set", "complete", "note", "1.5", "2",
                      "1e3", "+3", "-x", "-1", "help", "", "--json", " ", "18446744073709551616", "99999999999999999999"]
        let commands: [(words: [String], positionals: Int, options: [String])] = [
            (["task", "add"], 1, ["wave", "wave", "description"]), (["task", "start"], 1, []),
            (["task", "complete"], 1, ["commit", "file", "file"]), (["task", "fail"], 1, ["error", "error"]),
            (["note"], 1, []), (["wave", "set"], 1, []), (["meta", "set"], 2, []),
            (["task"], 1, []), (["meta"], 2, []), (["task", "finish"], 1, []), (["show"], 0, []),
        ]
        let shared = ["state", "actor", "lock-timeout", "expect-seq", "idempotency-key"]
        let flags = ["json", "allow-symlinks", "json=1"]
        let traps = ["--bogus", "-h", "--help", "--", "help", "-", ""]
        func option(_ name: String) -> [String] {
            let value = name == "lock-timeout" ? pick(["2.5", "0", ".5", "5.", "1e1", "nan", "3"])
                : name == "expect-seq" || name == "wave" ? pick(["5", "0", "007", "-2", "2.0", "18446744073709551615", "18446744073709551616"])
                : pick(values)
            return rng.below(2) == 0 ? ["--" + name, value] : ["--" + name + "=" + value]
        }
        var generated = 0, taken = 0
        while taken < 200 && generated < 20_000 {
            generated += 1
            var argv: [String] = []
            for _ in 0..<rng.below(3) {
                argv += rng.below(4) == 0 ? ["--" + pick(flags)] : option(pick(["state", "actor", "lock-timeout"]))
            }
            let command = pick(commands)
            argv += command.words
            var parts: [[String]] = (0..<max(0, command.positionals + pick([0, 0, 0, 0, -1, 1]))).map { _ in
                [rng.below(3) == 0 ? pick(values) : pick(["w1_t1", "w2_t3", "x y", "7", "k", "v"])]
            }
            for _ in 0..<rng.below(5) {
                switch rng.below(10) {
                case 0..<4 where !command.options.isEmpty: parts.append(option(pick(command.options)))
                case 0..<7: parts.append(option(pick(shared)))
                case 7, 8: parts.append(["--" + pick(flags)])
                default: parts.append([pick(traps)])
                }
            }
            for i in parts.indices.reversed() { parts.swapAt(i, rng.below(i + 1)) }
            argv += parts.flatMap { $0 }
            guard let fast = FastPath.parse(argv) else { continue }
            taken += 1
            do {
                let command = try StateJournalCommand.parseAsRoot(argv)
                #expect((command as? any OneEventCommand)?.request == fast, "\(argv)")
            } catch {
                Issue.record("the fast path took \(argv), argument parser refused it: \(error)")
            }
        }
        // The generator must reach the fast path often enough to mean something.
        #expect(taken == 200, "the fast path took \(taken) of \(generated) generated argv")
    }

    /// Each argv of the table, run by the real executable through argument
    /// parser (STATEJOURNAL_NO_FAST_PATH=1) in one workspace and as shipped
    /// in a twin: the same stdout, stderr and exit status, once the
    /// workspace's path, the pid and the times are masked; and the same
    /// events in both journals at the end.
    @Test func bothPathsPrintTheSameAndExitTheSame() throws {
        let slow = Workspace(), fast = Workspace()
        for ws in [slow, fast] {
            let r = try ws.sj("init", "--id", "wf_fast", "--name", "Fast path", "--plan", "-", stdin: planJSON(waves: 3, perWave: 3))
            try #require(r.status == 0, "\(r.stderr)")
        }
        func run(_ c: Case, in ws: Workspace, forceParser: Bool) throws -> CLI.Result {
            var env = c.env.mapValues { $0.replacingOccurrences(of: "@S", with: ws.state) }
            env["STATEJOURNAL_ACTOR"] = env["STATEJOURNAL_ACTOR"] ?? "tester"
            if forceParser { env["STATEJOURNAL_NO_FAST_PATH"] = "1" }
            return try CLI.run(Self.substitute(c.argv, state: ws.state), env: env, cwd: ws.path)
        }
        func masked(_ text: String, _ ws: Workspace) -> String {
            var s = text.replacingOccurrences(of: ws.path, with: "<workspace>")
            s = s.replacingOccurrences(of: #""time":"[^"]*""#, with: #""time":"<t>""#, options: .regularExpression)
            s = s.replacingOccurrences(of: #""pid":[0-9]+"#, with: #""pid":0"#, options: .regularExpression)
            s = s.replacingOccurrences(of: #"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4}"#, with: "<t>", options: .regularExpression)
            return s
        }
        for c in Self.table {
            let a = try run(c, in: slow, forceParser: true)
            let b = try run(c, in: fast, forceParser: false)
            #expect(a.status == b.status, "\(c)")
            #expect(masked(a.stdout, slow) == masked(b.stdout, fast), "\(c)")
            #expect(masked(a.stderr, slow) == masked(b.stderr, fast), "\(c)")
        }
        let logs = try [slow, fast].map { ws in masked(try ws.sj("log", "--json").stdout, ws) }
        #expect(logs[0] == logs[1])
        #expect(logs[0].split(separator: "\n").count >= 15)
        // STATE.md alike, but for its times and the footer's hashes of them.
        let projections = try [slow, fast].map { ws in
            try String(contentsOfFile: ws.state, encoding: .utf8)
                .replacingOccurrences(of: #"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}"#, with: "<t>", options: .regularExpression)
                .replacingOccurrences(of: #"event=[0-9a-f]+ crc32c=[0-9a-f]+"#, with: "<footer>", options: .regularExpression)
        }
        #expect(projections[0] == projections[1])
        #expect(projections[0].contains("**w1_t1**"))
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
