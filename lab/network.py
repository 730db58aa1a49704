"""The test network: one bridge on the machine holding the gateway address (where the forwarders
listen), and per host a network namespace whose `eth0` is one end of a veth pair plugged into the
bridge. No route leaves the subnet and nothing is forwarded or NATed: a host reaches the other
hosts and the gateway address, nothing else. Each creation is recorded in the state first, so
`delete_all` (and the next run) removes it even when the run that made it was killed."""
from __future__ import annotations

import ipaddress
import json
import signal

from lab.support.common import PrereqError, log, run
from lab.support.processes import signal_quietly
from lab.support.state import State

from .common import BRIDGE, NETNS_PREFIX


def netns_name(host: str) -> str:
    return f"{NETNS_PREFIX}{host}"


def _links() -> dict:
    out = run(["ip", "-j", "link", "show"], what="ip link show").stdout
    return {link["ifname"]: link for link in json.loads(out or "[]")}


def _netns() -> set:
    out = run(["ip", "-j", "netns", "list"], what="ip netns list").stdout.strip()
    return {ns["name"] for ns in json.loads(out or "[]")}


def check_subnet_free(gateway: ipaddress.IPv4Interface) -> None:
    """Refuse a subnet this machine already routes somewhere else."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show"], what="ip route").stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or route.get("dev") == BRIDGE:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if net.overlaps(gateway.network):
            raise PrereqError(f"the test subnet {gateway.network} overlaps the machine's route {dst} "
                              f"(dev {route.get('dev')}): pick other addresses in the stack file")


def create_bridge(state: State, gateway: ipaddress.IPv4Interface) -> None:
    check_subnet_free(gateway)
    state.mark_created("bridges", BRIDGE)
    if BRIDGE not in _links():
        run(["ip", "link", "add", BRIDGE, "type", "bridge"], what="ip link add (bridge)")
    run(["ip", "addr", "replace", str(gateway), "dev", BRIDGE], what="ip addr (gateway)")
    run(["ip", "link", "set", BRIDGE, "up"], what="ip link set up (bridge)")


def add_host(state: State, host: str, index: int, address: ipaddress.IPv4Interface, provider: bool = False) -> str:
    """A namespace for `host` with `eth0` at `address` on the bridge; returns its name. With
    `provider`, also `eth1` on the bridge, with no address: the interface neutron's flat provider
    network takes over (its Linux bridge agent enslaves it to the network's bridge, which would
    cut the host's own traffic on eth0)."""
    ns, veth = netns_name(host), f"nve{index}"
    state.mark_created("netns", ns)
    if ns in _netns():
        raise PrereqError(f"network namespace {ns} exists: an earlier run's? (teardown did not remove it)")
    run(["ip", "netns", "add", ns], what=f"ip netns add {ns}")
    run(["ip", "-n", ns, "link", "set", "lo", "up"], what="lo up")
    state.mark_created("veths", veth)
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns], what="ip link add (veth)")
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"], what="veth on the bridge")
    run(["ip", "-n", ns, "addr", "add", str(address), "dev", "eth0"], what=f"address {address}")
    run(["ip", "-n", ns, "link", "set", "eth0", "up"], what="eth0 up")
    if provider:
        state.mark_created("veths", f"nvp{index}")
        run(["ip", "link", "add", f"nvp{index}", "type", "veth", "peer", "name", "eth1", "netns", ns],
            what="ip link add (provider veth)")
        run(["ip", "link", "set", f"nvp{index}", "master", BRIDGE, "up"], what="provider veth on the bridge")
        run(["ip", "-n", ns, "link", "set", "eth1", "up"], what="eth1 up")
    return ns


def delete_netns(ns: str) -> None:
    if ns in _netns():
        log(f"deleting network namespace {ns}")
        run(["ip", "netns", "delete", ns], what=f"ip netns delete {ns}")


def delete_link(name: str) -> None:
    if name in _links():
        log(f"deleting interface {name}")
        proc = run(["ip", "link", "delete", name], check=False)
        if proc.returncode and name in _links():  # (a veth goes away with its peer's namespace)
            raise PrereqError(f"ip link delete {name} failed: {proc.stderr.strip()}")


def sweep() -> None:
    """What no state recorded but carries the lab's own names: each namespace's processes (by
    pid, as `ip netns pids` lists them: the hosts') are killed, then the namespaces and the
    bridge deleted."""
    for ns in sorted(n for n in _netns() if n.startswith(NETNS_PREFIX)):
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            log(f"{ns}: killing leftover pid {pid}")
            signal_quietly(int(pid), signal.SIGKILL)
        delete_netns(ns)
    delete_link(BRIDGE)


def delete_all(state: State) -> None:
    """Namespaces, then veths (normally gone with them), then the bridge, as recorded."""
    for kind, undo in (("netns", delete_netns), ("veths", delete_link), ("bridges", delete_link)):
        for name in list(state.created(kind)):
            undo(name)
            state.created(kind).remove(name)
            state.save()
