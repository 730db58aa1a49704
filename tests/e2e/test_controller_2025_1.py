"""End to end, 2025.1: the program's own steps bring Debian 13's nova 31 up on a controller that
is a host of its own (tests/e2e/hosts/), never on the test machine.

The lab (stacks/Pulumi.e2e.yaml's addresses): the machine's MariaDB and RabbitMQ through the
bridge's gateway, keystone and glance in a services host, the controller in another (with the
program's own placement), reached over SSH on port 22 with its host key pinned in the stack
(`controller.hostKey`). The real Pulumi engine (the CLI, the program through the Automation API:
tests/e2e/pulumi_engine.py) previews and applies the stack, its config and secrets set through
the Automation API, with the provider doubles (tests/doubles) or NOVA_E2E_PLUGINS' real plugins;
then: services up, an authenticated API, the catalog, nova.conf byte for byte, no secret
anywhere, nova-status's upgrade check, a no-op rerun, a forced rerun, a one-option change, and
destroy. Two hypervisors: an instance moves between them (live block migration, cold
migration, resize), and one is drained before it leaves the stack. The phases' times are printed
in the summary.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace
from typing import Optional

import pytest

from pulumi_engine import StackEngine
from components import scripts
from harness.common import timed
from hosts.fixture import KEEP
from hosts.report import report_lines
from tests.engine_plans import disagreements, offline_plan
from hosts.stack import stack_values
from tools.plan import PROJECT_ROOT, run_program, stack_config, unwrap

pytestmark = pytest.mark.e2e
STACK = "e2e"
LAB_LABEL = "2025.1 controller"
PORT = 8774
# What the test adds to the stack (with the host keys it pins): instances move between the hypervisors.
MIGRATION = {"enabled": True, "scheme": "ssh"}


def hostile(label: str, avoid: str = "") -> str:
    """ASCII (see config: nova's MySQL driver needs it) but full of what breaks shells, SQL,
    URLs and oslo.config: quotes, $, %, ;, spaces, backslash, @, :, /."""
    chars = "".join(c for c in "'\"$x %;\\@:/" if c not in avoid)
    return f"{label}{chars}{secrets.token_urlsafe(8)}"


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
        "novaSshPrivateKey": nova_ssh_key(),  # the hypervisors' nova user's, for migration
    })


def nova_ssh_key() -> str:
    """A fresh ed25519 key in OpenSSH format, as `ssh-keygen -t ed25519 -N ''` writes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                      serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def hypervisors(lab):
    """Every hypervisor's host, in the stack's order."""
    return [lab.hosts[h["name"]] for h in stack_values(STACK)["hypervisors"]]


@pytest.fixture(scope="module")
def hypervisor(hypervisors):
    """The first hypervisor (the one instances boot on; the second is where they move to)."""
    return hypervisors[0]


@pytest.fixture(scope="module")
def other_hypervisor(hypervisors):
    assert len(hypervisors) >= 2, "the e2e stack has two hypervisors (migration moves instances between them)"
    return hypervisors[1]


@pytest.fixture(scope="module")
def detected_virt_type(hypervisors):
    """What the program's own detection script prints on the hypervisor hosts (the same lab
    hardware: one answer): under the mock runtime the program reads this step's stdout from
    here, as an apply reads the real one."""
    found = {h.run(["bash", "-c", scripts.detect_virt_type()], what="detect virt type").stdout.strip() for h in hypervisors}
    assert len(found) == 1, f"the hypervisors detect different virt types: {found}"
    return found.pop()


@pytest.fixture(scope="module")
def record(lab, env, controller, stack_secrets, detected_virt_type):
    """`record(**overrides)`: the program's registrations, each node's host key pinned to the
    one its host generated."""
    values = stack_values(STACK)

    def registrations(**overrides):
        pinned = {"controller": {**values["controller"], "hostKey": controller.host_key},
                  "hypervisors": [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in values["hypervisors"]]}
        config, keys = stack_config(STACK, secrets=stack_secrets, overrides={
            "dbAdminUser": env.db_admin_user, "migration": MIGRATION, **pinned, **overrides})
        rec = run_program(STACK, config, keys, preview=False, apply_stdout={"detect-virt": detected_virt_type})
        rec.applied_config = SimpleNamespace(values=config, secret_keys=set(keys))  # what the engine is given
        return rec
    return registrations


@pytest.fixture(scope="module")
def deployment(lab, env, record, stack_secrets, pytestconfig, engine, tmp_path_factory):
    others = nova_rpc_consumers()
    assert not others, (f"another nova serves RPC on RabbitMQ's vhost / ({', '.join(others)}): the program's "
                        "transport_url has no vhost of its own, so the two would answer each other's calls")
    # neutron's keystone user, as its own chapter would make it: nova's [neutron] credentials
    lab.services.network_user("neutron", stack_secrets["neutronPassword"])
    rec = record()
    pulumi = engine
    engine = StackEngine(STACK, pulumi, tmp_path_factory.mktemp("e2e-project"))
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
                    f"engine, {a.label}: {len(a.steps)} steps, wall {a.wall:.1f} s" for a in engine.history[1:]])


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


