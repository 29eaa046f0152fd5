#!/usr/bin/env python3
"""The earlier tool's update path, re-implemented for the bench (Tools/bench).

What the earlier Python tool did on every update, and nothing more: take a
lock file, load STATE.md (parse the markdown: it was the only copy of the
state), change it, copy STATE.md to STATE.md.backup, render the whole file
again, write it under a temporary name and rename it over STATE.md. The
format is the one in Fixtures/seed-format/ (including its quirks:
"(1 tasks)", pending tasks grouped by wave).

    python3 legacy_tool.py init [--tasks N] [--waves W]   # a fresh STATE.md
    python3 legacy_tool.py complete TASK                  # one update

STATE.md is $LEGACY_STATE_FILE (default ./STATE.md). With LEGACY_FSYNC=1
(the bench's default for the fair, durable comparison) the new file is
fsynced before the rename and the directory after it — what a crash-safe
version needs and the earlier tool lacked; LEGACY_FSYNC=0 is the tool as it
was.
"""

import fcntl
import os
import re
import shutil
import sys
from datetime import datetime

STATE_FILE = os.environ.get("LEGACY_STATE_FILE", "STATE.md")
DURABLE = os.environ.get("LEGACY_FSYNC", "1") != "0"

SECTIONS = {
    "completed": "## ✅ Completed",
    "in_progress": "## 🔄 In Progress",
    "pending": "## 📋 Pending",
    "failed": "## ❌ Failed",
}
CHECKBOX = {"completed": "x", "in_progress": "~", "pending": " ", "failed": " "}


