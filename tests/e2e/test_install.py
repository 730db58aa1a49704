"""End to end: the program's own resources bring a real nova (Debian 12's Zed) up on this machine.

What it proves: the database provider, the keystone objects' inputs, and every controller step's
exact script and stdin, as the program builds them, install, configure, sync, start and verify a
working nova-api/conductor/scheduler against real MariaDB, RabbitMQ, keystone and placement over
real SSH; reruns are idempotent and a changed option re-runs only config, restart and verify.
What it does not: the Pulumi engine and providers themselves (tests/e2e/engine.py stands in for
them, with their rules), hypervisors (nova-compute needs libvirt, which this test does not start),
or Horizon. The controller's SSH host key is pinned (the harness sshd's), so every step verifies it.
At the end of the session the engine's timing table of the install is printed.
"""
from __future__ import annotations

import json
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine import Engine
from harness.processes import signal_quietly
from tools.plan import run_program, stack_config, unwrap
from tools.plan.stack import read_stack_file

pytestmark = pytest.mark.e2e

NOVA_SERVICES = ("nova-api", "nova-api-metadata", "nova-scheduler", "nova-conductor", "nova-novncproxy")
CONTROLLER = ["controller-preflight", "controller-packages", "controller-nova-conf", "controller-openrc",
              "controller-db-sync", "controller-restart", "controller-verify"]


def hostile(label: str, avoid: str = "") -> str:
    """ASCII (see config: nova's MySQL driver needs it) but full of what breaks shells, SQL,
    URLs and oslo.config: quotes, $, %, ;, spaces, backslash, @, :, /."""
    chars = "".join(c for c in "'\"$x %;\\@:/" if c not in avoid)
    return f"{label}{chars}{secrets.token_urlsafe(8)}"


@pytest.fixture(scope="module")
def stack_secrets(e2e_env) -> dict[str, str]:
    return {
        "dbAdminPassword": e2e_env.db_admin_password,
        "dbPassword": hostile("db", avoid="@%"),  # cells v2 cannot carry them (see config.py)
        "rabbitPassword": e2e_env.rabbit_password,
        "keystoneAdminPassword": e2e_env.admin_password,
        "novaPassword": hostile("nova"),
        "neutronPassword": hostile("neutron"),
        "placementPassword": e2e_env.placement_password,
        "metadataSecret": hostile("meta"),
        "sshPrivateKey": e2e_env.ssh_private_key,
    }


def record(e2e_env, stack_secrets, **overrides):
    controller = dict(read_stack_file("e2e")["config"]["openstack-nova:controller"])
    controller["hostKey"] = (Path(e2e_env.state_dir) / "ssh_host_ed25519_key.pub").read_text().strip()
    config, keys = stack_config("e2e", secrets=stack_secrets, overrides={
        "dbAdminUser": e2e_env.db_admin_user, "controller": controller, **overrides})
    return run_program("e2e", config, keys, preview=False)


def nova_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "nova-(api|conductor|scheduler|novncproxy)|/etc/nova/nova-api-uwsgi"],
                         capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture(scope="module")
def deployment(e2e_env, stack_secrets, e2e_report):
    before = nova_pids()
    rec = record(e2e_env, stack_secrets)
    engine = Engine(e2e_env)
    try:
        first = engine.apply(rec, label="install")
        yield engine, rec, first
    finally:
        for service in NOVA_SERVICES:
            subprocess.run(["service", service, "stop"], capture_output=True, timeout=120)
        for pid in nova_pids() - before:  # what the test started and a stop left behind
            signal_quietly(pid, signal.SIGKILL)
        try:
            if engine.state:  # `pulumi destroy` of what the tests left (nothing, when the last one passed)
                engine.destroy(label="destroy at teardown")
        finally:
            if engine.history:
                e2e_report.append(engine.timing_table(0))
            e2e_report.extend(f"e2e engine, {a.label}: {len(a.steps)} steps, wall {a.wall:.1f} s"
                              for a in engine.history[1:])


def test_every_step_ran_in_dependency_order(deployment):
    engine, rec, first = deployment
    steps = [name for name in first if name.startswith("controller-")]
    assert sorted(steps) == sorted(CONTROLLER)
    for before, after in [("controller-preflight", "controller-packages"), ("controller-packages", "controller-nova-conf"),
                          ("controller-nova-conf", "controller-db-sync"), ("nova-db-mysql", "controller-db-sync"),
                          ("controller-db-sync", "controller-restart"), ("controller-restart", "controller-verify"),
                          ("nova-identity-endpoint-public", "controller-verify")]:
        assert first.index(before) < first.index(after)
    assert "preflight ok" in engine.results["controller-preflight"].stdout
    assert "nova services up: nova-conductor nova-scheduler" in engine.results["controller-verify"].stdout


def test_compute_services_report_up(deployment, openstack):
    listing = openstack("compute", "service", "list", "-f", "json")
    states = {(s["Binary"], s["State"]) for s in json.loads(listing)}
    assert ("nova-conductor", "up") in states
    assert ("nova-scheduler", "up") in states


