"""The earlier tool's call patterns, as its documentation and its own tests
used them, give the states the earlier tool gave.

The expected states are the earlier tool's rules applied by hand: what its
``update()`` put into STATE.md (completed when ``result["success"]``,
failed when ``result["error"]``, else in progress; the wave's commit for a
completed current-wave task without its own; pending wave ``wave_id + 1 +
i``; notes appended, tasks and metadata replaced, the start time kept).
"""

import shutil
from datetime import datetime

from statejournal import StateManager, TaskState, WorkflowState


def plan(n=3):
    return [[{"task_id": f"task_{w}", "description": f"Task {w}"}] for w in range(1, n + 1)]


def test_the_quick_reference_in_order(manager):
    manager.initialize(workflow_id="wf_001", workflow_name="My Workflow", total_waves=3, all_waves=[
        [{"task_id": "task_1", "description": "First"}],
        [{"task_id": "task_2", "description": "Second"}],
        [{"task_id": "task_3", "description": "Third"}],
    ])
    state = manager.load_state()
    assert (state.workflow_id, state.workflow_name, state.current_wave, state.total_waves) == ("wf_001", "My Workflow", 0, 3)
    assert [(t.task_id, t.status, t.wave_id) for t in state.tasks.values()] == [
        ("task_1", "pending", 1), ("task_2", "pending", 2), ("task_3", "pending", 3)]

    manager.update(
        workflow_id="wf_001", workflow_name="My Workflow", wave_id=1, total_waves=3,
        completed_tasks=[{"task_id": "task_1", "description": "First", "wave_id": 1,
                          "result": {"success": True, "files_modified": ["file.py"]}, "commit_hash": "abc123"}],
        current_wave_tasks=[],
        pending_waves=[[{"task_id": "task_2", "description": "Second"}], [{"task_id": "task_3", "description": "Third"}]],
        commit_hash="abc123", notes=["Note 1", "Note 2"], metadata={"key": "value"})
    manager.add_note("Important observation")

    state = manager.load_state()
    assert state.tasks["task_1"] == TaskState("task_1", "First", "completed", 1, ["file.py"], "abc123", None)
    assert state.tasks["task_2"] == TaskState("task_2", "Second", "pending", 2)
    assert state.tasks["task_3"] == TaskState("task_3", "Third", "pending", 3)
    assert state.notes == ["Note 1", "Note 2", "Important observation"]
    assert state.metadata == {"key": "value"}
    assert f"Wave: {state.current_wave}/{state.total_waves}" == "Wave: 1/3"

    info = manager.get_resume_info()
    assert info["resume_wave"] == 2
    assert (info["completed_tasks"], info["failed_tasks"], info["pending_tasks"]) == (["task_1"], [], ["task_2", "task_3"])
    assert datetime.fromisoformat(info["started_at"]) == state.started_at

    manager.clear()
    cleared = manager.load_state()
    assert cleared.tasks == {} and cleared.notes == [] and cleared.workflow_id == "wf_001"


def test_an_update_has_the_earlier_meaning(manager):
    manager.initialize("wf_1", "Build", 3, plan(3), metadata={"owner": "me"})
    manager.add_note("from the start")
    manager.update(
        workflow_id="wf_1", workflow_name="Build", wave_id=2, total_waves=3,
        completed_tasks=[{"task_id": "a", "description": "A", "wave_id": 1, "commit_hash": "aaa111",
                          "result": {"success": True, "files_modified": ["a.py", "b.py", "c.py", "d.py"]}}],
        current_wave_tasks=[
            {"task_id": "c", "description": "C", "result": {"success": True}},
            {"agent_id": "agent-d", "task": "D", "result": {"success": False, "error": "it broke"}},
            {"task_id": "e", "prompt": "E" * 150, "result": {}},
        ],
        pending_waves=[[{"task_id": "f", "description": "F"}]],
        commit_hash="wave222", notes=["second"], metadata={"phase": "two", "retries": 3})
    state = manager.load_state()
    assert state == WorkflowState(
        workflow_id="wf_1", workflow_name="Build", current_wave=2, total_waves=3,
        tasks={
            "a": TaskState("a", "A", "completed", 1, ["a.py", "b.py", "c.py", "d.py"], "aaa111"),
            "c": TaskState("c", "C", "completed", 2, [], "wave222"),
            "agent-d": TaskState("agent-d", "D", "failed", 2, [], None, "it broke"),
            "e": TaskState("e", "E" * 100, "in_progress", 2),
            "f": TaskState("f", "F", "pending", 3),
        },
        started_at=state.started_at, updated_at=state.updated_at,
        notes=["from the start", "second"], metadata={"phase": "two", "retries": "3"}, seq=3)
    text = manager.state_path.read_text()
    assert "  - Files: a.py, b.py, c.py (+1 more)" in text
    assert "## 🔄 In Progress (1 task)" in text  # "1 task", not the earlier "1 tasks"


