"""Servers created the ordinary way, on a network: on each hypervisor one goes ACTIVE with its
port bound to that host, and the lab's guest says on its console the address neutron's DHCP gave
it and the instance id nova's metadata service answered (through neutron's metadata proxy); two
servers on the network reach each other; a live migration keeps the port (bound to the new host)
and the address; deleting the servers leaves no port behind."""
from __future__ import annotations

import time

import pytest

from tests.e2e.instances import Instance

pytestmark = pytest.mark.e2e
PREFIX = 24  # the provider subnet's (the lab's own)


def booted(instance: Instance, hypervisor, lab, user_data: str = "") -> dict:
    """`instance` booted on `hypervisor`: its port bound there by Open vSwitch and ACTIVE, the
    guest's address neutron's and its instance id nova's; the port. Times go to the summary."""
    active = instance.boot(hypervisor, user_data=user_data)
    started = time.monotonic()
    port = instance.port()
    assert (port["binding:host_id"], port["binding:vif_type"], port["status"]) == (hypervisor.name, "ovs", "ACTIVE")
    address = port["fixed_ips"][0]["ip_address"]
    instance.said(f"address {address}/{PREFIX} on eth0")
    instance.said(f"instance-id {instance.id}")
    lab.timings.setdefault(f"network_active_{hypervisor.name}_s", round(active, 1))
    lab.timings.setdefault(f"network_metadata_{hypervisor.name}_s", round(active + time.monotonic() - started, 1))
    return port


def test_servers_take_an_address_reach_metadata_and_each_other_before_and_after_a_live_migration(
        deployment, lab, env, openstack, hypervisor, other_hypervisor):
    first = Instance(lab, env, openstack, "e2e-net-first", guest=True)
    second = Instance(lab, env, openstack, "e2e-net-second", guest=True)
    third = Instance(lab, env, openstack, "e2e-net-third", guest=True)
    try:
        port = booted(first, hypervisor, lab)
        address = port["fixed_ips"][0]["ip_address"]

        # the other hypervisor's server pings the first: across hosts, over the provider network
        booted(second, other_hypervisor, lab, user_data=f"ping {address}\n")
        second.said(f"ping {address} ok")

        started = time.monotonic()
        first.action({"os-migrateLive": {"host": other_hypervisor.name, "block_migration": True}})
        assert first.migrated("completed", hypervisor)["dest_compute"] == other_hypervisor.name
        first.wait("ACTIVE", other_hypervisor)
        moved = first.port()
        assert (moved["id"], moved["fixed_ips"], moved["binding:host_id"], moved["status"]) == (
            port["id"], port["fixed_ips"], other_hypervisor.name, "ACTIVE")
        lab.timings["network_live_migration_s"] = round(time.monotonic() - started, 1)

        # the guest kept running (the new host's console log, which starts empty, shows no boot)
        # and answers where it went, at the same address
        assert "nova-lab-guest: starting" not in first.console()
        booted(third, hypervisor, lab, user_data=f"ping {address}\n")
        third.said(f"ping {address} ok")
    finally:
        for instance in (first, second, third):
            instance.delete([hypervisor, other_hypervisor])
    for instance in (first, second, third):  # (delete waited for each server's port to go)
        assert instance.id and not instance.ports()