def assert_planned_as_offline(engine) -> None:
    """The engine's preview of the last apply planned, resource by resource, what the offline
    review (`./dev plan` against the state the previous apply's config left) says: the same
    operations, types, parents and dependencies (tests/engine_plans.py)."""
    applied = engine.history[-1]
    assert disagreements(applied.planned, offline_plan(applied.rec, engine.last_rec())) == []


def test_the_engine_planned_the_install_as_the_offline_plan_says(deployment):
    engine, rec, _ = deployment
    assert_planned_as_offline(engine)
    assert {p.op for p in engine.history[0].planned.values()} == {"create"}
    assert len(engine.history[0].planned) == len(rec.resources())


def test_every_step_ran_in_dependency_order(deployment):
    engine, rec, first = deployment
    assert set(controller_steps(rec)) <= set(first)
    for before, after in [("controller-preflight", "controller-packages"), ("controller-packages", "controller-nova-conf"),
                          ("controller-nova-conf", "controller-db-sync"), ("nova-db-mysql", "controller-db-sync"),
                          ("controller-db-sync", "controller-restart"), ("controller-restart", "controller-verify"),
                          ("nova-identity-endpoint-public", "controller-verify"),
                          ("placement-db-mysql", "placement-db-sync"), ("placement-verify", "controller-db-sync"),
                          # the hypervisor after the controller's restart; discovery after its verify
                          ("controller-restart", "e2e-compute1-restart"), ("e2e-compute1-detect-virt", "e2e-compute1-nova-conf"),
                          ("e2e-compute1-verify", "cells-discover-hosts"), ("controller-db-sync", "cells-discover-hosts")]:
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


def test_the_hypervisors_are_up_with_the_detected_virt_type(deployment, openstack, hypervisors, detected_virt_type):
    """The program's detection chose kvm where the machine lends /dev/kvm (qemu otherwise);
    nova-compute.conf, which Debian's nova-compute reads after nova.conf, carries it; host
    discovery mapped both nodes: both hypervisors are listed up."""
    engine, _, _ = deployment
    assert detected_virt_type == ("kvm" if os.path.exists("/dev/kvm") else "qemu")
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    for hypervisor in hypervisors:
        assert engine.results[f"{hypervisor.name}-detect-virt"].stdout == detected_virt_type
        assert f"virt_type = {detected_virt_type}\n" in hypervisor.path("/etc/nova/nova-compute.conf").read_text()
        assert ("nova-compute", hypervisor.name, "up") in {(s["Binary"], s["Host"], s["State"]) for s in listing}
    listed = json.loads(openstack("hypervisor", "list", "-f", "json"))
    assert sorted((h["Hypervisor Hostname"], h["State"]) for h in listed) == sorted((h.name, "up") for h in hypervisors)
    assert "cells-discover-hosts" in engine.results


# A disk the test makes itself: 1 MiB of raw image with no boot signature (nova's format
# inspector refuses an MBR whose partition table is empty: "Image does not pass safety check").
# The guest's firmware finds nothing to boot and waits: its domain runs all the same.
DISK = b"openstack-nova e2e disk\n".ljust(1024 * 1024, b"\0")
# `networks: none` needs 2.37, a cold migration to a named host 2.56; the openstack client of
# Debian 13 accepts no microversion without novaclient, so the test speaks the compute API itself.
COMPUTE_MICROVERSION = "compute 2.37"
MIGRATE_MICROVERSION = "compute 2.56"


