"""What `./dev` says after a run that did not end well, so that the user's next command is the
right one (README: "When a run is interrupted"). The engine's own messages name `pulumi cancel`
and `pulumi refresh`, which cannot tell a run that is gone from one still going, nor say which
flag clears what a killed run left.

- A locked stack: the lock names the CLI process that took it (user@host, pid). A holder on
  this machine that is no longer a running `pulumi` was killed: cancel, refresh, up. One still
  running must be waited for: cancelling its lock would let two runs change the same nodes.
- Operations an interrupted run left pending ("interrupted while creating"): the engine keeps
  them in the state, and warns at every `up`, until a refresh clears them.
- A CLI ended by a signal (kill -9, a lost session): the same recovery as a dead lock holder.
"""
from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

README = 'README: "When a run is interrupted"'
LOCKED = "the stack is currently locked by"
# pkg/backend/diy/lock.go: "\n  <lock file>: created by <user>@<host> (pid <pid>) at <RFC3339>"
HOLDER = re.compile(r"created by (?P<user>[^@\s]*)@(?P<host>\S*) \(pid (?P<pid>\d+)\) at (?P<at>\S+)")


@dataclass(frozen=True)
class Holder:
    user: str
    host: str
    pid: int
    at: str


def recovery_commands(stack: str) -> list[str]:
    """The recovery, in order: drop the dead run's lock, forget the creates it left pending
    (their steps run again), converge."""
    return [f"./dev cancel {stack}", f"./dev refresh {stack} --clear-pending-creates", f"./dev up {stack}"]


def lock_holders(text: str) -> list[Holder]:
    return [Holder(m["user"], m["host"], int(m["pid"]), m["at"]) for m in HOLDER.finditer(text)]


def pulumi_running(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether `pid` is a running `pulumi` on this machine (not a recycled pid of something else)."""
    try:
        return (proc / str(pid) / "comm").read_text().strip() == "pulumi"
    except OSError:
        return False


def held_locks(backend_url: str, project: str, stack: str) -> str:
    """The stack's locks in a file backend, in the engine's words ("" when none, or when the
    backend is not a directory here). Read before the engine starts: a run started while another
    writes the state may fail reading it ("failed to load checkpoint: EOF") before the engine
    ever looks at the lock."""
    if not backend_url.startswith("file://"):
        return ""
    where = Path(backend_url.removeprefix("file://").split("?")[0]).expanduser()
    found = []
    for path in sorted((where / ".pulumi" / "locks" / "organization" / project / stack).glob("*.json")):
        try:
            lock = json.loads(path.read_text())
        except (OSError, ValueError):  # being written, or removed as its run ends
            continue
        found.append(f"  {path}: created by {lock.get('username')}@{lock.get('hostname')} (pid {lock.get('pid')}) "
                     f"at {lock.get('timestamp')}")
    return f"{LOCKED} {len(found)} lock(s):\n" + "\n".join(found) if found else ""


def live_holders(text: str, hostname: Optional[str] = None, running: Callable[[int], bool] = pulumi_running) -> list[Holder]:
    here = hostname or socket.gethostname()
    return [h for h in lock_holders(text) if h.host == here and running(h.pid)]


def lock_advice(stack: str, text: str, hostname: Optional[str] = None,
                running: Callable[[int], bool] = pulumi_running) -> list[str]:
    """For a locked stack (the engine's error, or held_locks): whether to wait or to recover."""
    if LOCKED not in text:
        return []
    here = hostname or socket.gethostname()
    holders = lock_holders(text)
    alive = live_holders(text, here, running)
    elsewhere = [h for h in holders if h.host != here]
    if alive:
        return [f"{stack} is locked by a run still going: pulumi pid {', '.join(str(h.pid) for h in alive)} on this "
                f"machine, started {alive[0].at}. Wait for it to end; do not `./dev cancel {stack}` while it runs "
                "(two runs would change the same nodes at once)."]
    if elsewhere:
        return [f"{stack} is locked by a run on {', '.join(sorted({h.host for h in elsewhere}))} (pid "
                f"{', '.join(str(h.pid) for h in elsewhere)}): if it no longer runs there, recover with "
                f"{'; '.join(recovery_commands(stack))} ({README})."]
    gone = ", ".join(f"pid {h.pid}, started {h.at}" for h in holders) or "its process"
    return [f"{stack} is locked by a run that is gone ({gone}): it was killed or lost its session. Recover "
            f"({README}):", *(f"  {c}" for c in recovery_commands(stack))]


def pending_advice(stack: str, pending: Iterable[dict]) -> list[str]:
    """For the state's pending operations (a deployment's `pending_operations`)."""
    pending = list(pending)
    if not pending:
        return []
    listed = [f"  {op.get('resource', {}).get('urn', '?').rsplit('::', 1)[-1]} (interrupted while {op.get('type', '?')})"
              for op in pending]
    return [f"{stack}'s state holds {len(pending)} operation(s) an interrupted run left pending:", *listed,
            f"`./dev refresh {stack} --clear-pending-creates` clears them; the next `./dev up {stack}` runs "
            f"their steps again ({README})."]


def signal_advice(stack: str, code: Optional[int]) -> list[str]:
    """For a CLI that a signal ended (the Automation API reports -N): nothing it held was released."""
    if code is None or code >= 0:
        return []
    return [f"the Pulumi CLI was ended by signal {-code}: {stack} stays locked and the steps it was running are "
            f"left pending. Once no other run of {stack} is going, recover ({README}):",
            *(f"  {c}" for c in recovery_commands(stack))]


def failure_advice(stack: str, stderr: str, code: Optional[int], held: str, pending: Callable[[], list],
                   running: Callable[[int], bool] = pulumi_running) -> list[str]:
    """After a failed operation: the lock (the engine's error, or one another run took meanwhile),
    a signal, and the operations left pending unless they are a running run's steps in flight."""
    lock = stderr if LOCKED in stderr else held
    advice = signal_advice(stack, code) or lock_advice(stack, lock, running=running)
    if lock and live_holders(lock, running=running):
        return advice
    listed = pending_advice(stack, pending())
    return advice + (listed[:-1] if advice else listed)  # a recovery named already clears them


# The CLI's own note on a second Ctrl-C: it terminates at once, which "may lead to orphaned
# resources and other inconsistencies"; ./dev then says what it left (lock, pending steps).
INTERRUPTED = ("interrupted: the engine lets the steps under way finish and saves the state (a second Ctrl-C "
               "stops it at once, leaving them pending)")
