"""Shared set-up: the package from this directory, the real command line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BINDINGS = Path(__file__).resolve().parents[1]
REPO = BINDINGS.parents[1]
sys.path.insert(0, str(BINDINGS))

import statejournal  # noqa: E402


def command_line() -> str:
    """$STATEJOURNAL_BIN (the Makefile sets it), else the debug build's."""
    configured = os.environ.get("STATEJOURNAL_BIN")
    if configured:
        return configured
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
    return os.path.join(bin_dir, "statejournal")


@pytest.fixture(scope="session")
def cli() -> str:
    path = command_line()
    if not os.access(path, os.X_OK):
        pytest.fail(f"no statejournal executable at {path}: run 'swift build' (or 'make test')")
    return path


@pytest.fixture(autouse=True)
def environment(cli, monkeypatch):
    """Every test finds the command line through $STATEJOURNAL_BIN, with a
    fixed actor, in UTC (so STATE.md's local times are predictable)."""
    monkeypatch.setenv("STATEJOURNAL_BIN", cli)
    monkeypatch.setenv("STATEJOURNAL_ACTOR", "tester")
    monkeypatch.delenv("STATEJOURNAL_STATE", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    yield


@pytest.fixture
def manager(tmp_path) -> statejournal.StateManager:
    return statejournal.StateManager(state_path=tmp_path / "STATE.md")
