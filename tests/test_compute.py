"""components/compute.py under the mock runtime: each hypervisor a branch of its own, joined at
host discovery; the roster the only step that removes a hypervisor from nova; every hypervisor
verified again after the controller's restart; the detected virt type resolved at apply."""
from __future__ import annotations

import shlex

from tests.support import record
from tools.plan import run_program, stack_config, unwrap


def test_hypervisors_are_independent_branches_joined_at_discovery():
    rec = record("prod")
    branches = {n: [r.name for r in rec.resources() if r.custom and r.name.startswith(n + "-")] for n in ("cmp-a1", "cmp-a2")}
    for mine, other in (("cmp-a1", "cmp-a2"), ("cmp-a2", "cmp-a1")):
        for a in branches[mine]:
            assert not any(rec.waits_for(a, b) for b in branches[other]), f"{a} waits for {other}"
    for node in branches:
        assert rec.depends("cells-discover-hosts", f"{node}-verify")
    discover = rec.by_name("cells-discover-hosts")
    assert discover.inputs["create"].startswith("sudo -n /bin/bash -c ")  # prod's SSH user is not root
    inner = shlex.split(discover.inputs["create"])[4]
    assert "su -s /bin/sh -c 'nova-manage cell_v2 discover_hosts --verbose' nova" in inner
    assert discover.inputs["triggers"] == ["cmp-a1", "cmp-a2"]
    assert rec.children(rec.by_name("cells").urn) == [discover]
    # the verify step asks the controller about this very host
    verify = rec.by_name("cmp-a1-verify")
    assert "openstack compute service list --host cmp-a1" in verify.inputs["create"]
    assert verify.inputs["create"].startswith("sudo -n /bin/bash -c ")  # prod's SSH user is not root


def test_liberty_has_no_discovery_and_keeps_hypervisor_steps():
    rec = record("tutorial", hypervisors=[{"name": "compute1", "host": "compute1.example.org", "myIp": "10.0.0.7"}])
    assert not [r for r in rec.resources() if r.name == "cells-discover-hosts"]
    assert "if [ -c /dev/kvm ] && ( : <>/dev/kvm ) 2>/dev/null; then echo kvm" in rec.by_name("compute1-detect-virt").inputs["create"]
    assert rec.depends("compute1-nova-conf", "compute1-packages")
    assert rec.depends("compute1-verify", "compute1-restart")
    # computes restart after the controller (nova's upgrade order), and verify after both
    assert rec.depends("compute1-restart", "controller-restart")
    assert rec.waits_for("compute1-verify", "controller-restart")


def test_only_leaving_the_stack_removes_a_hypervisor_from_nova():
    """No step has a delete that removes a hypervisor: the engine runs a replaced step's delete
    after its new create (`pulumi up --replace` once removed every hypervisor that way). The roster
    on the controller removes the ones that left, and re-runs only when the set changes."""
    rec = record("prod")
    for r in rec.of_type("command:remote:Command"):
        assert "compute service delete" not in (unwrap(r.raw_inputs).get("delete") or ""), r.name
    roster = rec.by_name("hypervisor-roster-update")
    assert roster.inputs["triggers"] == ["cmp-a1", "cmp-a2"] and "delete" not in roster.inputs
    inner = shlex.split(roster.inputs["create"])[4]  # through sudo: prod's SSH user is deploy
    assert "current='cmp-a1 cmp-a2'" in inner and "roster=/var/lib/openstack-nova/hypervisors" in inner
    assert unwrap(roster.raw_inputs)["connection"]["host"] == "nova-api.mgmt.prod.example.org"
    assert sorted(roster.dependencies) == sorted([rec.by_name("controller-verify").urn, rec.by_name("controller-openrc").urn])
    # the service record stays, without a delete, so a deployed stack updates it rather than
    # deleting it (its old delete would remove the host)
    record_step = rec.by_name("cmp-a2-service-record")
    assert "delete" not in record_step.inputs and "triggers" not in record_step.inputs


def test_with_no_hypervisor_left_the_roster_still_runs():
    rec = record("dev", hypervisors=[])
    roster = rec.by_name("hypervisor-roster-update")
    assert roster.inputs["triggers"] == [] and "current=''" in roster.inputs["create"]


def test_each_hypervisor_is_verified_again_after_the_controller_and_placement_restart():
    """`up` ends only when the hypervisors serve again: their verify steps are triggered by each
    run of the controller's restart and placement's, and wait for them."""
    rec = record("dev")
    for node in ("compute1", "compute2"):
        verify = rec.by_name(f"{node}-verify")
        assert sorted(verify.property_dependencies["triggers"]) == sorted(
            [rec.by_name("controller-restart").urn, rec.by_name("placement-restart").urn]
            + ([rec.by_name("compute1-detect-virt").urn] if node == "compute1" else [])
            # a repair of this node's files (drift found by a refresh) runs it again too
            + [rec.by_name(f"{node}-{f}-watch").urn for f in ("nova-conf", "compute-conf")])
        triggers = verify.inputs["triggers"]
        assert len(triggers) == 5 and triggers[1] == "command-controller-restart-id" and triggers[3] == "command-placement-restart-id"
        assert rec.waits_for(f"{node}-verify", "controller-restart")
    controller_verify = rec.by_name("controller-verify")
    assert sorted(controller_verify.property_dependencies["triggers"]) == sorted(
        [rec.by_name(name).urn for name in ("placement-restart", "controller-nova-conf-watch", "controller-openrc-watch")])
    # Liberty: no placement, the controller's restart only
    liberty = record("tutorial", hypervisors=[{"name": "compute1", "host": "compute1.example.org", "myIp": "10.0.0.7"}])
    verify = liberty.by_name("compute1-verify")
    assert rec.by_name("controller-restart").name in {liberty.registrations[u].name for u in verify.property_dependencies["triggers"]}
    assert len(verify.inputs["triggers"]) == 3


def test_an_apply_resolves_the_detected_virt_type():
    config, keys = stack_config("dev", placeholder_secrets=True)
    for detected in ("kvm", "qemu"):
        rec = run_program("dev", config, keys, preview=False, apply_stdout={"detect-virt": detected})
        conf = unwrap(rec.by_name("compute1-nova-conf").raw_inputs)["stdin"]
        assert f"[libvirt]\nvirt_type = {detected}\n" in conf
