#!/bin/bash
# Review 2, finding W1 with the CLI, no fault, no crash: a project kept in git
# with a .gitignore that ignores *.log (so the active segment,
# segment-….log, is not tracked) but not *.lock (lock files are usually
# committed: Cargo.lock, yarn.lock…): `git add -A` commits STATE.md.lock,
# holding the watermark of that moment. Later acknowledged writes go to the
# untracked segment (same file, same inode). Any `git stash` /
# `git checkout -- .` / `git reset --hard` puts the old lock file back: its
# watermark (same boot, same segment, same inode, its last record still
# there — the journal is append-only) passes validation, and the next
# command cuts every acknowledged event since the commit. Exit 1 when that
# happens (the bug), 0 otherwise.
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/statejournal}
W=$(mktemp -d /tmp/sj-git.XXXXXX)
cd $W
git init -q . && git config user.email r@example.com && git config user.name reviewer
printf '*.log\n.build/\n' > .gitignore
$B init --id wf --name demo --waves 1 >/dev/null 2>&1 || { echo "init failed"; exit 2; }
$B note "before the commit" >/dev/null 2>&1
git add -A && git commit -qm "work in progress"
echo "tracked: $(git ls-files | tr '\n' ' ')"
for i in 1 2 3; do
  $B note "ACKNOWLEDGED $i" 2>&1 || { echo "note failed"; exit 2; }
done
echo "--- export before git stash:"; $B export | grep -o '"text":"[^"]*"'
git stash -q          # or: git checkout -- . / git reset --hard
echo "--- after git stash, show:"; $B show 2>&1 | grep -i -A5 notes | head -8
$B note "after the stash" >/dev/null 2>&1; echo "note after stash: exit $?"
echo "--- export:"; $B export | grep -o '"text":"[^"]*"'
$B verify >/dev/null 2>&1; echo "verify: exit $?"
lost=0
for i in 1 2 3; do $B export | grep -q "ACKNOWLEDGED $i" || { echo "LOST: ACKNOWLEDGED $i"; lost=1; }; done
rm -rf $W
exit $lost
