#!/usr/bin/env bash
# make demo: a workflow in a temporary directory, several CLI writers at once,
# then STATE.md and the audit trail's size.
set -euo pipefail
SJ="${STATEJOURNAL_BIN:-$(swift build --show-bin-path)/statejournal}"
dir="$(mktemp -d /tmp/statejournal-demo.XXXXXX)"
export STATEJOURNAL_STATE="$dir/STATE.md"

writers=8
per_writer=3
plan="$dir/plan.json"
{
  printf '{"waves": ['
  for w in 1 2; do
    [ "$w" -gt 1 ] && printf ','
    printf '['
    for i in $(seq 1 $(( writers * per_writer / 2 ))); do
      [ "$i" -gt 1 ] && printf ','
      printf '{"task_id": "w%s_t%s", "description": "Task %s of wave %s"}' "$w" "$i" "$i" "$w"
    done
    printf ']'
  done
  printf '], "metadata": {"owner": "demo", "writers": "%s"}}' "$writers"
} > "$plan"

echo "== statejournal demo in $dir"
"$SJ" init --id wf_demo --name "Demo: $writers writers at once" --plan "$plan" --actor orchestrator
"$SJ" wave set 1 --actor orchestrator

# Each writer takes its own tasks: start, then complete, all at the same time.
tasks_of() { # writer index -> its task ids
  local k=$1
  for j in $(seq 0 $(( per_writer - 1 ))); do
    local n=$(( k * per_writer + j ))
    local half=$(( writers * per_writer / 2 ))
    if [ "$n" -lt "$half" ]; then echo "w1_t$(( n + 1 ))"; else echo "w2_t$(( n - half + 1 ))"; fi
  done
}
pids=()
for k in $(seq 0 $(( writers - 1 ))); do
  (
    for t in $(tasks_of "$k"); do
      "$SJ" task start "$t" --actor "agent-$k" 2>/dev/null
      "$SJ" task complete "$t" --commit "c0ffee$k" --file "src/$t.swift" --actor "agent-$k" 2>/dev/null
    done
    "$SJ" note "agent-$k finished" --actor "agent-$k" 2>/dev/null
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$SJ" wave set 2 --actor orchestrator 2>/dev/null

echo
cat "$STATEJOURNAL_STATE"
echo
"$SJ" validate "$STATEJOURNAL_STATE"
events=$("$SJ" export | wc -l)
expected=$(( 2 + writers * per_writer * 2 + writers + 1 ))
echo "audit trail: $events events ($expected expected), $(ls "$STATEJOURNAL_STATE.journal" | grep -c "^segment-") segment file(s)"
[ "$events" -eq "$expected" ] || { echo "demo: events were lost" >&2; exit 1; }
echo "files: $(cd "$dir" && ls -d STATE.md*)"
