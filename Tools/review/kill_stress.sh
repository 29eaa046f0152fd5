#!/bin/bash
# Review 2: concurrent CLI writers killed at random moments (timeout -s KILL),
# lock-free readers, compactions; then every acknowledged note (exit 0) must
# be in `export`, `verify` must exit 0, no command may hang (60 s cap).
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/statejournal}
W=$(mktemp -d /tmp/sj-stress.XXXXXX)
S=$W/STATE.md
DUR=${DUR:-40}
$B init --id w --name n --waves 1 --state $S >/dev/null 2>&1
end=$(( $(date +%s) + DUR ))
writer() {
  local id=$1 i=0
  while [ $(date +%s) -lt $end ]; do
    i=$((i+1))
    local t="w$id-$i"
    # about a third are killed somewhere in the middle
    local to=$(awk -v r=$RANDOM 'BEGIN{ printf "%.3f", (r%3==0) ? 0.02 + (r%100)/1000.0 : 60 }')
    timeout -s KILL $to $B note "$t" --state $S >/dev/null 2>>$W/err.$id
    rc=$?
    [ $rc -eq 0 ] && echo "$t" >> $W/acked.$id
    [ $rc -ne 0 ] && [ $rc -ne 137 ] && [ $rc -ne 3 ] && echo "rc=$rc $t" >> $W/odd.$id
  done
}
reader() {
  local id=$1
  while [ $(date +%s) -lt $end ]; do
    timeout -s KILL 60 $B show --state $S >/dev/null 2>>$W/rerr.$id; rc=$?
    [ $rc -ne 0 ] && echo "show rc=$rc" >> $W/rodd.$id
    timeout -s KILL 0.0$((RANDOM%9+1)) $B log --state $S >/dev/null 2>&1
    if [ $((RANDOM%20)) -eq 0 ]; then timeout -s KILL 60 $B compact --state $S >/dev/null 2>>$W/rerr.$id || echo "compact rc=$?" >> $W/rodd.$id; fi
  done
}
pids=()
for i in 1 2 3 4 5; do writer $i & pids+=($!); done
for i in 1 2; do reader $i & pids+=($!); done
for p in "${pids[@]}"; do wait $p; done
fail=0
timeout 60 $B export --state $S > $W/export 2>$W/experr || { echo "export failed: $(cat $W/experr)"; fail=1; }
cat $W/acked.* 2>/dev/null | sort > $W/acked
n=0; lost=0
while read t; do n=$((n+1)); grep -q "\"$t\"" $W/export || { echo "LOST acknowledged $t"; lost=$((lost+1)); fail=1; }; done < $W/acked
timeout 60 $B verify --state $S > $W/verify 2>&1 || { echo "verify rc=$?: $(cat $W/verify)"; fail=1; }
cat $W/odd.* $W/rodd.* 2>/dev/null | sort | uniq -c | head
echo "acknowledged=$n lost=$lost fail=$fail ($W)"
exit $fail
