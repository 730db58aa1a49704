"""`./dev lab` without a lab: the seed's topology, the `lab` stack it writes (accepted by the CLI's
rules and the program, every node pinned), what it prints next, the flags it refuses, and where
the engine commands find the lab stack. The lab itself is brought up in tests/e2e/test_lab_command.py."""
from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lab import cloud
from tools.plan import run_program, stack_config, unwrap
from tools.plan.paths import PROJECT_ROOT


def host_key() -> str:
    public = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                                   serialization.PublicFormat.OpenSSH)
    return public.decode()


def private_key() -> str:
    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                      serialization.NoEncryption()).decode()


def test_the_seed_s_nodes_each_a_host_on_the_lab_s_subnet():
    plan = cloud.lab_plan(cloud.Topology(hypervisors=3))
    addresses = {name: str(a.ip) for name, a in plan.addresses().items()}
    assert addresses == {"db-node": "172.31.221.10", "auth-node": "172.31.221.11", "image-node": "172.31.221.12",
                         "network-node": "172.31.221.13", "controller": "172.31.221.20", "compute1": "172.31.221.21", "compute2": "172.31.221.22",
                         "compute3": "172.31.221.23"}
    assert plan.gateway == "172.31.221.1/24"
    assert plan.hypervisors == ("compute1", "compute2", "compute3")
    assert plan.networked and plan.controller == "controller"  # (neutron's metadata agent asks it)
    assert "nova-compute" in plan.hypervisor_packages and "nova-api" in plan.node_packages
    assert not plan.placement and not plan.browser  # the program deploys placement; no test browser
    assert plan.rabbit_user == "openstack"


@pytest.mark.parametrize("top, says", [
    (cloud.Topology(hypervisors=0), "--hypervisors 0: give 1 to 16"),
    (cloud.Topology(hypervisors=17), "--hypervisors 17: give 1 to 16"),
    (cloud.Topology(release="zed"), "--release zed: the lab's hosts run debian-13, where this program knows 2025.1"),
    (cloud.Topology(release="2025.1; rm -rf /"), "--release 2025.1; rm -rf /: the lab's hosts run debian-13"),
])
def test_a_topology_the_lab_cannot_run_is_refused_naming_the_flag(top, says):
    assert any(problem.startswith(says) for problem in top.problems()), top.problems()


