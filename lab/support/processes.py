"""Process bookkeeping: the lab's daemons run in their own sessions, their pids are kept in
the state, and they are stopped by pid (never by name). Also: waiting for a daemon to be ready."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from .common import PrereqError, log, tail
from .state import State


def pid_alive(pid: Optional[int], exe_hint: str = "") -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return exe_hint in cmdline if exe_hint else True


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def signal_quietly(pid: int, sig: int, group: bool = False) -> None:
    """Send `sig` to a process (or its process group); one that is already gone is no error."""
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_until(ready: Callable[[], bool], *, what: str, timeout: float, interval: float,
               pid: Optional[int] = None, logfile: Optional[Path] = None,
               last: Callable[[], str] = lambda: "") -> None:
    """Poll `ready()` every `interval` seconds. PrereqError (with the end of `logfile`) when the
    process `pid` exits first or `timeout` seconds pass; `last()` describes the last attempt."""
    deadline = time.monotonic() + timeout
    while not ready():
        if pid is not None and not pid_alive(pid):
            raise PrereqError(f"waiting for {what}: its process exited during start-up\n"
                              f"{tail(logfile)}")
        if time.monotonic() > deadline:
            detail = last()
            raise PrereqError(f"waiting for {what}: gave up after {timeout}s"
                              f"{f' ({detail})' if detail else ''}\n{tail(logfile)}")
        time.sleep(interval)


def start_daemon(state: State, name: str, argv: Sequence[str], exe_hint: str, *,
                 taken: Callable[[], bool] = lambda: False, resource: str = "") -> int:
    """Start a foreground daemon in its own session; its pid goes to state + <name>.pid.
    A daemon of ours that still runs is kept. Refuses to start when `taken()` says that
    `resource` (its port, its pid file) is held by a process this lab did not start."""
    pid = state.pids.get(name)
    if pid_alive(pid, exe_hint):
        return pid
    if taken():
        raise PrereqError(f"{resource} is already in use by a process this lab did not "
                          "start; stop it first")
    out = open(state.log_path(f"{name}.out"), "ab")
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            start_new_session=True, close_fds=True)
    out.close()
    state.pids[name] = proc.pid
    state.save()
    (state.dir / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def stop_daemon(state: State, name: str, exe_hint: str, timeout: float = 20) -> None:
    pid = state.pids.get(name)
    if pid and pid_alive(pid, exe_hint):
        log(f"stopping {name} (pid {pid})")
        signal_quietly(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if pid_alive(pid):
            signal_quietly(pid, signal.SIGKILL)
        # workers of a uwsgi master are in the session/process group we created for it
        signal_quietly(pid, signal.SIGKILL, group=True)
        _reap(pid)
    state.pids.pop(name, None)
    state.save()
    (state.dir / f"{name}.pid").unlink(missing_ok=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
