import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
#if canImport(Glibc)
import Glibc
#endif

// The torture harness (issue 5): real processes, SIGKILL, torn and lost
// writes, failing system calls, many threads — then checks that Docs/GUARANTEES.md holds
// and prints a table. Exits 1 when any acknowledged event is lost or
// duplicated, any read is torn, or any other property is violated.

let usage = """
    usage: torture [--small | --long] [options]
      --small            the CI configuration (about a minute)
      --long             the release configuration (≥1,000 kills, ≥8 writers, lost-write mode)
      --cli PATH         the statejournal binary (default: beside this one)
      --phases LIST      comma-separated: contention,crash,lost,faults,group,retry,reader,lockfile,older,fsyncerror,findings
                         (default: all)
      --seed N           replay a run
      --work DIR         where workspaces go (default: a new directory under /tmp)
      --keep             keep every workspace (failed ones are always kept)
      --strict           accepted for old scripts: unexplained write errors, leftover temporaries and
                         "durable but not said" now fail every run
      --writers N --readers N --ops N --kills N --crashes N --faults N --threads N --events N
      --lock-timeouts A,B,...   lock deadlines (seconds) of the small run's writers
                         override the configuration
      --markdown FILE    also write the table (and command) to FILE
      --sabotage MODE    self-test: skip file-sync or dir-sync in lost-write mode; the run must fail
      --rounds N         rounds of each findings phase (retry … findings)
    reproductions of known findings (exit 1 while the bug is there, 2 if its fault did not fire):
      torture repro NAME|all     NAME: \(Findings.all.map(\.name).joined(separator: ", "))
    child modes (used by the harness itself):
      torture reader --state PATH
      torture lib-writer --state PATH --writer W --from I --to J
    """

/// `--name value` pairs and bare `--flag`s.
func parseOptions(_ args: ArraySlice<String>) -> (options: [String: String], flags: Set<String>)? {
    var options: [String: String] = [:], flags: Set<String> = []
    var i = args.startIndex
    while i < args.endIndex {
        let arg = args[i]
        guard arg.hasPrefix("--") else { return nil }
        let name = String(arg.dropFirst(2))
        if ["small", "long", "keep", "help", "strict"].contains(name) {
            flags.insert(name)
            i += 1
        } else {
            guard i + 1 < args.endIndex else { return nil }
            options[name] = args[i + 1]
            i += 2
        }
    }
    return (options, flags)
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "reader":
    exit(Reader.run(parseOptions(arguments.dropFirst(2))?.options ?? [:]))
case "lib-writer":
    exit(LibraryWriter.run(parseOptions(arguments.dropFirst(2))?.options ?? [:]))
case "repro":
    let reproCLI = URL(fileURLWithPath: selfExecutable).deletingLastPathComponent().appendingPathComponent("statejournal").path
    let reproWork = NSTemporaryDirectory() + "statejournal-repro-\(getpid())"
    try? FileManager.default.createDirectory(atPath: reproWork + "/scratch", withIntermediateDirectories: true)
    exit(Repro.run(arguments.dropFirst(2).first, work: reproWork,
                   cli: FileManager.default.isExecutableFile(atPath: reproCLI) ? CLIRunner(binary: reproCLI, scratch: reproWork + "/scratch") : nil))
default:
    break
}

guard let (options, flags) = parseOptions(arguments.dropFirst()), !flags.contains("help") else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(arguments.contains("--help") ? 0 : 2)
}

func int(_ name: String, _ fallback: Int) -> Int { options[name].flatMap(Int.init) ?? fallback }

