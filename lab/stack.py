"""A lab from a stack file: the addresses and names are the stack's own (the file is the one
place they are written), so the hosts are where the program will look for them."""
from __future__ import annotations

import ipaddress
import json
from typing import Any, Dict, Optional

from components.releases import profile
from tools.plan.stack import stack_config

from lab.support.common import PrereqError

from .lifecycle import LabPlan

PREFIX = 24  # the test bridge's subnet, around dbHost


def stack_values(stack: str, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The stack's settings as the program gets them (Pulumi.yaml's defaults applied), parsed."""
    values, _ = stack_config(stack, placeholder_secrets=True, overrides=overrides)
    out: Dict[str, Any] = {}
    for key, value in values.items():
        name = key.split(":", 1)[1]
        try:
            out[name] = json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
        except json.JSONDecodeError:
            out[name] = value
    return out


def lab_plan(stack: str) -> LabPlan:
    """dbHost (= rabbitHost) is the db host (MariaDB and RabbitMQ); keystoneHost the services
    host; every node of the stack (controller, hypervisors) a host of its own, named as the node.
    The machine takes the subnet's first address (the gateway); the hosts' must differ from it.
    neutron's network node, which the stack does not name (nova finds neutron in keystone's
    catalog), takes the address after the highest of them."""
    v = stack_values(stack)
    if v["rabbitHost"] not in ("", v["dbHost"]):
        raise PrereqError(f"stack {stack}: rabbitHost must be dbHost (the db host runs MariaDB and RabbitMQ)")
    subnet = ipaddress.ip_interface(f"{v['dbHost']}/{PREFIX}").network
    gateway = ipaddress.ip_interface(f"{subnet.network_address + 1}/{PREFIX}")
    nodes = {n["name"]: n["host"] for n in [v["controller"], *(v.get("hypervisors") or [])]}
    for name, address in {**nodes, "dbHost": v["dbHost"], "keystoneHost": v["keystoneHost"]}.items():
        if ipaddress.ip_address(address) not in subnet or ipaddress.ip_address(address) in (gateway.ip, subnet.network_address):
            raise PrereqError(f"stack {stack}: {name} ({address}) must be in {subnet}, not {gateway.ip} (the machine's)")
    release = profile(v["release"], v.get("distro") or None)
    if release is None:
        raise PrereqError(f"stack {stack}: no release profile {v['release']} on {v.get('distro')}")
    # the program deploys placement on the controller unless the stack says not to
    deploys_placement = (v.get("placement") or {}).get("deploy", release.release.placement is not None)
    packages = release.packaging.packages + (release.packaging.placement_packages if deploys_placement else ())
    if (v.get("dashboard") or {}).get("enabled") and release.packaging.dashboard:
        packages += release.packaging.dashboard.packages
    network = max(ipaddress.ip_address(a) for a in [*nodes.values(), v["dbHost"], v["keystoneHost"]]) + 1
    return LabPlan(gateway=str(gateway), nodes=nodes, db=v["dbHost"], services=v["keystoneHost"], network=str(network),
                   node_packages=tuple(packages),
                   rabbit_user=v["rabbitUser"], placement=release.release.needs_placement and not deploys_placement,
                   hypervisors=tuple(h["name"] for h in v.get("hypervisors") or []),
                   hypervisor_packages=release.packaging.compute_packages)