def wait_for(what: str, check, timeout: float = 240, interval: float = 3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(interval)


def compute(env, method: str, path: str, body=None, version: str = COMPUTE_MICROVERSION):
    """The compute API as admin, at a microversion (2.37 unless told); None for a 404."""
    req = urllib.request.Request(f"http://{env.ssh_host}:{PORT}/v2.1{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Auth-Token": env.keystone().token, "Content-Type": "application/json",
                                          "Accept": "application/json", "OpenStack-API-Version": version})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise AssertionError(f"compute API {method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None
    return json.loads(raw) if raw else {}


class Instance:
    """A server of the test's own: glance holds a raw image the test made; a flavor; a server
    without networks (nova then allocates none), booted on a named hypervisor. Seen through the
    listings (a server's own view asks neutron for its security groups, and there is no neutron;
    the libvirt domain's UUID is the server's)."""

    def __init__(self, lab, env, openstack, name: str):
        self.env, self.openstack, self.name = env, openstack, name
        lab.services.host.path(f"/root/{name}.img").write_bytes(DISK)
        # (os_shutdown_timeout: a cold migration or resize first asks the guest to shut down and
        # waits for it, 60 s by default; this one has no OS to answer)
        self.image = json.loads(openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                                          "--property", "os_shutdown_timeout=5", "--file", f"/root/{name}.img",
                                          "--public", name, "-f", "json"))
        self.flavor = json.loads(openstack("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", name,
                                           "-f", "json"))
        self.id = ""
        self.flavors = [self.flavor]

    def boot(self, hypervisor) -> float:
        """ACTIVE on `hypervisor` (an admin's availability zone `nova:<host>`) within a bound, its
        domain running there; returns the seconds to ACTIVE."""
        started = time.monotonic()
        self.id = compute(self.env, "POST", "/servers", {"server": {
            "name": self.name, "imageRef": self.image["id"], "flavorRef": self.flavor["id"], "networks": "none",
            "availability_zone": f"nova:{hypervisor.name}"}})["server"]["id"]
        self.wait("ACTIVE", hypervisor)
        seconds = time.monotonic() - started
        self.assert_on(hypervisor)
        return seconds

    def status(self) -> Optional[str]:
        for status in ("ACTIVE", "VERIFY_RESIZE", "ERROR", "MIGRATING", "RESIZE", "SHUTOFF"):
            if self.id in {x["id"] for x in compute(self.env, "GET", f"/servers?name={self.name}&status={status}")["servers"]}:
                return status
        return None

    def wait(self, wanted: str, hypervisor, timeout: float = 240) -> None:
        def settled():
            status = self.status()
            return status if status in (wanted, "ERROR") else None
        seen = wait_for(f"the server to become {wanted}", settled, timeout=timeout)
        if seen != wanted:
            log = hypervisor.path("/var/log/nova/nova-compute.log").read_text(errors="replace").splitlines()
            why = [line for line in log if ("ERROR" in line or "Error" in line) and "Traceback" not in line
                   and "File " not in line]
            raise AssertionError(f"the server went to {seen}, not {wanted}; what {hypervisor.name}'s nova-compute "
                                 "said:\n" + "\n".join(why[-8:]))

    def host(self) -> list[str]:
        """The hypervisors nova lists it on (2.37's per-hypervisor server listing)."""
        return [h["hypervisor_hostname"] for h in compute(self.env, "GET", "/os-hypervisors/detail")["hypervisors"]
                if self.id in {x["uuid"] for x in (compute(self.env, "GET", f"/os-hypervisors/{h['hypervisor_hostname']}/servers")
                                                   ["hypervisors"][0].get("servers") or [])}]

    def assert_on(self, hypervisor, *others) -> None:
        """nova places it on `hypervisor`, whose libvirt runs its domain; gone from `others`' libvirt."""
        assert self.host() == [hypervisor.name]
        assert self.id in domains(hypervisor, running=True)
        for other in others:
            assert self.id not in domains(other), f"{self.id} still defined on {other.name}"

    def action(self, body: dict, version: str = COMPUTE_MICROVERSION) -> None:
        compute(self.env, "POST", f"/servers/{self.id}/action", body, version=version)

    def migrated(self, wanted: str, hypervisor, timeout: float = 300) -> dict:
        """Wait for its last migration to reach `wanted` (or fail); the record."""
        def settled():
            record = self.migration()
            return record if record.get("status") in (wanted, "error", "failed") else None
        record = wait_for(f"the migration to be {wanted}", settled, timeout=timeout)
        if record["status"] != wanted:
            log = hypervisor.path("/var/log/nova/nova-compute.log").read_text(errors="replace").splitlines()
            raise AssertionError(f"the {record.get('migration_type')} migration is {record['status']}; "
                                 f"{hypervisor.name}'s nova-compute said:\n" + "\n".join(
                                     [line for line in log if "ERROR" in line][-8:]))
        return record

    def migration(self) -> dict:
        """The server's last migration record (its status: completed, finished, confirmed, error...)."""
        found = [m for m in compute(self.env, "GET", "/os-migrations")["migrations"] if m["instance_uuid"] == self.id]
        return max(found, key=lambda m: m["id"]) if found else {}

    def delete(self, hypervisors) -> None:
        if self.id:
            compute(self.env, "DELETE", f"/servers/{self.id}")
            wait_for("the server to be deleted", lambda: self.id not in {
                x["id"] for x in compute(self.env, "GET", f"/servers?name={self.name}")["servers"]})
        for flavor in self.flavors:
            self.openstack("flavor", "delete", flavor["id"])
        self.openstack("image", "delete", self.image["id"])
        for hypervisor in hypervisors:
            wait_for(f"its libvirt domain to go from {hypervisor.name}", lambda: self.id not in domains(hypervisor),
                     timeout=60)


def domains(hypervisor, running: bool = False) -> list[str]:
    """The UUIDs of the libvirt domains on a hypervisor (running ones only, or every defined one)."""
    return hypervisor.run(["virsh", "-c", "qemu:///system", "list", "--uuid", *([] if running else ["--all"])],
                          what="virsh list").stdout.split()


