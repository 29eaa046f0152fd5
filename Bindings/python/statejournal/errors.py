"""The exceptions of the package: one per exit status of the command line.

Every exception the command line causes is a :class:`StateJournalError`
(a ``RuntimeError``, which is what the earlier tool raised when it could
not take its lock), carrying the command's exit status, its message and its
hint. Catch a subclass to handle one case:

=================  ===========  ==========================================
exception          exit status  when
=================  ===========  ==========================================
``BadInput``       2            bad arguments or JSON, an unknown task, a
                                transition that is not allowed (also a
                                ``ValueError``)
``NotInitialized`` 2            no workflow at the state path yet (a
                                ``BadInput``)
``LockTimeout``    3            the lock was not taken before the deadline
                                (also a ``TimeoutError``)
``Conflict``       4            ``expect_seq`` did not match, or an
                                idempotency key was used for another write
``Corruption``     5            damage that cannot be repaired without
                                losing data
``StateJournalError`` 1         anything else (I/O errors, a full disk)
=================  ===========  ==========================================

``CommandLineNotFound`` (also a ``FileNotFoundError``) means the
``statejournal`` executable itself was not found.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "StateJournalError",
    "BadInput",
    "NotInitialized",
    "LockTimeout",
    "Conflict",
    "Corruption",
    "CommandLineNotFound",
]


class StateJournalError(RuntimeError):
    """A command of the ``statejournal`` command line failed.

    Attributes:
        exit_code: the command's exit status (1 anything else, 2 bad input,
            3 lock timeout, 4 conflict, 5 corruption).
        message: what went wrong, as the command line said it.
        hint: what to do next, or ``None``.
        code: the command line's error code (``bad_input``,
            ``not_initialized``, ``lock_timeout``, ``conflict``,
            ``corruption``, ``io``, ``usage``).
        command: the command line that failed, as a list of arguments.
    """

    def __init__(
        self,
        message: str,
        exit_code: int = 1,
        hint: Optional[str] = None,
        code: str = "io",
        command: Optional[list] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint
        self.code = code
        self.command = list(command or [])

    def __str__(self) -> str:
        return self.message + (f" (hint: {self.hint})" if self.hint else "")


class BadInput(StateJournalError, ValueError):
    """Exit status 2: the input was refused and nothing was written."""


class NotInitialized(BadInput):
    """Exit status 2: there is no workflow at the state path yet."""


class LockTimeout(StateJournalError, TimeoutError):
    """Exit status 3: the lock was not acquired before the deadline; the
    message names the process that holds it. Nothing was written."""


class Conflict(StateJournalError):
    """Exit status 4: ``expect_seq`` did not match the journal, or an
    idempotency key was already used for a different write. Nothing was
    written."""


class Corruption(StateJournalError):
    """Exit status 5: the journal is damaged where it cannot be repaired
    without losing data; the message names the file."""


class CommandLineNotFound(StateJournalError, FileNotFoundError):
    """The ``statejournal`` executable was not found (neither through
    ``STATEJOURNAL_BIN`` nor on the ``PATH``)."""


_BY_CODE = {
    "bad_input": BadInput,
    "usage": BadInput,
    "not_initialized": NotInitialized,
    "lock_timeout": LockTimeout,
    "conflict": Conflict,
    "corruption": Corruption,
}

_BY_EXIT = {2: BadInput, 3: LockTimeout, 4: Conflict, 5: Corruption}


def error_for(exit_code: int, code: Optional[str], message: str, hint: Optional[str], command: list) -> StateJournalError:
    """The exception for a failed command: by the JSON error's code when the
    command printed one, else by its exit status."""
    cls = _BY_CODE.get(code or "") or _BY_EXIT.get(exit_code, StateJournalError)
    return cls(message, exit_code=exit_code, hint=hint, code=code or "io", command=command)