let long = flags.contains("long")
/// Unexplained write errors fail the run (always in the long run).
let strict = long || flags.contains("strict")
let small = flags.contains("small") || !long
let seed = options["seed"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970 * 1000) & 0xFFFF_FFFF
let cliPath = options["cli"] ?? (URL(fileURLWithPath: selfExecutable).deletingLastPathComponent().appendingPathComponent("statejournal").path)
guard FileManager.default.isExecutableFile(atPath: cliPath) else {
    FileHandle.standardError.write(Data("torture: no statejournal binary at \(cliPath); build it or pass --cli PATH\n".utf8))
    exit(2)
}
let work = options["work"] ?? (NSTemporaryDirectory() + "statejournal-torture-\(getpid())")
try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
let scratch = work + "/scratch"
try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
let keep = flags.contains("keep")
let allPhases = ["contention", "crash", "lost", "faults", "group"] + FindingsPhase.phases.map(\.option)
let phases = Set((options["phases"] ?? allPhases.joined(separator: ",")).split(separator: ",").map(String.init))
if let unknown = phases.first(where: { !allPhases.contains($0) }) {
    FileHandle.standardError.write(Data("torture: no phase named '\(unknown)' (phases: \(allPhases.joined(separator: ",")))\n".utf8))
    exit(2)
}
let cli = CLIRunner(binary: cliPath, scratch: scratch)
let features = Features.detect(cli: cliPath, scratch: scratch)

let command = (["torture"] + arguments.dropFirst()).joined(separator: " ")
FileHandle.standardError.write(Data("""
    torture: \(long ? "long" : "small") run, seed \(seed), cli \(cliPath)
    torture: optional commands found: \(features.available.isEmpty ? "none" : features.available.sorted().joined(separator: ", "))
    torture: workspaces under \(work)\n
    """.utf8))

var rows: [(String, Figures)] = []
var allProblems: [String] = []
var allNotes: [String] = []
var landings: [(String, [String: Int])] = []

// `verify` and `compact` are never skipped silently: a CLI without them
// (or help output the detection cannot read) fails the run.
let setupProblems = Features.optionalCommands.filter { !features.available.contains($0) }
    .map { "[setup] `statejournal \($0)` was not found in `statejournal --help`; the checks that use it cannot run" }
    + (Strace.available ? [] : ["[setup] strace is not installed: CLI writers get no targeted kills (install strace)"])
allProblems += setupProblems

@MainActor func record(_ recorder: Recorder) {
    // Every phase must have done something: a phase that acknowledged
    // nothing or (where it injects) injected nothing proves nothing.
    let f = recorder.figures
    if f.acknowledged == 0 { recorder.problem("minimum not reached: no write was acknowledged") }
    if ["lost writes", "faults"].contains(recorder.phase) && f.faults == 0 { recorder.problem("minimum not reached: no fault was injected") }
    if recorder.phase == "faults" && f.failedByFault == 0 { recorder.problem("minimum not reached: no write failed by an injected fault") }
    rows.append((recorder.phase, recorder.figures))
    if !recorder.landings.isEmpty { landings.append((recorder.phase, recorder.landings)) }
    allProblems += recorder.problems.map { "[\(recorder.phase)] \($0)" }
    allNotes += recorder.notes.map { "[\(recorder.phase)] \($0)" }
}

/// Lock deadlines of the small run's writers (`--lock-timeouts 0.5,2,10` to
/// keep timeouts rare); the long run always uses 20 ms – 10 s.
let smallLockTimeouts = options["lock-timeouts"].map { $0.split(separator: ",").map(String.init) } ?? ["0.02", "0.1", "0.5", "2", "10"]

/// What a phase runs with: a recorder of its own (`name` is its table row),
/// its seed, its workspaces under `root`.
@MainActor func harness(_ name: String, seed phaseSeed: UInt64, root: String = work) -> Harness {
    Harness(cli: cli, features: features, recorder: Recorder(phase: name, strict: strict), root: root, seed: phaseSeed, keep: keep)
}

if phases.contains("contention") {
    let h = harness("contention", seed: seed)
    var settings = ProcessPhase.Settings(
        cliWriters: int("writers", long ? 8 : 4), libraryWriters: long ? 2 : 1, opsPerWriter: int("ops", long ? 60 : 15),
        libraryOps: long ? 60 : 16, readers: int("readers", long ? 3 : 2), killChance: 0, libraryKillChance: 0,
        targetKills: 0, rounds: long ? 2...2 : 1...1)
    if !long { settings.lockTimeouts = smallLockTimeouts }
    ProcessPhase(name: "contention", settings: settings, harness: h).run()
    record(h.recorder)
}

