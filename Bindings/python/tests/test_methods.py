"""Every method of the package against the real command line, and every
error as the exception that carries the command's exit status."""

import fcntl
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import statejournal
from statejournal import (BadInput, CommandLineNotFound, Conflict, Corruption, LockTimeout, NotInitialized,
                          StateJournalError, StateManager, TaskState)

FIXTURES = Path(__file__).resolve().parents[3] / "Fixtures/seed-format"


@pytest.fixture
def workflow(manager):
    manager.initialize("wf_1", "Build auth service", 2, [
        [{"task_id": "task_1", "description": "Design the schema"},
         {"task_id": "task_2", "description": "Write the migration"}],
        [{"task_id": "task_3", "description": "Deploy"}]], metadata={"owner": "platform"})
    return manager


def test_the_attributes_of_the_earlier_tool(tmp_path):
    manager = StateManager(state_path=tmp_path / "STATE.md", max_retries=3, retry_delay=0.5)
    assert manager.state_path == tmp_path / "STATE.md"
    assert manager._backup_path == tmp_path / "STATE.md.backup"
    assert manager._lock_path == tmp_path / "STATE.md.lock"
    assert manager._deadline == 3.5  # 0.5 + 1 + 2: the earlier backoff's total
    assert StateManager(tmp_path / "S.md", max_retries=0)._deadline == 0
    assert StateManager(tmp_path / "S.md", lock_timeout=12)._deadline == 12
    assert StateManager().state_path == Path("STATE.md")


def test_fine_grained_writes(workflow):
    m = workflow
    assert m.set_wave(1)["type"] == "wave.set"
    started = m.start_task("task_1", actor="agent-3")
    assert (started["type"], started["actor"], started["task_id"]) == ("task.started", "agent-3", "task_1")
    done = m.complete_task("task_1", commit="abc1234", files=["db/schema.sql", "db/seed.sql"], actor="agent-3")
    assert done["files"] == ["db/schema.sql", "db/seed.sql"]
    m.fail_task("task_2", error="migration timed out")
    m.add_task("task_4", wave=2, description="Announce")
    m.set_metadata("branch", "main")
    m.set_metadata("attempts", 3)
    state = m.load_state()
    assert state.tasks["task_1"] == TaskState("task_1", "Design the schema", "completed", 1,
                                              ["db/schema.sql", "db/seed.sql"], "abc1234", None)
    assert state.tasks["task_2"].status == "failed" and state.tasks["task_2"].error == "migration timed out"
    assert list(state.tasks) == ["task_1", "task_2", "task_3", "task_4"]
    assert state.metadata == {"owner": "platform", "branch": "main", "attempts": "3"}
    assert state.current_wave == 1 and state.seq == 8
    info = m.get_resume_info()
    assert info["resume_wave"] == 1 and info["failed_tasks"] == ["task_2"] and info["seq"] == 8


def test_text_that_looks_like_markdown_or_options_reads_back_as_written(workflow):
    text = "-1 retries left\n## not a heading **bold** - [x] `tick`"
    workflow.add_note(text)
    workflow.fail_task("task_3", error="--force was not given")
    state = workflow.load_state()
    assert state.notes == [text]
    assert state.tasks["task_3"].error == "--force was not given"
    assert workflow.parse_state(workflow.state_path.read_text()).notes == [text]


def test_expect_seq_and_idempotency_keys(workflow):
    with pytest.raises(Conflict) as caught:
        workflow.add_note("late", expect_seq=0)
    assert caught.value.exit_code == 4 and "seq 1" in caught.value.message
    first = workflow.add_note("once", expect_seq=1, idempotency_key="n1")
    again = workflow.add_note("once", idempotency_key="n1")
    assert again["duplicate"] and again["seq"] == first["seq"]
    assert workflow.load_state().notes == ["once"]
    with pytest.raises(Conflict):
        workflow.add_note("other text", idempotency_key="n1")


def test_load_state_then_and_now(workflow):
    workflow.add_note("first")
    workflow.add_note("second")
    assert workflow.load_state(seq=2).notes == ["first"]
    assert workflow.load_state(at=datetime.now() + timedelta(hours=1)).notes == ["first", "second"]
    assert workflow.load_state(at="now").seq == 3
    with pytest.raises(BadInput):
        workflow.load_state(seq=9)


def test_no_workflow_yet(manager, caplog):
    assert manager.load_state() is None
    assert manager.get_resume_info() is None
    assert manager.clear() is None  # as the earlier tool's clear() of no file
    with caplog.at_level(logging.WARNING, logger="statejournal"):
        assert manager.add_note("lost?") is None  # the earlier tool warned and wrote nothing
    assert "No existing state" in caplog.text
    with pytest.raises(NotInitialized) as caught:
        manager.start_task("t1")
    assert isinstance(caught.value, BadInput) and caught.value.exit_code == 2
    assert "statejournal init" in caught.value.hint


def test_parse_state_reads_the_earlier_tools_files(manager):
    state = manager.parse_state((FIXTURES / "02-mid-progress/STATE.md").read_text())
    assert (state.workflow_id, state.workflow_name, state.current_wave, state.total_waves) == (
        "wf_002", "Refactor billing", 2, 4)
    assert state.tasks["a1"].commit_hash == "abc1234" and state.tasks["a1"].wave_id == 1
    assert state.tasks["b2"].status == "in_progress"
    assert state.notes == ["Tax tables frozen at 2026 rates"] and state.metadata == {"branch": "refactor/billing"}
    assert state.started_at == datetime(2026, 11, 27, 2, 50, 27) and state.seq is None
    assert manager.parse_state("hello") is None
    assert not manager.state_path.exists()  # parsing writes nothing here


