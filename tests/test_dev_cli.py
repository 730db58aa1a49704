"""`./dev` as a new user meets it: its help (every command and flag, with no venv/ made for a
question), the venv/ setup's progress lines and their times, `--quiet`, which silences progress
and never an error, the toolchain build's phases (tools/toolchain.sh), the test services' steps
(tools/test-services.sh) and the e2e hosts' roots (lab/roots.py). The venv/, pip,
Go, the services and debootstrap are stand-ins here: these tests check what `dev` and the
scripts say and do around them (`dev` in a copy whose folder holds nothing else it could run)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.plan import PROJECT_ROOT

COMMANDS = ("plan", "preview", "up", "refresh", "destroy", "cancel", "test", "bench", "toolchain", "pulumi", "lab")


def dev(*args: str, cwd: Path = PROJECT_ROOT, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "NOVA_QUIET"}
    return subprocess.run([str(cwd / "dev"), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**environment, **env})


def seconds_as_n(text: str) -> list[str]:
    """The lines, each time taken (`in 12 s`) as `in N s`: a time is measured, not known beforehand."""
    return [re.sub(r"\bin \d+ s\b", "in N s", line) for line in text.splitlines()]


def lone_dev(tmp_path: Path) -> Path:
    """A folder with only `dev` in it: a command that went past its help would find no tools/."""
    folder = tmp_path / "alone"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "dev", folder / "dev")
    return folder


# -- help ------------------------------------------------------------------------------------------
def test_help_lists_every_command_and_flag_a_line_each():
    helped = dev("help")
    assert helped.returncode == 0 and helped.stderr == ""
    assert [dev(flag).stdout for flag in ("--help", "-h")] == [helped.stdout] * 2
    lines = helped.stdout.splitlines()
    assert lines[0] == "usage:"
    for command in COMMANDS:  # each command has a usage line of its own
        assert any(re.match(rf"  \./dev [^ ]*\b{command}\b", line) for line in lines), command
    for flag in ("--quiet", "--out DIR", "--set KEY=VALUE", "--placeholder-secrets", "--secrets-file FILE",
                 "--against DIR", "--diff", "--replace URN", "--target URN", "--expect-no-changes", "--skip-preview",
                 "--clear-pending-creates", '-m "not e2e"', "-n 0", "--engine", "--cached"):
        flag_lines = [line for line in lines if line.startswith(f"      {flag} ")]
        assert flag_lines, flag  # a line of its own, saying what the flag does
        assert all(len(line.split(None, len(flag.split()))[-1]) > 10 for line in flag_lines), flag


@pytest.mark.parametrize("module, command", [("tools.plan", "plan"), ("tools.engine", "up"),
                                             ("benchmarks.plan_scaling", "bench"), ("lab up", "lab")])
def test_the_help_names_every_flag_the_tool_takes(module, command):
    """dev's header says the flags; the tools' argparse takes them: the two must not drift apart."""
    tool = subprocess.run([sys.executable, "-m", *module.split(), "--help"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert tool.returncode == 0, tool.stderr
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", tool.stdout)) - {"--help"}
    assert flags, tool.stdout
    ours = dev(command, "--help").stdout
    assert {f for f in flags if not re.search(rf"^      {f}\b", ours, re.M)} == set()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_each_command_s_help_needs_no_venv_nor_anything_else(tmp_path, command, flag):
    alone = lone_dev(tmp_path)
    done = dev(command, flag, cwd=alone)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "usage:" and re.match(rf"  \./dev [^ ]*\b{command}\b", lines[1]), lines
    assert all(line.startswith("      ") for line in lines[2:])  # then its flags only, a line each
    assert sorted(p.name for p in alone.iterdir()) == ["dev"]  # no venv/ made, nothing run


def test_no_command_or_an_unknown_one_prints_the_list_on_stderr():
    listed = dev("help").stdout
    for args, says in (((), "./dev: no command given\n"), (("apply",), "./dev: unknown command 'apply'\n"),
                       (("--quiet",), "./dev: no command given\n"),
                       (("--quiet", "apply"), "./dev: unknown command 'apply'\n")):
        done = dev(*args)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", says + listed), args


# -- venv/ -----------------------------------------------------------------------------------------
FAKE_PYTHON = """#!/bin/sh
# python3 as dev uses it: --version, -m venv DIR (a venv/ of stand-ins), and the job it runs
case "$1" in
  --version) echo "Python 3.99.0" ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && cp "$FAKE_PIP" "$3/bin/pip"
      else echo "job: $*"; fi ;;