if phases.contains("crash") {
    let h = harness("crash loop", seed: seed &+ 1)
    var settings = ProcessPhase.Settings(
        cliWriters: int("writers", long ? 8 : 6), libraryWriters: long ? 4 : 2, opsPerWriter: int("ops", long ? 25 : 12),
        libraryOps: long ? 48 : 24, readers: int("readers", 2), killChance: 0.3, libraryKillChance: 0.8,
        targetKills: int("kills", long ? 1_200 : 150), rounds: long ? 10...400 : 2...30)
    if !long { settings.lockTimeouts = smallLockTimeouts }
    settings.targetedKillChance = 0.08
    settings.libraryDieAtRenameChance = 0.25
    settings.minimumPostAppendKills = long ? 20 : 2
    ProcessPhase(name: "crash", settings: settings, harness: h).run()
    record(h.recorder)
}

if phases.contains("lost") {
    let h = harness("lost writes", seed: seed &+ 2)
    var settings = LostWritePhase.Settings(crashes: int("crashes", long ? 600 : 80))
    settings.threads = int("threads", 3)
    if let mode = options["sabotage"] {
        guard let sabotage = Sabotage.Mode(rawValue: mode) else {
            FileHandle.standardError.write(Data("torture: --sabotage takes file-sync or dir-sync, not '\(mode)'\n".utf8))
            exit(2)
        }
        settings.sabotage = sabotage
    }
    LostWritePhase(settings: settings, harness: h).run()
    if h.recorder.figures.crashes < settings.crashes {
        h.recorder.problem("minimum not reached: \(h.recorder.figures.crashes) simulated crashes of \(settings.crashes)")
    }
    record(h.recorder)
}

if phases.contains("faults") {
    let h = harness("faults", seed: seed &+ 3)
    FaultPhase(settings: .init(writes: int("faults", long ? 1_000 : 200)), harness: h).run()
    record(h.recorder)
}

if phases.contains("group") {
    let h = harness("group commit", seed: seed &+ 4)
    GroupCommitPhase(threads: int("threads", 16), eventsPerThread: int("events", long ? 1_000 : 50), harness: h).run()
    record(h.recorder)
}

for phase in FindingsPhase.phases where phases.contains(phase.option) {
    let h = harness(phase.row, seed: seed &+ 5, root: work + "/" + phase.option)
    for name in phase.findings where Findings.named(name) == nil { h.recorder.problem("internal: no finding named \(name)") }
    FindingsPhase(name: phase.row, findings: phase.findings.compactMap(Findings.named), rounds: int("rounds", long ? 60 : 6),
                  harness: h).run()
    record(h.recorder)
}

let table = Report.table(rows)
let failed = rows.contains { $0.1.failed } || !setupProblems.isEmpty
var text = "\n" + table + "\n"
if let rate = rows.first(where: { $0.1.rate != nil })?.1.rate {
    text += String(format: "\ngroup commit rate: %.0f events/s\n", rate)
}
for (phase, counts) in landings {
    text += "\nwhere the kills of \(phase) landed: " + counts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "\n"
}
if !allNotes.isEmpty { text += "\nnotes:\n" + allNotes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
if !allProblems.isEmpty { text += "\nproblems (first \(allProblems.count)):\n" + allProblems.map { "- " + $0 }.joined(separator: "\n") + "\n" }
let totals = rows.map(\.1).reduce(Figures(), +)
text += "\ntorture: totals lost=\(totals.lost) duplicated=\(totals.duplicated) torn=\(totals.tornReads) ahead=\(totals.ahead) problems=\(totals.problems + setupProblems.count)\n"
text += "\ncommand: \(command) (seed \(seed))\n"
text += failed ? "RESULT: FAILED — acknowledged events lost or duplicated, torn reads, or other violations\n"
               : "RESULT: OK — 0 lost, 0 duplicated, 0 torn reads, 0 problems\n"
// A closing line CI reads as a test summary: one check a phase.
let failedPhases = rows.filter { $0.1.failed }.count + (setupProblems.isEmpty ? 0 : 1)
text += "torture: \(rows.count - failedPhases) passed, \(failedPhases) failed\n"
print(text)
if let path = options["markdown"] {
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}
if !failed && !keep && options["work"] == nil { try? FileManager.default.removeItem(atPath: work) }
exit(failed ? 1 : 0)
