#!/usr/bin/env bash
# Mutation check (issue 18, Build item 5): applies each deliberate bug
# ("mutant") below to a copy of the repository, builds it, runs the tests that
# must catch it, and reports KILLED (the tests failed, as they must) or
# SURVIVED (they passed: a hole in our checks). Exits non-zero if any mutant
# survived, or could not be applied or built, or if its tests already fail on
# the unmutated code (then they prove nothing about the mutant).
#
# Usage: Tools/mutants/mutants.sh [--list | --check] [ID ...]
#   no ID: every mutant not marked TODO; --list: print the table and exit;
#   --check: only check that every edit applies to this checkout.
#   MUTANTS_WORK (default .build-mutants in the repository) holds the copy and its
#   own .build, kept between runs (the first build takes a few minutes, each
#   mutant then rebuilds incrementally). MUTANTS_TEST_TIMEOUT (default 900 s)
#   bounds one test command.
#
# ---------------------------------------------------------------------------
# ROW FORMAT (the table is the MUTANTS heredoc at the bottom of this file)
#
#   @@ ID                       starts a mutant; ID is [a-z0-9-]+
#   status: TODO                optional: listed, never run (placeholder rows)
#   why: TEXT                   optional: what the mutant undoes
#   test: FILTER                a `swift test --filter` expression that must
#                               FAIL on the mutant (and pass on the original)
#   cmd: SHELL COMMAND          instead of / besides `test:`: a command run in
#                               the copy's root that must exit non-zero on the
#                               mutant (e.g. `swift run --skip-build torture
#                               repro segment-dir-fsync`); several test:/cmd:
#                               lines: the mutant is KILLED if any of them fails
#   env: NAME=VALUE             optional, exported for this mutant's tests
#   file: PATH                  the file (relative to the repository root)
#                               that the following edit applies to
#   <<< original                the next lines, up to `===`, are the EXACT
#                               original text (it must occur exactly once in
#                               the file)
#   ===                         the next lines, up to `>>>`, replace it
#   >>>                         (an empty replacement deletes the text)
#
# A mutant may have several file:/<<</===/>>> edits (applied together, e.g.
# both halves of one fix). Lines inside <<< … >>> are taken verbatim
# (indentation included). Lines starting with `#` outside edits are comments.
# ---------------------------------------------------------------------------
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${MUTANTS_WORK:-$REPO/.build-mutants}"
TIMEOUT="${MUTANTS_TEST_TIMEOUT:-900}"
SELF="${BASH_SOURCE[0]}"

command -v python3 >/dev/null || { echo "mutants: needs python3" >&2; exit 2; }

# The table, extracted from the end of this file.
TABLE="$(sed -n '/^: <<'"'"'MUTANTS'"'"'$/,/^MUTANTS$/p' "$SELF" | sed '1d;$d')"

exec python3 - "$REPO" "$WORK" "$TIMEOUT" "$@" 3<<<"$TABLE" <<'PYTHON'
import os, re, shutil, subprocess, sys, time

repo, work, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = sys.argv[4:]
table = os.fdopen(3).read()

# ---- parse ----------------------------------------------------------------
mutants, cur, edit, mode, file = [], None, None, None, None
for raw in table.split("\n"):
    if mode in ("orig", "repl"):
        if mode == "orig" and raw == "===":
            mode = "repl"; continue
        if mode == "repl" and raw == ">>>":
            cur["edits"].append(edit); edit = None; mode = None; continue
        edit[mode].append(raw); continue
    line = raw.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("@@ "):
        cur = {"id": line[3:].strip(), "status": "", "why": "", "tests": [], "env": {}, "edits": []}
        mutants.append(cur); file = None; continue
    key, _, value = line.partition(":")
    value = value.strip()
    if line == "<<< original":
        if file is None: sys.exit(f"mutants: {cur['id']}: an edit before any file:")
        edit = {"file": file, "orig": [], "repl": []}; mode = "orig"; continue
    if key == "status": cur["status"] = value
    elif key == "why": cur["why"] = value
    elif key == "test": cur["tests"].append(("test", value))
    elif key == "cmd": cur["tests"].append(("cmd", value))
    elif key == "env":
        n, _, v = value.partition("="); cur["env"][n] = v
    elif key == "file": file = value
    else: sys.exit(f"mutants: cannot read line: {raw!r}")

if "--list" in args:
    for m in mutants:
        tests = "; ".join(f"{k}: {v}" for k, v in m["tests"])
        print(f"{m['id']:<34} {m['status'] or 'active':<7} {tests}\n    {m['why']}")
    sys.exit(0)
