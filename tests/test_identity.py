"""components/identity.py under the mock runtime, per stack: nova's keystone objects as the seed
makes them, every one through the explicit provider (which no OS_* variable redirects), the
lookups known ids skip, and nothing of identity waiting for the database or the controller."""
from __future__ import annotations

import re

from tests.support import CONTROLLER_STEPS, SENTINEL, record
from tools.plan import keystone_id, unwrap

USER, SERVICE = "openstack:identity/user:User", "openstack:identity/serviceV3:ServiceV3"
ROLE_ASSIGNMENT, ENDPOINT = "openstack:identity/roleAssignment:RoleAssignment", "openstack:identity/endpointV3:EndpointV3"


def test_identity_objects_are_the_seeds(stack_run):
    stack, rec = stack_run
    nova = rec.by_name("nova-identity").urn
    users, services = [r for r in rec.of_type(USER) if r.parent == nova], [r for r in rec.of_type(SERVICE) if r.parent == nova]
    assignments = [r for r in rec.of_type(ROLE_ASSIGNMENT) if r.parent == nova]
    endpoints = [r for r in rec.of_type(ENDPOINT) if r.parent == nova]
    # 2025.1's service tokens need the `service` role as well (the tutorial's Liberty has none)
    roles = ["admin"] if stack == "tutorial" else ["admin", "service"]
    assert [a.name for a in assignments] == [f"nova-identity-{role}-on-service" for role in roles]
    assert len(users) == 1 and len(services) == 1 and len(endpoints) == 3
    user, service, assignment = users[0], services[0], assignments[0]
    assert user.inputs == {"domainId": "default", "enabled": True, "name": "nova", "password": "[secret]"}
    assert user.secret_inputs == ["password"]
    assert unwrap(user.raw_inputs)["password"] == f"{SENTINEL}-novaPassword-ünï"
    assert service.inputs == {"name": "nova", "type": "compute", "description": "OpenStack Compute", "enabled": True}
    # role assignment wired from the user resource and the looked-up project and role
    assert assignment.inputs == {"userId": "user-nova-identity-user-id", "projectId": keystone_id("project", "service"),
                                 "roleId": keystone_id("role", "admin")}
    assert user.urn in assignment.property_dependencies["userId"]
    lookups = {(i.token.rsplit(":", 1)[-1], i.args.get("name")) for i in rec.invocations}
    assert {("getProject", "service"), ("getRole", "admin")} <= lookups
    by_iface = {e.inputs["interface"]: e.inputs for e in endpoints}
    assert sorted(by_iface) == ["admin", "internal", "public"]
    for iface, inputs in by_iface.items():
        assert inputs["endpointRegion"] == "RegionOne"
        assert inputs["serviceId"] == "servicev3-nova-identity-service-id"
        # no `name`: the provider would send a changed name as the region of an adopted endpoint
        assert sorted(inputs) == ["endpointRegion", "interface", "serviceId", "url"]
    if stack == "tutorial":
        assert {i["url"] for i in by_iface.values()} == {"http://compute-node.example.org:8774/v2/%(tenant_id)s"}
    if stack == "prod":
        assert by_iface["public"]["url"] == "https://compute.prod.example.org:8774/v2.1"
        assert by_iface["internal"]["url"] == "http://nova-api.mgmt.prod.example.org:8774/v2.1"
    for e in endpoints:
        assert e.dependencies == [service.urn]


def test_every_keystone_object_uses_the_explicit_provider(stack_run):
    stack, rec = stack_run
    provider = rec.by_name("keystone")
    assert provider.type == "pulumi:providers:openstack"
    assert provider.secret_inputs == ["password"]
    assert provider.inputs["authUrl"].endswith("/v3")
    for r in rec.resources():
        if r.type.startswith("openstack:"):
            assert r.provider.startswith(provider.urn + "::"), r.name
    # The only keystone lookups: the service project (in its domain) and the admin role, by name,
    # once each; no id is hard-coded.
    lookups = sorted(((i.token, i.args) for i in rec.invocations if i.token.startswith("openstack:")),
                     key=lambda lookup: lookup[0])
    roles = [{"name": "admin"}] + ([] if stack == "tutorial" else [{"name": "service"}])
    assert lookups == [("openstack:identity/getProject:getProject", {"name": "service", "domainId": "default"})] + [
        ("openstack:identity/getRole:getRole", role) for role in roles]


def test_an_operators_os_variables_cannot_redirect_the_keystone_provider(monkeypatch):
    clean = record("tutorial").by_name("keystone").inputs
    for name in ("OS_CLOUD", "OS_REGION_NAME", "OS_ENDPOINT_TYPE", "OS_INSECURE", "OS_SWAUTH", "OS_ALLOW_REAUTH",
                 "OS_DELAYED_AUTH", "OS_TOKEN", "OS_AUTH_URL", "OS_PROJECT_ID", "OS_USER_ID"):
        monkeypatch.setenv(name, "attacker" if name not in ("OS_INSECURE", "OS_SWAUTH") else "true")
    dirty = record("tutorial").by_name("keystone").inputs
    assert dirty == clean
    # (a provider's inputs cross the wire as strings)
    assert clean["cloud"] == "" and clean["token"] == "" and clean["insecure"] == "false"
    assert clean["region"] == "RegionOne" and clean["endpointType"] == "public"


def test_every_provider_field_the_sdk_fills_from_the_environment_is_set():
    import inspect
    import pulumi_openstack

    from components.identity import UNUSED_PROVIDER_FIELDS

    source = inspect.getsource(pulumi_openstack.Provider._internal_init)
    from_env = set(re.findall(r"(\w+) = _utilities\.get_env(?:_bool)?\('OS_", source))
    assert from_env, "the SDK no longer reads OS_* variables this way: re-check the provider"
    inputs = record("tutorial").by_name("keystone").inputs
    wire = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), name) for name in from_env}
    assert wire <= set(inputs), wire - set(inputs)
    assert {"cloud", "token", "user_id", "tenant_id", "application_credential_id"} <= set(UNUSED_PROVIDER_FIELDS)


def test_known_project_and_role_ids_skip_the_keystone_lookups():
    project_id, role_id = "8b3f0e2a9c4d4e5f8a6b7c8d9e0f1a2b", "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
    rec = record("tutorial", serviceProjectId=project_id, serviceRoleId=role_id)
    assert not [i for i in rec.invocations if i.token.startswith("openstack:")]
    assignment = rec.of_type(ROLE_ASSIGNMENT)[0]
    assert assignment.inputs["projectId"] == project_id and assignment.inputs["roleId"] == role_id


def test_identity_does_not_wait_for_database_or_controller(stack_run):
    _, rec = stack_run
    levels = rec.levels()
    for name in ("nova-identity-user", "nova-identity-service"):
        assert levels[rec.by_name(name).urn] == 0
    for r in rec.resources():
        if r.type.startswith("openstack:identity"):
            assert not rec.waits_for(r.name, "nova-db-mysql")
            assert not any(rec.waits_for(r.name, f"controller-{s}") for s in CONTROLLER_STEPS)