esac
"""
FAKE_PIP = """#!/bin/sh
# pip install -r requirements.txt: its output's shape (pip 23), or a failure
echo "Looking in links: /opt/wheels"
echo "Collecting alpha==1 (from -r requirements.txt (line 1))"
echo "  Downloading alpha-1-py3-none-any.whl (10 kB)"
if [ -n "$FAKE_PIP_FAILS" ]; then
  echo "ERROR: No matching distribution found for beta==2" >&2; exit 1
fi
echo "Collecting beta==2 (from alpha==1->-r requirements.txt (line 1))"
echo "Installing collected packages: beta, alpha"
echo "Successfully installed alpha-1 beta-2"
"""
SETUP_LINES = ["setting up venv/ from requirements.txt (first run; about 30 s)",
               "  venv/ created (Python 3.99.0) in N s; fetching the packages (pip)",
               "  2 packages fetched in N s; installing them",
               "  installed in N s",
               "venv/ ready in N s"]


@pytest.fixture
def project(tmp_path):
    """A copy of `dev` and a requirements.txt, with a python whose venv/ and pip are stand-ins."""
    folder = lone_dev(tmp_path)
    (folder / "requirements.txt").write_text("alpha==1\n")
    for name, text in (("python", FAKE_PYTHON), ("pip", FAKE_PIP)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return folder


def in_project(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return dev(*args, cwd=project, PYTHON=str(project.parent / "python"), FAKE_PIP=str(project.parent / "pip"), **env)


def test_a_fresh_venv_says_each_phase_and_its_time_then_runs_the_job(project):
    first = in_project(project, "plan", "tutorial")
    assert first.returncode == 0, first.stderr
    assert seconds_as_n(first.stderr) == SETUP_LINES
    assert first.stdout == "job: -m tools.plan tutorial\n"
    again = in_project(project, "plan", "tutorial")
    assert (again.stderr, again.stdout) == ("", first.stdout)  # a venv/ that is up to date: not a word
    (project / "requirements.txt").write_text("alpha==1\nbeta==2\n")
    changed = in_project(project, "plan", "tutorial")
    assert seconds_as_n(changed.stderr)[0] == "setting up venv/ from requirements.txt (requirements.txt changed; about 30 s)"
    assert seconds_as_n(changed.stderr)[1:] == SETUP_LINES[1:]


@pytest.mark.parametrize("args, env, job", [
    (("--quiet", "plan", "tutorial"), {}, "job: -m tools.plan tutorial"),
    (("plan", "tutorial", "--quiet"), {}, "job: -m tools.plan tutorial --quiet"),  # the plan's own, passed on
    (("plan", "--quiet", "tutorial", "--out", "x"), {}, "job: -m tools.plan --quiet tutorial --out x"),
    (("plan", "tutorial"), {"NOVA_QUIET": "1"}, "job: -m tools.plan tutorial"),
    (("--quiet", "bench", "3"), {}, "job: -m benchmarks.plan_scaling 3"),
])
def test_quiet_sets_up_the_venv_without_a_word(project, args, env, job):
    done = in_project(project, *args, **env)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", job + "\n")
    assert (project / "venv" / ".requirements.sha256").is_file()


@pytest.mark.parametrize("quiet", [(), ("--quiet",)])
def test_a_failing_pip_shows_its_output_even_when_quiet(project, quiet):
    done = in_project(project, *quiet, "plan", "tutorial", FAKE_PIP_FAILS="1")
    assert done.returncode == 1 and done.stdout == ""  # the job never ran
    said = done.stderr.splitlines()
    assert "ERROR: No matching distribution found for beta==2" in said
    assert said[-1] == "./dev: pip could not install requirements.txt into venv/ (its output above)"
    assert not (project / "venv" / ".requirements.sha256").exists()  # the next run tries again
    assert any(line.startswith("setting up venv/") for line in said) == (not quiet)


# -- the toolchain ---------------------------------------------------------------------------------
FAKE_GO = """#!/bin/sh
# go as tools/toolchain.sh uses it, with go's own progress lines, building a stand-in CLI
case "$1" in
  env) echo go1.99.0 ;;
  get) echo "go: downloading github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION" >&2
       if [ -n "$FAKE_GO_FAILS" ]; then echo "go: module lookup disabled by GOPROXY=off" >&2; exit 1; fi ;;
  build) while [ "$1" != -o ]; do shift; done
         printf '#!/bin/sh\\necho v%s\\n' "$PULUMI_VERSION" > "$2" && chmod 755 "$2" ;;
  list) echo "$FAKE_SDK" ;;
