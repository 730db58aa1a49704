"""The whole program under the Pulumi mock runtime, per stack: resources, parents, edges, secrets,
and what a one-option change touches."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.support import SENTINEL, record, sentinel_secrets
from tools.plan import keystone_id, plan_dot, plan_json, plan_text, unwrap

STACKS = ("tutorial", "dev", "prod")

USER, SERVICE = "openstack:identity/user:User", "openstack:identity/serviceV3:ServiceV3"
ROLE_ASSIGNMENT, ENDPOINT = "openstack:identity/roleAssignment:RoleAssignment", "openstack:identity/endpointV3:EndpointV3"
COMMAND = "command:remote:Command"
CONTROLLER_STEPS = ["preflight", "packages", "nova-conf", "db-sync", "restart", "verify"]


@pytest.fixture(scope="module", params=STACKS)
def stack_run(request):
    # non-ASCII too, except where config refuses it (dbPassword: see test_config)
    secrets = sentinel_secrets()
    return request.param, record(request.param, secrets=secrets)


EXPECTED_COMPONENTS = {
    "tutorial": {"nova-db": "Database", "nova-identity": "ServiceIdentity", "controller": "ControllerNode",
                 "dashboard": "Dashboard", "hypervisor-roster": "HypervisorRoster"},
    "dev": {"nova-db": "Database", "nova-identity": "ServiceIdentity", "controller": "ControllerNode",
            "dashboard": "Dashboard", "compute1": "HypervisorNode", "compute2": "HypervisorNode", "cells": "HostDiscovery",
            "hypervisor-roster": "HypervisorRoster"},
    "prod": {"nova-db": "Database", "nova-identity": "ServiceIdentity", "controller": "ControllerNode",
             "cmp-a1": "HypervisorNode", "cmp-a2": "HypervisorNode", "cells": "HostDiscovery",
             "hypervisor-roster": "HypervisorRoster"},
}
# Modern releases deploy placement on the controller: a component of the controller node, with its
# own database and identity inside it.
# Placement is a component of the program's own (it was the controller's child: an alias keeps its
# resources), its database and identity are its children.
PLACEMENT_COMPONENTS = {"placement": ("Placement", None), "placement-db": ("Database", "placement"),
                        "placement-identity": ("ServiceIdentity", "placement")}


def test_components_and_parents(stack_run):
    stack, rec = stack_run
    stack_urn = next(r.urn for r in rec.resources() if r.type == "pulumi:pulumi:Stack")
    components = {r.name: r for r in rec.resources() if not r.custom and r.urn != stack_urn}
    placement = PLACEMENT_COMPONENTS if stack != "tutorial" else {}
    assert {n: r.type for n, r in components.items()} == {
        n: f"openstack-nova:components:{t}" for n, t in
        {**EXPECTED_COMPONENTS[stack], **{n: t for n, (t, _) in placement.items()}}.items()}
    assert all(r.parent == stack_urn for n, r in components.items() if placement.get(n, (0, None))[1] is None)
    for name, (_, parent) in placement.items():
        if parent is not None:
            assert components[name].parent == components[parent].urn, name
    assert [r.name for r in rec.children(components["nova-db"].urn)] == ["nova-db-mysql"]
    assert [r.name for r in rec.children(components["controller"].urn)] == sorted(
        [f"controller-{s}" for s in CONTROLLER_STEPS + ["openrc"]])


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


def test_controller_steps_are_ordered_by_the_graph(stack_run):
    _, rec = stack_run
    names = [f"controller-{s}" for s in CONTROLLER_STEPS]
    for before, after in zip(names, names[1:]):
        assert rec.depends(after, before), f"{after} must wait for {before}"
    assert rec.depends("controller-db-sync", "nova-db-mysql")
    for iface in ("public", "internal", "admin"):
        assert rec.depends("controller-verify", f"nova-identity-endpoint-{iface}")
    assert rec.depends("controller-verify", "controller-openrc")
    assert not rec.waits_for("controller-packages", "nova-db-mysql")


def test_release_specific_commands(stack_run):
    stack, rec = stack_run
    sync = rec.by_name("controller-db-sync").inputs["create"]
    packages = rec.by_name("controller-packages").inputs["create"]
    if stack == "tutorial":
        assert "su -s /bin/sh -c 'nova-manage db sync' nova" in sync
        assert "nova-api nova-cert nova-conductor nova-consoleauth nova-novncproxy nova-scheduler python-novaclient" in packages
    else:
        order = [sync.index(f"nova-manage {s}") for s in ("api_db sync", "cell_v2 map_cell0", "cell_v2 create_cell", "db sync")]
        assert order == sorted(order)
        assert "nova-api nova-conductor nova-novncproxy nova-scheduler" in packages


def test_secrets_stay_secret(stack_run):
    stack, rec = stack_run
    conf = rec.by_name("controller-nova-conf")
    # nova.conf travels on stdin; the connection carries the SSH private key (set for every stack here)
    assert sorted(conf.secret_inputs) == ["connection", "stdin"]
    assert "stdout" in conf.additional_secret_outputs and conf.inputs["logging"] == "none"
    nova_conf = unwrap(conf.raw_inputs)["stdin"]
    assert f"{SENTINEL}-novaPassword".replace("$", "$$") in nova_conf  # nova.conf travels on stdin
    # (__provider is the pickled provider, which the SDK always sends as a secret)
    assert sorted(rec.by_name("nova-db-mysql").secret_inputs) == ["__provider", "admin_password", "password"]
    for r in rec.resources():
        if r.type == COMMAND:
            plain = {k: v for k, v in unwrap(r.raw_inputs).items() if k not in ("stdin", "connection")}
            assert "Sentinel" not in json.dumps(plain), f"{r.name} carries a secret outside stdin"
            assert "environment" not in r.inputs
    outputs = [plan_text(rec), json.dumps(plan_json(rec)), plan_dot(rec)]
    assert not any("Sentinel" in text for text in outputs)
    assert "[secret]" in outputs[0]


def test_database_protection_follows_production(stack_run):
    stack, rec = stack_run
    db = rec.by_name("nova-db-mysql")
    assert db.type == "pulumi-python:dynamic/mysql:ServiceDatabase"
    assert db.protect is (stack == "prod")
    assert set(db.additional_secret_outputs) >= {"password", "admin_password"}
    expected = {"tutorial": ["nova"], "dev": ["nova_api", "nova", "nova_cell0"], "prod": ["nova_api", "nova", "nova_cell0"]}
    assert db.inputs["databases"] == expected[stack]


def test_dashboard_steps(stack_run):
    stack, rec = stack_run
    if stack == "prod":
        assert not [r for r in rec.resources() if r.name.startswith("dashboard")]
        return
    settings = rec.by_name("dashboard-settings").inputs
    assert "openstack-dashboard" in rec.by_name("dashboard-packages").inputs["create"]
    for iface in ("public", "internal", "admin"):
        assert rec.depends("dashboard-settings", f"nova-identity-endpoint-{iface}")
    if stack == "tutorial":  # the seed's own way: OPENSTACK_HOST edited in local_settings.py
        assert "/etc/openstack-dashboard/local_settings.py auth-node.example.org" in settings["create"]
        assert rec.depends("dashboard-verify", "dashboard-settings")
        assert "url=http://10.0.0.6/horizon/" in rec.by_name("dashboard-verify").inputs["create"]
    else:  # modern: our own settings snippet (no secret in it: shown in the plan), reload on change
        assert settings["stdin"].startswith("# Managed by openstack-nova (Pulumi).")
        assert "OPENSTACK_KEYSTONE_URL = 'http://dev-ctl.lab.example.org:5000/v3'\n" in settings["stdin"]
        assert rec.by_name("dashboard-reload").inputs["triggers"] == [
            hashlib.sha256(settings["stdin"].encode()).hexdigest()]
        assert rec.depends("dashboard-verify", "dashboard-reload")
        assert "url=http://10.20.0.10/horizon/auth/login/" in rec.by_name("dashboard-verify").inputs["create"]
    # Horizon runs beside the nova steps: nothing on the controller waits for it, nor it for them
    for step in CONTROLLER_STEPS:
        assert not rec.waits_for("dashboard-verify", f"controller-{step}")
        assert not rec.waits_for(f"controller-{step}", "dashboard-packages")


def test_urns_are_the_engine_s(stack_run):
    """The plan's URNs are those `pulumi up` makes (pkg/resource/deploy/deployment.go): a
    top-level resource's type stands alone, a child's follows its parent's whole type chain, so a
    URN copied from a plan works with `pulumi up --target` or `pulumi state`."""
    stack, rec = stack_run
    prefix = f"urn:pulumi:{stack}::openstack-nova::"
    assert rec.by_name("controller").urn == prefix + "openstack-nova:components:ControllerNode::controller"
    assert rec.by_name("controller-db-sync").urn == (
        prefix + "openstack-nova:components:ControllerNode$command:remote:Command::controller-db-sync")
    assert rec.by_name("nova-db-mysql").urn == (
        prefix + "openstack-nova:components:Database$pulumi-python:dynamic/mysql:ServiceDatabase::nova-db-mysql")
    if stack != "tutorial":
        assert rec.by_name("placement-db-mysql").urn == (
            prefix + "openstack-nova:components:Placement$openstack-nova:components:Database"
            "$pulumi-python:dynamic/mysql:ServiceDatabase::placement-db-mysql")
    assert not [r.urn for r in rec.resources() if "pulumi:pulumi:Stack$" in r.urn]
