"""`./dev` runs of the deployed stack, as an operator types them, for the fault scenarios: the
same command line plus `--work-dir` (the tests keep the stack's config in a copy of their own,
tests/e2e/pulumi_engine.py), in the session's engine environment (its PULUMI_HOME with the
providers, its backend). A started run is a session of its own, as a terminal's foreground job:
a Ctrl-C is a SIGINT to its process group. And what the tests look at while it runs: the CLI it
started and that CLI's plugins, a step's script running on a node, the stack's lock files."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab.node import processes_in
from tests.e2e.instances import wait_for
from tools.engine.workspace import PROJECT
from tools.plan import PROJECT_ROOT

TRANSCRIPTS = PROJECT_ROOT / "out" / "e2e" / "faults"  # what each run printed (out/ is not committed)


@dataclass
class Finished:
    command: str  # as README writes it (without --work-dir)
    code: int
    stdout: str
    stderr: str
    seconds: float

    def transcript(self) -> str:
        return f"$ {self.command}   # exit {self.code}, {self.seconds:.1f} s\n{self.stdout}{self.stderr}"


class DevRun:
    """`./dev OPERATION STACK [OPTIONS]` started, not waited for."""
    unfinished: list["DevRun"] = []  # a failed test's runs, which end_all() ends

    def __init__(self, engine, operation: str, *options: str):
        self.command = " ".join(["./dev", operation, engine.stack_name, *options])
        argv = [str(PROJECT_ROOT / "dev"), operation, engine.stack_name, *options, "--work-dir", str(engine.work)]
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**engine.engine.env, "PYTHONPATH": str(PROJECT_ROOT)},
                                     stdout=self._out, stderr=self._err, text=True, start_new_session=True)
        DevRun.unfinished.append(self)

    def cli(self, operation: str, timeout: float = 300) -> int:
        """The pid of the Pulumi CLI this run started for `operation` (`up` comes after its preview)."""
        def found():
            return next((pid for pid in children(self.proc.pid) if _argv(pid)[:1] and
                         Path(_argv(pid)[0]).name == "pulumi" and operation in _argv(pid)[1:4]), None)
        return wait_for(f"`{self.command}` to start `pulumi {operation}`", found, timeout=timeout, interval=0.05)

    def interrupt(self) -> None:
        """Ctrl-C: the terminal signals the foreground job's whole process group."""
        os.killpg(self.proc.pid, 2)

    def finish(self, timeout: float = 900) -> Finished:
        self.proc.wait(timeout=timeout)
        DevRun.unfinished.remove(self)
        seconds = time.monotonic() - self.started
        self._out.seek(0)
        self._err.seek(0)
        return Finished(self.command, self.proc.returncode, self._out.read(), self._err.read(), seconds)


def end_all(timeout: float = 600) -> None:
    """Ctrl-C to every run a failed test left going, and wait: the stack must be free for what follows."""
    for run in list(DevRun.unfinished):
        if run.proc.poll() is None:
            run.interrupt()
        run.finish(timeout)


def dev(engine, operation: str, *options: str, timeout: float = 900) -> Finished:
    """`./dev OPERATION STACK [OPTIONS]`, waited for."""
    return DevRun(engine, operation, *options).finish(timeout)


def keep(name: str, runs: list[Finished]) -> None:
    """The runs' transcripts in out/e2e/faults/NAME.txt (what README quotes)."""
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    (TRANSCRIPTS / f"{name}.txt").write_text("\n".join(r.transcript() for r in runs))


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # "pid (comm) state ppid ...": comm may hold spaces, not ")"
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def children(pid: int) -> list[int]:
    return [child for child, parent in _parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    parents, found, todo = _parents(), [], [pid]
    while todo:
        kids = [child for child, parent in parents.items() if parent == todo[-1]]
        todo.pop()
        found += kids
        todo += kids
    return found


def running_on(host, scripts: list[str]) -> bool:
    """Whether one of these scripts (a step's `create`, as sshd hands it to the shell) runs on the host."""
    pidns = os.readlink(f"/proc/{host.pid}/ns/pid")
    wanted = [s.encode() for s in scripts]
    for pid in processes_in(pidns):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if any(script in cmdline for script in wanted):
            return True
    return False


def lock_files(engine) -> list[Path]:
    """The stack's locks in the file backend (pkg/backend/diy/lock.go: one per running update)."""
    return sorted((engine.backend / ".pulumi" / "locks" / "organization" / PROJECT / engine.stack_name).glob("*.json"))


def pending(engine) -> list[tuple[str, str]]:
    """The state's pending operations: (step name, what it was doing)."""
    deployment = engine._select().export_stack().deployment
    return sorted((op["resource"]["urn"].rsplit("::", 1)[-1], op["type"]) for op in deployment.get("pending_operations") or [])


def ids(engine, names: list[str]) -> dict[str, str]:
    """The state's ids of these steps (a replaced command gets a new one)."""
    return {r["urn"].rsplit("::", 1)[-1]: r.get("id", "") for r in engine.exported()
            if r["urn"].rsplit("::", 1)[-1] in names and not r.get("delete")}