def test_flags_refused_before_anything_is_made():
    """Exit 2 with the flag and the fix, before the engine's environment is even looked at."""
    done = subprocess.run([sys.executable, "-m", "lab", "up", "--hypervisors", "99", "--release", "liberty"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: --hypervisors 99: give 1 to 16",
        "--release liberty: the lab's hosts run debian-13, where this program knows 2025.1; give one of them"]
    assert done.stdout == ""


def test_the_lab_stack_passes_the_cli_s_rules_and_the_program_deploys_every_node(tmp_path):
    top = cloud.Topology(hypervisors=2)
    keys = {name: host_key() for name in ["controller", *top.hypervisor_names]}
    secrets = cloud.stack_secrets(lambda name: f"s3cr'et {name}", private_key(),
                                  {"neutronPassword": "n$'", "metadataSecret": "m%;"})
    path = tmp_path / "Pulumi.lab.yaml"
    path.write_text(yaml.safe_dump({"config": cloud.stack_settings(top, keys)}))
    config, secret_keys = stack_config("lab", secrets=secrets, path=path)
    assert set(secrets) <= secret_keys
    rec = run_program("lab", config, secret_keys)
    nodes = top.nodes()
    for node, address in nodes.items():
        for step in ("preflight", "packages", "nova-conf", "restart"):  # (a hypervisor's verify asks the controller)
            assert unwrap(rec.by_name(f"{node}-{step}").raw_inputs)["connection"]["host"] == address
    key_of = {nodes[name]: key for name, key in keys.items()}
    commands = [unwrap(r.raw_inputs)["connection"] for r in rec.resources() if r.type == "command:remote:Command"]
    assert commands and all(c["hostKey"] == key_of[c["host"]] for c in commands)  # every node's key pinned
    db = unwrap(rec.by_name("nova-db-mysql").raw_inputs)
    assert db["hosts"] == ["172.31.221.%"]


def test_each_secret_comes_from_the_lab_s_state_once_and_none_is_plain():
    asked = []
    secrets = cloud.stack_secrets(lambda name: asked.append(name) or f"value-of-{name}", "KEY",
                                  {"neutronPassword": "of-neutron", "metadataSecret": "of-metadata"})
    assert secrets["openstack-nova:keystoneAdminPassword"] == "value-of-keystone_admin"  # the lab's keystone
    assert secrets["openstack-nova:dbAdminPassword"] == "value-of-db_admin"
    assert secrets["openstack-nova:rabbitPassword"] == "value-of-rabbit"
    assert secrets["openstack-nova:novaPassword"] == "value-of-stack_novaPassword"
    # neutron is the lab's: nova is given its user's password and the metadata proxy's secret
    assert secrets["openstack-nova:neutronPassword"] == "of-neutron"
    assert secrets["openstack-nova:metadataSecret"] == "of-metadata"
    assert secrets["openstack-nova:sshPrivateKey"] == "KEY"
    assert len(asked) == len(set(asked))
    settings = cloud.stack_settings(cloud.Topology(), {n: "k" for n in ["controller", "compute1", "compute2"]})
    assert not set(settings) & set(secrets)
    assert not any("value-of" in str(v) for v in settings.values())


def test_the_openrc_quotes_the_password_for_sh(tmp_path):
    hostile = "a'b\"c $(touch {}) `x` ;\\"
    text = cloud.openrc("http://172.31.221.11:5000/v3", hostile.replace("{}", str(tmp_path / "ran")))
    done = subprocess.run(["sh", "-c", f'{text}\nprintf %s "$OS_PASSWORD"'], capture_output=True, text=True)
    assert done.stdout == hostile.replace("{}", str(tmp_path / "ran"))
    assert not (tmp_path / "ran").exists()
    assert "export OS_AUTH_URL=http://172.31.221.11:5000/v3" in text.splitlines()


def test_what_a_person_reads_next():
    top = cloud.Topology(hypervisors=1)
    lines = cloud.next_steps(top, cloud.lab_plan(top), cloud.PASSPHRASE_FILE, "http://172.31.221.20/")
    text = "\n".join(lines)
    assert lines[0] == "Your cloud is up: nova 2025.1 on debian-13, 1 hypervisor."
    assert "  dashboard:  http://172.31.221.20/  (user admin" in text and str(cloud.OPENRC) in text
    for command in ("./dev lab openstack compute service list", "./dev preview lab", "./dev up lab",
                    "./dev lab openstack server create --image lab-guest --flavor m1.lab --network provider",
                    "./dev lab status", "./dev lab down"):
        assert command in text
    hosts = lines[1].split(":", 1)[1].split(", ")
    assert [h.split()[0] for h in hosts] == ["db-node", "auth-node", "image-node", "network-node", "controller",
                                             "compute1"]
    assert all(ipaddress.ip_address(h.split()[1]) in cloud.SUBNET for h in hosts)
    assert str(cloud.PASSPHRASE_FILE) in text


def test_the_engine_commands_find_the_lab_stack_with_the_lab(tmp_path, monkeypatch):
    monkeypatch.setattr(cloud, "LAB_PROJECT", tmp_path / "project")
    monkeypatch.setattr(cloud, "PASSPHRASE_FILE", tmp_path / "passphrase")
    assert cloud.lab_work_dir("lab", None) is None  # no lab: the project's own stacks/ (and its error)
    (tmp_path / "project" / "stacks").mkdir(parents=True)
    (tmp_path / "passphrase").write_text("p\n")
    assert cloud.lab_work_dir("lab", None) == tmp_path / "project"
    assert cloud.lab_work_dir("lab", tmp_path / "other") == tmp_path / "other"  # --work-dir wins
    assert cloud.lab_work_dir("e2e", None) is None
    assert cloud.lab_passphrase("lab", {})["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(tmp_path / "passphrase")
    assert cloud.lab_passphrase("lab", {"PULUMI_CONFIG_PASSPHRASE": "mine"}) == {"PULUMI_CONFIG_PASSPHRASE": "mine"}
    assert cloud.lab_passphrase("dev", {}) == {}