def boot_and_delete(lab, env, openstack, hypervisor, name: str) -> float:
    """An instance ACTIVE on the hypervisor within a bound, its libvirt domain running there;
    deleted, it is gone from nova and from libvirt. Returns the seconds to ACTIVE."""
    instance = Instance(lab, env, openstack, name)
    try:
        return instance.boot(hypervisor)
    finally:  # a failed boot must not leave a server that blocks the hypervisor's removal
        instance.delete([hypervisor])


def test_an_instance_boots_on_the_hypervisor(deployment, lab, env, openstack, hypervisor):
    lab.timings["instance_active_s"] = round(boot_and_delete(lab, env, openstack, hypervisor, "e2e-boot"), 1)


def test_an_instance_moves_between_the_hypervisors(deployment, lab, env, openstack, hypervisor, other_hypervisor):
    """The stack's `migration` (scheme ssh): an ACTIVE instance live-migrated with its disk (no
    shared storage) to the other hypervisor, its domain running there and gone from the source;
    cold-migrated back (nova's ssh between the hypervisors) and confirmed; resized to a bigger
    flavor (nova moves it to the other host) and confirmed."""
    engine, _, _ = deployment
    for h in (hypervisor, other_hypervisor):
        assert "migration peers reachable" in engine.results[f"{h.name}-migration-check"].stdout
        conf = h.path("/etc/nova/nova.conf").read_text()
        assert "live_migration_scheme = ssh\n" in conf
        assert f"live_migration_inbound_addr = {h.address.ip}\n" in conf
    instance = Instance(lab, env, openstack, "e2e-move")
    try:
        instance.boot(hypervisor)

        started = time.monotonic()
        instance.action({"os-migrateLive": {"host": other_hypervisor.name, "block_migration": True}})
        record = instance.migrated("completed", hypervisor)
        assert (record["migration_type"], record["dest_compute"]) == ("live-migration", other_hypervisor.name)
        instance.wait("ACTIVE", other_hypervisor)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(hypervisor), timeout=60)
        instance.assert_on(other_hypervisor, hypervisor)
        lab.timings["live_migration_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        instance.action({"migrate": {"host": hypervisor.name}}, version=MIGRATE_MICROVERSION)
        instance.wait("VERIFY_RESIZE", other_hypervisor)
        instance.action({"confirmResize": None})
        instance.wait("ACTIVE", hypervisor)
        record = instance.migrated("confirmed", other_hypervisor)
        assert (record["migration_type"], record["dest_compute"]) == ("migration", hypervisor.name)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(other_hypervisor), timeout=60)
        instance.assert_on(hypervisor, other_hypervisor)
        lab.timings["cold_migration_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        bigger = json.loads(openstack("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1",
                                      "e2e-move-bigger", "-f", "json"))
        instance.flavors.append(bigger)
        instance.action({"resize": {"flavorRef": bigger["id"]}})
        instance.wait("VERIFY_RESIZE", hypervisor)
        instance.action({"confirmResize": None})
        instance.wait("ACTIVE", other_hypervisor)
        record = instance.migrated("confirmed", hypervisor)
        assert (record["migration_type"], record["new_instance_type_id"] != record["old_instance_type_id"]) == (
            "resize", True)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(hypervisor), timeout=60)
        instance.assert_on(other_hypervisor, hypervisor)
        lab.timings["resize_s"] = round(time.monotonic() - started, 1)
    finally:
        instance.delete([hypervisor, other_hypervisor])


def test_migration_that_cannot_work_fails_naming_the_node_and_the_fix(lab, record, hypervisor, other_hypervisor):
    """Bad input. A hypervisor whose myIp the other cannot reach: the other's migration check,
    as the program registers it, stops naming both nodes and the fix. A tls scheme without its
    certificates: the program refuses before it registers anything."""
    values = stack_values(STACK)
    pinned = [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in values["hypervisors"]]
    unreachable = "172.31.221.250"  # in the lab's subnet, no host there
    rec = record(hypervisors=[pinned[0], {**pinned[1], "myIp": unreachable}])
    script = unwrap(rec.by_name(f"{hypervisor.name}-migration-check").raw_inputs)["create"]
    started = time.monotonic()
    proc = hypervisor.run(["bash", "-c", script], check=False, timeout=120, what="migration check")
    assert time.monotonic() - started < 30
    assert proc.returncode == 1 and proc.stdout == ""
    assert (f"{hypervisor.name} cannot reach {other_hypervisor.name} at {unreachable}:22" in proc.stderr
            and f"set {other_hypervisor.name}'s myIp to an address {hypervisor.name} reaches" in proc.stderr), proc.stderr
    with pytest.raises(Exception) as refused:
        record(migration={"enabled": True, "scheme": "tls"})
    assert "migration.caFile: is required by scheme tls" in str(refused.value)


