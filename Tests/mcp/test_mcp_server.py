"""`statejournal mcp` driven by the official Python MCP SDK (the `mcp`
package from PyPI), as an agent's MCP client drives it: the real binary,
started over stdio by the SDK's own `stdio_client`.

Run by `make test` (the `mcp-test` target): STATEJOURNAL_BIN names the
binary under test.
"""

import json
import os
import subprocess
import tempfile

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import Implementation

BIN = os.environ.get("STATEJOURNAL_BIN", ".build/debug/statejournal")


def cli(state, *args, check=True):
    """Runs the command line on `state`; returns (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATEJOURNAL_")}
    done = subprocess.run([BIN, *args, "--state", state], capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"statejournal {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.returncode, done.stdout, done.stderr


def make_workflow(directory, waves):
    """A workflow at DIRECTORY/STATE.md whose waves hold the given task ids."""
    state = os.path.join(directory, "STATE.md")
    plan = {"waves": [[{"task_id": t, "description": f"do {t}"} for t in wave] for wave in waves]}
    path = os.path.join(directory, "plan.json")
    with open(path, "w") as f:
        json.dump(plan, f)
    cli(state, "init", "--id", "wf_mcp", "--name", "MCP test", "--plan", path, "--actor", "orchestrator")
    return state


def journal(state):
    """Every event, from `log --json` (JSON Lines)."""
    _, out, _ = cli(state, "log", "--json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def show(state):
    _, out, _ = cli(state, "show", "--json")
    return json.loads(out)


class Session:
    """One client session: `statejournal mcp` started by the SDK over stdio."""

    def __init__(self, session):
        self.session = session

    async def call(self, name, **arguments):
        """Calls a tool; returns (is_error, text)."""
        result = await self.session.call_tool(name, arguments)
        assert len(result.content) == 1 and result.content[0].type == "text"
        return bool(result.is_error), result.content[0].text

    async def ok(self, name, **arguments):
        """Calls a tool that must succeed; returns its JSON."""
        is_error, text = await self.call(name, **arguments)
        assert not is_error, f"{name} {arguments} failed: {text}"
        return json.loads(text)


async def with_session(state, body, client="py-agent", extra_args=()):
    params = StdioServerParameters(command=BIN, args=["mcp", "--state", state, *extra_args],
                                   env={"STATEJOURNAL_ACTOR": ""})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, client_info=Implementation(name=client, version="1.0")) as session:
            init = await session.initialize()
            return await body(Session(session), init)


def run(state, body, **kw):
    return anyio.run(lambda: with_session(state, body, **kw))


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="sj-mcp-") as directory:
        yield directory


# ---------------------------------------------------------------------------


def test_initialize_and_list_tools(tmp):
    state = make_workflow(tmp, [["task_1"]])

    async def body(s, init):
        assert init.server_info.name == "statejournal"
        assert init.capabilities.tools is not None
        tools = (await s.session.list_tools()).tools
        return tools

    tools = run(state, body)
    names = [t.name for t in tools]
    assert {"status", "complete", "fail", "note", "log"} <= set(names)
    for tool in tools:
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.description and len(tool.description) <= 120, tool.name
    # Every client sends the whole list to its model on every request: it stays small.
    listing = json.dumps([t.model_dump(exclude_none=True, by_alias=True) for t in tools], separators=(",", ":"))
    assert len(listing) < 400 * len(tools), f"tools/list is {len(listing)} bytes for {len(tools)} tools"


def test_complete_is_durable_and_in_state_md_before_the_answer(tmp):
    state = make_workflow(tmp, [["task_1", "task_2"]])

    async def body(s, _):
        event = await s.ok("complete", task="task_1", commit="abc1234", files=["a.py", "b.py"])
        # The answer came back: STATE.md and the journal already show it.
        with open(state) as f:
            markdown = f.read()
        return event, markdown

    event, markdown = run(state, body, client="agent-7")
    assert event["type"] == "task.completed" and event["task_id"] == "task_1"
    assert event["actor"] == "agent-7" and event["duplicate"] is False
    assert "abc1234" in markdown
    task = next(t for t in show(state)["tasks"] if t["task_id"] == "task_1")
    assert task["status"] == "completed"
    last = journal(state)[-1]
    assert (last["seq"], last["type"], last["actor"], last["commit"], last["files"]) == \
        (event["seq"], "task.completed", "agent-7", "abc1234", ["a.py", "b.py"])
    rc, _, err = cli(state, "verify", check=False)
    assert rc == 0, err


def test_actor_option_wins_over_the_client_name(tmp):
    state = make_workflow(tmp, [["task_1"]])
    event = run(state, lambda s, _: s.ok("note", text="from the option"), client="py-agent",
                extra_args=["--actor", "agent-3"])
    assert event["actor"] == "agent-3"
    assert journal(state)[-1]["actor"] == "agent-3"


def test_fail_and_note(tmp):
    state = make_workflow(tmp, [["task_1", "task_2"]])

    async def body(s, _):
        failed = await s.ok("fail", task="task_2", error="migration timed out")
        note = await s.ok("note", text="tax tables frozen")
        return failed, note

    failed, note = run(state, body)
    assert (failed["type"], failed["task_id"], failed["error"]) == ("task.failed", "task_2", "migration timed out")
    assert (note["type"], note["text"]) == ("note.added", "tax tables frozen")
    task = next(t for t in show(state)["tasks"] if t["task_id"] == "task_2")
    assert task["status"] == "failed"


@pytest.mark.parametrize("cli_args, tool, arguments", [
    (["task", "complete", "task_9"], "complete", {"task": "task_9"}),       # unknown task: exit 2
    (["task", "complete", "task_1"], "complete", {"task": "task_1"}),       # already completed
    (["task", "fail", "task_1", "--error", "x"], "fail", {"task": "task_1", "error": "x"}),
])
def test_a_refused_call_is_a_tool_error_with_the_cli_message(tmp, cli_args, tool, arguments):
    state = make_workflow(tmp, [["task_1", "task_2"]])
    cli(state, "task", "complete", "task_1")
    before = journal(state)
    rc, _, cli_message = cli(state, *cli_args, check=False)
    assert rc in (2, 4)

    async def body(s, _):
        return await s.call(tool, **arguments)

    is_error, text = run(state, body)
    assert is_error
    assert text == cli_message.rstrip("\n")
    assert journal(state) == before, "a refused call wrote nothing"


def test_no_workflow_is_the_cli_message(tmp):
    state = os.path.join(tmp, "nothing", "STATE.md")
    _, _, cli_message = cli(state, "status", check=False)
    is_error, text = run(state, lambda s, _: s.call("status"))
    assert is_error and text == cli_message.rstrip("\n")
    assert not os.path.exists(os.path.dirname(state)), "nothing was created"


def test_bad_arguments_are_refused(tmp):
    state = make_workflow(tmp, [["task_1"]])

    async def body(s, _):
        return [await s.call("complete"), await s.call("complete", task="task_1", colour="red"),
                await s.call("complete", task=7), await s.call("log", type="task.complete"),
                await s.call("log", since="the other day"), await s.call("nope")]

    for is_error, text in run(state, body):
        assert is_error and text.startswith("statejournal: error: "), text
    assert [e["type"] for e in journal(state)] == ["workflow.initialized"]


def test_status(tmp):
    state = make_workflow(tmp, [["task_1", "task_2"], ["task_3"]])
    cli(state, "task", "complete", "task_1")
    summary = run(state, lambda s, _: s.ok("status"))
    _, out, _ = cli(state, "status", "--json")
    assert summary == json.loads(out)
    assert summary["tasks"]["completed"] == 1 and summary["tasks"]["total"] == 3


def test_history_with_filters(tmp):
    state = make_workflow(tmp, [["task_1", "task_2", "task_3"]])
    cli(state, "task", "start", "task_1", "--actor", "agent-1")
    cli(state, "task", "complete", "task_1", "--actor", "agent-1")
    cli(state, "task", "start", "task_2", "--actor", "agent-2")
    cli(state, "note", "halfway", "--actor", "agent-2")
    everything = journal(state)

    async def body(s, _):
        return {
            "all": await s.ok("log"),
            "actor": await s.ok("log", actor="agent-2"),
            "task": await s.ok("log", task="task_1"),
            "type": await s.ok("log", type="task.started"),
            "limit": await s.ok("log", limit=2),
            "since": await s.ok("log", since="1h", actor="agent-1", limit=1),
            "future": await s.ok("log", since="2999-01-01"),
        }

    got = run(state, body)

    def log(*args):
        _, out, _ = cli(state, "log", "--json", *args)
        return [json.loads(line) for line in out.splitlines()]

    assert got["all"] == everything
    assert got["actor"] == log("--by", "agent-2") and {e["actor"] for e in got["actor"]} == {"agent-2"}
    assert got["task"] == log("--task", "task_1")
    assert [e["type"] for e in got["task"]][-2:] == ["task.started", "task.completed"]
    assert [e["task_id"] for e in got["type"]] == ["task_1", "task_2"]
    assert got["limit"] == everything[-2:]
    assert [(e["actor"], e["type"]) for e in got["since"]] == [("agent-1", "task.completed")]
    assert got["future"] == []
