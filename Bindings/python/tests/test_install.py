"""The two installs the README shows: the package into a fresh virtual
environment, and the command line by `make install`, after which the
README's "Using it" lines run verbatim."""

import os
import re
import shutil
import subprocess
import venv

import pytest

from conftest import BINDINGS, REPO


def test_the_package_installs_into_a_fresh_virtual_environment(tmp_path, cli):
    # pip builds in the source directory (build/, *.egg-info): from a copy,
    # so that the test leaves the repository as it was.
    source = tmp_path / "python"
    shutil.copytree(BINDINGS, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
                   check=True, cwd=tmp_path)
    script = (
        "import statejournal, sys\n"
        "assert statejournal.__file__.startswith(sys.prefix), statejournal.__file__\n"
        "m = statejournal.StateManager('work/STATE.md')\n"
        "m.initialize('wf_v', 'Venv', 1, [[{'task_id': 't1', 'description': 'One'}]])\n"
        "m.complete_task('t1', commit='abc1234')\n"
        "print(m.get_resume_info()['completed_tasks'])\n"
    )
    env = dict(os.environ, STATEJOURNAL_BIN=cli)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['t1']"


def readme_block(heading):
    """The first ```sh block after a README heading."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"\n## {heading}\n", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """Where `make install` put the command line: the Makefile's
    $STATEJOURNAL_TEST_PREFIX in `make test`, else a temporary PREFIX."""
    given = os.environ.get("STATEJOURNAL_TEST_PREFIX")
    if given:
        return given
    target = str(tmp_path_factory.mktemp("prefix"))
    subprocess.run(["make", "install", f"PREFIX={target}"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return target


def test_make_install_puts_the_command_line_its_man_page_and_completions_in_place(prefix):
    binary = os.path.join(prefix, "bin", "statejournal")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("statejournal ")
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    assert "libswiftCore" not in linked and "libFoundation" not in linked  # --static-swift-stdlib
    man = os.path.join(prefix, "share", "man", "man1", "statejournal.1")
    assert ".Sh NAME" in open(man).read()
    bash = os.path.join(prefix, "share", "bash-completion", "completions", "statejournal")
    registered = subprocess.run(["bash", "-c", f"source '{bash}' && complete -p statejournal"],
                                capture_output=True, text=True)
    assert registered.returncode == 0 and "statejournal" in registered.stdout
    assert "#compdef statejournal" in open(os.path.join(prefix, "share", "zsh", "site-functions", "_statejournal")).read()
    fish = os.path.join(prefix, "share", "fish", "vendor_completions.d", "statejournal.fish")
    assert "complete -c 'statejournal'" in open(fish).read()


def run_verbatim(lines, prefix, directory):
    """The lines as one bash script (stopping at the first failure) in an
    empty directory, with only the installed command line on the PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STATEJOURNAL_")}
    env["PATH"] = os.path.join(prefix, "bin") + os.pathsep + "/usr/bin:/bin"
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", lines], cwd=directory, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{lines}\n{result.stderr}"
    return result


def test_the_readmes_using_it_lines_run_verbatim_after_make_install(prefix, tmp_path):
    lines = readme_block("Using it")
    assert "statejournal init" in lines and "statejournal restore --seq 4" in lines
    result = run_verbatim(lines, prefix, tmp_path)
    assert "state.restored recorded seq 8" in result.stderr and "journal OK up to seq 8" in result.stderr
    assert "# Workflow: Build auth service" in (tmp_path / "work" / "STATE.md").read_text()


def test_the_readmes_quick_start_runs_verbatim_after_make_install(prefix, tmp_path):
    result = run_verbatim(readme_block("First steps"), prefix, tmp_path)
    assert "- [x] **task_1**" in result.stdout


def test_make_uninstall_removes_what_make_install_put_there(prefix, tmp_path):
    copy = tmp_path / "prefix"
    shutil.copytree(prefix, copy, symlinks=True)
    installed = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert "bin/statejournal" in installed and len(installed) == 5, installed
    subprocess.run(["make", "-s", "uninstall", f"PREFIX={copy}"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    assert [p for p in copy.rglob("*") if p.is_file()] == []
