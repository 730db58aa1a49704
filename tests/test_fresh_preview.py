"""A new stack's first `pulumi preview`, as the real engine and providers see it (the first
preview of a stack whose hypervisor detects its virt type failed with

    command:remote:Command e2e-compute1-restart  error: triggers[0]: malformed secret: missing value

because the hypervisor's nova.conf hash, a secret, was unknown until `detect-virt` had run; the
real command provider refuses an unknown secret, and the mock runtime never did).

Under the mock runtime a preview leaves every command's stdout unknown, as the engine does for a
step that has not run; these tests look at what the program sends then."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from pulumi.runtime import rpc

from tests.support import problems_for, record
from tests.test_identity import ROLE_ASSIGNMENT
from tests.test_migration import NOVA_KEY, dev_hypervisors

# Every shape of stack: fixed and detected virt types, with and without migration, dashboard
# and placement, Liberty to 2025.1.
SHAPES = {
    "tutorial": ("tutorial", {}, {}),
    "dev (one detected, one fixed virt type)": ("dev", {}, {}),
    "prod (fixed kvm, no dashboard)": ("prod", {}, {}),
    "zed (detected)": ("zed", {}, {}),
    "e2e (detected, dashboard, placement)": ("e2e", {}, {}),
    "dev with migration": ("dev", {"novaSshPrivateKey": NOVA_KEY},
                           {"migration": {"enabled": True}, "hypervisors": dev_hypervisors(3)}),
    "dev, every virt type detected, migration": (
        "dev", {"novaSshPrivateKey": NOVA_KEY},
        {"migration": {"enabled": True},
         "hypervisors": [{k: v for k, v in h.items() if k != "virtType"} for h in dev_hypervisors(2)]}),
}


def unknown_secrets(value: Any, path: str) -> Iterator[str]:
    """Paths of secrets whose value is, or holds, an unknown."""
    if rpc.is_rpc_secret(value):
        inner = rpc.unwrap_rpc_secret(value)
        if inner == rpc.UNKNOWN or any(True for _ in unknowns(inner)):
            yield path
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from unknown_secrets(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from unknown_secrets(item, f"{path}[{i}]")


def unknowns(value: Any) -> Iterator[None]:
    if value == rpc.UNKNOWN:
        yield None
    elif isinstance(value, dict):
        for item in value.values():
            yield from unknowns(item)
    elif isinstance(value, list):
        for item in value:
            yield from unknowns(item)


@pytest.mark.parametrize("shape", SHAPES)
def test_no_input_of_a_fresh_preview_is_an_unknown_secret(shape):
    stack, secrets, overrides = SHAPES[shape]
    rec = record(stack, secrets=secrets, **overrides)
    found = [f"{r.name}: {path}" for r in rec.resources() if r.custom
             for key, value in r.raw_inputs.items() for path in unknown_secrets(value, key)]
    assert found == []


def test_a_detected_virt_type_leaves_the_hypervisor_s_steps_unknown_not_secret():
    """What the fix keeps: at preview the detected hypervisor's file and its hash are unknown (the
    engine shows the step as changing), and once known they are secrets as before."""
    rec = record("dev")
    restart = rec.by_name("compute1-restart").raw_inputs
    assert restart["triggers"][0] == rpc.UNKNOWN
    assert rec.by_name("compute1-nova-conf").raw_inputs["stdin"] == rpc.UNKNOWN
    fixed = rec.by_name("compute2-restart").raw_inputs["triggers"][0]
    assert rpc.is_rpc_secret(fixed) and len(rpc.unwrap_rpc_secret(fixed)) == 64
    assert rpc.is_rpc_secret(rec.by_name("compute2-nova-conf").raw_inputs["stdin"])


PROJECT_ID, ROLE_ID, SERVICE_ROLE_ID = "8b3f0e2a9c4d4e5f8a6b7c8d9e0f1a2b", "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6", "0f" * 16
IDS = {"serviceProjectId": PROJECT_ID, "serviceRoleId": ROLE_ID}


@pytest.mark.parametrize("stack", ["tutorial", "dev", "prod", "zed", "e2e"])
def test_with_the_ids_set_a_preview_asks_keystone_nothing(stack):
    """README: with serviceProjectId, serviceRoleId and serviceExtraRoleIds (the release's extra
    roles: `service` from 2023.1) a preview needs no keystone; for nova's and placement's roles."""
    extra = {"serviceExtraRoleIds": {"service": SERVICE_ROLE_ID}} if stack in ("dev", "prod", "e2e") else {}
    rec = record(stack, **IDS, **extra)
    assert [i.token for i in rec.invocations if i.token.startswith("openstack:")] == []
    assigned = {(a.inputs["projectId"], a.inputs["roleId"]) for a in rec.of_type(ROLE_ASSIGNMENT)}
    assert assigned == {(PROJECT_ID, ROLE_ID)} | ({(PROJECT_ID, SERVICE_ROLE_ID)} if extra else set())


def test_without_the_extra_role_s_id_a_modern_release_looks_it_up():
    rec = record("dev", **IDS)
    assert [(i.token, i.args.get("name")) for i in rec.invocations] == [("openstack:identity/getRole:getRole", "service")]


@pytest.mark.parametrize("value, problem", [
    ({"service": "not an id!"}, "serviceExtraRoleIds.service: 'not an id!' is not a keystone id; use what "
                                "`openstack role show service -f value -c id` prints"),
    ({"reader": "ab" * 16}, "serviceExtraRoleIds.reader: 'reader' is not a role this release assigns besides "
                            "serviceRole (it assigns: service)"),
    ({"admin": "ab" * 16}, "serviceExtraRoleIds.admin: 'admin' is serviceRole; give its id as serviceRoleId"),
    (["service"], "serviceExtraRoleIds: must be a map, got list"),
])
def test_a_malformed_extra_role_id_is_named_with_the_fix(value, problem):
    assert problem in problems_for("dev", serviceExtraRoleIds=value)


def test_zed_assigns_no_extra_role():
    assert ("serviceExtraRoleIds.service: 'service' is not a role this release assigns besides serviceRole "
            "(it assigns: none)") in problems_for("zed", serviceExtraRoleIds={"service": "ab" * 16})