def test_compute_api_answers_an_authenticated_request(deployment, e2e_env):
    token = e2e_env.keystone().token
    req = urllib.request.Request("http://127.0.0.1:8774/v2.1/flavors", headers={"X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        assert "flavors" in json.loads(resp.read())
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen("http://127.0.0.1:8774/v2.1/flavors", timeout=30)
    assert denied.value.code == 401


def test_catalog_has_the_compute_endpoints(deployment, openstack):
    catalog = json.loads(openstack("catalog", "show", "compute", "-f", "json"))
    assert catalog["type"] == "compute" and catalog["name"] == "nova"
    endpoints = {(e["interface"], e["url"], e["region"]) for e in catalog["endpoints"]}
    assert endpoints == {(i, "http://127.0.0.1:8774/v2.1", "RegionOne") for i in ("public", "internal", "admin")}


def test_nova_conf_on_disk_is_the_render(deployment):
    engine, rec, _ = deployment
    rendered = unwrap(rec.by_name("controller-nova-conf").raw_inputs)["stdin"]
    on_disk = Path("/etc/nova/nova.conf")
    assert on_disk.read_text() == rendered
    st = on_disk.stat()
    assert oct(st.st_mode & 0o777) == "0o640"
    assert (st.st_uid, Path("/etc/nova/nova.conf").group()) == (0, "nova")


def test_no_secret_in_process_lists_logs_or_command_text(deployment, stack_secrets):
    engine, rec, _ = deployment
    secret_values = [v for k, v in stack_secrets.items() if k != "sshPrivateKey"]
    assert engine.ps_snapshots, "the process list was never captured"
    processes = "\n".join(engine.ps_snapshots)
    logs = "\n".join(p.read_text(errors="replace") for p in Path("/var/log/nova").glob("*.log"))
    commands = "\n".join(unwrap(r.raw_inputs)["create"] for r in rec.resources() if r.type == "command:remote:Command")
    outputs = "\n".join(r.stdout + r.stderr for r in engine.results.values())
    for value in secret_values:
        assert value not in processes
        assert value not in logs
        assert value not in commands
        assert value not in outputs
        assert value.encode() not in engine.provider_output  # what the database's provider host printed


def test_rerun_with_nothing_changed_runs_nothing(deployment, e2e_env, stack_secrets):
    engine, _, _ = deployment
    assert engine.apply(record(e2e_env, stack_secrets), label="rerun, nothing changed") == []
    assert engine.history[-1].steps == []


def test_forced_rerun_succeeds_and_keeps_one_cell(deployment, e2e_env, stack_secrets):
    engine, _, _ = deployment
    again = engine.apply(record(e2e_env, stack_secrets), force=True, label="rerun, every command replaced")
    assert set(again) == set(CONTROLLER)
    cells = subprocess.run(["su", "-s", "/bin/sh", "-c", "nova-manage cell_v2 list_cells", "nova"],
                           capture_output=True, text=True, timeout=300).stdout
    assert [line.split("|")[1].strip() for line in cells.splitlines() if line.startswith("|")].count("cell1") == 1
    assert "unchanged: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout


def test_changed_option_runs_only_config_restart_and_verify(deployment, e2e_env, stack_secrets, openstack):
    engine, _, _ = deployment
    changed = engine.apply(record(e2e_env, stack_secrets, novaConf={"DEFAULT": {"debug": True}}),
                           label="rerun, one nova option changed")
    assert changed == ["controller-nova-conf", "controller-restart", "controller-verify"]
    # the conf is rewritten in place; restart and verify are replaced (their trigger changed), and
    # their originals then deleted, dependents first, which runs nothing (no delete command)
    assert [(s.name, s.op) for s in engine.history[-1].steps] == [
        ("controller-nova-conf", "update"), ("controller-restart", "replace"), ("controller-verify", "replace"),
        ("controller-verify", "delete-replaced"), ("controller-restart", "delete-replaced")]
    assert "written: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout
    assert "debug = true" in Path("/etc/nova/nova.conf").read_text()
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up")} <= {(s["Binary"], s["State"]) for s in listing}


def test_destroy_deletes_what_the_program_made(deployment, e2e_env):
    """`pulumi destroy`: keystone objects deleted, the database's accounts and (dbDropOnDelete)
    databases dropped through the provider host; the controller's steps have no delete command."""
    engine, rec, _ = deployment
    deleted = engine.destroy()
    assert {s.op for s in engine.history[-1].steps} == {"delete"} and engine.state == {}
    assert set(deleted) >= {r.name for r in rec.resources() if r.custom}
    ks = e2e_env.keystone()
    user = unwrap(rec.by_name("nova-identity-user").raw_inputs)
    assert ks.find("users", name=user["name"], domain_id=user["domainId"]) is None
    service = unwrap(rec.by_name("nova-identity-service").raw_inputs)
    assert ks.find("services", type=service["type"]) is None
    db = unwrap(rec.by_name("nova-db-mysql").raw_inputs)
    mysql = ["mysql", "--protocol=socket", "-uroot", "-N", "-B", "-e"]
    accounts = subprocess.run([*mysql, "SELECT User FROM mysql.user"], capture_output=True, text=True).stdout
    schemas = subprocess.run([*mysql, "SHOW DATABASES"], capture_output=True, text=True).stdout
    assert db["user"] not in accounts.split() and not set(db["databases"]) & set(schemas.split())
