"""The e2e engine's providers against a real node's sshd and a real keystone (seconds, not
minutes), in a lab of the e2e stack's addresses (tests/e2e/hosts): SSH as pulumi-command speaks
it, commands' deletes and replacements on a node, and keystone objects as pulumi-openstack
handles conflicts, imports and lookups."""
from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.doubles import ssh as remote_command
from engine import Engine, EngineError
from tests.e2e.harness.identity import KeystoneError
from made_up import recording, registration
from tests.doubles.keystone import ROLE_ASSIGNMENT
from tools.plan.monitor import keystone_id
from tools.plan.recording import Invocation

pytestmark = pytest.mark.e2e

LAB_LABEL = "engine providers"
USER = "openstack:identity/user:User"
PROVIDER = "pulumi:providers:openstack"


@pytest.fixture
def conn(env) -> dict:
    """A remote.Command connection to the node's sshd, as Check completes it."""
    return remote_command.check({"connection": {
        "host": env.ssh_host, "port": float(env.ssh_port), "user": env.ssh_user,
        "privateKey": env.ssh_private_key, "dialErrorLimit": 0}})["connection"]


def test_command_gets_stdin_and_loses_one_trailing_newline(conn):
    out, err = remote_command.run({"connection": conn, "stdin": "in\n"}, "cat; printf 'two\\n\\n'; echo oops >&2")
    assert (out, err) == ("in\ntwo\n", "oops")


def test_a_failing_command_is_reported_with_its_output(conn):
    with pytest.raises(remote_command.CommandError) as failed:
        remote_command.run({"connection": conn}, "echo partial; exit 3")
    assert str(failed.value) == 'Process exited with status 3: running "echo partial; exit 3":\npartial\n'


def test_environment_is_sent_and_a_refused_variable_fails_the_run(conn):
    out, _ = remote_command.run({"connection": conn, "environment": {"LANG": "C.UTF-8"}}, "echo $LANG")
    assert out == "C.UTF-8"
    with pytest.raises(remote_command.CommandError, match="could not set environment variable 'NOVA_X'"):
        remote_command.run({"connection": conn, "environment": {"NOVA_X": "1"}}, "true")


def test_pinned_host_key_is_verified(conn, controller):
    assert remote_command.run({"connection": {**conn, "hostKey": controller.host_key}}, "echo ok")[0] == "ok"
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    with pytest.raises(remote_command.CommandError, match="after 0 failed attempts: .*host key mismatch"):
        remote_command.run({"connection": {**conn, "hostKey": other}}, "true")


def test_jump_host(conn, controller):
    """Through the node itself as the jump host: the command's connection comes from the node's
    own address (the jump host's), not from the machine's on the bridge."""
    through = {**conn, "proxy": {**conn, "hostKey": controller.host_key}}
    assert remote_command.run({"connection": through}, "echo $SSH_CONNECTION")[0].startswith(f"{controller.address.ip} ")
    direct = remote_command.run({"connection": conn}, "echo $SSH_CONNECTION")[0]
    assert not direct.startswith(f"{controller.address.ip} ")


def test_replace_creates_first_then_runs_the_old_delete_and_removal_deletes(conn, env, controller):
    remote = f"/root/engine-probe-{secrets.token_hex(4)}.log"
    log = controller.path(remote)
    probe = {"connection": conn, "create": f"echo create $(cat) >> {remote}", "delete": f"echo delete $(cat) >> {remote}"}
    engine = Engine(env)
    engine.apply(recording(registration("probe", {**probe, "stdin": "v1", "triggers": ["1"]})))
    engine.apply(recording(registration("probe", {**probe, "stdin": "v2", "triggers": ["2"]})))
    assert log.read_text().splitlines() == ["create v1", "create v2", "delete v1"], "the old state's delete"
    engine.apply(recording())
    assert log.read_text().splitlines()[-1] == "delete v2"
    log.unlink()


def provider(env):
    return registration("ks", {"authUrl": env.keystone_url, "userName": env.admin_user,
                               "password": env.admin_password, "tenantName": env.admin_project,
                               "userDomainName": "Default", "projectDomainName": "Default"}, type_=PROVIDER)


def test_keystone_conflict_import_lookups_and_delete(env):
    ks, name = env.keystone(), f"engine-probe-{secrets.token_hex(4)}"
    prov = provider(env)
    ref = f"{prov.urn}::made-up-id"
    user = registration("u", {"name": name, "domainId": "default", "password": "p1", "enabled": True},
                        type_=USER, provider=ref, after=[prov.urn])
    engine = Engine(env)
    try:
        engine.apply(recording(prov, user))
        made = ks.find("users", name=name)
        assert made and made["id"] == engine.state[user.urn].id
        with pytest.raises(EngineError, match="HTTP 409"):  # a second stack creating the same user
            Engine(env).apply(recording(prov, user))
        adopted = registration("u", {"name": name, "domainId": "default", "password": "p2", "enabled": True,
                                     "description": "adopted"}, type_=USER, provider=ref, after=[prov.urn],
                               import_id=made["id"])
        other = Engine(env)
        other.apply(recording(prov, adopted))
        assert [s.op for s in other.history[-1].steps if s.name == "u"] == ["import"]
        assert ks.call("GET", f"/users/{made['id']}")["user"]["description"] == "adopted"
        # getProject/getRole with the keys the SDK sends; the mock's ids stand for the real ones
        grant = registration("grant", {"userId": "user-u-id", "projectId": keystone_id("project", "service"),
                                       "roleId": keystone_id("role", "admin")}, type_=ROLE_ASSIGNMENT,
                             provider=ref, after=[prov.urn, user.urn])
        program = recording(prov, user, grant)
        program.invocations += [Invocation("openstack:identity/getProject:getProject",
                                           {"name": "service", "domainId": "default"}),
                                Invocation("openstack:identity/getRole:getRole", {"name": "admin"})]
        engine.apply(program)
        project, role = ks.find("projects", name="service"), ks.find("roles", name="admin")
        assert ks.call("GET", f"/projects/{project['id']}/users/{made['id']}/roles/{role['id']}") == {}
        engine.destroy()
        with pytest.raises(KeystoneError) as gone:
            ks.call("GET", f"/users/{made['id']}")
        assert gone.value.status == 404
    finally:
        leftover = ks.find("users", name=name)
        if leftover:
            ks.call("DELETE", f"/users/{leftover['id']}")
