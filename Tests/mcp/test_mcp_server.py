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
    assert names == ["brief", "status", "next", "claim", "heartbeat", "release", "complete", "fail", "note", "log"]
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


# --- claims, leases, next, brief ---------------------------------------------


def test_claim_heartbeat_complete(tmp):
    state = make_workflow(tmp, [["task_1", "task_2"], ["task_3"]])

    async def body(s, _):
        ready = await s.ok("next")
        claim = await s.ok("claim", lease="10m")
        beat = await s.ok("heartbeat", task=claim["task_id"], lease="2h")
        brief = await s.call("brief")
        done = await s.ok("complete", task=claim["task_id"], commit="abc1234")
        return ready, claim, beat, brief, done

    ready, claim, beat, brief, done = run(state, body, client="agent-1")
    assert [t["task_id"] for t in ready["ready"]] == ["task_1", "task_2"] and ready["count"] == 2
    assert (claim["type"], claim["task_id"], claim["owner"]) == ("task.claimed", "task_1", "agent-1")
    assert claim["claimed"]["status"] == "in_progress" and claim["claimed"]["owner"] == "agent-1"
    assert (beat["type"], beat["owner"]) == ("task.lease_renewed", "agent-1")
    assert beat["lease_expires"] > claim["lease_expires"]
    assert not brief[0] and "agent-1" in brief[1] and "task_1" in brief[1]
    assert len(brief[1].splitlines()) <= 25
    assert (done["type"], done["task_id"], done["actor"]) == ("task.completed", "task_1", "agent-1")
    events = [(e["type"], e.get("task_id"), e["actor"]) for e in journal(state)[1:]]
    assert events == [("task.claimed", "task_1", "agent-1"), ("task.lease_renewed", "task_1", "agent-1"),
                      ("task.completed", "task_1", "agent-1")]
    task = next(t for t in show(state)["tasks"] if t["task_id"] == "task_1")
    assert task["status"] == "completed" and task["owner"] is None


def test_release_gives_the_task_back(tmp):
    state = make_workflow(tmp, [["task_1"]])

    async def body(s, _):
        await s.ok("claim", task="task_1")
        return await s.ok("release", task="task_1"), await s.ok("next")

    released, ready = run(state, body, client="agent-1")
    assert (released["type"], released["task_id"]) == ("task.released", "task_1")
    assert [t["task_id"] for t in ready["ready"]] == ["task_1"]


def test_a_task_held_by_another_actor_is_refused_with_the_cli_message(tmp):
    state = make_workflow(tmp, [["task_1", "task_2"]])
    cli(state, "task", "claim", "task_1", "--actor", "agent-1", "--lease", "1h")
    before = journal(state)
    rc, _, complete_message = cli(state, "task", "complete", "task_1", "--actor", "agent-2", check=False)
    assert rc == 4
    rc, _, heartbeat_message = cli(state, "task", "heartbeat", "task_1", "--actor", "agent-2", check=False)
    assert rc == 4
    rc, _, claim_message = cli(state, "task", "claim", "task_1", "--actor", "agent-2", check=False)
    assert rc == 4

    async def body(s, _):
        return [await s.call("complete", task="task_1"), await s.call("heartbeat", task="task_1"),
                await s.call("claim", task="task_1")]

    answers = run(state, body, client="agent-2")
    assert answers == [(True, complete_message.rstrip("\n")), (True, heartbeat_message.rstrip("\n")),
                       (True, claim_message.rstrip("\n"))]
    assert "agent-1" in complete_message
    assert journal(state) == before, "refused calls wrote nothing"


def test_nothing_ready_is_the_cli_message(tmp):
    state = make_workflow(tmp, [["task_1"]])
    cli(state, "task", "complete", "task_1")
    rc, _, cli_message = cli(state, "task", "claim", "--actor", "agent-1", check=False)
    assert rc == 4
    is_error, text = run(state, lambda s, _: s.call("claim"), client="agent-1")
    assert is_error and text == cli_message.rstrip("\n")


def test_eight_sessions_claim_fifty_tasks_each_completed_once(tmp):
    tasks = [f"task_{i:02d}" for i in range(1, 51)]
    state = make_workflow(tmp, [tasks])
    cli(state, "wave", "set", "1")
    completed_by = {}
    first_claims = []
    all_claimed = anyio.Event()

    async def agent(n):
        name = f"agent-{n}"

        async def body(s, _):
            # Each session claims a task, and none goes on before all eight hold one:
            # eight live claims at once, eight server processes side by side.
            first = await s.ok("claim", lease="10m")
            first_claims.append(first["task_id"])
            if len(first_claims) == 8:
                all_claimed.set()
            await all_claimed.wait()
            await s.ok("complete", task=first["task_id"], commit=f"c-{n}")
            mine = [first["task_id"]]
            while True:
                is_error, text = await s.call("claim", lease="10m")
                if is_error:
                    assert "no task is ready" in text, text
                    return mine
                claim = json.loads(text)
                assert claim["owner"] == name
                done = await s.ok("complete", task=claim["task_id"], commit=f"c-{n}")
                assert done["actor"] == name
                mine.append(claim["task_id"])

        completed_by[name] = await with_session(state, body, client=name)

    async def main():
        async with anyio.create_task_group() as group:
            for n in range(1, 9):
                group.start_soon(agent, n)

    anyio.run(main)

    reported = [t for mine in completed_by.values() for t in mine]
    assert sorted(reported) == tasks, "every task completed, by exactly one session"
    events = journal(state)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seq gap-free"
    completions = [e for e in events if e["type"] == "task.completed"]
    claims = [e for e in events if e["type"] == "task.claimed"]
    assert sorted(e["task_id"] for e in completions) == tasks, "each task completed exactly once in the journal"
    assert sorted(e["task_id"] for e in claims) == tasks, "each task claimed exactly once"
    owner = {e["task_id"]: e["owner"] for e in claims}
    for e in completions:
        assert e["actor"] == owner[e["task_id"]], f"{e['task_id']} completed by its owner"
        assert e["task_id"] in completed_by[e["actor"]]
    assert all(t["status"] == "completed" for t in show(state)["tasks"])
    assert len(set(first_claims)) == 8, "eight claims held at once, on eight different tasks"
    rc, _, err = cli(state, "verify", check=False)
    assert rc == 0, err
