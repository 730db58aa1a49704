"""End to end, 2025.1: the program's own steps bring Debian 13's nova 31 up on a controller that
is a host of its own (tests/e2e/hosts/), never on the test machine.

The lab (stacks/Pulumi.e2e.yaml's addresses): the machine's MariaDB and RabbitMQ through the
bridge's gateway, keystone and glance in a services host, the controller in another (with the
program's own placement), reached over SSH on port 22 with its host key pinned in the stack
(`controller.hostKey`). The engine (tests/e2e/engine.py) applies what __main__.py registered,
then: services up, an authenticated API, the catalog, nova.conf byte for byte, no secret
anywhere, nova-status's upgrade check, a no-op rerun, a forced rerun, a one-option change, and
destroy. The phases' times are printed in the summary. What it does not prove: the Pulumi CLI
itself (engine.py stands in for it), hypervisors.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from engine import Engine
from harness.common import timed
from hosts.fixture import KEEP, running_lab
from hosts.report import report_lines
from hosts.stack import lab_plan, stack_values
from tools.plan import run_program, stack_config, unwrap

pytestmark = pytest.mark.e2e
STACK = "e2e"
PORT = 8774


def hostile(label: str, avoid: str = "") -> str:
    """ASCII (see config: nova's MySQL driver needs it) but full of what breaks shells, SQL,
    URLs and oslo.config: quotes, $, %, ;, spaces, backslash, @, :, /."""
    chars = "".join(c for c in "'\"$x %;\\@:/" if c not in avoid)
    return f"{label}{chars}{secrets.token_urlsafe(8)}"


@pytest.fixture(scope="module")
def lab(pytestconfig):
    with running_lab(lab_plan(STACK), pytestconfig, "2025.1 controller") as lab:
        yield lab


@pytest.fixture(scope="module")
def controller(lab):
    return lab.hosts[stack_values(STACK)["controller"]["name"]]


@pytest.fixture(scope="module")
def env(lab, controller):
    return lab.environment(controller.name)


class Secrets(dict):
    """The stack's secrets; never shown (pytest prints a failing fixture's arguments)."""

    def __repr__(self) -> str:
        return f"Secrets({', '.join(sorted(self))})"


@pytest.fixture(scope="module")
def stack_secrets(env) -> dict[str, str]:
    return Secrets({
        "dbAdminPassword": env.db_admin_password,
        "dbPassword": hostile("db", avoid="@%"),  # cells v2 cannot carry them (see config)
        "rabbitPassword": env.rabbit_password,
        "keystoneAdminPassword": env.admin_password,
        "novaPassword": hostile("nova"),
        "neutronPassword": hostile("neutron"),
        "placementPassword": hostile("placement"),  # the program deploys placement itself
        "placementDbPassword": hostile("placementdb"),
        "metadataSecret": hostile("meta"),
        "sshPrivateKey": env.ssh_private_key,
    })


def record(env, controller, stack_secrets, **overrides):
    """The program's registrations; the controller's host key pinned to the one it generated."""
    node = {**stack_values(STACK)["controller"], "hostKey": controller.host_key}
    config, keys = stack_config(STACK, secrets=stack_secrets, overrides={
        "dbAdminUser": env.db_admin_user, "controller": node, **overrides})
    return run_program(STACK, config, keys, preview=False)


@pytest.fixture(scope="module")
def deployment(lab, env, controller, stack_secrets, pytestconfig):
    others = nova_rpc_consumers()
    assert not others, (f"another nova serves RPC on RabbitMQ's vhost / ({', '.join(others)}): the program's "
                        "transport_url has no vhost of its own, so the two would answer each other's calls")
    rec = record(env, controller, stack_secrets)
    engine = Engine(env)
    try:
        with timed(lab.timings, "deploy_s"):
            first = engine.apply(rec, label="install")
        lab.timings["package_install_s"] = round(sum(
            r.seconds for name, r in engine.results.items() if name.endswith("-packages")), 1)
        started = time.monotonic()
        yield engine, rec, first
        lab.timings["assertions_s"] = round(time.monotonic() - started, 1)
    finally:
        try:
            if engine.state and not KEEP:  # `pulumi destroy` of what the tests left (nothing after the last)
                engine.destroy(label="destroy at teardown")
        finally:
            if engine.history:
                report_lines(pytestconfig, [engine.timing_table(0)] + [
                    f"e2e engine, {a.label}: {len(a.steps)} steps, wall {a.wall:.1f} s" for a in engine.history[1:]])


def nova_rpc_consumers() -> list[str]:
    """Consumers of nova's RPC queues on the machine's RabbitMQ (another nova running)."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_consumers", "-p", "/"], capture_output=True, text=True,
                         timeout=120).stdout
    queues = {line.split()[0] for line in out.splitlines()[1:] if line.split()}
    return sorted(q for q in queues if q in ("conductor", "scheduler", "compute"))


