"""The test hosts themselves (lab/), fast: one node of the 2025.1 stack as a host of
its own, and the db host, without the services host. SSH with the pinned host key works and a
wrong pinned key is refused; the hostname is the node's; the db host's MariaDB and RabbitMQ
answer the node; a run that stopped without taking its lab down leaves nothing the next run does
not remove; and `down` leaves nothing at all."""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pymysql
import pytest

from lab.support.environment import ssh_argv
from lab.support.processes import pid_alive
from lab import DB_ADMIN, DB_HOST, Lab
from lab.node import processes_in
from lab.stack import lab_plan, stack_values

pytestmark = pytest.mark.e2e
STACK = "e2e"
LAB_LABEL = "test hosts (probe)"
# MariaDB's greeting names it; RabbitMQ answers an AMQP 0-9-1 header with Connection.Start
# naming itself. bash's /dev/tcp: no client package in the host.
PROBE = r"""exec 3<>/dev/tcp/"$1"/3306; timeout 2 cat <&3 | tr -c '[:print:]' ' '; echo; exec 3<&-
exec 4<>/dev/tcp/"$1"/5672; printf 'AMQP\0\0\011\001' >&4; timeout 2 cat <&4 | tr -c '[:print:]' ' '; echo"""


@pytest.fixture(scope="module")
def plan():
    full = lab_plan(STACK)
    controller = stack_values(STACK)["controller"]["name"]
    # the controller node alone
    return dataclasses.replace(full, services=None, nodes={controller: full.nodes[controller]}, hypervisors=())


@pytest.fixture(scope="module")
def node(lab, plan):
    (name,) = plan.nodes
    return lab.hosts[name]


def ssh(lab: Lab, node, *remote: str, known_hosts: Path = None) -> subprocess.CompletedProcess:
    """`remote` as argv on the node (ssh hands one string to the remote shell: each word quoted)."""
    command = " ".join(shlex.quote(word) for word in remote)
    argv = ssh_argv(str(node.address.ip), 22, "root", str(lab.key_file), str(known_hosts or lab.known_hosts), command)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_ssh_with_the_pinned_host_key(lab, node):
    assert node.host_key.startswith("ssh-ed25519 ")
    pinned = [line.split() for line in lab.known_hosts.read_text().splitlines()]
    assert [str(node.address.ip), *node.host_key.split()] in pinned
    assert sorted(line[0] for line in pinned) == sorted(str(h.address.ip) for h in lab.hosts.values())
    proc = ssh(lab, node, "sh", "-c", "id -u")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


def test_a_wrong_pinned_host_key_is_refused(lab, node, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{node.address.ip} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    proc = ssh(lab, node, "sh", "-c", "touch /tmp/should-not-run", known_hosts=wrong)
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr
    assert not node.path("/tmp/should-not-run").exists()


def test_hostname_is_the_node_name(lab, node):
    proc = ssh(lab, node, "sh", "-c", "hostname; uname -n; cat /etc/hostname; hostname -i")
    assert proc.stdout.split() == [node.name, node.name, node.name, str(node.address.ip)]


def test_the_host_is_debian_13_in_namespaces_of_its_own(lab, node):
    proc = ssh(lab, node, "sh", "-c", "cut -d. -f1 /etc/debian_version; ip -o -4 addr show | awk '{print $2, $4}'; ps -e -o comm=")
    lines = proc.stdout.splitlines()
    assert lines[0] == "13"
    assert lines[1:3] == ["lo 127.0.0.1/8", f"eth0 {node.address}"]
    assert "tini" in lines[3:] and "sshd" in lines[3:] and "chronyd" in lines[3:]
    assert "mariadbd" not in lines and "beam.smp" not in lines  # the machine's are not seen
    assert node.path("/etc/nova").exists() is False  # the program installs nova, not the root


def test_mariadb_and_rabbitmq_answer_from_inside(lab, node, plan):
    proc = ssh(lab, node, "bash", "-c", PROBE, "probe", plan.db)
    assert proc.returncode == 0, proc.stderr
    mariadb, rabbitmq = proc.stdout.splitlines()[:2]
    assert "MariaDB" in mariadb
    assert "RabbitMQ" in rabbitmq
    # the host's own loopback is its own: the db host's services are not there
    refused = ssh(lab, node, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3306")
    assert refused.returncode != 0


def test_the_accounts_a_node_gets_work_and_its_secrets_stay_private(lab, node):
    """What a test gets for a node: the db host's MariaDB as the lab's admin account, from the
    machine over the bridge (as the program's database provider connects), the lab's RabbitMQ
    user; no secret in the environment's repr; the lab's state readable by root only."""
    env = lab.environment(node.name)
    with pymysql.connect(host=lab.data.address, user=env.db_admin_user, password=env.db_admin_password,
                         connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0] == f"{env.db_admin_user}@{lab.data.account_host}"
    lab.data.rabbitmqctl("authenticate_user", env.rabbit_user, input=env.rabbit_password + "\n")
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        pymysql.connect(host=lab.data.address, user=env.db_admin_user, password="not-" + env.db_admin_password,
                        connect_timeout=10)
    for secret in (env.admin_password, env.rabbit_password, env.placement_password, env.db_admin_password):
        assert secret not in repr(env) and secret not in str(env)
    assert stat.S_IMODE(os.stat(lab.state.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(lab.state.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(lab.key_file).st_mode) == 0o600


def test_an_unfinished_run_is_taken_down_by_the_next(lab, node, plan):
    """A run killed before `down` (here: its lock released, nothing undone) leaves its hosts,
    accounts and network; the next `up` removes them first, then comes up."""
    old_processes = processes_in(node.record["pidns"])
    db_processes = processes_in(lab.hosts[DB_HOST].record["pidns"])
    assert node.pid in old_processes and lab.data.accounts(DB_ADMIN) == [f"{DB_ADMIN}@{lab.data.account_host}"]
    lab.abandon()  # what a killed run leaves: its lock released by the kernel, nothing undone
    again = Lab()
    try:
        again.up(plan)
        assert not [pid for pid in old_processes + db_processes if pid_alive(pid)]
        new = again.hosts[node.name]
        assert ssh(again, new, "hostname").stdout.strip() == node.name
    finally:
        again.down()
    lab.hosts, lab.services, lab.data = {}, None, None


def test_down_leaves_nothing(lab, plan):
    lab.up(plan)
    pidns = {h.record["pidns"] for h in lab.hosts.values()}
    lab.down()
    assert all(processes_in(ns) == [] for ns in pidns)
    netns = json.loads(subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout or "[]")
    assert not [ns for ns in netns if ns["name"].startswith("nova-e2e-")]
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout)
    assert not [link for link in links if link["ifname"].startswith(("nova-e2e", "nve"))]
    assert not (lab.state.dir / "hosts").exists() or not any((lab.state.dir / "hosts").iterdir())
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(lab.state.dir) not in mounts
    assert set(lab.state.data) == {"timings"}
