"""What every part of the lab shares: the region, the error that stops a lab (and fails the e2e
test that needed it), and small helpers (running a command, private files, log tails, timings)."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

REGION = "RegionOne"


class PrereqError(RuntimeError):
    """Something the lab needs could not be set up (an e2e test that needs the lab fails on it, never skips)."""


PROGRESS_AFTER_S = 3  # a step that takes longer is said, with its time


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def progress(msg: str) -> None:
    """A line saying what a long step does or how long it took: left out under NOVA_QUIET=1
    (`./dev --quiet test`), which silences progress, never errors. Under `./dev test` it goes to
    the test runner's own stderr (NOVA_PROGRESS_TO), which pytest does not capture, so the lab's
    progress shows while it works; opened to append, so a log file is never written over."""
    if os.environ.get("NOVA_QUIET") == "1":
        return
    target = os.environ.get("NOVA_PROGRESS_TO")
    if target:
        try:
            with open(target, "a") as runner:
                runner.write(f"[e2e] {msg}\n")
            return
        except OSError:  # the runner is gone (a test run by hand): say it here instead
            pass
    log(msg)


def run(argv: Sequence[str], *, input: Optional[str] = None, env: Optional[Dict[str, str]] = None,
        check: bool = True, timeout: float = 600, what: str = "") -> subprocess.CompletedProcess:
    """Run a command; on failure raise PrereqError with its output (argv never holds a secret)."""
    try:
        proc = subprocess.run(list(argv), input=input, env=env, text=True, capture_output=True,
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise PrereqError(f"{what or argv[0]}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise PrereqError(f"{what or ' '.join(argv)}: timed out after {timeout}s") from None
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr)[-4000:]
        raise PrereqError(f"{what or ' '.join(argv)} failed (exit {proc.returncode}):\n{out}")
    return proc


def as_user(user: str, argv: Sequence[str]) -> List[str]:
    # runuser keeps the caller's environment (OS_BOOTSTRAP_PASSWORD) apart from HOME/SHELL/USER.
    return ["runuser", "-u", user, "--", *argv]


def new_password() -> str:
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)


def tail(path: Optional[Path], n: int = 40) -> str:
    if not path or not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-n:]
    return f"--- last lines of {path}:\n" + "\n".join(lines)


@contextmanager
def timed(timings: Dict[str, float], key: str) -> Iterator[None]:
    """Record the seconds the block took (one decimal) as timings[key] when it succeeds, and say it
    (progress) when it took more than a few seconds."""
    started = time.monotonic()
    yield
    timings[key] = round(time.monotonic() - started, 1)
    if timings[key] >= PROGRESS_AFTER_S:
        progress(f"{key.removesuffix('_s').replace('_', ' ')}: done in {timings[key]:.0f} s")
