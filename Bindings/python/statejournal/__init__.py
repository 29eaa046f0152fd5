"""StateJournal for Python: the earlier STATE.md tool's interface, backed by
the ``statejournal`` command line.

Switching from the earlier tool is one import line::

    from statejournal import StateManager, TaskState, WorkflowState

The command line is found through ``$STATEJOURNAL_BIN``, else on the PATH
(``make install`` in the StateJournal repository puts it there).
"""

from .errors import (
    BadInput,
    CommandLineNotFound,
    Conflict,
    Corruption,
    LockTimeout,
    NotInitialized,
    StateJournalError,
)
from .manager import StateManager
from .state import TaskState, WorkflowState

__version__ = "0.9.0"

__all__ = [
    "StateManager",
    "WorkflowState",
    "TaskState",
    "StateJournalError",
    "BadInput",
    "NotInitialized",
    "LockTimeout",
    "Conflict",
    "Corruption",
    "CommandLineNotFound",
]