@pytest.fixture
def openstack(lab, env):
    """`openstack ARGS...` as admin, run in the services host (the machine needs no client);
    credentials in OS_* variables, never in argv."""
    def run(*args: str) -> str:
        proc = lab.services.host.run(["openstack", *args], env=env.openstack_env(base={}), check=False, timeout=180)
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout
    return run


def on_controller(env, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(env.ssh_command(command), capture_output=True, text=True, timeout=600)


def controller_steps(rec) -> list[str]:
    return [r.name for r in rec.resources() if r.type == "command:remote:Command" and r.name.startswith("controller-")]


def test_every_step_ran_in_dependency_order(deployment):
    engine, rec, first = deployment
    assert set(controller_steps(rec)) <= set(first)
    for before, after in [("controller-preflight", "controller-packages"), ("controller-packages", "controller-nova-conf"),
                          ("controller-nova-conf", "controller-db-sync"), ("nova-db-mysql", "controller-db-sync"),
                          ("controller-db-sync", "controller-restart"), ("controller-restart", "controller-verify"),
                          ("nova-identity-endpoint-public", "controller-verify"),
                          ("placement-db-mysql", "placement-db-sync"), ("placement-verify", "controller-db-sync")]:
        assert first.index(before) < first.index(after)
    assert "preflight ok" in engine.results["controller-preflight"].stdout
    assert "nova 31." in engine.results["controller-packages"].stdout
    assert "nova services up: nova-conductor nova-scheduler" in engine.results["controller-verify"].stdout


def test_nova_status_upgrade_check(deployment, env):
    proc = on_controller(env, "su -s /bin/sh -c 'nova-status upgrade check' nova")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Check: Cells v2" in proc.stdout and "Check: Placement API" in proc.stdout
    assert "Failure" not in proc.stdout


def test_compute_services_report_up_as_the_node(deployment, openstack, controller):
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    states = {(s["Binary"], s["Host"], s["State"]) for s in listing}
    assert {("nova-conductor", controller.name, "up"), ("nova-scheduler", controller.name, "up")} <= states


def test_the_programs_placement_answers_on_the_controller(deployment, env, openstack):
    with urllib.request.urlopen(f"http://{env.ssh_host}:8778/", timeout=60) as resp:
        assert json.loads(resp.read())["versions"][0]["status"] == "CURRENT"
    catalog = json.loads(openstack("catalog", "show", "placement", "-f", "json"))
    assert {e["url"] for e in catalog["endpoints"]} == {f"http://{env.ssh_host}:8778"}
    # keystonemiddleware in placement accepts a token (validated with placement's service user)
    req = urllib.request.Request(f"http://{env.ssh_host}:8778/resource_providers",
                                 headers={"X-Auth-Token": env.keystone().token, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert json.loads(resp.read())["resource_providers"] == []


def test_compute_api_answers_an_authenticated_request(deployment, env):
    url = f"http://{env.ssh_host}:{PORT}/v2.1/flavors"
    req = urllib.request.Request(url, headers={"X-Auth-Token": env.keystone().token})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        assert "flavors" in json.loads(resp.read())
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url, timeout=60)
    assert denied.value.code == 401


def test_catalog_has_the_compute_endpoints(deployment, openstack, env):
    catalog = json.loads(openstack("catalog", "show", "compute", "-f", "json"))
    assert catalog["type"] == "compute" and catalog["name"] == "nova"
    endpoints = {(e["interface"], e["url"], e["region"]) for e in catalog["endpoints"]}
    url = f"http://{env.ssh_host}:{PORT}/v2.1"
    assert endpoints == {(i, url, "RegionOne") for i in ("public", "internal", "admin")}


def test_nova_conf_on_disk_is_the_render(deployment, controller, env):
    _, rec, _ = deployment
    rendered = unwrap(rec.by_name("controller-nova-conf").raw_inputs)["stdin"]
    assert controller.path("/etc/nova/nova.conf").read_text() == rendered
    assert on_controller(env, "stat -c '%a %U %G' /etc/nova/nova.conf").stdout.split() == ["640", "root", "nova"]


def test_no_secret_in_process_lists_logs_or_command_text(deployment, stack_secrets, controller):
    engine, rec, _ = deployment
    secret_values = [v for k, v in stack_secrets.items() if k != "sshPrivateKey"]
    assert engine.ps_snapshots, "the process list was never captured"
    processes = "\n".join(engine.ps_snapshots)  # the machine's ps: every host's processes too
    files = list(controller.path("/var/log/nova").glob("*.log"))
    assert {"nova-conductor.log", "nova-scheduler.log", "nova-api.log"} <= {p.name for p in files}
    logs = "\n".join(p.read_text(errors="replace") for p in files)
    commands = "\n".join(unwrap(r.raw_inputs)["create"] for r in rec.resources() if r.type == "command:remote:Command")
    outputs = "\n".join(r.stdout + r.stderr for r in engine.results.values())
    for value in secret_values:
        assert value not in processes
        assert value not in logs
        assert value not in commands
        assert value not in outputs
        assert value.encode() not in engine.provider_output  # what the database's provider host printed


def test_rerun_with_nothing_changed_runs_nothing(deployment, env, controller, stack_secrets):
    engine, _, _ = deployment
    assert engine.apply(record(env, controller, stack_secrets), label="rerun, nothing changed") == []
    assert engine.history[-1].steps == []


def test_forced_rerun_succeeds_and_keeps_one_cell(deployment, env, controller, stack_secrets):
    engine, rec, _ = deployment
    again = engine.apply(record(env, controller, stack_secrets), force=True, label="rerun, every command replaced")
    assert set(again) == {r.name for r in rec.resources() if r.type == "command:remote:Command"}
    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells' nova").stdout
    assert [line.split("|")[1].strip() for line in cells.splitlines() if line.startswith("|")].count("cell1") == 1
    assert "unchanged: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout


def test_changed_option_runs_only_config_restart_and_verify(deployment, env, controller, stack_secrets, openstack):
    engine, _, _ = deployment
    changed = engine.apply(record(env, controller, stack_secrets, novaConf={"DEFAULT": {"debug": True}}),
                           label="rerun, one nova option changed")
    assert changed == ["controller-nova-conf", "controller-restart", "controller-verify"]
    # the conf is rewritten in place; restart and verify are replaced (their trigger changed), and
    # their originals then deleted (which runs nothing: they have no delete command)
    steps = [(s.name, s.op) for s in engine.history[-1].steps]
    assert steps[:3] == [("controller-nova-conf", "update"), ("controller-restart", "replace"),
                         ("controller-verify", "replace")]
    assert sorted(steps[3:]) == [("controller-restart", "delete-replaced"), ("controller-verify", "delete-replaced")]
    assert "written: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout
    assert "debug = true" in controller.path("/etc/nova/nova.conf").read_text()
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up")} <= {(s["Binary"], s["State"]) for s in listing}


def test_destroy_deletes_what_the_program_made(deployment, env):
    """`pulumi destroy`: keystone objects deleted, the database's accounts and (dbDropOnDelete)
    databases dropped through the provider host, placement's as nova's."""
    engine, rec, _ = deployment
    deleted = engine.destroy()
    assert {s.op for s in engine.history[-1].steps} <= {"delete"} and engine.state == {}
    assert set(deleted) >= {r.name for r in rec.resources() if r.custom}
    ks = env.keystone()
    for prefix in ("nova", "placement"):
        user = unwrap(rec.by_name(f"{prefix}-identity-user").raw_inputs)
        assert ks.find("users", name=user["name"], domain_id=user["domainId"]) is None
        service = unwrap(rec.by_name(f"{prefix}-identity-service").raw_inputs)
        assert ks.find("services", type=service["type"]) is None
    mysql = ["mysql", "--protocol=socket", "-uroot", "-N", "-B", "-e"]
    accounts = subprocess.run([*mysql, "SELECT User FROM mysql.user"], capture_output=True, text=True).stdout.split()
    schemas = subprocess.run([*mysql, "SHOW DATABASES"], capture_output=True, text=True).stdout.split()
    for prefix in ("nova", "placement"):
        db = unwrap(rec.by_name(f"{prefix}-db-mysql").raw_inputs)
        assert db["user"] not in accounts and not set(db["databases"]) & set(schemas)
