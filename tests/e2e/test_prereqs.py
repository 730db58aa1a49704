"""The e2e prerequisites harness itself: keystone, placement, RabbitMQ and sshd really work."""
from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Callable

import pytest

from harness import E2EEnvironment

OpenStack = Callable[..., str]  # the `openstack` fixture (conftest): the CLI as admin

pytestmark = pytest.mark.e2e


def test_token_issue(openstack: OpenStack) -> None:
    token = json.loads(openstack("token", "issue", "-f", "json"))
    assert token["id"] and token["project_id"] and token["user_id"]


def test_service_project_and_admin_role(openstack: OpenStack) -> None:
    projects = json.loads(openstack("project", "list", "-f", "json"))
    assert {"admin", "service"} <= {p["Name"] for p in projects}
    roles = {r["Name"] for r in json.loads(openstack("role", "list", "-f", "json"))}
    assert "admin" in roles


def test_endpoint_list_shows_placement(e2e_env: E2EEnvironment, openstack: OpenStack) -> None:
    endpoints = json.loads(openstack("endpoint", "list", "-f", "json"))
    placement = {e["Interface"]: e["URL"] for e in endpoints if e["Service Type"] == "placement"}
    assert placement == {i: e2e_env.placement_url for i in ("public", "internal", "admin")}
    assert all(e["Region"] == e2e_env.region for e in endpoints)


def test_placement_answers_json(e2e_env: E2EEnvironment) -> None:
    with urllib.request.urlopen(e2e_env.placement_url + "/", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["versions"][0]["status"] == "CURRENT"


def test_placement_accepts_a_keystone_token(openstack: OpenStack) -> None:
    # keystonemiddleware in placement validates the token with the `placement` service user
    out = openstack("resource", "provider", "list", "-f", "json")
    assert json.loads(out) == [] or isinstance(json.loads(out), list)


def test_rabbit_user_authenticates(e2e_env: E2EEnvironment) -> None:
    proc = subprocess.run(["rabbitmqctl", "authenticate_user", e2e_env.rabbit_user],
                          input=e2e_env.rabbit_password + "\n", capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    perms = subprocess.run(["rabbitmqctl", "-q", "list_user_permissions", e2e_env.rabbit_user],
                           capture_output=True, text=True, timeout=120).stdout
    assert any(line.split() == ["/", ".*", ".*", ".*"] for line in perms.splitlines())


def test_db_admin_account_can_log_in_over_tcp(e2e_env: E2EEnvironment) -> None:
    # what the program's database component does: connect to 127.0.0.1:3306 as dbAdminUser
    proc = subprocess.run(["mysql", "-h", "127.0.0.1", "-P", "3306", "-u", e2e_env.db_admin_user,
                           "-N", "-B", "-e", "SELECT CURRENT_USER()"],
                          env={"MYSQL_PWD": e2e_env.db_admin_password, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(e2e_env.db_admin_user + "@")


def test_ssh_as_root(e2e_env: E2EEnvironment) -> None:
    proc = subprocess.run(e2e_env.ssh_command("id -u"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
    assert e2e_env.ssh_private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_secrets_stay_out_of_reprs_and_state_is_private(e2e_env: E2EEnvironment) -> None:
    import os
    import stat
    for secret in (e2e_env.admin_password, e2e_env.rabbit_password, e2e_env.placement_password,
                   e2e_env.db_admin_password):
        assert secret not in repr(e2e_env)
    state = os.path.join(e2e_env.state_dir, "state.json")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(e2e_env.state_dir).st_mode) == 0o700
