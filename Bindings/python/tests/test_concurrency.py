"""8 Python processes × 20 add_note calls: every note lands, once."""

import subprocess
import sys

from conftest import BINDINGS

PROCESSES, NOTES = 8, 20

CHILD = r"""
import sys
from statejournal import StateManager
manager = StateManager(sys.argv[1], max_retries=6, retry_delay=0.5)  # a deadline of 31.5 s
sys.stdin.read(1)  # the go signal: every process starts writing at once
for n in range(int(sys.argv[3])):
    manager.add_note(f"{sys.argv[2]}-note-{n}")
"""


def test_eight_processes_adding_notes_lose_nothing(manager, monkeypatch):
    manager.initialize("wf_notes", "Notes", 1, [[{"task_id": "t1", "description": "T"}]])
    monkeypatch.setenv("PYTHONPATH", str(BINDINGS))
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(manager.state_path), f"p{i}", str(NOTES)],
                                 stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(PROCESSES)]
    for child in children:
        child.stdin.write("g")
        child.stdin.close()
    failures = [(child.args[4], child.stderr.read()) for child in children if child.wait() != 0]
    assert failures == []

    notes = manager.load_state().notes
    expected = {f"p{i}-note-{n}" for i in range(PROCESSES) for n in range(NOTES)}
    assert len(notes) == PROCESSES * NOTES and set(notes) == expected
    for i in range(PROCESSES):  # each process's notes in the order it wrote them
        own = [note for note in notes if note.startswith(f"p{i}-")]
        assert own == [f"p{i}-note-{n}" for n in range(NOTES)]
    assert [e["seq"] for e in manager.log()] == list(range(1, PROCESSES * NOTES + 2))
    assert manager.validate_markdown(manager.state_path.read_text()) == []