esac
"""


@pytest.fixture
def toolchain_env(tmp_path):
    bin_dir, sdk = tmp_path / "bin", tmp_path / "sdk"
    bin_dir.mkdir()
    (sdk / "python" / "dist").mkdir(parents=True)
    (sdk / "python" / "dist" / "pulumi-resource-pulumi-python").write_text("#!/bin/sh\n")
    (bin_dir / "go").write_text(FAKE_GO)
    (bin_dir / "go").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "NOVA_TOOLCHAIN_DIR": str(tmp_path / "cache"),
            "FAKE_SDK": str(sdk), "PULUMI_VERSION": "3.299.0"}


def toolchain(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("NOVA_QUIET", "PULUMI_VERSION")}
    return subprocess.run([str(PROJECT_ROOT / "tools" / "toolchain.sh"), *args], capture_output=True, text=True,
                          timeout=60, env={**environment, **env})


def test_the_toolchain_build_says_each_phase_and_its_time_and_nothing_once_cached(toolchain_env):
    built = toolchain(**toolchain_env)
    assert built.returncode == 0, built.stderr
    where = built.stdout.strip()
    assert re.fullmatch(re.escape(toolchain_env["NOVA_TOOLCHAIN_DIR"]) + r"/pulumi-v3\.299\.0-\w+/bin", where)
    assert seconds_as_n(built.stderr) == [
        "toolchain: building the Pulumi CLI v3.299.0 from the Go module proxy (once; measured 31 s of modules and "
        "304 s of build on 2 cores)",
        "toolchain: fetching the modules ...",
        "go: downloading github.com/pulumi/pulumi/pkg/v3 v3.299.0",
        "toolchain: modules fetched in N s; building the CLI (the long part) ...",
        "toolchain: CLI built in N s",
        f"toolchain: Pulumi CLI v3.299.0 ready in N s: {where[:-len('/bin')]}"]
    cached = toolchain(**toolchain_env)
    assert (cached.returncode, cached.stdout, cached.stderr) == (0, built.stdout, "")
    assert toolchain("--cached", **toolchain_env).stdout == built.stdout


@pytest.mark.parametrize("quiet", [("--quiet",), ()])
def test_a_quiet_toolchain_build_says_nothing_but_its_failure(toolchain_env, quiet):
    env = toolchain_env if quiet else {**toolchain_env, "NOVA_QUIET": "1"}  # the flag, or dev's variable
    built = toolchain(*quiet, **env)
    assert (built.returncode, built.stderr) == (0, "") and built.stdout.endswith("/bin\n")
    shutil.rmtree(toolchain_env["NOVA_TOOLCHAIN_DIR"])
    failed = toolchain(*quiet, **env, FAKE_GO_FAILS="1")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.splitlines() == ["go: downloading github.com/pulumi/pulumi/pkg/v3 v3.299.0",
                                          "go: module lookup disabled by GOPROXY=off"]


def test_cached_never_builds(toolchain_env):
    done = toolchain("--cached", **toolchain_env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("toolchain: not built yet (it would be in ")
    assert not Path(toolchain_env["NOVA_TOOLCHAIN_DIR"]).exists()


def test_the_toolchain_refuses_an_argument_it_does_not_take(toolchain_env):
    done = toolchain("--force", **toolchain_env)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "toolchain: unknown argument '--force' (usage: ./dev toolchain [--quiet] [--cached])\n"
    assert not Path(toolchain_env["NOVA_TOOLCHAIN_DIR"]).exists()


# -- the test services -----------------------------------------------------------------------------
def services_step(*command: str, **env: str) -> subprocess.CompletedProcess:
    """tools/test-services.sh's `step` (what every install and start goes through), on COMMAND."""
    script = 'source tools/test-services.sh && step "starting Thing" "$@" || echo "exit $?"'
    environment = {k: v for k, v in os.environ.items() if k != "NOVA_QUIET"}
    return subprocess.run(["bash", "-c", script, "step", *command], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60, env={**environment, **env})