class StateManager:
    def __init__(self, state_file):
        self.state_file = state_file
        self.lock_file = state_file + ".lock"
        self.backup_file = state_file + ".backup"

    # -- lock ---------------------------------------------------------------
    def _lock(self):
        fd = open(self.lock_file, "w")
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    # -- parse --------------------------------------------------------------
    def load_state(self):
        with open(self.state_file, encoding="utf-8") as f:
            return self.parse_state(f.read())

    def parse_state(self, content):
        state = {"workflow_name": "", "workflow_id": "", "current_wave": 0, "total_waves": 0,
                 "started": "", "updated": "", "tasks": [], "notes": [], "metadata": {}}
        section = None
        wave = None
        task = None
        for line in content.split("\n"):
            m = re.match(r"^# Workflow: (.*)$", line)
            if m:
                state["workflow_name"] = m.group(1)
                continue
            m = re.match(r"^\*\*Workflow ID:\*\* `(.*)`$", line)
            if m:
                state["workflow_id"] = m.group(1)
                continue
            m = re.match(r"^\*\*Status:\*\* Wave (\d+)/(\d+)$", line)
            if m:
                state["current_wave"], state["total_waves"] = int(m.group(1)), int(m.group(2))
                continue
            m = re.match(r"^\*\*(Started|Updated):\*\* (.*)$", line)
            if m:
                state[m.group(1).lower()] = m.group(2)
                continue
            if line.startswith("## "):
                section = None
                for status, heading in SECTIONS.items():
                    if line.startswith(heading):
                        section = status
                if line.startswith("## Notes"):
                    section = "notes"
                if line.startswith("## Metadata"):
                    section = "metadata"
                wave = None
                continue
            m = re.match(r"^### Wave (\d+)$", line)
            if m:
                wave = int(m.group(1))
                continue
            m = re.match(r"^- \[(.)\] \*\*(.+?)\*\*(?:: (.*))?$", line)
            if m and section in SECTIONS:
                task = {"task_id": m.group(2), "description": m.group(3) or "", "status": section,
                        "wave": wave if wave is not None else max(state["current_wave"], 1),
                        "commit": None, "files": [], "error": None}
                state["tasks"].append(task)
                continue
            m = re.match(r"^  - (Commit|Files|Error): (.*)$", line)
            if m and task is not None:
                if m.group(1) == "Commit":
                    task["commit"] = m.group(2).strip("`")
                elif m.group(1) == "Files":
                    task["files"] = [f for f in re.sub(r" \(\+\d+ more\)$", "", m.group(2)).split(", ") if f]
                else:
                    task["error"] = m.group(2)
                continue
            m = re.match(r"^- \*\*(.+?):\*\* (.*)$", line)
            if m and section == "metadata":
                state["metadata"][m.group(1)] = m.group(2)
                continue
            if line.startswith("- ") and section == "notes":
                state["notes"].append(line[2:])
        return state

    # -- render -------------------------------------------------------------
    def render(self, state):
        lines = [f"# Workflow: {state['workflow_name']}", "",
                 f"**Workflow ID:** `{state['workflow_id']}`",
                 f"**Status:** Wave {state['current_wave']}/{state['total_waves']}",
                 f"**Started:** {state['started']}",
                 f"**Updated:** {state['updated']}", "", "---", ""]
        total = len(state["tasks"])
        if total:
            done = sum(1 for t in state["tasks"] if t["status"] == "completed")
            filled = done * 20 // total
            lines += [f"**Progress:** `{'█' * filled}{'░' * (20 - filled)}` {done * 100 // total}%", ""]
        for status, heading in SECTIONS.items():
            tasks = [t for t in state["tasks"] if t["status"] == status]
            if not tasks:
                continue
            lines += [f"{heading} ({len(tasks)} tasks)", ""]
            waves = sorted({t["wave"] for t in tasks})
            grouped = status == "pending" or len(waves) > 1
            for w in waves:
                if grouped:
                    lines.append(f"### Wave {w}")
                for t in (t for t in tasks if t["wave"] == w):
                    lines.append(f"- [{CHECKBOX[status]}] **{t['task_id']}**: {t['description']}")
                    if t["commit"]:
                        lines.append(f"  - Commit: `{t['commit']}`")
                    if t["files"]:
                        more = f" (+{len(t['files']) - 3} more)" if len(t["files"]) > 3 else ""
                        lines.append(f"  - Files: {', '.join(t['files'][:3])}{more}")
                    if t["error"]:
                        lines.append(f"  - Error: {t['error']}")
                lines.append("")
            lines.append("")
        if state["notes"]:
            lines += ["## Notes", ""] + [f"- {n}" for n in state["notes"]] + [""]
        if state["metadata"]:
            lines += ["## Metadata", ""] + [f"- **{k}:** {v}" for k, v in state["metadata"].items()] + [""]
        return "\n".join(lines)

    # -- write --------------------------------------------------------------
    def _write(self, content):
        if os.path.exists(self.state_file):
            shutil.copy(self.state_file, self.backup_file)
        temp = self.state_file + ".tmp"
        with open(temp, "w", encoding="utf-8") as f:
            f.write(content)
            if DURABLE:
                f.flush()
                os.fsync(f.fileno())
        os.rename(temp, self.state_file)
        if DURABLE:
            dfd = os.open(os.path.dirname(os.path.abspath(self.state_file)), os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def complete_task(self, task_id, commit=None, files=None):
        lock = self._lock()
        try:
            state = self.load_state()
            for t in state["tasks"]:
                if t["task_id"] == task_id:
                    t["status"] = "completed"
                    t["commit"] = commit or t["commit"]
                    t["files"] = files or t["files"]
                    break
            else:
                raise SystemExit(f"unknown task {task_id}")
            state["updated"] = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            self._write(self.render(state))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def initialize(self, tasks, waves):
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        per_wave = max(tasks // waves, 1)
        state = {"workflow_name": "CLI benchmark", "workflow_id": "wf_cli", "current_wave": 1,
                 "total_waves": waves, "started": now, "updated": now, "notes": [],
                 "metadata": {"branch": "bench/main"},
                 "tasks": [{"task_id": f"w{w}_t{t}",
                            "description": f"Task {t} of wave {w}: implement and test component {w}.{t}",
                            "status": "pending", "wave": w, "commit": None, "files": [], "error": None}
                           for w in range(1, waves + 1) for t in range(1, per_wave + 1)]}
        lock = self._lock()
        try:
            self._write(self.render(state))
        finally:
            lock.close()


def main(argv):
    manager = StateManager(STATE_FILE)
    if len(argv) >= 2 and argv[0] == "complete":
        manager.complete_task(argv[1])
    elif argv and argv[0] == "init":
        opts = dict(zip(argv[1::2], argv[2::2]))
        manager.initialize(int(opts.get("--tasks", 200)), int(opts.get("--waves", 4)))
    else:
        sys.exit("usage: legacy_tool.py init [--tasks N] [--waves W] | complete TASK")


if __name__ == "__main__":
    main(sys.argv[1:])
