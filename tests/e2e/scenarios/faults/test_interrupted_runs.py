"""Runs that do not end well, through `./dev` and the real engine on the deployed stack: the CLI
killed while a hypervisor's restart and verify run, a Ctrl-C there, and a second `up` racing the
first. Each ends with the stack converged; README's "When a run is interrupted" is what these do.

Each run applies a change that reaches every node (one nova option on and off: each node's
nova-conf, restart and verify), so there are steps in flight to interrupt; the module ends on
the stack's own config."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from components.scripts.files import temp_prefix
from tests.e2e.deployment import STACK, on_controller
from lab.stack import stack_values
from tests.e2e.instances import boot_and_delete, wait_for
from tests.e2e.scenarios.faults.dev_runs import (DevRun, descendants, dev, end_all, ids, keep, lock_files,
                                                  pending, running_on)
from tools.engine import recovery
from tools.plan import unwrap

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def toggled(deployment, record):
    """`toggled()`: the recording of the stack with nova's `debug` flipped from the last call's
    (the stack's own config first), set as the stack's config for `./dev` to apply. Afterwards the
    stack is applied with its own config again (the later scenarios start from it)."""
    engine, _, _ = deployment
    debug = [False]

    def flip():
        debug[0] = not debug[0]
        conf = stack_values(STACK)["novaConf"]
        rec = record(novaConf={**conf, "DEFAULT": {"debug": True}}) if debug[0] else record()
        engine._configure(rec)
        return rec
    yield flip
    end_all()
    engine.apply(record(), label="faults: the stack's own config again")


def scripts(rec, hypervisor, steps=("verify",)) -> list[str]:
    return [unwrap(rec.by_name(f"{hypervisor.name}-{step}").raw_inputs)["create"] for step in steps]


def verifying(rec, controller, hypervisors):
    """The first hypervisor whose verify step is seen running (its restart done just before),
    within a bound. The step runs on the controller: it asks nova whether the node's services
    report up."""
    return wait_for("a hypervisor's verify step to run", lambda: next(
        (h for h in hypervisors if running_on(controller, scripts(rec, h))), None), timeout=300, interval=0.05)


def assert_converged(engine) -> None:
    check = dev(engine, "preview", "--expect-no-changes")
    assert check.code == 0, check.stdout[-3000:] + check.stderr


def assert_services_up(openstack) -> None:
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert listing and all(s["State"] == "up" for s in listing), listing


def test_a_killed_run_leaves_the_lock_and_the_documented_recovery_converges_safely(
        deployment, toggled, lab, env, openstack, controller, hypervisors, hypervisor):
    """SIGKILL of the Pulumi CLI (and of the plugins it ran) while a hypervisor verifies its
    restart: `./dev` names the recovery; the stack stays locked, and the next `up` is refused
    naming the dead holder and `./dev cancel`; cancel, refresh --clear-pending-creates and up
    converge. Every step that ran twice did no harm: one cell1, each nova.conf its render with no
    temp file beside it, dpkg finished, every service up, an instance boots."""
    engine, _, _ = deployment
    rec = toggled()
    run = DevRun(engine, "up")
    cli = run.cli("up")
    node = verifying(rec, controller, hypervisors)
    plugins = descendants(cli)
    os.kill(cli, signal.SIGKILL)
    killed_at = time.monotonic()
    for pid in plugins:  # the real plugins notice the engine gone only at a 5-minute health check
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed = run.finish(timeout=120)
    lab.timings["kill_to_exit_s"] = round(time.monotonic() - killed_at, 1)
    assert killed.code == 1, killed.stderr
    assert "the Pulumi CLI was ended by signal 9" in killed.stderr and "./dev cancel e2e" in killed.stderr
    left = pending(engine)
    assert (f"{node.name}-verify", "creating") in left, left
    assert f"\n  {node.name}-verify (interrupted while creating)" in killed.stderr
    assert [json.loads(f.read_text())["pid"] for f in lock_files(engine)] == [cli]

    refused = dev(engine, "up")
    assert refused.code == 1
    assert "the stack is currently locked by 1 lock(s)" in refused.stderr
    assert f"e2e is locked by a run that is gone (pid {cli}," in refused.stderr
    assert "\n  ./dev cancel e2e\n  ./dev refresh e2e --clear-pending-creates\n  ./dev up e2e" in refused.stderr

    started = time.monotonic()
    recovered = [dev(engine, "cancel"), dev(engine, "refresh", "--clear-pending-creates"), dev(engine, "up")]
    lab.timings["killed_recovery_s"] = round(time.monotonic() - started, 1)
    keep("killed", [killed, refused, *recovered])
    for step in recovered:
        assert step.code == 0, step.command + "\n" + step.stdout[-3000:] + step.stderr
    cancel, refresh, up = recovered
    assert "has been canceled!" in cancel.stdout and not lock_files(engine)
    assert pending(engine) == [] and "pending" not in up.stderr
    assert_converged(engine)

    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells' nova").stdout
    assert [line.split("|")[1].strip() for line in cells.splitlines() if line.startswith("|")].count("cell1") == 1
    for prefix, node in (("controller", controller), *((h.name, h) for h in hypervisors)):
        rendered = unwrap(rec.by_name(f"{prefix}-nova-conf").raw_inputs)["stdin"]
        assert node.path("/etc/nova/nova.conf").read_text() == rendered
        leftover = temp_prefix("/etc/nova/nova.conf").rsplit("/", 1)[1]
        assert not [p.name for p in node.path("/etc/nova").iterdir() if p.name.startswith(leftover)]
        audit = node.run(["dpkg", "--audit"], check=False, what="dpkg --audit")
        assert (audit.returncode, audit.stdout) == (0, ""), f"{node.name}: {audit.stdout}"
    assert_services_up(openstack)
    boot_and_delete(lab, env, openstack, hypervisor, "e2e-after-kill")


def test_a_ctrl_c_lets_the_steps_under_way_finish_saves_the_state_and_the_next_up_converges(
        deployment, toggled, lab, openstack, controller, hypervisors):
    """Ctrl-C (SIGINT to `./dev up`'s process group, as a terminal sends it) while a hypervisor
    verifies its restart: `./dev` says what happens and waits; the engine lets the steps under way
    finish (or records them pending), saves the state and releases the lock. The restart that
    had finished is in the state; the next `./dev up` converges."""
    engine, _, _ = deployment
    rec = toggled()
    names = [f"{h.name}-{step}" for h in hypervisors for step in ("restart", "verify")]
    before = ids(engine, names)
    run = DevRun(engine, "up")
    run.cli("up")
    node = verifying(rec, controller, hypervisors)
    run.interrupt()
    interrupted_at = time.monotonic()
    interrupted = run.finish(timeout=600)
    lab.timings["interrupt_to_exit_s"] = round(time.monotonic() - interrupted_at, 1)
    assert interrupted.code == 130, interrupted.stderr
    assert recovery.INTERRUPTED in interrupted.stderr and "error: pulumi up e2e failed (interrupted)" in interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert lock_files(engine) == []
    after, left = ids(engine, names), dict(pending(engine))
    assert after[f"{node.name}-restart"] != before[f"{node.name}-restart"], "the finished restart is not in the state"
    verify = f"{node.name}-verify"
    assert after[verify] != before[verify] or left.get(verify) == "creating", (after, left)

    started = time.monotonic()
    up = dev(engine, "up")
    lab.timings["interrupted_recovery_s"] = round(time.monotonic() - started, 1)
    keep("interrupted", [interrupted, up])
    assert up.code == 0, up.stdout[-3000:] + up.stderr
    assert_converged(engine)
    assert_services_up(openstack)


def test_a_second_up_while_one_runs_is_refused_by_the_lock_naming_the_running_one(deployment, toggled, lab):
    """Two `./dev up` of one stack at once: the second is refused by the first's lock (while the
    first still runs), told to wait and not to cancel; the first completes."""
    engine, _, _ = deployment
    toggled()
    first = DevRun(engine, "up")
    cli = first.cli("up")
    wait_for("the first up to lock the stack", lambda: lock_files(engine), timeout=120, interval=0.05)
    second = dev(engine, "up", timeout=300)  # refused before its preview would read the state being written
    lab.timings["second_up_refused_s"] = round(second.seconds, 1)
    assert first.proc.poll() is None, "the first up ended before the second was refused: no race"
    done = first.finish(timeout=600)
    keep("race", [second, done])
    assert second.code == 1
    assert "the stack is currently locked by 1 lock(s)" in second.stderr
    assert f"e2e is locked by a run still going: pulumi pid {cli} on this machine" in second.stderr
    assert "do not `./dev cancel e2e` while it runs" in second.stderr
    assert done.code == 0, done.stdout[-3000:] + done.stderr
    assert lock_files(engine) == []
    assert_converged(engine)
