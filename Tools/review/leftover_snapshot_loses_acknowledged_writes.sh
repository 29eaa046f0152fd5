#!/usr/bin/env bash
# Review finding R4 with real CLI processes, no fault, no crash.
#
# The journal is put back from a backup taken at seq 2 with `cp -a backup/. STATE.md.journal/`
# (the usual way: the newer snapshot-…128.snap, not in the backup, stays in the directory).
# Other agents then append notes (each `note` exits 0: acknowledged). Every write folds from the
# leftover snapshot: FileJournal.scanRaw starts at the snapshot's recorded offset (of the OTHER
# history) before StateManager.fold(from:) checks the snapshot's event identity; when that offset
# falls inside the journal's last record, the writer (under the lock) takes the rest for a torn
# tail and cuts it — another agent's acknowledged event — then appends over it; when it falls inside
# an earlier record, every command exits 5 ("damaged and valid records follow") on a sound journal.
#
# Exit status: 1 when the bug shows (acknowledged notes missing, or exit 5 on a sound journal), 0 otherwise.
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/statejournal}
D=$(mktemp -d /tmp/review-r4.XXXXXX)
trap 'rm -rf "$D"' EXIT
S=$D/STATE.md
echo '{"waves":[[{"task_id":"t1","description":"one"}]]}' > "$D/plan.json"
"$B" init --state "$S" --id wf --name r4 --plan "$D/plan.json" >/dev/null 2>&1 || exit 2
"$B" note --state "$S" "a" >/dev/null 2>&1 || exit 2
cp -a "$S.journal" "$D/backup"                       # backup at seq 2
for i in $(seq 3 130); do "$B" note --state "$S" "old $i" >/dev/null 2>&1 || exit 2; done
ls "$S.journal" | grep -q '^snapshot-' || { echo "no snapshot was written; cannot reproduce"; exit 2; }
cp -a "$D/backup/." "$S.journal/"                    # put back; the snapshot stays
echo "journal after restore: $("$B" export --state "$S" 2>/dev/null | wc -l) events; files: $(ls "$S.journal" | tr '\n' ' ')"

acked=()
fivers=0
for i in $(seq 3 140); do
  text="a much longer note than the old ones, number $i"
  "$B" note --state "$S" "$text" >/dev/null 2>"$D/err"
  rc=$?
  if [ $rc -eq 0 ]; then acked+=("$text"); elif [ $rc -eq 5 ]; then fivers=$((fivers+1)); [ $fivers -eq 1 ] && echo "note $i: exit 5: $(head -c 300 "$D/err")"; fi
done
# What the journal holds, read from seq 1 by a fresh process with the snapshots set aside.
mkdir "$D/snaps"; mv "$S.journal"/snapshot-* "$D/snaps/" 2>/dev/null
"$B" export --state "$S" > "$D/export.jsonl" 2>"$D/err" || echo "export without snapshots: exit $? $(head -c 300 "$D/err")"
missing=0
for t in "${acked[@]}"; do grep -qF "\"$t\"" "$D/export.jsonl" || missing=$((missing+1)); done
echo "acknowledged: ${#acked[@]}, missing from the journal: $missing, commands that exited 5: $fivers"
[ $missing -eq 0 ] && [ $fivers -eq 0 ]