def test_errors_carry_the_exit_status_and_message(workflow):
    with pytest.raises(BadInput) as caught:
        workflow.complete_task("task_9")
    error = caught.value
    assert (error.exit_code, error.code) == (2, "bad_input")
    assert "task_9" in error.message and isinstance(error, ValueError) and isinstance(error, RuntimeError)
    workflow.complete_task("task_1")
    with pytest.raises(BadInput, match="completed"):
        workflow.start_task("task_1")  # a completed task changes only through update or restore
    with pytest.raises(BadInput):
        workflow.restore()


def test_a_held_lock_is_a_lock_timeout_naming_the_holder(workflow):
    manager = StateManager(workflow.state_path, max_retries=1, retry_delay=0.05)
    with open(workflow._lock_path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LockTimeout) as caught:
            manager.add_note("blocked")
    assert caught.value.exit_code == 3 and str(os.getpid()) in caught.value.message
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, RuntimeError)
    assert workflow.load_state().notes == []


def test_damage_in_the_middle_of_the_journal_is_corruption(workflow):
    for text in ("note-one", "note-two", "note-three"):
        workflow.add_note(text)
    segment = sorted((workflow.state_path.parent / "STATE.md.journal").glob("segment-*"))[-1]
    data = bytearray(segment.read_bytes())
    at = data.index(b"note-two")
    data[at] ^= 0x20
    segment.write_bytes(bytes(data))
    with pytest.raises(Corruption) as caught:
        workflow.load_state()
    assert caught.value.exit_code == 5 and "segment-" in caught.value.message


def test_the_command_line_is_missing(tmp_path, monkeypatch):
    manager = StateManager(tmp_path / "STATE.md")
    monkeypatch.setenv("STATEJOURNAL_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(CommandLineNotFound) as caught:
        manager.load_state()
    assert "STATEJOURNAL_BIN" in str(caught.value) and "nowhere" in str(caught.value)
    monkeypatch.delenv("STATEJOURNAL_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandLineNotFound) as caught:
        manager.load_state()
    assert "STATEJOURNAL_BIN" in str(caught.value) and "PATH" in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, StateJournalError)


def test_the_command_line_on_the_path(workflow, cli, monkeypatch, tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "statejournal").symlink_to(cli)
    monkeypatch.delenv("STATEJOURNAL_BIN")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    assert workflow.load_state().workflow_id == "wf_1"


def test_log_filters(workflow):
    workflow.start_task("task_1", actor="agent-3")
    workflow.complete_task("task_1", commit="abc1234", actor="agent-3")
    workflow.add_note("tax tables frozen")
    events = workflow.log()
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["type"] for e in workflow.log(by="agent-3")] == ["task.started", "task.completed"]
    assert [e["seq"] for e in workflow.log(task="task_1")] == [1, 2, 3]
    assert [e["text"] for e in workflow.log(type="note.added")] == ["tax tables frozen"]
    assert [e["seq"] for e in workflow.log(limit=2)] == [3, 4]
    assert workflow.log(since=datetime.now() + timedelta(hours=1)) == []
    assert len(workflow.log(since="1h", until=datetime.now() + timedelta(minutes=1))) == 4
    assert all(e["pid"] > 0 and e["time"].endswith("Z") for e in events)


def test_restore_by_seq_and_time_and_its_dry_run(workflow):
    workflow.add_note("kept")
    workflow.start_task("task_1")
    workflow.complete_task("task_1")
    plan = workflow.restore(seq=2, dry_run=True)
    assert plan["dry_run"] and plan["restored_seq"] == 2 and plan["diff"]
    assert workflow.load_state().seq == 4  # nothing written
    event = workflow.restore(seq=2)
    assert (event["type"], event["restored_seq"], event["seq"]) == ("state.restored", 2, 5)
    assert workflow.load_state().tasks["task_1"].status == "pending"
    back = workflow.restore(at=datetime.fromisoformat(workflow.log()[3]["time"].replace("Z", "+00:00")))
    assert back["restored_seq"] == 4 and workflow.load_state().tasks["task_1"].status == "completed"


def test_clear_empties_the_workflow_and_restore_brings_it_back(workflow):
    workflow.add_note("n")
    started = workflow.load_state().started_at
    event = workflow.clear()
    assert event["type"] == "state.replaced"
    cleared = workflow.load_state()
    assert (cleared.workflow_id, cleared.tasks, cleared.notes, cleared.metadata, cleared.total_waves) == (
        "wf_1", {}, [], {}, 0)
    assert cleared.started_at == started
    workflow.restore(seq=2)
    assert list(workflow.load_state().tasks) == ["task_1", "task_2", "task_3"]


def supports_claim(cli):
    import subprocess
    return subprocess.run([cli, "help", "task", "claim"], capture_output=True).returncode == 0


def test_claim(workflow, cli):
    if not supports_claim(cli):
        pytest.skip("this statejournal has no 'task claim' yet (the claims issue)")
    workflow.set_wave(1)
    event = workflow.claim("task_1", actor="agent-7")
    assert (event["task_id"], event["actor"], event["claimed"]["task_id"]) == ("task_1", "agent-7", "task_1")
    assert workflow.load_state().tasks["task_1"].status == "in_progress"
    with pytest.raises(Conflict) as caught:
        workflow.claim("task_1", actor="agent-8")
    assert caught.value.exit_code == 4 and "agent-7" in caught.value.message
    assert workflow.claim(actor="agent-8", lease="1h")["task_id"] == "task_2"  # the first ready task
    with pytest.raises(Conflict):
        workflow.claim(actor="agent-9")  # wave 1 has nothing ready left


def test_the_package_names_what_it_exports():
    assert set(statejournal.__all__) >= {"StateManager", "WorkflowState", "TaskState", "LockTimeout",
                                         "Conflict", "Corruption", "BadInput"}
