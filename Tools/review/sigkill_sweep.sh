#!/bin/bash
# Review 2: SIGKILL a CLI write at the N-th call of each syscall
# (strace -e inject=SYSCALL:signal=KILL:when=N), then check that the journal
# is sound and holds every acknowledged write: a follow-up write exits 0,
# export holds every acknowledged note, verify exits 0, nothing hangs.
# Usage: Tools/review/sigkill_sweep.sh [template: normal|nowatermark]
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/statejournal}
MODE=${1:-normal}
W=$(mktemp -d /tmp/sj-sweep.XXXXXX)
T=$W/template
mkdir -p $T
$B init --id w --name n --waves 1 --state $T/STATE.md >/dev/null 2>&1
for i in 1 2 3; do $B note "base$i" --state $T/STATE.md >/dev/null 2>&1; done
if [ "$MODE" = nowatermark ]; then : > $T/STATE.md.lock; fi
fail=0; runs=0
for sc in pwrite64 ftruncate flock fsync fdatasync rename link unlink fchmod write getdents64 pread64 read close openat newfstatat; do
  n=1
  while :; do
    D=$W/run; rm -rf $D; cp -a $T $D
    [ "$MODE" = nowatermark ] && : > $D/STATE.md.lock
    timeout 30 strace -f -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n $B note "killed-$sc-$n" --state $D/STATE.md >$W/out 2>&1
    rc=$?
    runs=$((runs+1))
    if [ $rc -eq 124 ]; then echo "HANG: $sc when=$n"; fail=1; fi
    ack="base1 base2 base3"
    if [ $rc -eq 0 ]; then ack="$ack killed-$sc-$n"; fi
    timeout 30 $B note "after-$sc-$n" --state $D/STATE.md >$W/out2 2>&1; rc2=$?
    [ $rc2 -eq 0 ] && ack="$ack after-$sc-$n"
    [ $rc2 -ne 0 ] && { echo "FOLLOW-UP WRITE FAILED rc=$rc2: $sc when=$n: $(cat $W/out2)"; fail=1; }
    timeout 30 $B export --state $D/STATE.md >$W/exp 2>$W/experr; rc3=$?
    [ $rc3 -ne 0 ] && { echo "EXPORT FAILED rc=$rc3: $sc when=$n: $(cat $W/experr)"; fail=1; }
    for a in $ack; do grep -q "\"$a\"" $W/exp || { echo "LOST $a: $sc when=$n (killed rc=$rc)"; fail=1; }; done
    timeout 30 $B verify --state $D/STATE.md >$W/ver 2>&1; rc4=$?
    [ $rc4 -ne 0 ] && { echo "VERIFY rc=$rc4: $sc when=$n: $(tr '\n' ' ' < $W/ver)"; fail=1; }
    # the syscall was never reached n times: the command ran to completion
    if [ $rc -ne 137 ] && [ $rc -ne 124 ]; then break; fi
    n=$((n+1))
    [ $n -gt 200 ] && break
  done
  echo "$sc: swept to when=$n"
done
echo "runs=$runs fail=$fail"
rm -rf $W
exit $fail