SCREENSHOTS = PROJECT_ROOT / "out" / "e2e" / "screenshots"  # the test's output (out/ is not committed)
BROWSER_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1150")  # tall enough for the hypervisors table


@pytest.fixture
def browser(env):
    """A headless chromium in the services host, driven over WebDriver from here."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in BROWSER_ARGS:
        options.add_argument(arg)
    driver = webdriver.Remote(command_executor=env.webdriver_url, options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, url: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(url + "auth/login/")
    WebDriverWait(driver, 60).until(ready.presence_of_element_located((By.ID, "id_username")))
    driver.find_element(By.ID, "id_username").send_keys(user)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.ID, "loginBtn").click()


def test_the_dashboard_logs_in_and_shows_the_hypervisor(deployment, browser, env, controller, hypervisor):
    """Horizon on the controller, in a real browser: a wrong password shows the login error; the
    stack's admin password logs in; Admin > Compute > Hypervisors lists the hypervisor node."""
    from selenium.webdriver.support.ui import WebDriverWait
    engine, _, _ = deployment
    assert "login page renders" in engine.results["dashboard-verify"].stdout
    url = f"http://{controller.address.ip}/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    log_in(browser, url, "admin", "not-the-password")
    WebDriverWait(browser, 60).until(lambda d: "Invalid credentials" in d.page_source)
    assert "/auth/login/" in browser.current_url
    browser.save_screenshot(str(SCREENSHOTS / "login-refused.png"))

    log_in(browser, url, "admin", env.admin_password)
    WebDriverWait(browser, 120).until(lambda d: "/auth/login/" not in d.current_url)
    for _ in range(8):  # the session holds from page to page (Apache spreads them over its children)
        browser.get(url + "admin/")
        assert "/auth/login/" not in browser.current_url, "logged out between pages: the session was lost"
    def listed(driver) -> bool:  # (re)loaded until the table lists it: one slow API answer is no verdict
        driver.get(url + "admin/hypervisors/")
        return hypervisor.name in driver.page_source
    try:
        WebDriverWait(browser, 180, poll_frequency=10).until(listed)
    except Exception:
        browser.save_screenshot(str(SCREENSHOTS / "admin-hypervisors-failed.png"))
        text = browser.find_element("tag name", "body").text
        raise AssertionError(f"no {hypervisor.name} on {browser.current_url} after 180 s; the page says:\n{text[:2000]}")
    assert "Hypervisors" in browser.title or "Hypervisors" in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "admin-hypervisors.png"))
    assert (SCREENSHOTS / "admin-hypervisors.png").stat().st_size > 10_000
    env.timings["dashboard_browser_s"] = round(time.monotonic() - started, 1)


def test_a_forced_kvm_where_dev_kvm_is_missing_fails_saying_so(lab, record, controller, env):
    """Bad input: `virtType: kvm` on a host without /dev/kvm (here: the controller's host, which
    the lab gives no KVM device). The hypervisor's restart step, as the program registers it, stops
    at once with a message that names the host and the fix, instead of a nova-compute that never
    reports up."""
    values = stack_values(STACK)
    forced = [{**h, "hostKey": lab.hosts[h["name"]].host_key, "virtType": "kvm"} for h in values["hypervisors"]]
    rec = record(hypervisors=forced)
    script = unwrap(rec.by_name(f"{forced[0]['name']}-restart").raw_inputs)["create"]
    assert not controller.path("/dev/kvm").exists()
    started = time.monotonic()
    proc = subprocess.run(env.ssh_command(script), capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"virt_type kvm, but /dev/kvm is missing or unusable on {controller.name}: enable hardware "
                           "virtualisation (or nested KVM) or set the node's virtType to qemu\n")


