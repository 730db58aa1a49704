"""An instance boots on a hypervisor, and moves between the two: live block migration, cold
migration, resize."""
from __future__ import annotations

import json
import time

import pytest

from tests.e2e.instances import MIGRATE_MICROVERSION, Instance, boot_and_delete, domains, wait_for

pytestmark = pytest.mark.e2e


def test_an_instance_boots_on_the_hypervisor(deployment, lab, env, openstack, hypervisor):
    lab.timings["instance_active_s"] = round(boot_and_delete(lab, env, openstack, hypervisor, "e2e-boot"), 1)


def test_an_instance_moves_between_the_hypervisors(deployment, lab, env, openstack, hypervisor, other_hypervisor):
    """The stack's `migration` (scheme ssh): an ACTIVE instance live-migrated with its disk (no
    shared storage) to the other hypervisor, its domain running there and gone from the source;
    cold-migrated back (nova's ssh between the hypervisors) and confirmed; resized to a bigger
    flavor (nova moves it to the other host) and confirmed."""
    engine, _, _ = deployment
    for h in (hypervisor, other_hypervisor):
        assert "migration peers reachable" in engine.results[f"{h.name}-migration-check"].stdout
        conf = h.path("/etc/nova/nova.conf").read_text()
        assert "live_migration_scheme = ssh\n" in conf
        assert f"live_migration_inbound_addr = {h.address.ip}\n" in conf
    instance = Instance(lab, env, openstack, "e2e-move")
    try:
        instance.boot(hypervisor)

        started = time.monotonic()
        instance.action({"os-migrateLive": {"host": other_hypervisor.name, "block_migration": True}})
        record = instance.migrated("completed", hypervisor)
        assert (record["migration_type"], record["dest_compute"]) == ("live-migration", other_hypervisor.name)
        instance.wait("ACTIVE", other_hypervisor)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(hypervisor), timeout=60)
        instance.assert_on(other_hypervisor, hypervisor)
        lab.timings["live_migration_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        instance.action({"migrate": {"host": hypervisor.name}}, version=MIGRATE_MICROVERSION)
        instance.wait("VERIFY_RESIZE", other_hypervisor)
        instance.action({"confirmResize": None})
        instance.wait("ACTIVE", hypervisor)
        record = instance.migrated("confirmed", other_hypervisor)
        assert (record["migration_type"], record["dest_compute"]) == ("migration", hypervisor.name)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(other_hypervisor), timeout=60)
        instance.assert_on(hypervisor, other_hypervisor)
        lab.timings["cold_migration_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        bigger = json.loads(openstack("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1",
                                      "e2e-move-bigger", "-f", "json"))
        instance.flavors.append(bigger)
        instance.action({"resize": {"flavorRef": bigger["id"]}})
        instance.wait("VERIFY_RESIZE", hypervisor)
        instance.action({"confirmResize": None})
        instance.wait("ACTIVE", other_hypervisor)
        record = instance.migrated("confirmed", hypervisor)
        assert (record["migration_type"], record["new_instance_type_id"] != record["old_instance_type_id"]) == (
            "resize", True)
        wait_for("the domain to go from the source", lambda: instance.id not in domains(hypervisor), timeout=60)
        instance.assert_on(other_hypervisor, hypervisor)
        lab.timings["resize_s"] = round(time.monotonic() - started, 1)
    finally:
        instance.delete([hypervisor, other_hypervisor])