if "--check" in args:
    ok = True
    for m in mutants:
        for e in m["edits"]:
            n = open(os.path.join(repo, e["file"])).read().count("\n".join(e["orig"]))
            if n != 1: ok = False; print(f"{m['id']}: {e['file']}: the original text occurs {n} times")
        if m["status"] != "TODO" and (not m["edits"] or not m["tests"]):
            ok = False; print(f"{m['id']}: needs an edit and a test")
    print("mutants: every edit applies" if ok else "mutants: some edits do not apply")
    sys.exit(0 if ok else 1)
wanted = [a for a in args if not a.startswith("-")]
unknown = [w for w in wanted if w not in {m["id"] for m in mutants}]
if unknown: sys.exit(f"mutants: unknown mutant(s): {unknown}")
selected = [m for m in mutants if m["id"] in wanted] if wanted else mutants

# ---- the copy -------------------------------------------------------------
src = os.path.join(work, "src")
os.makedirs(src, exist_ok=True)
print(f"mutants: copying {repo} to {src} (its .build is kept between runs)", flush=True)
skip = lambda name: name.startswith(".build") or name in (".git", ".swiftpm")
for name in os.listdir(src):
    if not skip(name):
        path = os.path.join(src, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
for name in os.listdir(repo):
    if not skip(name):
        path = os.path.join(repo, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.copytree(path, os.path.join(src, name), symlinks=True)
        else:
            shutil.copy2(path, os.path.join(src, name), follow_symlinks=False)

def run(cmd, env=None, limit=None, log=None):
    """Runs cmd (a shell string) in the copy; returns (status, output tail)."""
    e = dict(os.environ); e.update(env or {})
    try:
        p = subprocess.run(cmd, shell=True, cwd=src, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=limit, start_new_session=True)
        out = p.stdout.decode(errors="replace")
        status = p.returncode
    except subprocess.TimeoutExpired as t:
        out = (t.stdout or b"").decode(errors="replace") + f"\n[timed out after {limit} s]"
        status = 124
    if log:
        with open(log, "a") as f: f.write(f"$ {cmd}\n{out}\n")
    return status, out

def build(log):
    return run("swift build --build-tests 2>&1", log=log)

def test_command(kind, value):
    if kind == "test":
        return f"swift test --skip-build --filter '{value}' 2>&1"
    return value

def ran_no_tests(kind, out):
    return kind == "test" and (re.search(r"Test run with 0 tests", out) or "No matching test cases" in out) \
        and not re.search(r"Executed [1-9]", out)

logs = os.path.join(work, "logs")
shutil.rmtree(logs, ignore_errors=True); os.makedirs(logs)

# ---- baseline: every test command must pass on the original ------------------
t0 = time.time()
status, out = build(os.path.join(logs, "baseline.log"))
if status != 0:
    print(out[-3000:]); sys.exit("mutants: the unmutated copy does not build")
print(f"mutants: baseline build {time.time() - t0:.0f} s", flush=True)
baseline = {}
for m in selected:
    if m["status"] == "TODO": continue
    for kind, value in m["tests"]:
        key = (kind, value, tuple(sorted(m["env"].items())))
        if key in baseline: continue
        t = time.time()
        s, out = run(test_command(kind, value), env=m["env"], limit=timeout, log=os.path.join(logs, "baseline.log"))
        baseline[key] = "no-tests" if ran_no_tests(kind, out) else ("pass" if s == 0 else "FAIL")
        print(f"mutants: baseline {kind}: {value} -> {baseline[key]} ({time.time() - t:.0f} s)", flush=True)

# ---- the mutants ----------------------------------------------------------
results = []
for m in selected:
    if m["status"] == "TODO":
        results.append((m["id"], "TODO", 0.0, "placeholder: " + m["why"])); continue
    start = time.time()
    log = os.path.join(logs, m["id"] + ".log")
    originals = {}
    verdict, detail = None, ""
    try:
        texts = {}
        for e in m["edits"]:
            path = os.path.join(src, e["file"])
            if e["file"] not in texts:
                texts[e["file"]] = originals[e["file"]] = open(path).read()
            orig, repl = "\n".join(e["orig"]), "\n".join(e["repl"])
            n = texts[e["file"]].count(orig)
            if n != 1:
                verdict, detail = "NOT-APPLIED", f"{e['file']}: the original text occurs {n} times"; break
            texts[e["file"]] = texts[e["file"]].replace(orig, repl)
        if not m["edits"]:
            verdict, detail = "NOT-APPLIED", "no edit"
        if verdict is None:
            for f, text in texts.items():
                open(os.path.join(src, f), "w").write(text)
            s, out = build(log)
            if s != 0:
                verdict, detail = "BUILD-FAIL", "the mutant does not compile (fix its replacement)"
            else:
                failed, passed, unproven = [], [], []
                for kind, value in m["tests"]:
                    key = (kind, value, tuple(sorted(m["env"].items())))
                    if baseline.get(key) != "pass":
                        unproven.append(f"{value} ({baseline.get(key)} on the original)"); continue
                    s, out = run(test_command(kind, value), env=m["env"], limit=timeout, log=log)
                    (failed if s != 0 else passed).append(value + (" [timed out]" if s == 124 else ""))
                    if s != 0: break  # killed: no need to run the rest
                if failed:
                    verdict, detail = "KILLED", "by " + failed[0]
                elif unproven and not passed:
                    verdict, detail = "BASELINE-FAIL", "; ".join(unproven)
                else:
                    verdict, detail = "SURVIVED", "passed: " + "; ".join(passed + unproven)
    finally:
        for f, text in originals.items():
            open(os.path.join(src, f), "w").write(text)
    elapsed = time.time() - start
    results.append((m["id"], verdict, elapsed, detail))
    print(f"mutants: {m['id']}: {verdict} in {elapsed:.0f} s — {detail}", flush=True)

# ---- report ---------------------------------------------------------------
print()
print(f"| {'mutant':<36} | {'result':<13} | {'time':>6} | detail")
print(f"|{'-' * 38}|{'-' * 15}|{'-' * 8}|{'-' * 40}")
for id, verdict, elapsed, detail in results:
    print(f"| {id:<36} | {verdict:<13} | {elapsed:>5.0f}s | {detail[:160]}")
bad = [r for r in results if r[1] not in ("KILLED", "TODO")]
killed = sum(1 for r in results if r[1] == "KILLED")
todo = sum(1 for r in results if r[1] == "TODO")
print(f"\nmutants: {killed} killed, {len(bad)} not killed, {todo} TODO, total {time.time() - t0:.0f} s; logs in {logs}")
sys.exit(1 if bad else 0)
PYTHON

# ---------------------------------------------------------------------------
# THE TABLE. File paths are relative to the repository root.
: <<'MUTANTS'
# ---- issue 18: mutants an outside audit found surviving ----------------------

@@ segment-dir-fsync-undone
why: the segment-directory fsync fix undone: a segment whose directory entry may not be durable takes writes
test: GuaranteeTests/aSegmentWhoseDirectoryEntryIsNotDurableLosesNoAcknowledgedWrite
file: Sources/StateJournalEngine/Journal/FileJournal+Appending.swift
<<< original
        if !Self.durableSegments.withLock({ $0.contains(key) }) {
            try fs.fsyncDirectory(directory)
            Self.durableSegments.withLock { _ = $0.insert(key) }
        }
===
>>>
<<< original
            _ = fs.sys.unlink(path)
            throw error
===
            throw error
>>>

@@ free-space-check-disabled
why: the check that the disk has room for STATE.md before appending, disabled
test: FaultMatrixTests/aNearlyFullDiskRefusesTheWriteBeforeAppending
file: Sources/StateJournal/Manager/StateManager.swift
<<< original
        if free < needed {
===
        if free < needed && false {
>>>

@@ latest-snapshot-nil
why: snapshots never used: latestSnapshot always returns nil (every open replays from seq 1)
test: GuaranteeTests/openingReplaysOnlyTheEventsAfterTheNewestSnapshot
file: Sources/StateJournalEngine/Journal/FileJournal+Snapshots.swift
<<< original
    package func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? {
===
    package func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? {
        if seq > 0 { return nil }
>>>

@@ durable-but-not-said
why: a failed append leaves its record in the segment (no cut back): the event may surface although the write failed without saying it is durable
test: FaultMatrixTests/everyFailingSystemCallLosesNothingAcknowledged
env: FAULT_MATRIX=shared:fdatasync,fresh:fdatasync
file: Sources/StateJournalEngine/Journal/FileJournal+Appending.swift
<<< original
            // Leave the journal exactly as it was: cut whatever reached the file.
            let cut = cutBack(current)
===
            // mutant: whatever reached the file stays
            let cut = true
>>>

# ---- issue 18: tests that could not fail --------------------------------------

@@ fold-before-init-code
why: an event before init is refused with the wrong code (badInput, not notInitialized)
test: FoldTests/anyEventBeforeInitIsRefused
file: Sources/StateJournalModel/Events/Fold.swift
<<< original
        guard var next = state.take() else {
            throw StateJournalError(.notInitialized,
===
        guard var next = state.take() else {
            throw StateJournalError(.badInput,
>>>

@@ verify-does-not-cut-torn-tail
why: a torn tail is no longer cut under the lock (verify says OK, the bytes stay)
test: MaintenanceCLITests/verifyRepairsATornTailAndExitsZero
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
            guard repair else { return }  // maybe an append in progress: not ours to cut
===
            guard repair && false else { return }  // mutant: never cut
>>>

@@ header-damage-not-corruption
why: a damaged segment header is reported as an I/O error, not corruption (exit 1, not 5)
test: JournalTests/headerDamageIsCorruption
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
            throw StateJournalError.corruption("segment '\(file)' is damaged: \(problem) (events from seq \(firstSeq))", path: file)
===
            throw StateJournalError(.io, "segment '\(file)' is damaged: \(problem) (events from seq \(firstSeq))", path: file)
>>>

@@ record-damage-not-corruption
why: a damaged record with valid records after it is reported as an I/O error, not corruption
test: SegmentTests/aBitFlipInAnyRecordOfTheRawSegmentIsDetected
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
            throw StateJournalError.corruption(
                "record at byte \(offset) of '\(file)' (after seq \(lastSeq)) is damaged and valid records follow at byte \(offset + next); "
===
            throw StateJournalError(.io,
                "record at byte \(offset) of '\(file)' (after seq \(lastSeq)) is damaged and valid records follow at byte \(offset + next); "
>>>

@@ damaged-region-scan-quadratic
why: the large-damaged-region fix undone: a candidate record is checksummed at every offset (hangs on 4 MiB of damage)
test: HardeningTests/aLargeDamagedRegionIsClassifiedInLinearTime
file: Sources/StateJournalEngine/Journal/RecordFormat.swift
<<< original
                    if Event.encodingStarts(in: bytes, at: probe + recordHeaderSize),
                       record(in: bytes, at: probe, maximumSize: maximumSize) != nil {
===
                    if record(in: bytes, at: probe, maximumSize: maximumSize) != nil {
>>>

@@ corruption-cut-as-torn-tail
why: under the lock, corruption (valid records after damage) is cut like a torn tail: acknowledged events silently dropped
test: FuzzRegressionTests
test: SegmentTests/aBitFlipInAnyRecordOfTheRawSegmentIsDetected
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
        case .corrupt(_, let next):
            throw StateJournalError.corruption(
===
        case .corrupt(_, let next) where !repair:
            throw StateJournalError.corruption(
>>>
<<< original
        case .torn(_, let length):
            guard isLast else {
===
        case .torn, .corrupt:
            let length = size - offset
            guard isLast else {
>>>

# ---- issue 18: documented guarantees with no test -----------------------------

@@ older-segment-version-accepted
why: a segment header from a newer format version is read as if it were ours
test: GuaranteeTests/aNewerSegmentFormatIsRefusedNamingTheFile
file: Sources/StateJournalEngine/Journal/RecordFormat.swift
<<< original
        guard version <= RecordFormat.version else { return .failure(.unsupportedVersion(version)) }
===
>>>

@@ damaged-snapshot-ends-search
why: a damaged snapshot makes the fold replay everything instead of using the older snapshot
test: GuaranteeTests/aDamagedOrNewerSnapshotIsPassedOverOnOpen
file: Sources/StateJournalEngine/Journal/FileJournal+Snapshots.swift
<<< original
                logger.warning("snapshot is unreadable; falling back to an older one or to a full replay",
                               metadata: ["file": "\(file)", "problem": "\(problem)"])
===
                logger.warning("snapshot is unreadable; falling back to an older one or to a full replay",
                               metadata: ["file": "\(file)", "problem": "\(problem)"])
                return nil
>>>

@@ checkpoints-not-kept
why: only the newest snapshots are kept: reading the past replays from seq 1
test: GuaranteeTests/readingThePastStartsFromTheNearestCheckpoint
file: Sources/StateJournalEngine/Journal/FileJournal+Snapshots.swift
<<< original
        for old in older.dropLast(max(options.snapshotsKept - 1, 0)) where !checkpoints.contains(old.seq) {
===
        for old in older.dropLast(max(options.snapshotsKept - 1, 0)) {
>>>

@@ damaged-seal-copy-deleted
why: an interrupted seal's damaged compressed copy is deleted instead of set aside
test: GuaranteeTests/anInterruptedSealWithADamagedCompressedCopyIsSetAside
file: Sources/StateJournalEngine/Journal/FileJournal+Directory.swift
<<< original
                try fs.rename(path(sealed), path(sealed) + ".damaged-" + Timestamp.now().compactUTC)
===
                try fs.unlinkIfExists(path(sealed))
>>>

@@ event-time-from-clock-only
why: an event's time is the clock's alone: a clock stepped back makes times go backwards
test: GuaranteeTests/eventTimesNeverGoBackwards
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
        let time = max(Timestamp.now(), folded.lastTime)
===
        let time = Timestamp.now()
>>>

@@ lock-busy-loop
why: no backoff between lock attempts (a busy loop)
test: GuaranteeTests/theLockBacksOffAndTimesOut
file: Sources/StateJournalEngine/Lock/FileLock.swift
<<< original
                Self.sleep(min(jittered, policy.timeout - elapsed))
===
                Self.sleep(min(jittered, policy.timeout - elapsed) * 0)
>>>

@@ lock-sleeps-past-deadline
why: a backoff is not cut to the time left: a waiter sleeps past its deadline
test: GuaranteeTests/aLongBackoffIsCutAtTheDeadline
file: Sources/StateJournalEngine/Lock/FileLock.swift
<<< original
                Self.sleep(min(jittered, policy.timeout - elapsed))
===
                Self.sleep(jittered)
>>>

@@ notices-on-stdout
why: the command line's log (repair notices, warnings) goes to stdout, mixed into JSON output
test: GuaranteeCLITests/aRepairNoticeGoesToStderrAndStdoutStaysClean
file: Sources/StateJournalCLI/CLILog.swift
<<< original
StreamLogHandler.standardError
===
StreamLogHandler.standardOutput
>>>

@@ corruption-exits-one
why: corruption exits 1 like any I/O error, not 5
test: GuaranteeCLITests/everyCommandExitsFiveOnCorruptionAndChangesNothing
file: Sources/StateJournalCLI/Output.swift
<<< original
        case .corruption: return 5
===
        case .corruption: return 1
>>>

@@ symlink-copies-of-the-link
why: with --allow-symlinks, STATE.md's backup is a hard link to the symbolic link, not a copy of its file
test: GuaranteeTests/backupAndDamagedCopiesLieBesideASymlinkedStateFile
file: Sources/StateJournalEngine/System/FileSystem.swift
<<< original
        let path = allowsSymbolicLinks ? try resolvingSymbolicLinks(path, as: "a file StateJournal keeps a copy of") : path
===
>>>

# ---- issue 10: the durability fixes, each undone ------------------------------

@@ unconfirmed-bytes-trusted
why: item 1: bytes a killed writer left beyond the watermark are neither cut nor fsynced before use: a retry is answered from the page cache
test: DurabilityRegressionTests/aRetryOfAWriteKilledBeforeItsFsyncIsDurableWhenAcknowledged
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
            if size > confirmed {
===
            if size > confirmed && false {
>>>
<<< original
            if durableUpTo != Int64(validEnd) || size != Int64(validEnd) {
===
            if false {
>>>

@@ group-duplicate-in-failed-batch
why: item 2: a duplicate of an earlier request of the same batch keeps "success" when the batch's append fails
test: DurabilityRegressionTests/duplicatesInAFailedBatchFailToo
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
                            if let outcome = request.outcome, outcome.event.seq > start.lastSeq {
===
                            if let outcome = request.outcome, !outcome.wasDuplicate, outcome.event.seq > start.lastSeq {
>>>

@@ reader-without-boundary
why: item 3: lock-free readers and projectors read everything, also a write still in progress
test: DurabilityRegressionTests/aReaderDuringAFailingFsyncNeverShowsTheFailedWrite
file: Sources/StateJournalEngine/Journal/FileJournal+Committed.swift
<<< original
    package func committedBoundary() throws -> Boundary? {
        if let boundary { return boundary }
===
    package func committedBoundary() throws -> Boundary? {
        if locked || !locked { return nil }
        if let boundary { return boundary }
>>>

@@ footer-seq-only
why: item 4: STATE.md judged current by its footer's seq alone (a file ahead of the journal is kept)
test: DurabilityRegressionTests/stateMdAheadOfARestoredJournalIsSetAsideAndRegenerated
file: Sources/StateJournal/Manager/ProjectionHealth.swift
<<< original
        case .intact(let seq, let event) where seq == lastSeq && event == state.eventIdentity:
===
        case .intact(let seq, _) where seq >= lastSeq:
>>>

@@ lock-not-revalidated
why: item 5: a holder whose lock file was removed still appends
test: DurabilityRegressionTests/aWriterWhoseLockFileWasRemovedWritesNothing
file: Sources/StateJournalEngine/Lock/FileLock.swift
<<< original
        guard try isStillAtPath(fd) else {
            throw StateJournalError(.io,
===
        guard try isStillAtPath(fd) || true else {
            throw StateJournalError(.io,
>>>

@@ lock-file-identity-unchecked
why: item 5: a waiter locks a lock file that was replaced while it waited
test: DurabilityRegressionTests/aWaiterDoesNotLockALockFileThatWasReplaced
test: KeptWriterStateTests/aKeptLockDescriptorOfARemovedLockFileLocksNothing
file: Sources/StateJournalEngine/Lock/FileLock.swift
<<< original
                guard current else {
===
                guard current || true else {
>>>

@@ import-retry-without-projection
why: item 6: a retried import returns before STATE.md shows it
test: DurabilityRegressionTests/aRetriedImportWritesStateMd
file: Sources/StateJournal/Manager/StateManager+Appending.swift
<<< original
        // A retry — also one whose first attempt died before STATE.md was
        // written — returns only once STATE.md shows the import.
===
        if outcome.wasDuplicate { return outcome }
>>>

@@ failed-batch-publishes-nothing
why: item 7: a duplicate in a failed batch returns before STATE.md shows its event
test: DurabilityRegressionTests/aDuplicateInAFailedBatchReturnsOnlyOnceStateMdShowsIt
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
                reached = start.state == nil ? nil : start.position
===
                reached = nil
>>>

@@ failed-fsync-trusted
why: item 8: a failed fsync of a segment is ignored (no rewrite to a new file)
test: JournalTests/aFailedSyncBeforeUseRewritesTheSegmentToANewFile
file: Sources/StateJournalEngine/Journal/FileJournal+Committed.swift
<<< original
        guard case .failure(let errno) = fs.sys.fdatasync(fd) else { return fd }
===
        guard case .failure(let errno) = fs.sys.fdatasync(fd), fd < 0 else { return fd }
>>>

@@ snapshot-identity-unchecked
why: item 9: a snapshot is folded in without checking the journal's event at its seq
test: DurabilityRegressionTests/aSnapshotOfAnotherHistoryIsNeverFoldedIn
file: Sources/StateJournal/Manager/JournalFold.swift
<<< original
                        guard event.identity == identity else { throw SnapshotMismatch() }
===
                        guard event.identity == identity || true else { throw SnapshotMismatch() }
>>>

@@ snapshot-offset-unchecked
test: DurabilityRegressionTests/aSeekPositionThatMissesItsRecordIsNotUsed
why: review R4 (its own tests no longer reach a wrong seek: the fold's identity check and the watermark stop them first): a snapshot's seek offset is used before the record there is checked
test: ReviewSnapshotFindings/aLeftoverSnapshotOfAnotherHistoryMakesWritersCutAcknowledgedEvents
test: ReviewSnapshotFindings/aLeftoverSnapshotOfAnotherHistoryMakesASoundJournalReportCorruption
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
           recordChecksum(fd, at: Int64(position.offset)) == position.identity {
===
           recordChecksum(fd, at: Int64(position.offset)) == position.identity || true {
>>>

@@ fold-cache-identity-unchecked
why: review R1b: a fold cache is resumed although the journal no longer holds its event
test: ReviewFindingsTests/aFoldCacheIsNotCheckedAgainstAJournalPutBackFromAnOlderCopy
file: Sources/StateJournalModel/Store/JournalStore.swift
<<< original
                guard event.identity == position.identity else { throw JournalPosition.Mismatch() }
===
                guard event.identity == position.identity || true else { throw JournalPosition.Mismatch() }
>>>

@@ stale-watermark-cuts
why: review W1: bytes beyond an old watermark are cut although no announced append explains them
test: DurabilityRegressionTests/aStaleWatermarkNeverCutsAcknowledgedEvents
file: Sources/StateJournalEngine/Journal/Watermark.swift
<<< original
        if size > mark.end, size > (mark.pending ?? mark.end) { return nil }
===
>>>

@@ lock-record-truncated-first
why: review W2: the lock record is truncated before it is rewritten (a kill in between erases the watermark)
test: ReviewFindings2Tests/aReaderKilledWhileRewritingTheLockFileErasesTheWatermarkTheNextWriterNeeds
file: Sources/StateJournalEngine/Lock/FileLock.swift
<<< original
            try fs.writeAll(fd, bytes, at: 0, path)
        } catch {
===
            try fs.sys.ftruncate(fd, length: 0).get("truncate", path)
            try fs.writeAll(fd, bytes, at: 0, path)
        } catch {
>>>

@@ snapshot-cadence-from-old-snapshot
why: issue 12 finding: a process's cached fold counts the snapshot cadence from an old snapshot (a snapshot every few writes)
test: WritePathTests/aThousandWritesWriteAtMostEightSnapshots
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
                        folded.snapshotSeq = try appendEvents(events, after: start, reaching: state, to: store, context: context,
===
                        _ = try appendEvents(events, after: start, reaching: state, to: store, context: context,
>>>

@@ durable-seq-dropped
why: a write whose event is durable but whose STATE.md rewrite failed no longer says so (durableSeq nil): "durable but not said"
test: FaultMatrixTests/everyFailingSystemCallLosesNothingAcknowledged
env: FAULT_MATRIX=shared:open,shared:rename
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
                        path: statePath, durableSeq: seq)
===
                        path: statePath, durableSeq: nil)
>>>

# ---- issue 12: the steady-state write's kept state, each check undone ---------

@@ kept-tail-size-unchecked
why: a kept active segment is appended to although it is longer than this store left it (the lock file put back as it was): another writer's acknowledged event is overwritten
test: KeptWriterStateTests/aSegmentLongerThanItWasLeftIsReadAgain
file: Sources/StateJournalEngine/Journal/FileJournal.swift
<<< original
              status.device == kept.device, status.inode == kept.inode, status.size == kept.end,
===
              status.device == kept.device, status.inode == kept.inode,
>>>

@@ kept-tail-sealed-copy-unchecked
why: a kept active segment is appended to although a seal stopped half-way left its sealed copy: the next writer removes the raw file, and the event with it
test: KeptWriterStateTests/aSegmentWithASealedCopyIsNotAppendedTo
file: Sources/StateJournalEngine/Journal/FileJournal.swift
<<< original
              case .failure(.noSuchFile) = fs.sys.lstat(sealedPath(of: kept)),
===
>>>

@@ kept-tail-record-unchecked
why: a kept active segment is resumed without checking its last record is the one left: STATE.md shows an event the journal does not hold
test: KeptWriterStateTests/aLastRecordThatIsNotTheOneLeftIsReadAgain
file: Sources/StateJournalEngine/Journal/FileJournal.swift
<<< original
              lastRecordIsThere(kept) else {
===
              true else {
>>>

@@ projector-lock-after-writers-lock
why: a writer takes the projectors' lock for its own projection only after releasing the writers' lock: its older state can overwrite a later writer's STATE.md
test: KeptWriterStateTests/aWritersOwnProjectionNeverGoesBackOverALaterOne
file: Sources/StateJournal/Manager/GroupCommit.swift
<<< original
                    projectorHeld = (try? context.projectorLock.tryAcquire(command: configuration.command + " (projecting STATE.md)")) ?? false
===
                    projectorHeld = false
>>>
<<< original
                if projectorHeld, let context, let state = reachedState {
===
                if let context, let state = reachedState, configuration.projection == .eager,
                   (try? context.projectorLock.tryAcquire(command: "mutant")) == true {
                    projectorHeld = true
>>>

# ---- review of one read session per operation (f9bc503..2dbdc9b) -----------

@@ replaced-journal-read-past-boundary
why: review: a lock-free read relisted after ENOENT reads the last listed segment up to the boundary's offset, also when the boundary's segment is gone (the journal replaced)
test: ReviewReadSessionTests/aReaderWhoseJournalIsReplacedReadsPastTheNewJournalsWatermark
file: Sources/StateJournalEngine/Journal/FileJournal+TimeIndex.swift
<<< original
        if limit.segmentFirstSeq > 0, segments.last?.firstSeq != limit.segmentFirstSeq {
            throw StateJournalError(.io, "the journal '\(directory)' was replaced while it was read (the segment of seq \(limit.segmentFirstSeq) is gone); "
                + "run the command again", path: directory)
        }
===
>>>
file: Sources/StateJournalEngine/Journal/FileJournal+Reading.swift
<<< original
            let end = limit.map { $0.segmentFirstSeq == segment.firstSeq ? $0.end : .max } ?? .max
===
            let end = isLast ? limit?.end ?? Int64.max : Int64.max
>>>

@@ boundary-descriptor-evicted
why: review: the committed boundary's descriptor is evicted like any other; the boundary's segment is reopened by path (another file, once the journal was put back)
test: ReviewReadSessionTests/anEvictedBoundaryDescriptorIsReopenedByPathAndReadPastTheWatermark
file: Sources/StateJournalEngine/Journal/FileJournal+Session.swift
<<< original
           let oldest = session.descriptors.firstIndex(where: { $0.path != session.pinned }) {
===
           let oldest = session.descriptors.indices.first {
>>>

@@ durable-segments-by-path
why: review: durableSegments remembers a segment by path alone: a file later put at that path appends without a directory fsync
test: ReviewReadSessionTests/aSegmentRecreatedAtAPathThisProcessOnceMadeDurableTakesAnAcknowledgedWriteWithoutADirectoryFsync
file: Sources/StateJournalEngine/Journal/FileJournal.swift
<<< original
        "\(path)#\(status.device):\(status.inode)"
===
        path + "#"
>>>

@@ unknown-boundary-projected
why: a reader that cannot open or create the lock file projects what it read, a write in progress included: STATE.md shows an event whose write then fails
test: UnknownBoundaryTests/aReaderWithoutTheLockFileNeverProjectsAWriteInProgress
file: Sources/StateJournal/Manager/ProjectionHealth.swift
<<< original
        if (reader as? FileJournal)?.readPastUnknownBoundary == true {
===
        if false, (reader as? FileJournal)?.readPastUnknownBoundary == true {
>>>

@@ eager-read-does-not-decide
why: issue 12: the .eager writer replaces STATE.md whatever its one read before the rename found: an edit saved after its look is lost, damage becomes the backup
test: EagerWriterReadTests/anEditSavedAfterTheWritersLookIsRecordedNotReplaced
test: EagerWriterReadTests/aFileDamagedAfterTheWritersLookIsKeptNotMadeTheBackup
file: Sources/StateJournal/Manager/ProjectionHealth.swift
<<< original
            if case .intact(let seq, let event) = read.status, seq < state.seq || (seq == state.seq && event == nil) {
===
            if true {
>>>

# ---- issue 13: dependencies, claims and leases ---------------------------------

@@ claim-ignores-live-lease
why: a named claim of a task another actor holds by a live lease is accepted (two agents on one task)
test: AgentRulesCLITests/claimsAreRefusedWithTheReasonAndTheOwner
test: ClaimFoldTests/aLiveLeaseRefusesOthersAndAnExpiredOneDoesNot
file: Sources/StateJournalModel/Model/Readiness.swift
<<< original
        if holder != owner, task.isClaimed(at: time) {
===
        if holder != owner, task.isClaimed(at: time), false {
>>>

@@ non-owner-completes-claimed-task
why: a task held by another actor's live claim can be completed, failed or released without --force
test: AgentRulesCLITests/claimsAreRefusedWithTheReasonAndTheOwner
file: Sources/StateJournalModel/Events/Fold.swift
<<< original
        guard !force, let owner = task.owner, owner != event.actor, task.isClaimed(at: event.time) else { return }
===
        guard !force, let owner = task.owner, owner != event.actor, task.isClaimed(at: event.time), false else { return }
>>>

@@ lease-judged-past-expiry
why: a lease is taken for live until one second after its end (expiry not decided by the event's time)
test: ClaimFoldTests/aLiveLeaseRefusesOthersAndAnExpiredOneDoesNot
file: Sources/StateJournalModel/Model/WorkflowState.swift
<<< original
        return time < leaseExpires
===
        return time.microseconds < leaseExpires.microseconds + 1_000_000
>>>

@@ dependency-cycle-accepted
why: dependencies that form a cycle are accepted (no task of the cycle can ever be ready)
test: AgentRulesCLITests/unknownDependenciesAndCyclesAreRefusedAndNothingIsWritten
file: Sources/StateJournalModel/Events/Fold.swift
<<< original
        for root in tasks.indices where state[root] == 0 {
===
        for root in tasks.indices where state[root] == 0 && false {
>>>

@@ ready-ignores-dependencies
why: a task is ready although a task it depends on is not completed
test: ClaimFoldTests/readinessFollowsDependenciesAndWaves
test: AgentRulesCLITests/readyTasksFollowDependenciesAndWavesInPlanOrder
file: Sources/StateJournalModel/Model/Readiness.swift
<<< original
        task.status == .pending && task.wave <= readyWave && unfinishedDependencies(of: task).isEmpty
===
        task.status == .pending && task.wave <= readyWave
>>>

@@ replace-without-exchange
why: STATE.md replaced by renaming over it again (ext4 then writes the new file's data at every rename: auto_da_alloc)
test: WritePathTests/theSteadyStateEagerWriteMakesThirtyCalls
file: Sources/StateJournalEngine/System/FileSystem.swift
<<< original
        if let backup, pending.replacesRegularFile, try commitByExchange(pending, backup: backup) {
===
        if let backup, pending.replacesRegularFile, false, try commitByExchange(pending, backup: backup) {
>>>

@@ exchange-moves-a-directory
why: a directory at STATE.md's path is exchanged away to the backup's name instead of the replace failing
test: ReplaceByExchangeTests/aDirectoryAtThePathIsNotMoved
file: Sources/StateJournalEngine/System/FileSystem.swift
<<< original
        if let backup, pending.replacesRegularFile, try commitByExchange(pending, backup: backup) {
===
        if let backup, try commitByExchange(pending, backup: backup) {
>>>

@@ exchange-failure-not-undone
why: when the backup cannot be renamed into place, the exchange is not undone (STATE.md changed by a failed commit, a temporary left)
test: ReplaceByExchangeTests/aFailedBackupLeavesStateMdAsItWas
file: Sources/StateJournalEngine/System/FileSystem.swift
<<< original
        if case .success = sys.exchange(temp, path) { discard(pending) }
===
>>>
MUTANTS
