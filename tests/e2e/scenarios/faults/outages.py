"""What the outage scenarios (test_outages.py) do to the lab and look at: an `up` run in the
background, a node's link cut at the machine's end, dpkg's lock held on a node, and nova's rows
read from MariaDB (the restarts themselves are the db host's: lab/data.py)."""
from __future__ import annotations

import json
import threading
import time
from typing import Optional

from lab.support.common import progress, run
from lab.support.processes import wait_until
from lab import network
from lab.data import DataHost, sql_ident
from tests.e2e.pulumi_engine import EngineError

# A process of the node holding dpkg's frontend lock open, as an unattended apt run would: the
# package step waits for it (components/scripts/packages.py: `fuser` on the lock, every 5 s).
DPKG_HOLDER_PID = "/run/nova-e2e-dpkg-holder.pid"
DPKG_FRONTEND = "/var/lib/dpkg/lock-frontend"
# What nova keeps that an outage must not lose: rows of each of its databases, by id (instances
# soft-deleted by earlier scenarios are rows too).
NOVA_TABLES = ((0, "cell_mappings"), (0, "host_mappings"), (1, "services"), (1, "compute_nodes"),
               (1, "instances"), (2, "instances"))


class Background:
    """`engine.apply(**kwargs)` in a thread: what it ran, or the error it raised, once it ends."""

    def __init__(self, engine, **kwargs):
        self.engine, self.ran, self.error = engine, None, None
        self.ended: Optional[float] = None
        self._thread = threading.Thread(target=self._apply, kwargs=kwargs, daemon=True)
        self._thread.start()

    def _apply(self, **kwargs) -> None:
        try:
            self.ran = self.engine.apply(**kwargs)
        except EngineError as err:
            self.error = err
        finally:
            self.ended = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def step_under_way(self, name: str, timeout: float) -> None:
        """Until the engine has begun `name` (and not finished it): PrereqError after `timeout`,
        or at once when the apply ends first."""
        wait_until(lambda: name in self.engine.began or not self.running, what=f"the engine to begin {name}",
                   timeout=timeout, interval=0.2)
        assert self.running and name not in self.engine.done, (
            f"{name} was not under way (began {self.engine.began.get(name)}, done {self.engine.done.get(name)}, "
            f"apply ended: {self.error or self.ran})")

    def finish(self, timeout: float) -> float:
        """Wait for the apply to end; the machine's monotonic time it ended at."""
        self._thread.join(timeout)
        assert not self.running, f"the `up` did not end within {timeout:.0f} s"
        return self.ended


def machine_side_link(host) -> str:
    """The machine's end of the host's veth (the host's eth0 is the other end)."""
    ns = network.netns_name(host.name)
    peer = json.loads(run(["ip", "-n", ns, "-j", "link", "show", "eth0"], what="ip link (host)").stdout)[0]["link_index"]
    links = json.loads(run(["ip", "-j", "link", "show"], what="ip link (machine)").stdout)
    return next(link["ifname"] for link in links if link["ifindex"] == peer)


def set_link(name: str, state: str) -> None:
    """`up` or `down`: a link cut silently, as a pulled cable or a dead switch port (no RST,
    nothing answered: the connections over it learn of it only from their own timers)."""
    run(["ip", "link", "set", name, state], what=f"ip link set {name} {state}")


def hold_dpkg_lock(host) -> None:
    host.run(["start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", DPKG_HOLDER_PID,
              "--startas", "/bin/bash", "--", "-c", f"exec 8>>{DPKG_FRONTEND}; exec sleep 1800"], what="hold dpkg's lock")
    wait_until(lambda: host.run(["fuser", DPKG_FRONTEND], check=False).returncode == 0,
               what=f"{host.name}: {DPKG_FRONTEND} held (as the package step's fuser sees it)", timeout=30, interval=0.2)


def release_dpkg_lock(host) -> None:
    host.run(["start-stop-daemon", "--stop", "--pidfile", DPKG_HOLDER_PID, "--remove-pidfile", "--retry", "TERM/10/KILL/5"],
             check=False, what="release dpkg's lock")


def node_lock_held(host, lock: str) -> bool:
    return host.run(["flock", "--nonblock", lock, "true"], check=False).returncode == 1


def nova_rows(engine, data: DataHost) -> dict[str, list[str]]:
    """`db.table` -> its ids, for nova's databases as the stack reports them."""
    stack = next(r for r in engine.exported() if r["type"] == "pulumi:pulumi:Stack")
    databases = stack["outputs"]["databases"]  # api, main, cell0
    return {f"{databases[i]}.{table}": data.mysql(f"SELECT id FROM {sql_ident(databases[i])}.{sql_ident(table)} ORDER BY id;",
                                           what=f"rows of {table}").split()
            for i, table in NOVA_TABLES}


def said(lab, key: str, seconds: float, what: str) -> None:
    """A measured figure: in the lab's timings (the session's summary) and said as progress."""
    lab.timings[key] = round(seconds, 1)
    progress(f"{what}: {seconds:.1f} s")