def test_the_programs_placement_answers_on_the_controller(deployment, env, openstack, hypervisors):
    with urllib.request.urlopen(f"http://{env.ssh_host}:8778/", timeout=60) as resp:
        assert json.loads(resp.read())["versions"][0]["status"] == "CURRENT"
    catalog = json.loads(openstack("catalog", "show", "placement", "-f", "json"))
    assert {e["url"] for e in catalog["endpoints"]} == {f"http://{env.ssh_host}:8778"}
    # keystonemiddleware in placement accepts a token (validated with placement's service user)
    req = urllib.request.Request(f"http://{env.ssh_host}:8778/resource_providers",
                                 headers={"X-Auth-Token": env.keystone().token, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        # each hypervisor's nova-compute registered itself there
        assert sorted(p["name"] for p in json.loads(resp.read())["resource_providers"]) == sorted(h.name for h in hypervisors)


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


def test_the_hypervisor_s_nova_conf_is_its_render(deployment, hypervisor):
    _, rec, _ = deployment
    rendered = unwrap(rec.by_name(f"{hypervisor.name}-nova-conf").raw_inputs)["stdin"]
    assert hypervisor.path("/etc/nova/nova.conf").read_text() == rendered
    assert "[api_database]" not in rendered  # hypervisors reach the databases only through conductor


def test_no_secret_in_process_lists_logs_or_command_text(deployment, stack_secrets, controller, hypervisors):
    engine, rec, _ = deployment
    secret_values = [v for k, v in stack_secrets.items() if k not in ("sshPrivateKey", "novaSshPrivateKey")]
    assert engine.ps_snapshots, "the process list was never captured"
    processes = "\n".join(engine.ps_snapshots)  # the machine's ps: every host's processes too
    files = list(controller.path("/var/log/nova").glob("*.log"))
    assert {"nova-conductor.log", "nova-scheduler.log", "nova-api.log"} <= {p.name for p in files}
    for hypervisor in hypervisors:
        compute_logs = list(hypervisor.path("/var/log/nova").glob("*.log"))
        assert "nova-compute.log" in {p.name for p in compute_logs}
        files += compute_logs
    logs = "\n".join(p.read_text(errors="replace") for p in files)
    commands = "\n".join(unwrap(r.raw_inputs)["create"] for r in rec.resources() if r.type == "command:remote:Command")
    outputs = "\n".join(r.stdout + r.stderr for r in engine.results.values())
    # nova's migration key: in no command, output, log or process list; on each hypervisor only
    # in nova's own file (0600)
    key_body = "".join(stack_secrets["novaSshPrivateKey"].strip().splitlines()[1:-1])
    assert len(key_body) > 100
    for text in (processes, logs, commands, outputs):
        assert key_body[20:80] not in "".join(text.split())
    for hypervisor in hypervisors:
        key_file = hypervisor.path("/var/lib/nova/.ssh/id_ed25519")
        assert key_file.read_text() == stack_secrets["novaSshPrivateKey"].strip() + "\n"
        assert hypervisor.run(["stat", "-c", "%a %U", "/var/lib/nova/.ssh/id_ed25519"]).stdout.split() == ["600", "nova"]
    for value in secret_values:
        assert value not in processes
        assert value not in logs
        assert value not in commands
        assert value not in outputs
        assert value.encode() not in engine.provider_output  # what the database's provider host printed


def test_rerun_with_nothing_changed_runs_nothing(deployment, record):
    engine, _, _ = deployment
    assert engine.apply(record(), label="rerun, nothing changed") == []
    assert engine.history[-1].steps == []
    assert_planned_as_offline(engine)


def test_forced_rerun_succeeds_keeps_one_cell_and_every_hypervisor(deployment, env, record, hypervisors, openstack):
    """`pulumi up --replace` of every step, none kept out: each replaced step's old delete runs
    after its new create, and none of them removes a hypervisor from nova (only leaving the
    stack does); both keep serving."""
    engine, rec, _ = deployment
    again = engine.apply(record(), force=True, label="rerun, every command replaced")
    assert set(again) == {r.name for r in rec.resources() if r.type == "command:remote:Command"}
    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells' nova").stdout
    assert [line.split("|")[1].strip() for line in cells.splitlines() if line.startswith("|")].count("cell1") == 1
    assert "unchanged: /etc/nova/nova.conf" in engine.results["controller-nova-conf"].stdout
    for hypervisor in hypervisors:
        assert "unchanged: /etc/nova/nova.conf" in engine.results[f"{hypervisor.name}-nova-conf"].stdout
        assert "unchanged: /var/lib/nova/.ssh/known_hosts" in engine.results[f"{hypervisor.name}-nova-known-hosts"].stdout
        assert "migration peers reachable" in engine.results[f"{hypervisor.name}-migration-check"].stdout
    listed = json.loads(openstack("hypervisor", "list", "-f", "json"))
    assert sorted((h["Hypervisor Hostname"], h["State"]) for h in listed) == sorted((h.name, "up") for h in hypervisors)
    assert "hypervisors of this stack: " + " ".join(sorted(h.name for h in hypervisors)) in \
        engine.results["hypervisor-roster-update"].stdout
    services = json.loads(openstack("compute", "service", "list", "--service", "nova-compute", "-f", "json"))
    assert sorted((s["Host"], s["Status"], s["State"]) for s in services) == sorted(
        (h.name, "enabled", "up") for h in hypervisors)


def test_a_rotated_database_password_returns_with_every_hypervisor_serving(deployment, record, stack_secrets, env, lab,
                                                                           openstack, hypervisor, other_hypervisor,
                                                                           hypervisors):
    """Only the controller's nova.conf holds dbPassword: the account is updated, the controller
    rewrites its file and restarts, and each hypervisor (nothing of it rewritten or restarted)
    is verified again after that restart, so `up` returns only once they report heartbeats the
    scheduler accepts: a live migration the scheduler places, asked at once, succeeds (under the
    real engine this failed with "No valid host was found" 35 s after such an `up`)."""
    engine, _, _ = deployment
    instance = Instance(lab, env, openstack, "e2e-after-rotation")
    try:
        instance.boot(hypervisor)
        stack_secrets.update(dbPassword=hostile("db1", avoid="@%"))  # what later tests apply too
        changed = engine.apply(record(), label="rerun, database password rotated")
        assert_planned_as_offline(engine)
        assert sorted(changed) == sorted(["nova-db-mysql", "controller-nova-conf", "controller-restart", "controller-verify",
                                          *(f"{h.name}-verify" for h in hypervisors)])
        restarted = engine.results["controller-restart"]
        for node in hypervisors:
            verify = engine.results[f"{node.name}-verify"]
            assert verify.started >= restarted.started + restarted.seconds and "nova services up" in verify.stdout
        instance.action({"os-migrateLive": {"host": None, "block_migration": True}})  # the scheduler picks
        instance.migrated("completed", hypervisor)
        instance.wait("ACTIVE", other_hypervisor)
        instance.assert_on(other_hypervisor, hypervisor)
    finally:
        instance.delete([hypervisor, other_hypervisor])


def test_changed_option_runs_only_config_restart_and_verify(deployment, record, controller, hypervisors, openstack):
    """nova.conf's option changes on every node that reads it: each rewrites its file (update),
    and its restart and verify are replaced (their trigger changed); nothing else runs."""
    engine, _, _ = deployment
    conf = {**stack_values(STACK)["novaConf"], "DEFAULT": {"debug": True}}  # the stack's own, plus one
    changed = engine.apply(record(novaConf=conf), label="rerun, one nova option changed")
    assert_planned_as_offline(engine)
    nodes = ("controller", *(h.name for h in hypervisors))  # the prefixes of their steps' names
    assert sorted(changed) == sorted(f"{n}-{step}" for n in nodes for step in ("nova-conf", "restart", "verify"))
    ops = sorted((s.name, s.op) for s in engine.history[-1].steps)
    assert ops == sorted([(f"{n}-nova-conf", "update") for n in nodes] + [
        (f"{n}-{step}", op) for n in nodes for step in ("restart", "verify") for op in ("replace", "delete-replaced")])
    for prefix, node in (("controller", controller), *((h.name, h) for h in hypervisors)):
        assert "written: /etc/nova/nova.conf" in engine.results[f"{prefix}-nova-conf"].stdout
        assert "debug = true" in node.path("/etc/nova/nova.conf").read_text()
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= {
        (s["Binary"], s["State"]) for s in listing}


def test_rotated_database_and_rabbitmq_passwords(deployment, record, stack_secrets, env, lab, controller,
                                                 hypervisor, hypervisors, openstack):
    """Day 2: new database and RabbitMQ passwords (RabbitMQ's changed first, as an operator
    would). The account is updated in place, every node's nova.conf rewritten and its services
    restarted; the cell mappings hold templates, not the old password; nova still boots."""
    engine, _, _ = deployment
    old_db, old_rabbit = stack_secrets["dbPassword"], stack_secrets["rabbitPassword"]
    new_db, new_rabbit = hostile("db2", avoid="@%"), secrets.token_urlsafe(18)
    proc = subprocess.run(["rabbitmqctl", "change_password", env.rabbit_user], input=new_rabbit + "\n",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    stack_secrets.update(dbPassword=new_db, rabbitPassword=new_rabbit)  # what later tests apply too
    changed = engine.apply(record(), label="rerun, database and RabbitMQ passwords rotated")
    assert_planned_as_offline(engine)
    assert "nova-db-mysql" in changed and "placement-db-mysql" not in changed
    for prefix in ("controller", *(h.name for h in hypervisors)):
        assert {f"{prefix}-nova-conf", f"{prefix}-restart", f"{prefix}-verify"} <= set(changed)
    assert "controller-packages" not in changed and "placement-restart" not in changed
    # nova formats the stored templates with nova.conf's values when it reads a mapping: the
    # listing shows the new passwords (URL-quoted), never a stale one
    cells = on_controller(env, "su -s /bin/sh -c 'nova-manage cell_v2 list_cells --verbose' nova").stdout
    assert "cell1" in cells and "cell0" in cells
    forms = lambda value: {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}  # noqa: E731
    assert not [f for value in (old_db, old_rabbit) for f in forms(value) if f in cells], "a stale password in a cell mapping"
    assert any(f in cells for f in forms(new_db)) and any(f in cells for f in forms(new_rabbit))
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    assert {("nova-conductor", "up"), ("nova-scheduler", "up"), ("nova-compute", "up")} <= {
        (s["Binary"], s["State"]) for s in listing}
    boot_and_delete(lab, env, openstack, hypervisor, "e2e-rotated")


def test_a_hypervisor_leaving_the_stack_is_drained_then_removed(deployment, record, lab, env, openstack, hypervisor,
                                                               other_hypervisor):
    """README's procedure: the leaving hypervisor (the second) is disabled, its instance
    live-migrated away (the scheduler picks the other: no host named), then the stack without
    it: the roster on the controller disables and deletes its nova-compute service, and the
    engine forgets the node's steps. The instance stays ACTIVE on the other."""
    engine, _, _ = deployment
    leaving, staying = other_hypervisor, hypervisor
    instance = Instance(lab, env, openstack, "e2e-drain")
    try:
        instance.boot(leaving)
        started = time.monotonic()
        openstack("compute", "service", "set", "--disable", "--disable-reason", "leaving the stack", leaving.name,
                  "nova-compute")
        instance.action({"os-migrateLive": {"host": None, "block_migration": True}})
        instance.migrated("completed", leaving)
        instance.wait("ACTIVE", staying)
        instance.assert_on(staying, leaving)
        lab.timings["drain_s"] = round(time.monotonic() - started, 1)

        kept = [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in stack_values(STACK)["hypervisors"]
                if h["name"] == staying.name]
        engine.apply(record(hypervisors=kept), label="rerun, a drained hypervisor removed")
        assert_planned_as_offline(engine)
        steps = {(s.name, s.op) for s in engine.history[-1].steps}
        assert {op for _, op in steps} <= {"delete", "replace", "delete-replaced", "update"}
        assert ("hypervisor-roster-update", "replace") in steps and (f"{leaving.name}-service-record", "delete") in steps
        assert f"nova-compute service removed: {leaving.name}" in engine.results["hypervisor-roster-update"].stdout
        # the one that stays trusts, and its root reaches as nova, only the hypervisors left;
        # nothing else of it changes
        assert {name for name, op in steps if op == "update"} == {
            f"{staying.name}-nova-known-hosts", f"{staying.name}-libvirt-ssh-config"}
        assert leaving.name not in staying.path("/var/lib/nova/.ssh/known_hosts").read_text()
        assert str(leaving.address.ip) not in staying.path(
            "/etc/ssh/ssh_config.d/openstack-nova-migration.conf").read_text()
        listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
        assert leaving.name not in {s["Host"] for s in listing}
        assert [h["Hypervisor Hostname"] for h in json.loads(openstack("hypervisor", "list", "-f", "json"))] == [
            staying.name]
        assert instance.status() == "ACTIVE"
        instance.assert_on(staying)
    finally:
        instance.delete([staying])


def test_refresh_sees_a_dropped_database_account_and_up_restores_it(deployment):
    """Drift the database provider can see: nova's account dropped by hand. `pulumi refresh`
    (the provider's read) records it gone; the next `up` makes it again, and nothing else."""
    engine, rec, _ = deployment
    db = unwrap(rec.by_name("nova-db-mysql").raw_inputs)
    mysql = ["mysql", "--protocol=socket", "-uroot", "-N", "-B", "-e"]
    hosts = [h for h in db["hosts"]]
    for host in hosts:
        subprocess.run([*mysql, f"DROP USER IF EXISTS '{db['user']}'@'{host}'"], check=True, capture_output=True)
    changes = engine.refresh()
    assert changes.get("update") == 1, changes
    assert engine.apply(label="rerun after the account was dropped") == ["nova-db-mysql"]  # the config as it is
    users = subprocess.run([*mysql, f"SELECT Host FROM mysql.user WHERE User = '{db['user']}'"], capture_output=True,
                           text=True).stdout.split()
    assert sorted(users) == sorted(hosts)


def test_no_secret_in_the_exported_state_or_the_backend(deployment, stack_secrets):
    """`pulumi stack export` (without --show-secrets) and every file of the backend, histories and
    backups included: no secret of the stack, raw, base64, hex or URL-encoded."""
    engine, _, _ = deployment
    exported = engine.export_text()
    files = [p for p in engine.backend.rglob("*") if p.is_file()]
    assert exported and files
    texts = [exported.encode()] + [p.read_bytes() for p in files]
    for name, value in stack_secrets.items():
        probe = "".join(value.split())[40:100] if "PrivateKey" in name else value  # a key: a run of its body
        forms = {probe, base64.b64encode(probe.encode()).decode(), probe.encode().hex(),
                 urllib.parse.quote(probe, safe=""), urllib.parse.quote_plus(probe)}
        assert not [f for f in forms for t in texts if f.encode() in t], name


def test_destroy_deletes_what_the_program_made(deployment, env):
    """`pulumi destroy`: keystone objects deleted, the database's accounts and (dbDropOnDelete)
    databases dropped through the provider host, placement's as nova's."""
    engine, rec, _ = deployment
    before = {state.name for state in engine.state.values() if state.custom}  # (the hypervisor's went before)
    deleted = engine.destroy()
    assert {s.op for s in engine.history[-1].steps} <= {"delete"} and engine.state == {}
    assert set(deleted) >= before and "nova-identity-user" in before
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
    assert engine.destroy(label="destroy again") == [] and engine.history[-1].steps == []