def test_a_service_step_says_it_starts_and_its_time_with_its_own_output_between():
    done = services_step("sh", "-c", "echo Starting Thing: thingd.")
    assert (done.returncode, done.stdout) == (0, "")
    assert seconds_as_n(done.stderr) == ["test services: starting Thing ...", "Starting Thing: thingd.",
                                         "test services: starting Thing: done in N s"]


def test_a_quiet_service_step_says_nothing_unless_it_fails():
    assert services_step("sh", "-c", "echo Starting Thing: thingd.", NOVA_QUIET="1").stderr == ""
    failed = services_step("sh", "-c", "echo Starting Thing: port 5672 in use; exit 3", NOVA_QUIET="1")
    assert failed.stdout == "exit 3\n"
    assert failed.stderr.splitlines() == ["Starting Thing: port 5672 in use", "test services: starting Thing failed (exit 3)"]


# -- the e2e test hosts' roots ---------------------------------------------------------------------
@pytest.fixture
def roots_built_here(tmp_path, monkeypatch):
    """lab/roots.py with its cache in tmp_path and a build that only makes the folder:
    what ensure() says around a build, not debootstrap (the e2e tests build the real ones)."""
    from lab import roots

    monkeypatch.setattr(roots, "ROOTS", tmp_path / "roots")
    monkeypatch.setattr(roots, "machine_mirrors", lambda: ("http://mirror.example/debian", None))
    monkeypatch.setattr(roots, "_build", lambda recipe, root, parent: (root / "etc").mkdir(parents=True))
    monkeypatch.delenv("NOVA_QUIET", raising=False)
    monkeypatch.delenv("NOVA_PROGRESS_TO", raising=False)  # set by ./dev test: tested below
    return roots


def test_each_root_built_says_so_with_its_time_and_a_cached_one_says_nothing(roots_built_here, capsys):
    roots = roots_built_here
    roots.ensure(roots.node_recipe(("nova-compute",)))
    said = capsys.readouterr().err.splitlines()
    assert [re.sub(r"\bin \d+ s$", "in N s", line) for line in said] == [
        f"[lab] building the base root (trixie) under {roots.ROOTS}/base (minutes, once per recipe)",
        "[lab] the base root built in N s",
        f"[lab] building the node root (trixie) under {roots.ROOTS}/node (minutes, once per recipe)",
        "[lab] the node root built in N s"]
    roots.ensure(roots.node_recipe(("nova-compute",)))
    assert capsys.readouterr().err == ""


def test_quiet_builds_the_roots_without_a_word(roots_built_here, capsys, monkeypatch):
    monkeypatch.setenv("NOVA_QUIET", "1")
    path, seconds = roots_built_here.ensure(roots_built_here.BASE)
    assert (path / "etc").is_dir() and set(seconds) == {"base"}
    assert capsys.readouterr().err == ""


def test_under_dev_test_the_labs_progress_reaches_the_runners_stderr_as_it_happens(roots_built_here, tmp_path,
                                                                                 capsys, monkeypatch):
    """pytest captures a worker's stderr; `./dev test` names its own (NOVA_PROGRESS_TO), which the
    lab appends to, so a root build, a slow phase and each slow engine step show while they run."""
    from lab.support.common import timed

    runner = tmp_path / "runner-stderr"
    runner.write_text("earlier output\n")
    monkeypatch.setenv("NOVA_PROGRESS_TO", str(runner))
    roots_built_here.ensure(roots_built_here.BASE)
    timings: dict = {}
    with timed(timings, "quick_s"):
        pass
    with monkeypatch.context() as clock:
        clock.setattr("time.monotonic", iter([100.0, 104.2]).__next__)
        with timed(timings, "services_keystone_s"):
            pass
    lines = [re.sub(r"\bin \d+ s$", "in N s", line) for line in runner.read_text().splitlines()]
    assert lines == ["earlier output",
                     f"[e2e] building the base root (trixie) under {roots_built_here.ROOTS}/base (minutes, once per recipe)",
                     "[e2e] the base root built in N s", "[e2e] services keystone: done in N s"]
    assert runner.read_text().endswith("services keystone: done in 4 s\n")
    assert capsys.readouterr().err == "" and timings["quick_s"] == 0.0
    monkeypatch.setenv("NOVA_PROGRESS_TO", str(tmp_path / "gone" / "stderr"))  # the runner has exited
    roots_built_here.ensure(roots_built_here.node_recipe(("nova-compute",)))
    assert "[lab] the node root built in" in capsys.readouterr().err
