"""Outages during `up`, through the real engine: a node's link cut while its package step runs,
and the services nova's steps use (MariaDB, RabbitMQ, keystone) restarted while those steps run.
Each `up` either completes or fails in bounded time with a message naming the step; the next `up`
converges (a further one changes nothing) and nova's rows are all still there. Each scenario
leaves the stack converged for the ones after it, and its times go to the session's summary."""
from __future__ import annotations

import json
import re
import time

import pytest

from components.scripts.packages import PACKAGE_LOCK
from tests.doubles.ssh import KEEPALIVE, LOST
from lab.support.common import progress
from lab.support.processes import port_open, wait_until
from tests.e2e.scenarios.faults.outages import (
    Background, hold_dpkg_lock, machine_side_link, node_lock_held, nova_rows, release_dpkg_lock, said, set_link,
)
from tools.plan import unwrap

pytestmark = pytest.mark.e2e

# The provider's bound on a silently cut link (tests/doubles/ssh.py KEEPALIVE, Go's defaults):
# the first probe after 15 s without a packet from the node, then 9 unanswered ones 15 s apart.
SILENCE_BOUND = KEEPALIVE["TCP_KEEPIDLE"] + KEEPALIVE["TCP_KEEPCNT"] * KEEPALIVE["TCP_KEEPINTVL"]
ECHO_EVERY = 5  # the package step says "waiting for the dpkg lock" this often: its last packet


def later_steps_on(rec, node, step: str) -> list[str]:
    """The node's own commands (run over SSH to it) that wait, directly or not, for `step`."""
    return sorted(r.name for r in rec.resources() if r.type == "command:remote:Command"
                  and unwrap(r.raw_inputs)["connection"]["host"] == str(node.address.ip) and rec.waits_for(r.name, step))


def converged(engine, label: str) -> None:
    """A further `up` (its preview first) finds nothing to do."""
    assert engine.apply(label=f"{label}: nothing left") == []
    assert engine.history[-1].steps == []


def test_a_node_cut_off_in_its_package_step_fails_it_within_the_keepalive_bound(deployment, lab, hypervisor):
    """The hypervisor's link is cut at the machine's end while its package step waits for dpkg's
    lock (held on the node, so the step is certainly running). The `up` fails about 150 s later
    (Go's keep-alive: nothing else bounds a running command), naming the step, and no later step
    of that node begins. With the link back and the lock released, the same `up` succeeds and the
    next one changes nothing."""
    engine, rec, _ = deployment
    packages = f"{hypervisor.name}-packages"
    later = later_steps_on(rec, hypervisor, packages)
    assert f"{hypervisor.name}-restart" in later, later
    link, before = machine_side_link(hypervisor), nova_rows(engine, lab.data)
    hold_dpkg_lock(hypervisor)
    cut = None
    try:
        run = Background(engine, replace=[packages, *later], label="lost link: up")
        run.step_under_way(packages, timeout=300)
        wait_until(lambda: node_lock_held(hypervisor, PACKAGE_LOCK) or not run.running, timeout=120, interval=0.5,
                   what=f"{packages} to hold {PACKAGE_LOCK} (then it waits for dpkg's lock)")
        assert run.running, run.error
        set_link(link, "down")
        cut = time.monotonic()
        failed = run.finish(timeout=SILENCE_BOUND + 300)
    finally:
        set_link(link, "up")
        release_dpkg_lock(hypervisor)
    said(lab, "lost_link_failed_after_s", failed - cut, "lost link: the up failed after the cut, in")
    assert run.error is not None, f"the up succeeded without its node: {run.ran}"
    message = str(run.error)
    assert packages in message and LOST in message, message[-3000:]
    assert SILENCE_BOUND - ECHO_EVERY - 10 <= failed - cut <= SILENCE_BOUND + 60
    assert not set(later) & set(engine.began), f"began on the cut-off node: {sorted(set(later) & set(engine.began))}"

    restored = time.monotonic()
    wait_until(lambda: port_open(str(hypervisor.address.ip), 22), what=f"{hypervisor.name}'s sshd again",
               timeout=60, interval=0.5)
    again = engine.apply(replace=[packages, *later], label="lost link: the next up")
    assert {packages, *later} <= set(again)
    converged(engine, "lost link")
    said(lab, "lost_link_recovered_s", time.monotonic() - restored, "lost link: converged after the link came back, in")
    assert nova_rows(engine, lab.data) == before


def outage(engine, lab, *, key: str, replace: list[str], step: str, restart, clue: str) -> None:
    """`up --replace` of `replace`; once `step` is under way the service restarts. The `up` either
    succeeds or fails naming a replaced step, with `clue` (a regex) in its message; then the same
    `up` again when it failed, then one that changes nothing; nova's rows are the same after."""
    before = nova_rows(engine, lab.data)
    run = Background(engine, replace=replace, label=f"{key}: up")
    run.step_under_way(step, timeout=600)
    began = time.monotonic()
    restart()
    said(lab, f"{key}_restart_s", time.monotonic() - began, f"{key}: restarted in")
    run.finish(timeout=900)
    if run.error is not None:
        message = str(run.error)
        assert any(name in message for name in replace) and re.search(clue, message), message[-3000:]
        progress(f"{key}: the up failed; its message ends: {message.strip()[-300:]}")
        assert set(replace) <= set(engine.apply(replace=replace, label=f"{key}: the next up"))
    else:
        assert set(replace) <= set(run.ran)
        progress(f"{key}: the up finished")
    converged(engine, key)
    said(lab, f"{key}_recovered_s", time.monotonic() - began, f"{key}: converged after the restart began, in")
    assert nova_rows(engine, lab.data) == before


def test_mariadb_restarted_during_the_database_sync_loses_no_nova_data(deployment, lab, controller):
    """The db host's MariaDB restarts while the controller's database sync (nova-manage) runs."""
    engine, _, _ = deployment

    def sync_under_way() -> None:  # the step's first nova-manage has started: it holds connections
        wait_until(lambda: controller.run(["pgrep", "-f", "nova-manage"], check=False).returncode == 0,
                   what="nova-manage to run on the controller", timeout=120, interval=0.2)
        lab.data.restart_mariadb()

    outage(engine, lab, key="mariadb", replace=["controller-db-sync"], step="controller-db-sync",
           restart=sync_under_way, clue=r"MySQL server|MariaDB|Connection was killed|DBConnectionError")


def test_rabbitmq_restarted_while_the_controller_restarts_leaves_nova_serving(deployment, lab, openstack):
    """RabbitMQ restarts while the controller's services restart: they reconnect and the verify
    step sees their heartbeats (or the run says which services it did not see)."""
    engine, _, _ = deployment
    outage(engine, lab, key="rabbitmq", replace=["controller-restart", "controller-verify"], step="controller-restart",
           restart=lab.data.restart_rabbitmq, clue=r"nova services not up|AMQP|rabbit")
    states = {(s["Binary"], s["State"]) for s in json.loads(openstack("compute", "service", "list", "-f", "json"))}
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= states


def test_keystone_restarted_while_the_controller_is_verified(deployment, lab):
    """keystone (the services host's uwsgi) restarts while the controller's verify step asks
    nova and keystone for the services, the catalog and the images."""
    engine, _, _ = deployment
    outage(engine, lab, key="keystone", replace=["controller-verify"], step="controller-verify",
           restart=lab.services.restart_keystone, clue=r"5000|[Ii]dentity|keystone|Unable to establish connection")
