"""The state, as the earlier tool's ``WorkflowState`` and ``TaskState``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

__all__ = ["TaskState", "WorkflowState"]


@dataclass
class TaskState:
    """One task: the earlier tool's fields, with the same names and meaning.

    ``status`` is ``"pending"``, ``"in_progress"``, ``"completed"`` or
    ``"failed"``; ``wave_id`` counts from 1; ``files_modified`` holds every
    file (STATE.md shows the first three).
    """

    task_id: str
    description: str
    status: str
    wave_id: int
    files_modified: List[str] = field(default_factory=list)
    commit_hash: Optional[str] = None
    error: Optional[str] = None

    @classmethod
    def from_json(cls, task: Dict[str, Any]) -> "TaskState":
        """A task of the command line's state object."""
        return cls(
            task_id=task["task_id"],
            description=task.get("description") or "",
            status=task["status"],
            wave_id=int(task.get("wave") or 0),
            files_modified=list(task.get("files") or []),
            commit_hash=task.get("commit"),
            error=task.get("error"),
        )


@dataclass
class WorkflowState:
    """The whole state: the earlier tool's fields, with the same names.

    ``tasks`` maps task ids to :class:`TaskState` in plan order.
    ``started_at`` and ``updated_at`` are naive local times to the second,
    as the earlier tool read them from STATE.md. ``seq`` (new) is the last
    journal event the state includes; ``None`` for a state parsed from
    text.
    """

    workflow_id: str
    workflow_name: str
    current_wave: int
    total_waves: int
    tasks: Dict[str, TaskState]
    started_at: datetime
    updated_at: datetime
    notes: List[str] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    seq: Optional[int] = None

    @classmethod
    def from_json(cls, state: Dict[str, Any], seq: Optional[int] = None) -> "WorkflowState":
        """The command line's state object (``show --json``)."""
        tasks: Dict[str, TaskState] = {}
        for task in state.get("tasks") or []:
            tasks[task["task_id"]] = TaskState.from_json(task)
        return cls(
            workflow_id=state["workflow_id"],
            workflow_name=state["workflow_name"],
            current_wave=int(state["current_wave"]),
            total_waves=int(state["total_waves"]),
            tasks=tasks,
            started_at=local_time(state["started"]),
            updated_at=local_time(state.get("updated") or state["started"]),
            notes=list(state.get("notes") or []),
            metadata=dict(state.get("metadata") or {}),
            seq=state.get("seq", seq),
        )


def local_time(text: str) -> datetime:
    """An RFC 3339 UTC time of the command line (``…T04:36:33.306697Z``) as
    a naive local time to the second, what STATE.md shows."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().replace(tzinfo=None, microsecond=0)


def cli_time(moment: Any) -> str:
    """A time for ``--at``, ``--since`` and ``--until``: a ``datetime``
    (naive means local time, as the earlier tool's times were) as RFC 3339;
    a string as it is (every TIME form of the command line)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.isoformat()
    return str(moment)
