"""Hostile addresses: an IPv4-mapped IPv6 address (::ffff:10.20.0.10) is the IPv4 machine it
maps for every address rule, refused before anything is registered where that address would be,
and told to the nodes as that IPv4 address."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from components.nova_conf import COMPUTE, render_masked
from tests.support import record, settings_for
from tests.test_hostile_settings import named, refused
from tools.plan import unwrap

PEM, OPENSSH = serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH


def private_text(key, form) -> str:
    return key.private_bytes(PEM, form, serialization.NoEncryption()).decode()


def public_line(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


HOST_KEYS = {f"compute{i}": public_line(ed25519.Ed25519PrivateKey.generate()) for i in (1, 2)}
NOVA_KEY = private_text(ed25519.Ed25519PrivateKey.generate(), OPENSSH)


def hypervisors(**changes) -> list[dict]:
    nodes = [{"name": f"compute{i}", "host": f"dev-cmp{i}.lab.example.org", "myIp": f"10.20.0.2{i}",
              "hostKey": HOST_KEYS[f"compute{i}"], "virtType": "kvm"} for i in (1, 2)]
    for index, change in changes.items():
        nodes[int(index.removeprefix("n"))].update(change)
    return nodes


# ---------------------------------------------------------------------------------------------
# IPv4-mapped IPv6 addresses
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting", ["host", "myIp"])
def test_a_mapped_address_of_the_controller_s_machine_is_the_controller_s_machine(setting):
    node = {"name": "compute1", "host": "dev-cmp1.lab.example.org", "myIp": "10.20.0.21"}
    problems = refused("dev", hypervisors=[{**node, setting: "::ffff:10.20.0.10"}])
    assert any(p.startswith("hypervisors[0].host: 'compute1' is on 10.20.0.10, as 'controller' is: each node needs "
                            "a machine of its own") for p in problems), problems


@pytest.mark.parametrize("address", ["127.0.0.2", "::ffff:127.0.0.1", "::ffff:127.0.0.2", "::FFFF:7f00:1",
                                     "::ffff:0.0.0.0", "::ffff:169.254.0.5"])
def test_a_mapped_loopback_is_refused_as_a_migration_target_as_loopback_is(address):
    problems = refused("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                       hypervisors=hypervisors(n1={"myIp": address}))
    mine = named(problems, "hypervisors[1].myIp")
    assert len(mine) == 1 and "is not an address the other hypervisors can reach, and migration sends instances " \
                              "there" in mine[0], problems


def test_a_mapped_address_reaches_the_nodes_as_the_ipv4_address_it_is():
    s = settings_for("dev", {"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                     hypervisors=hypervisors(n0={"myIp": "::ffff:10.20.0.21", "host": "::ffff:10.20.0.31"}),
                     dbHost="::ffff:10.20.0.5", rabbitHost="::ffff:10.20.0.6",
                     memcachedServers="::ffff:10.20.0.10:11211")
    node = s.hypervisors[0]
    assert (node.my_ip, node.host, s.database.host, s.messaging.host) == ("10.20.0.21", "10.20.0.31", "10.20.0.5",
                                                                          "10.20.0.6")
    assert s.memcached_servers == "10.20.0.10:11211"
    conf = render_masked(s, node, COMPUTE, virt_type="kvm")
    assert "my_ip = 10.20.0.21\n" in conf and "live_migration_inbound_addr = 10.20.0.21\n" in conf
    assert "@10.20.0.6:5672/" in conf and "ffff" not in conf
    rec = record("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, migration={"enabled": True},
                 hypervisors=hypervisors(n0={"myIp": "::ffff:10.20.0.21"}))
    known = unwrap(rec.by_name("compute1-nova-known-hosts").raw_inputs)["stdin"]
    assert known.splitlines()[0] == f"10.20.0.21,compute1 {HOST_KEYS['compute1']}"
