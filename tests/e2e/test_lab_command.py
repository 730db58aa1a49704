"""`./dev lab`, as README tells a person to run it: `up` with one hypervisor, `status`, the
`openstack` client, the lab's guest booted on the provider network with the commands `up`
prints (its console showing its DHCP address and its id from the metadata service), a second
`up` that changes nothing, `./dev preview lab`
finding the lab's stack, and `down` leaving nothing. The commands run as typed, in the session's
engine environment (its PULUMI_HOME holds the provider doubles, or NOVA_E2E_PLUGINS' real
plugins; its file backend), without a passphrase: the lab makes its own. The times go to the
session's summary (README's "Your own cloud")."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from lab import cloud
from lab.lifecycle import Lab
from lab.node import processes_in
from tests.e2e.hosts.report import report_timings
from tests.e2e.instances import wait_for
from tests.e2e.scenarios.faults.dev_runs import _argv, descendants
from tools.plan.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e
TOP = cloud.Topology(hypervisors=1)
TRANSCRIPTS = PROJECT_ROOT / "out" / "e2e" / "lab"  # what `up` printed (out/ is not committed)


def dev_lab(env, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run([str(PROJECT_ROOT / "dev"), "lab", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    done.seconds = time.monotonic() - started
    return done


def finished(proc: subprocess.Popen, timeout: float, when: str) -> tuple[str, str]:
    """The command's output once it exits; past `timeout`, its process group is killed and the
    test fails with what it printed (never a command left running into the next test)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"./dev lab up still ran {timeout:.0f} s {when}; it printed:\n"
                             f"{out[-2000:]}{err[-3000:]}") from None


