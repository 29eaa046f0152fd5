"""Running the ``statejournal`` command line: finding it, calling it with
``--json``, and turning its failures into exceptions."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from typing import Any, List, Optional, Sequence

from .errors import CommandLineNotFound, StateJournalError, error_for

logger = logging.getLogger("statejournal")

ENV_BIN = "STATEJOURNAL_BIN"


def find_binary(explicit: Optional[str] = None) -> str:
    """The ``statejournal`` executable: ``explicit`` when given, else
    ``$STATEJOURNAL_BIN`` when set, else ``statejournal`` on the ``PATH``.

    Raises:
        CommandLineNotFound: when none of these names an executable file.
    """
    if explicit:
        return _executable(explicit, "the binary given to StateManager")
    configured = os.environ.get(ENV_BIN)
    if configured:
        return _executable(configured, f"${ENV_BIN}")
    found = shutil.which("statejournal")
    if found:
        return found
    raise CommandLineNotFound(
        f"the statejournal command line was not found: ${ENV_BIN} is not set and there is no "
        f"'statejournal' on the PATH ({os.environ.get('PATH', '')})",
        hint=f"install it with 'make install' in the StateJournal repository (or put it on the PATH), "
        f"or set {ENV_BIN} to the executable's path",
        code="not_found",
    )


def _executable(path: str, source: str) -> str:
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    raise CommandLineNotFound(
        f"the statejournal command line was not found: {source} is '{path}', which is not an executable file",
        hint=f"set {ENV_BIN} to the path of the statejournal executable (or unset it to use the one on the PATH)",
        code="not_found",
    )


def run(
    binary: str,
    arguments: Sequence[str],
    stdin: Optional[str] = None,
    ok_exit: Sequence[int] = (0,),
) -> "Completed":
    """Runs ``binary arguments…`` and returns what it printed.

    Raises:
        StateJournalError: (a subclass for exit statuses 2–5) when the
            command exits with a status not in ``ok_exit``; the exception
            carries the status and the command's message and hint.
    """
    command = [binary, *arguments]
    try:
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as error:
        raise CommandLineNotFound(
            f"could not run '{binary}': {error}",
            hint=f"check {ENV_BIN} or the PATH",
            code="not_found",
            command=command,
        ) from error
    for line in result.stderr.splitlines():
        if line.startswith("statejournal: warning:") or " warning statejournal:" in line:
            # Keys the earlier tool ignored silently are ignored here too.
            level = logging.DEBUG if line.endswith("(--lenient)") else logging.WARNING
            logger.log(level, "%s", line)
    if result.returncode in ok_exit:
        return Completed(result.returncode, result.stdout, result.stderr)
    raise failure(result.returncode, result.stderr, command)


def failure(exit_code: int, stderr: str, command: List[str]) -> StateJournalError:
    """The exception for a failed command, from the JSON error on the last
    line of its stderr (``--json``), else from its text."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines:
        try:
            error = json.loads(lines[-1]).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error_for(exit_code, error.get("code"), error["message"], error.get("hint"), command)
    message, hint = "", None
    for line in lines:
        if line.startswith("statejournal: error: ") and not message:
            message = line[len("statejournal: error: "):]
        elif line.startswith("hint: "):
            hint = line[len("hint: "):]
    return error_for(exit_code, None, message or stderr.strip() or f"statejournal exited {exit_code}", hint, command)


class Completed:
    """What a command printed: its exit status, stdout and stderr."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        """stdout as one JSON value (``None`` when stdout is empty)."""
        text = self.stdout.strip()
        return json.loads(text) if text else None

    def json_lines(self) -> List[Any]:
        """stdout as JSON Lines."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]
