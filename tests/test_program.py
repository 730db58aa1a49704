"""The whole program under the Pulumi mock runtime, per stack: its components and their parents,
secrets, the database's protection, the dashboard's steps, the URNs. (A component's own graph:
test_identity.py, test_controller.py, test_compute.py, test_node.py; what a change touches:
test_program_changes.py.)"""
from __future__ import annotations

import hashlib
import json

from tests.support import CONTROLLER_STEPS, SENTINEL
from tools.plan import plan_dot, plan_json, plan_text, unwrap

COMMAND = "command:remote:Command"


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
    # each file the controller writes has its watch (components/file_watch.py)
    assert [r.name for r in rec.children(components["controller"].urn)] == sorted(
        [f"controller-{s}" for s in CONTROLLER_STEPS + ["openrc", "nova-conf-watch", "openrc-watch"]])


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