def test_a_series_of_updates_keeps_the_start_and_the_notes(manager):
    for wave in range(5):
        manager.update(workflow_id="wf_1", workflow_name=f"Sequential {wave}", wave_id=wave, total_waves=5,
                       completed_tasks=[{"task_id": f"t{i}", "description": f"T{i}", "wave_id": i + 1,
                                         "result": {"success": True}} for i in range(wave)],
                       current_wave_tasks=[], pending_waves=[], notes=[f"after wave {wave}"])
        if wave == 0:
            started = manager.load_state().started_at
    state = manager.load_state()
    assert state.current_wave == 4 and state.workflow_name == "Sequential 4"
    assert list(state.tasks) == ["t0", "t1", "t2", "t3"]
    assert all(t.status == "completed" for t in state.tasks.values())
    assert state.notes == [f"after wave {w}" for w in range(5)]
    assert state.started_at == started
    assert manager.validate_markdown(manager.state_path.read_text()) == []


def test_each_update_keeps_the_previous_file_as_the_backup(manager):
    manager.update(workflow_id="wf_1", workflow_name="Backup Test", wave_id=1, total_waves=3,
                   completed_tasks=[], current_wave_tasks=[], pending_waves=[])
    first = manager.state_path.read_text()
    manager.update(workflow_id="wf_1", workflow_name="Backup Test Updated", wave_id=2, total_waves=3,
                   completed_tasks=[], current_wave_tasks=[], pending_waves=[])
    assert manager._backup_path.read_text() == first
    assert "Backup Test Updated" not in first


VALID = """# Workflow: Test

**Workflow ID:** `wf_1`
**Status:** Wave 1/2
**Started:** 2025-01-15 10:00:00
**Updated:** 2025-01-15 11:00:00

---

## ✅ Completed (1 tasks)

- [x] **task_1**: Completed task

## 📋 Pending (1 tasks)

- [ ] **task_2**: Pending task
"""


def test_validate_markdown_of_a_valid_and_invalid_file(manager):
    assert manager.validate_markdown(VALID) == []
    # A file of the earlier tool's own, quirks and all, is valid too.
    assert manager.validate_markdown(FIXTURE.read_text()) == []

    errors = manager.validate_markdown("**Status:** Wave 1/2\n\n## ✅ Completed\n- [z] **task_1**: Task\n")
    assert errors and all(e.startswith("line ") for e in errors)
    joined = "\n".join(errors)
    for missing in ("title", "Workflow ID", "Started", "Updated"):
        assert missing in joined, joined
    assert any("[z]" in e or "checkbox" in e for e in errors), joined
    assert manager.validate_markdown(VALID.replace("(1 tasks)\n\n- [x]", "(2 tasks)\n\n- [x]")) != []


def test_recovery_by_writing_the_backup_back_over_a_corrupted_file(manager):
    for name, wave in (("Recovery Test", 1), ("Recovery Test Updated", 2)):
        manager.update(workflow_id="wf_1", workflow_name=name, wave_id=wave, total_waves=3,
                       completed_tasks=[{"task_id": "task_1", "description": "Important task", "wave_id": 1,
                                         "result": {"success": True}}],
                       current_wave_tasks=[], pending_waves=[])
    assert manager._backup_path.exists()
    backup = manager._backup_path.read_text()
    assert "Recovery Test" in backup and "Recovery Test Updated" not in backup

    manager.state_path.write_text("CORRUPTED DATA!!!")
    manager.state_path.write_text(backup)
    recovered = manager.load_state()
    assert recovered.tasks["task_1"].status == "completed"
    # Better than the earlier tool: the journal holds the update the backup
    # misses, so nothing is lost and STATE.md is regenerated from it.
    assert recovered.workflow_name == "Recovery Test Updated" and recovered.current_wave == 2
    assert "Recovery Test Updated" in manager.state_path.read_text()

    # Without the manual step, too: the damaged file is kept beside it.
    manager.state_path.write_text("CORRUPTED DATA!!!")
    assert manager.load_state().tasks["task_1"].status == "completed"
    kept = list(manager.state_path.parent.glob("STATE.md.damaged-*"))
    assert [p.read_text() for p in kept] == ["CORRUPTED DATA!!!"]


FIXTURE = __import__("pathlib").Path(__file__).resolve().parents[3] / "Fixtures/seed-format/02-mid-progress/STATE.md"


def test_an_earlier_tools_file_is_read_then_adopted_by_the_first_write(tmp_path):
    path = tmp_path / "STATE.md"
    shutil.copy(FIXTURE, path)
    original = path.read_bytes()
    manager = StateManager(path)

    before = manager.load_state()  # read as it is: no journal yet, nothing written
    assert not (tmp_path / "STATE.md.journal").exists()
    assert (before.workflow_id, before.current_wave, before.total_waves) == ("wf_002", 2, 4)
    assert before.tasks["b2"].status == "in_progress" and before.tasks["d1"].wave_id == 4
    assert manager.get_resume_info()["pending_tasks"] == ["c1", "d1"]

    manager.add_note("switched to statejournal")
    after = manager.load_state()
    assert after.notes == ["Tax tables frozen at 2026 rates", "switched to statejournal"]
    assert after.tasks == before.tasks and after.started_at == before.started_at
    assert (tmp_path / "STATE.md.before-statejournal").read_bytes() == original
    assert [e["type"] for e in manager.log()] == ["state.replaced", "note.added"]
