"""``StateManager``: the earlier tool's interface, backed by the command line.

Every call runs the ``statejournal`` executable with ``--json``, so every
guarantee of the command line holds for it: each change is one fsynced
event appended under the lock, STATE.md shows it when the call returns, and
two processes changing two things both land.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _cli
from .errors import BadInput, Conflict, NotInitialized
from .state import WorkflowState, cli_time

__all__ = ["StateManager"]

logger = logging.getLogger("statejournal")

PathLike = Union[str, "os.PathLike[str]"]


class StateManager:
    """Manages a workflow's STATE.md through its journal.

    Args:
        state_path: the state file (default ``./STATE.md``); the journal is
            ``STATE.md.journal/`` beside it.
        max_retries, retry_delay: the earlier tool's lock retries. They set
            the lock deadline the way the earlier tool's backoff added up:
            ``retry_delay * (2 ** max_retries - 1)`` seconds (3.5 s with the
            defaults); the command line retries with backoff and jitter
            until then.
        actor: who makes the changes, recorded in every event (default:
            ``$STATEJOURNAL_ACTOR``, else ``user@host``).
        lock_timeout: the lock deadline in seconds, instead of the one
            ``max_retries`` and ``retry_delay`` give.
        binary: the ``statejournal`` executable (default:
            ``$STATEJOURNAL_BIN``, else ``statejournal`` on the PATH).

    The write methods accept, by keyword, ``actor`` (for this call),
    ``expect_seq`` (write only if the journal's last event is that one,
    else :class:`~statejournal.Conflict`) and ``idempotency_key`` (a retry
    with the same key writes nothing and returns the original event), and
    return the event written, as the command line's event object (a dict
    with ``seq``, ``time``, ``actor``, ``type``…).
    """

    def __init__(
        self,
        state_path: Optional[PathLike] = None,
        max_retries: int = 3,
        retry_delay: float = 0.5,
        *,
        actor: Optional[str] = None,
        lock_timeout: Optional[float] = None,
        binary: Optional[str] = None,
    ) -> None:
        self.state_path = Path(state_path) if state_path is not None else Path("STATE.md")
        self._backup_path = Path(str(self.state_path) + ".backup")
        self._lock_path = Path(str(self.state_path) + ".lock")
        self._lock_file = self._lock_path  # the name the earlier tool's tests used
        self._journal_path = Path(str(self.state_path) + ".journal")
        self._max_retries = max_retries
        self._retry_delay = retry_delay
        self.actor = actor
        self.lock_timeout = lock_timeout
        self.binary = binary

    # -- the command line -----------------------------------------------------

    @property
    def _deadline(self) -> float:
        if self.lock_timeout is not None:
            return max(float(self.lock_timeout), 0.0)
        return max(float(self._retry_delay) * (2 ** max(int(self._max_retries), 0) - 1), 0.0)

    def _run(self, words: List[str], options: Iterable[str] = (), positional: Iterable[str] = (),
             stdin: Optional[str] = None, ok_exit=(0,)) -> _cli.Completed:
        arguments = list(words) + [f"--state={os.fspath(self.state_path)}",
                                   f"--lock-timeout={self._deadline!r}"] + list(options) + ["--json"]
        rest = list(positional)
        if rest:
            arguments += ["--"] + rest
        return _cli.run(_cli.find_binary(self.binary), arguments, stdin=stdin, ok_exit=ok_exit)

    def _write(self, words: List[str], options: Iterable[str] = (), positional: Iterable[str] = (),
               stdin: Optional[str] = None, actor: Optional[str] = None, expect_seq: Optional[int] = None,
               idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        flags = self._write_flags(options, dict(actor=actor, expect_seq=expect_seq, idempotency_key=idempotency_key))
        self._adopt_earlier_file()
        return self._run(words, flags, positional, stdin=stdin).json()

    def _write_flags(self, options: Iterable[str], write: Dict[str, Any]) -> List[str]:
        """``options`` and the write options (``actor``, ``expect_seq``,
        ``idempotency_key``) as command-line flags."""
        unknown = set(write) - {"actor", "expect_seq", "idempotency_key"}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        flags = list(options)
        who = write.get("actor")
        who = who if who is not None else self.actor
        if who is not None:
            flags.append(f"--actor={who}")
        if write.get("expect_seq") is not None:
            flags += ["--expect-seq", str(int(write["expect_seq"]))]
        if write.get("idempotency_key") is not None:
            flags.append(f"--idempotency-key={write['idempotency_key']}")
        return flags

    def _adopt_earlier_file(self) -> None:
        """A STATE.md without a journal (the earlier tool's file) becomes the
        journal's first event before the first write, so nothing in it is
        lost; the file is kept byte for byte as STATE.md.before-statejournal
        (STATE.md.backup holds it only until the next write)."""
        if self._journal_path.exists() or not self.state_path.is_file():
            return
        kept = Path(str(self.state_path) + ".before-statejournal")
        if not kept.exists():
            shutil.copy2(self.state_path, kept)
        try:
            self._run(["import"], ["--expect-seq", "0"], [os.fspath(self.state_path)])
            logger.info("imported the earlier tool's %s into a new journal", self.state_path)
        except (BadInput, Conflict):
            if not self._journal_path.exists():  # not another process's import: a file that is no STATE.md
                raise

    # -- the earlier tool's interface ------------------------------------------

    def initialize(self, workflow_id: str, workflow_name: str, total_waves: int,
                   all_waves: List[List[Dict[str, Any]]], metadata: Optional[Dict[str, Any]] = None,
                   **write: Any) -> Dict[str, Any]:
        """Starts a workflow: every task of ``all_waves`` pending, wave 0 of
        ``total_waves``. A task's id is ``task_id``, else ``agent_id``, else
        ``wave{W}_task{N}``; its description ``description``, else
        ``task``, else the first 100 characters of ``prompt``. Keys the
        earlier tool did not read are ignored, as there. A workflow that
        was there stays in the history."""
        plan = {
            "workflow_id": workflow_id,
            "workflow_name": workflow_name,
            "total_waves": total_waves,
            "all_waves": all_waves,
            "metadata": _metadata(metadata),
        }
        return self._write(["init"], ["--plan", "-", "--lenient"], stdin=_dumps(plan), **write)

    def update(self, workflow_id: str, workflow_name: str, wave_id: int, total_waves: int,
               completed_tasks: List[Dict[str, Any]], current_wave_tasks: List[Dict[str, Any]],
               pending_waves: List[List[Dict[str, Any]]], commit_hash: Optional[str] = None,
               notes: Optional[List[str]] = None, metadata: Optional[Dict[str, Any]] = None,
               **write: Any) -> Dict[str, Any]:
        """Replaces the whole state at once, with the earlier tool's meaning:
        the tasks and metadata are replaced, ``notes`` are appended to the
        ones there are, the start time is kept; current-wave tasks are
        completed when ``result["success"]``, failed when
        ``result["error"]``, else in progress; ``pending_waves[i]`` is wave
        ``wave_id + 1 + i``. The new state is computed under the lock from
        the state there is then, so a note another process added a moment
        before is kept."""
        payload = {
            "workflow_id": workflow_id,
            "workflow_name": workflow_name,
            "wave_id": wave_id,
            "total_waves": total_waves,
            "completed_tasks": completed_tasks,
            "current_wave_tasks": current_wave_tasks,
            "pending_waves": pending_waves,
            "commit_hash": commit_hash,
            "notes": list(notes or []),
            "metadata": _metadata(metadata),
        }
        return self._write(["update"], ["--from", "-"], stdin=_dumps(payload), **write)

    def add_note(self, note: str, **write: Any) -> Optional[Dict[str, Any]]:
        """Appends a note. With no workflow yet it logs a warning and writes
        nothing, as the earlier tool did."""
        try:
            return self._write(["note"], positional=[note], **write)
        except NotInitialized:
            logger.warning("No existing state to add note to (%s)", self.state_path)
            return None

    def load_state(self, seq: Optional[int] = None, at: Any = None) -> Optional[WorkflowState]:
        """The state now — or right after event ``seq``, or at time ``at``
        (a ``datetime``, naive meaning local time, or any TIME form of the
        command line) — or ``None`` when there is no workflow. An earlier
        tool's STATE.md that no write has imported yet is parsed as it is."""
        options: List[str] = []
        if seq is not None:
            options += ["--seq", str(int(seq))]
        if at is not None:
            options.append(f"--at={cli_time(at)}")
        try:
            return WorkflowState.from_json(self._run(["show"], options).json())
        except NotInitialized:
            if seq is None and at is None and not self._journal_path.exists() and self.state_path.is_file():
                return self.parse_state(self.state_path.read_text(encoding="utf-8"))
            return None

    def parse_state(self, content: str) -> Optional[WorkflowState]:
        """The state a STATE.md text holds (StateJournal's or the earlier
        tool's), or ``None`` when it is not one — read by the command line's
        own parser, so escaped text reads back as it was written."""
        with tempfile.TemporaryDirectory(prefix="statejournal-parse-") as directory:
            source = os.path.join(directory, "input.md")
            with open(source, "w", encoding="utf-8") as handle:
                handle.write(content)
            scratch = StateManager(os.path.join(directory, "STATE.md"), lock_timeout=self._deadline, binary=self.binary)
            try:
                scratch._run(["import"], positional=[source])
                state = WorkflowState.from_json(scratch._run(["show"]).json())
            except BadInput:
                return None
        state.seq = None
        return state

    def validate_markdown(self, content: str) -> List[str]:
        """Every problem of a STATE.md text, as ``"line N: message"``
        strings; an empty list when it is valid."""
        result = _cli.run(_cli.find_binary(self.binary), ["validate", "-", "--json"], stdin=content, ok_exit=(0, 2))
        problems = result.json()
        if not isinstance(problems, list):  # exit 2 without a list: an error, not problems
            raise _cli.failure(result.exit_code, result.stderr, ["validate", "-"])
        return [f"line {p['line']}: {p['message']}" for p in problems]

    def get_resume_info(self) -> Optional[Dict[str, Any]]:
        """What an orchestrator needs to resume, as the earlier tool gave it
        (``workflow_id``, ``workflow_name``, ``current_wave``,
        ``resume_wave``, ``total_waves``, ``completed_tasks``,
        ``failed_tasks``, ``pending_tasks``, ``started_at``, ``updated_at``
        and now also ``in_progress_tasks`` and ``seq``), or ``None`` when
        there is no workflow."""
        info = self._run(["resume-info"]).json()
        if info is None and not self._journal_path.exists() and self.state_path.is_file():
            state = self.load_state()
            return _resume_info(state) if state else None
        return info

    def clear(self, **write: Any) -> Optional[Dict[str, Any]]:
        """Empties the workflow: it keeps its id, name and start time but has
        no waves, tasks, notes or metadata. Unlike the earlier tool, which
        deleted STATE.md, nothing is lost: ``restore(seq=…)`` of the event
        before brings everything back. With no workflow it does nothing and
        returns ``None``, as the earlier tool did."""
        try:
            return self._write(["clear"], **write)
        except NotInitialized:
            return None

    # -- what the earlier tool did not have ------------------------------------

    def start_task(self, task_id: str, **write: Any) -> Dict[str, Any]:
        """Marks a pending or failed task in progress."""
        return self._write(["task", "start"], positional=[task_id], **write)

    def complete_task(self, task_id: str, commit: Optional[str] = None, files: Iterable[str] = (),
                      **write: Any) -> Dict[str, Any]:
        """Marks a task completed, with its commit and files (all of them)."""
        options: List[str] = []
        if commit is not None:
            options += [f"--commit={commit}"]
        for name in files:
            options += [f"--file={name}"]
        return self._write(["task", "complete"], options, [task_id], **write)

    def fail_task(self, task_id: str, error: str, **write: Any) -> Dict[str, Any]:
        """Marks a task failed, with the error."""
        return self._write(["task", "fail"], [f"--error={error}"], [task_id], **write)

    def add_task(self, task_id: str, wave: int, description: str = "", **write: Any) -> Dict[str, Any]:
        """Adds a pending task to a wave."""
        return self._write(["task", "add"], ["--wave", str(int(wave)), f"--description={description}"], [task_id], **write)

    def set_wave(self, wave: int, **write: Any) -> Dict[str, Any]:
        """Makes ``wave`` the current wave (0: none yet)."""
        return self._write(["wave", "set"], positional=[str(int(wave))], **write)

    def set_metadata(self, key: str, value: Any, **write: Any) -> Dict[str, Any]:
        """Gives a metadata key a value (kept as text, as ``str(value)``)."""
        return self._write(["meta", "set"], positional=[key, value if isinstance(value, str) else str(value)], **write)

    def claim(self, task_id: Optional[str] = None, lease: Optional[str] = None, force: bool = False,
              **write: Any) -> Dict[str, Any]:
        """Claims the named task, or the first ready one, for the actor, with
        a lease (``"15m"`` by default, ``"none"`` for no expiry): ``task
        claim`` of a command line that has it. Returns the event, with the
        task under ``claimed``.

        Raises:
            Conflict: nothing is ready, or the task cannot be claimed (the
                reason is the message).
        """
        options = [f"--lease={lease}"] if lease is not None else []
        if force:
            options.append("--force")
        flags, positional = self._write_flags(options, write), [task_id] if task_id else []
        self._adopt_earlier_file()
        result = self._run(["task", "claim"], flags, positional, ok_exit=(0, 4))
        answer = result.json() if result.stdout.strip() else None
        if result.exit_code == 4:
            if isinstance(answer, dict) and answer.get("claimed") is None and "reason" in answer:
                raise Conflict(str(answer["reason"]), exit_code=4, code="conflict",
                               command=["task", "claim", *positional])
            raise _cli.failure(4, result.stderr, ["task", "claim", *positional])
        return answer

    def log(self, by: Optional[str] = None, task: Optional[str] = None, type: Optional[str] = None,
            since: Any = None, until: Any = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The audit trail, oldest first: one dict per event (``seq``,
        ``time``, ``actor``, ``pid``, ``type`` and the payload's fields).
        Filters combine; ``since`` and ``until`` are inclusive and take a
        ``datetime`` or any TIME form (``"2h"``, ``"yesterday"``); ``limit``
        keeps the newest N."""
        options = ["--no-pager"]
        for flag, value in (("--by", by), ("--task", task), ("--type", type)):
            if value is not None:
                options += [f"{flag}={value}"]
        if since is not None:
            options.append(f"--since={cli_time(since)}")
        if until is not None:
            options.append(f"--until={cli_time(until)}")
        if limit is not None:
            options += ["--limit", str(int(limit))]
        return self._run(["log"], options).json_lines()

    def restore(self, seq: Optional[int] = None, at: Any = None, dry_run: bool = False,
                **write: Any) -> Dict[str, Any]:
        """Makes the state right after event ``seq`` (or at time ``at``) the
        current state, as a new event; nothing is deleted, so a restore can
        be undone the same way. ``dry_run=True`` writes nothing and returns
        the change it would make (``diff``, ``state``)."""
        if (seq is None) == (at is None):
            raise BadInput("give exactly one of seq and at", exit_code=2, code="bad_input")
        options = ["--seq", str(int(seq))] if seq is not None else [f"--at={cli_time(at)}"]
        if dry_run:
            options.append("--dry-run")
            return self._run(["restore"], options).json()
        return self._write(["restore"], options, **write)


def _metadata(metadata: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """Metadata values as the earlier tool wrote them into STATE.md:
    ``str(value)``."""
    return {str(key): value if isinstance(value, str) else str(value) for key, value in (metadata or {}).items()}


def _dumps(value: Any) -> str:
    # The earlier tool took any Python values in its task dicts; what JSON
    # cannot hold goes as text rather than failing the call.
    return json.dumps(value, ensure_ascii=False, default=str)


def _resume_info(state: WorkflowState) -> Dict[str, Any]:
    """The earlier tool's resume information, computed from a parsed file."""
    def ids(status: str) -> List[str]:
        return [t.task_id for t in state.tasks.values() if t.status == status]

    failed = ids("failed")
    return {
        "workflow_id": state.workflow_id,
        "workflow_name": state.workflow_name,
        "current_wave": state.current_wave,
        "resume_wave": state.current_wave if failed else state.current_wave + 1,
        "total_waves": state.total_waves,
        "completed_tasks": ids("completed"),
        "failed_tasks": failed,
        "pending_tasks": ids("pending"),
        "in_progress_tasks": ids("in_progress"),
        "started_at": state.started_at.isoformat(),
        "updated_at": state.updated_at.isoformat(),
    }
