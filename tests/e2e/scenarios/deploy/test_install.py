"""The install: the engine's plan and steps, then what the controller and the hypervisors serve,
what is on their disks, and that no secret shows."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lab.common import kvm_runs_unmodified_guests
from tests.e2e.deployment import assert_planned_as_offline, controller_steps, on_controller
from tests.e2e.instances import PORT
from tools.plan import unwrap

pytestmark = pytest.mark.e2e


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
    """The program's detection chose kvm where the lab lends the hypervisors /dev/kvm (a KVM
    that runs unmodified guests: lab/common.py), qemu otherwise;
    nova-compute.conf, which Debian's nova-compute reads after nova.conf, carries it; host
    discovery mapped both nodes: both hypervisors are listed up."""
    engine, _, _ = deployment
    assert detected_virt_type == ("kvm" if kvm_runs_unmodified_guests() else "qemu")
    listing = json.loads(openstack("compute", "service", "list", "-f", "json"))
    for hypervisor in hypervisors:
        assert engine.results[f"{hypervisor.name}-detect-virt"].stdout == detected_virt_type
        assert f"virt_type = {detected_virt_type}\n" in hypervisor.path("/etc/nova/nova-compute.conf").read_text()
        assert ("nova-compute", hypervisor.name, "up") in {(s["Binary"], s["Host"], s["State"]) for s in listing}
    listed = json.loads(openstack("hypervisor", "list", "-f", "json"))
    assert sorted((h["Hypervisor Hostname"], h["State"]) for h in listed) == sorted((h.name, "up") for h in hypervisors)
    assert "cells-discover-hosts" in engine.results


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


def private_seed_text(key_text: str) -> str:
    """The base64 text, as the key file holds it, of the secret part of an ed25519 key in OpenSSH's
    format: its private seed, whole base64 groups only. (The file's first 82 characters are the
    same in every such key, so a window there would find any OpenSSH key, not this one.)"""
    body = "".join(key_text.strip().splitlines()[1:-1])
    blob = base64.b64decode(body)
    key = serialization.load_ssh_private_key(key_text.encode(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey), "the e2e stack's nova key is ed25519"
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    start = blob.index(seed)
    first, last = -(-start // 3) * 3, (start + len(seed)) // 3 * 3  # whole 3-byte groups inside the seed
    return body[first * 4 // 3:last * 4 // 3]


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
    seed = private_seed_text(stack_secrets["novaSshPrivateKey"])
    assert len(seed) >= 40
    for text in (processes, logs, commands, outputs):
        assert seed not in "".join(text.split())
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
