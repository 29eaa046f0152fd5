#!/usr/bin/env bash
# Counts the library's public declarations (what `import StateJournal` shows a
# Swift user: the StateJournal and StateJournalModel modules) from the symbol
# graph (and StateJournalPostgres, the PostgreSQL store), and lists any without
# a documentation comment. Synthesized members
# (Equatable's ==, CaseIterable's allCases, …) are not counted.
#   Tools/api/public-api.sh          count and undocumented
#   Tools/api/public-api.sh --list   every public declaration
set -euo pipefail
cd "$(dirname "$0")/../.."
swift package dump-symbol-graph --minimum-access-level public >/dev/null
dir=$(find .build -type d -name symbolgraph -path '*unknown-linux*' | head -1)
python3 - "$dir" "${1:-}" <<'PY'
import json, sys
d, mode = sys.argv[1], sys.argv[2]
names, undocumented = [], []
for module in ("StateJournal", "StateJournalModel", "StateJournalPostgres"):
    graph = json.load(open(f"{d}/{module}.symbols.json"))
    for s in graph["symbols"]:
        if "SYNTHESIZED" in s["identifier"]["precise"]:
            continue
        name = ".".join(s["pathComponents"])
        names.append(name)
        if not s.get("docComment"):
            undocumented.append(name)
print(f"public declarations: {len(names)}, undocumented: {len(undocumented)}")
for n in (sorted(names) if mode == "--list" else sorted(undocumented)):
    print("  " + n)
sys.exit(1 if undocumented else 0)
PY