@pytest.fixture(scope="module")
def lab_env(engine, tmp_path_factory):
    """The session's engine environment without its passphrase (the lab makes its own)."""
    env = {k: v for k, v in engine.env.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    env.pop("NOVA_PROGRESS_TO", None)  # the command's progress is part of what it prints here
    return env


@pytest.fixture(scope="module", autouse=True)
def no_lab_before_or_after(lab_env):
    """The commands start with no lab up (what an earlier run left is taken down first), and a
    failed test's lab is taken down by the command a person would use."""
    Lab().down()
    yield
    if Lab().state.data.get("hosts"):
        dev_lab(lab_env, "down", timeout=600)


@pytest.fixture(scope="module")
def timings(pytestconfig):
    found: dict[str, float] = {}
    report_timings(pytestconfig, "./dev lab (1 hypervisor)", found)
    return found


def test_without_the_providers_up_stops_before_making_anything(lab_env, tmp_path):
    done = dev_lab({**lab_env, "PULUMI_HOME": str(tmp_path / "empty-home")}, "up", "--hypervisors", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pulumi plugin install resource command" in done.stderr and "(nothing was created)" in done.stderr
    assert not Lab().state.data.get("hosts")


def test_ctrl_c_while_the_hosts_come_up_leaves_what_down_removes(lab_env):
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) once the first
    host runs: exit 130 naming what to do next; the half-made lab is never taken over (no
    ready mark), and `./dev lab down` removes it all."""
    proc = subprocess.Popen([str(PROJECT_ROOT / "dev"), "lab", "up", "--hypervisors", "1"], cwd=PROJECT_ROOT,
                            env=lab_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    def a_host_runs() -> bool:
        try:
            return any(h.get("pid1") for h in Lab().state.data.get("hosts", {}).values())
        except json.JSONDecodeError:  # (read while the command rewrites it)
            return False
    try:
        wait_for("a host of the lab to run", a_host_runs, timeout=300, interval=0.2)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = finished(proc, 300, "after its Ctrl-C")
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert err.rstrip().endswith("interrupted: `./dev lab up` again resumes, `./dev lab down` removes what was made")
    lab = Lab()
    try:
        assert lab.state.data.get("hosts") and not lab.state.data.get("ready")
        assert not lab.resume(cloud.lab_plan(TOP))
    finally:
        lab.abandon()
    pidns = [h["pidns"] for h in Lab().state.data["hosts"].values() if h.get("pidns")]
    down = dev_lab(lab_env, "down", timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(processes_in(ns) == [] for ns in pidns) and not Lab().state.data.get("hosts")


def test_a_cloud_of_one_s_own(lab_env, timings, engine):
    # Ctrl-C once the engine's `up` runs (its first steps, the package installs, under way): the
    # steps finish, the state is saved, exit 130; the next `./dev lab up` takes over the hosts
    # and does the rest.
    started = time.monotonic()
    first = subprocess.Popen([str(PROJECT_ROOT / "dev"), "lab", "up", "--hypervisors", "1"], cwd=PROJECT_ROOT,
                             env=lab_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    def engine_up_runs() -> bool:
        if first.poll() is not None:  # (it ended before its engine `up`: say why, not wait on)
            out, err = first.communicate()
            raise AssertionError(f"./dev lab up exited {first.returncode} before its engine's `up`:\n"
                                 f"{out[-2000:]}{err[-3000:]}")
        return any(argv[:1] and Path(argv[0]).name == "pulumi" and "up" in argv[1:4]
                   for argv in map(_argv, descendants(first.pid)))
    try:
        wait_for("the engine's `pulumi up` of the lab stack", engine_up_runs, timeout=900, interval=0.5)
        time.sleep(20)
    finally:
        os.killpg(first.pid, signal.SIGINT)
    out, err = finished(first, 900, "after its Ctrl-C")
    assert first.returncode == 130, out[-3000:] + err[-3000:]
    assert "error: pulumi up lab failed (interrupted)" in err and "`./dev lab up`" in err, err[-3000:]
    timings["interrupted_up_s"] = round(time.monotonic() - started, 1)

    up = dev_lab(lab_env, "up", "--hypervisors", "1")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
    assert "the lab's hosts are up already" in up.stderr
    timings["resumed_up_s"] = round(up.seconds, 1)
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    (TRANSCRIPTS / "up.txt").write_text(f"$ ./dev lab up --hypervisors 1   # exit 0, {up.seconds:.1f} s (after a Ctrl-C)\n{up.stdout}")
    lines = up.stdout.splitlines()
    summary = next(line for line in lines if line.startswith("up lab: "))
    assert re.fullmatch(r"up lab: \d+ create, \d+ same", summary), summary  # (what the interrupted up did not do)
    parts = re.search(r"^\(the hosts (\d+) s, the program's up (\d+) s\)$", up.stdout, re.M)
    assert parts, up.stdout[-2000:]
    timings["hosts_s"], timings["program_up_s"] = float(parts[1]), float(parts[2])
    start = lines.index("Your cloud is up: nova 2025.1 on debian-13, 1 hypervisor.")
    assert lines[start + 1] == ("  hosts:      db-node 172.31.221.10, auth-node 172.31.221.11, image-node 172.31.221.12,"
                                " network-node 172.31.221.13, controller 172.31.221.20, compute1 172.31.221.21")
    assert cloud.OPENRC.stat().st_mode & 0o077 == 0
    for secret in (Lab().state.secret("keystone_admin"), Lab().state.secret("db_admin")):
        assert secret not in up.stdout + up.stderr

    status = dev_lab(lab_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert [line.split()[:3] for line in status.stdout.splitlines()] == [
        ["db-node", "172.31.221.10", "running"], ["auth-node", "172.31.221.11", "running"],
        ["image-node", "172.31.221.12", "running"], ["network-node", "172.31.221.13", "running"],
        ["controller", "172.31.221.20", "running"],
        ["compute1", "172.31.221.21", "running"]]
    assert "DOWN" not in status.stdout

    listed = dev_lab(lab_env, "openstack", "compute", "service", "list", "-f", "json", timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert {("nova-compute", "compute1", "up"), ("nova-conductor", "controller", "up"),
            ("nova-scheduler", "controller", "up")} <= {(s["Binary"], s["Host"], s["State"])
                                                         for s in json.loads(listed.stdout)}
    dashboard = next(line.split()[1] for line in lines if line.startswith("  dashboard: "))
    assert dashboard == "http://172.31.221.20/"  # (Debian's Horizon is served at the web root)
    with urllib.request.urlopen(f"{dashboard}auth/login/", timeout=60) as page:
        assert page.status == 200 and b"csrfmiddlewaretoken" in page.read()

    # the printed `try:` lines, as typed: a flavor, the lab's guest on the provider network, its
    # console (the address neutron's DHCP gave it, its id from nova's metadata service)
    tries = [line.split(":", 1)[1] if line.startswith("  try:") else line
             for line in lines[lines.index(next(l for l in lines if l.startswith("  try:"))):]]
    typed = [t.split("(")[0].split() for t in tries if t.strip().startswith("./dev lab openstack")]
    create = next(argv for argv in typed if argv[3:5] == ["server", "create"])
    flavor = next(argv for argv in typed if argv[3:5] == ["flavor", "create"])
    console = next(argv for argv in typed if argv[3:5] == ["console", "log"])
    assert dev_lab(lab_env, *flavor[2:], timeout=300).returncode == 0
    booted = dev_lab(lab_env, *create[2:], "-f", "json", timeout=600)
    assert booted.returncode == 0, booted.stdout[-2000:] + booted.stderr[-2000:]
    server = json.loads(booted.stdout)
    assert server["status"] == "ACTIVE"
    timings["first_active_s"] = round(booted.seconds, 1)
    started = time.monotonic()
    address = next(iter(server["addresses"].values()))[0] if isinstance(server["addresses"], dict) else \
        server["addresses"].split("=")[1].split(",")[0]

    def said() -> str:
        text = dev_lab(lab_env, *console[2:], timeout=120).stdout
        return text if f"nova-lab-guest: instance-id {server['id']}" in text else ""
    text = wait_for("the guest to say its instance id", said, timeout=240, interval=3)
    assert f"nova-lab-guest: address {address}/24 on eth0" in text
    timings["first_metadata_s"] = round(booted.seconds + time.monotonic() - started, 1)
    assert dev_lab(lab_env, "openstack", "server", "delete", "--wait", "first", timeout=300).returncode == 0
    ports = dev_lab(lab_env, "openstack", "port", "list", "--device-id", server["id"], "-f", "json", timeout=120)
    assert ports.returncode == 0 and json.loads(ports.stdout) == []

    again = dev_lab(lab_env, "up", "--hypervisors", "1")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    timings["second_up_s"] = round(again.seconds, 1)
    assert "the lab's hosts are up already" in again.stderr
    assert re.fullmatch(r"up lab: \d+ same", next(l for l in again.stdout.splitlines() if l.startswith("up lab: ")))

    preview = subprocess.run([str(PROJECT_ROOT / "dev"), "preview", "lab", "--expect-no-changes"], cwd=PROJECT_ROOT,
                             env=lab_env, capture_output=True, text=True, timeout=600)
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]

    pidns = [h["pidns"] for h in Lab().state.data["hosts"].values()]
    down = dev_lab(lab_env, "down", timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr
    timings["down_s"] = round(down.seconds, 1)
    assert all(processes_in(ns) == [] for ns in pidns)
    assert not cloud.LAB_PROJECT.exists() and not cloud.OPENRC.exists()
    gone = subprocess.run([str(PROJECT_ROOT / "dev"), "preview", "lab"], cwd=PROJECT_ROOT, env=lab_env,
                          capture_output=True, text=True, timeout=300)
    assert gone.returncode == 2, gone.stdout + gone.stderr
    assert gone.stderr.startswith("error: no stack 'lab': ") and "`./dev lab up`" in gone.stderr, gone.stderr
