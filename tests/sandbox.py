"""A sandbox that runs the node scripts of components/scripts/ for real, on this machine.

What it fakes, and why: the scripts drive a node's own tools (su, nova-manage, install,
apt-get, fuser, debconf-set-selections, chronyc, timedatectl, systemctl, service, openstack,
nova, nova-status, curl, sudo, sleep), which a test machine does not have, must not run for
real (installing packages, restarting services) or would make slow (sleep). Each test builds a
script with the pure function under test and runs it with bash in a fresh temporary directory,
the tools it uses replaced by small fake commands ("shims") placed first on PATH:

- bin/      the shims. Every shim appends its argv to one calls log, then runs a few lines of
            bash (its "body") to act like the real tool: print a listing, fail, wait...
- state/    files the shims read and write ($STATE in a body), so a test can script what a tool
            answers (e.g. "fail on the 2nd call") and see what it was handed (e.g. stdin).
- calls.log every shim call, in order: a test asserts exactly what ran, with which arguments.

Everything a test does not shim is real: bash, coreutils (mktemp, chown, chmod, mv, stat...),
the file system, TCP sockets (`listener` is a real listening port, `free_port` one nothing
listens on), /proc/cpuinfo. The environment is minimal (PATH, HOME, LC_ALL=C) so the caller's
variables cannot leak into a script. Nothing of the project's own code is mocked: what is
asserted is what a node would do.

Kills: `run(..., kill_at=K)` runs the script in a session of its own and SIGKILLs it (its whole
process group, as a dropped SSH session's SIGHUP or an OOM kill would) just before the K-th
command its shell runs: a DEBUG trap counts them, so every line, and every command inside an
`if` or a loop, is a kill point (not those inside shell functions or pipelines' subshells,
which run in other processes). `assert_kill_safe` runs a step killed at each of its kill
points in turn, then again, and asserts the end state is the one an uninterrupted run leaves.
A shim can kill the script itself mid-command with the body `KILL_SCRIPT` (e.g. apt-get killed
during an install).

Used by the tests/test_scripts_*.py modules, which import the helpers they use from here; the
fixtures `box` and `listener` are registered for every test module by tests/conftest.py
(`pytest_plugins`), so they are never imported by name.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import pytest

BASH = shutil.which("bash") or "/bin/bash"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Result:
    rc: int
    out: str
    err: str


class Sandbox:
    """A temp directory with a bin/ of shims, a state/ directory the shims read, and one log
    of every shim call (the argv separated by the ASCII unit separator \\x1f)."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.log = root / "calls.log"
        self.bin.mkdir()
        self.state.mkdir()
        self.log.touch()

    def shim(self, name: str, body: str = "exit 0") -> Path:
        """A fake `name` that logs its argv, then runs `body` (bash). $STATE and $LOG are set."""
        path = self.bin / name
        path.write_text(
            "#!/bin/bash\n"
            f"STATE={self.state}\nLOG={self.log}\n"
            f"{{ printf '%s' {name}; printf '\\037%s' \"$@\"; printf '\\n'; }} >> \"$LOG\"\n"
            f"{body}\n"
        )
        path.chmod(0o755)
        return path

    def su_shim(self) -> None:
        """`su -s /bin/sh -c CMD nova` runs CMD with sh; any other use of su is an error."""
        self.shim("su", (
            'if [ "$#" -ne 5 ] || [ "$1" != -s ] || [ "$2" != /bin/sh ] || [ "$3" != -c ] || [ "$5" != nova ]; then\n'
            '  echo "su shim: unexpected use: $*" >&2; exit 125\n'
            "fi\n"
            'exec /bin/sh -c "$4"'
        ))

    def argvs(self, name: str | None = None) -> list[list[str]]:
        """Every logged call (of `name` only, without the name, when given), as argv lists."""
        calls = [line.split("\x1f") for line in self.log.read_text().splitlines()]
        if name is None:
            return calls
        return [argv[1:] for argv in calls if argv[0] == name]

    def calls(self, name: str | None = None) -> list[str]:
        """Like argvs, each call's words joined with spaces (for readable assertions)."""
        return [" ".join(argv) for argv in self.argvs(name)]

    def run(self, script: str, stdin: bytes = b"", path: str | None = None,
            kill_at: Optional[int] = None, killable: bool = False) -> Result:
        """Run `script` with bash. With `kill_at` (or `killable`), it runs in a session of its own
        (so that killing its process group cannot reach pytest), with its process group id in
        the sandbox's `script.pgid` (for KILL_SCRIPT); `kill_at=K` SIGKILLs it just before the
        K-th command of its shell, and leaves the number of commands it counted in `kill.count`."""
        env = {"PATH": path or f"{self.bin}:{SYSTEM_PATH}", "HOME": str(self.root), "LC_ALL": "C"}
        session = kill_at is not None or killable
        if session:
            preamble = f'echo "$$" > {self.root}/script.pgid\n'
            if kill_at is not None:
                if kill_at < 1:
                    raise ValueError("kill points count from 1")
                count = self.root / "kill.count"
                # builtins only (no fork); bash does not run the DEBUG trap inside a trap handler
                preamble += (f"echo 0 > {count}\n"
                             f"trap 'read -r __n < {count}; __n=$((__n + 1)); echo \"$__n\" > {count}; "
                             f"[ \"$__n\" -lt {int(kill_at)} ] || kill -9 -- -$$' DEBUG\n")
            script = preamble + script
        proc = subprocess.run([BASH, "-c", script], input=stdin, capture_output=True, env=env,
                              cwd=self.root, timeout=60, start_new_session=session)
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def kill_points(self) -> int:
        """The commands the last `kill_at` run counted (all of them, when it was not killed)."""
        return int((self.root / "kill.count").read_text())


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    # mkdtemp's names only use [a-z0-9_], which write_file_from_stdin's path check accepts
    # (pytest's tmp_path may contain brackets for parametrized tests).
    root = Path(tempfile.mkdtemp(prefix="scripts-"))
    try:
        yield Sandbox(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def box():
    with sandbox() as b:
        yield b


# A shim body that SIGKILLs the script running it (and itself) mid-command; only in a run with
# kill_at or killable=True (otherwise script.pgid is missing and the kill fails harmlessly).
# Builtins only, so that it also works as the body of a `cat` or `sleep` shim.
KILL_SCRIPT = 'read -r pgid < "$STATE/../script.pgid"; kill -9 -- "-$pgid"; exit 99'

SIGKILLED = -9  # subprocess's return code for a process killed by SIGKILL


def assert_kill_safe(prepare: Callable[[Sandbox], Union[str, tuple[str, bytes]]],
                     observe: Callable[[Sandbox], Any], reruns: int = 1) -> int:
    """A step is safe to run again after a SIGKILL anywhere: for each kill point K of the script
    (every command its shell runs), in a fresh sandbox set up by `prepare` (which returns the
    script, or the script and its stdin), run it killed before command K, then again `reruns`
    times uninterrupted; the rerun must succeed and `observe` (the end state: files, modes, the
    calls that matter) must equal what one uninterrupted run leaves. Returns the number of kill
    points, so a test can check that the step it meant was exercised."""
    def prepared(box: Sandbox) -> tuple[str, bytes]:
        got = prepare(box)
        return got if isinstance(got, tuple) else (got, b"")

    with sandbox() as ref:
        script, stdin = prepared(ref)
        done = ref.run(script, stdin, kill_at=10**9)
        assert done.rc == 0, f"the uninterrupted run failed: {done.err}"
        points = ref.kill_points()
        expected = observe(ref)
    assert points > 0
    for k in range(1, points + 1):
        with sandbox() as box:
            script, stdin = prepared(box)
            killed = box.run(script, stdin, kill_at=k)
            assert killed.rc == SIGKILLED, f"not killed before command {k}/{points}: rc {killed.rc}, {killed.err}"
            for _ in range(reruns):
                again = box.run(script, stdin)
                assert again.rc == 0, f"the rerun after a kill before command {k}/{points} failed: {again.err}"
            assert observe(box) == expected, f"killed before command {k}/{points}, the rerun left another state"
    return points


def tree(directory: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Every file under `directory` (relative name: content, mode, uid, gid), leftovers included:
    an end state to compare between sandboxes."""
    out = {}
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(directory))] = (p.read_bytes() if stat.S_ISREG(st.st_mode) else b"",
                                                  stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def free_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener():
    """A real TCP listener on 127.0.0.1; yields its port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


# Text that runs commands if any shell along the way evaluates it; the commands would leave
# pwned* markers in the sandbox (see assert_no_markers).
HOSTILE_TEXT = (
    "$(touch {m}/pwned1)\n"
    "`touch {m}/pwned2`\n"
    "'\"; touch {m}/pwned3; echo '\n"
    "x; rm -rf {m}/precious\n"
    "${{HOME}} $PATH \\n back\\slash\n"
    "no trailing newline"
)


def assert_no_markers(box: Sandbox) -> None:
    assert sorted(p.name for p in box.root.glob("pwned*")) == []
    assert not Path("/tmp/pwned").exists()
