"""Node maps (the controller, hypervisors, the dashboard's own node) and the dashboard setting."""
from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Optional

from components import ssh_keys, validate
from components.config.reader import Reader
from components.config.settings import DashboardSettings, NodeSettings
from components.virt_types import VIRT_TYPES

_NODE_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")


# A node map's keys, from NodeSettings' fields (the one declaration): stack key -> field.
NODE_SETTINGS = {f.metadata["key"]: f for f in dataclasses.fields(NodeSettings)}
NODE_KEYS = tuple(key for key, f in NODE_SETTINGS.items() if not f.metadata["hypervisors_only"])
HYPERVISOR_KEYS = tuple(NODE_SETTINGS)


def node(r: Reader, where: str, value: Any, name_default: str, hypervisor: bool = False) -> Optional[NodeSettings]:
    """The node map at `where` (a setting, or a place inside one), checked."""
    if value is None:
        return None
    allowed = HYPERVISOR_KEYS if hypervisor else NODE_KEYS
    required = [k for k in allowed if NODE_SETTINGS[k].metadata["required"]]
    if not isinstance(value, dict):
        optional = [k for k in allowed if k not in required]
        r.problem(where, f"must be a map with {', '.join(required)} and optional {', '.join(optional)}")
        return None
    for extra in sorted(set(value) - set(allowed)):
        close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
        r.problem(f"{where}.{extra}", "is not a node setting" + (
            f"; did you mean `{close[0]}`?" if close else f"; use {', '.join(sorted(allowed))}"))
    for setting in required:
        if value.get(setting) is None:  # `host: null` is no host either
            r.problem(f"{where}.{setting}", f"is required: {NODE_SETTINGS[setting].metadata['required']}")
    checked: dict[str, Any] = {}  # stack key -> value
    checked["name"] = name = value.get("name", name_default)
    if not isinstance(name, str) or not _NODE_NAME_RE.fullmatch(name):
        r.problem(f"{where}.name", f"{name!r} is not a node name; use lower-case letters, digits and '-'")
    elif not validate.is_host(name):
        # The scripts that ask nova for the node's services refuse it too, but only once the
        # program has registered the steps before them: checked here, nothing is registered.
        r.problem(f"{where}.name", f"{name!r} is not a node name: resolvers read a name of digits (or 0x and hex "
                  "digits) as an address, and nova-compute reports itself by its host name; use the node's host "
                  "name, e.g. compute1")
    # An IPv4-mapped address (::ffff:10.20.0.10) is kept as the IPv4 address it maps, before any
    # rule compares or classifies it, and is what the nodes are told.
    checked["host"] = host = validate.unmapped(value.get("host"))
    if host is not None and validate.check_host(host):
        r.problem(f"{where}.host", validate.check_host(host))
    port = value.get("port", 22)
    if validate.check_port(port):
        r.problem(f"{where}.port", validate.check_port(port))
        port = 22
    checked["port"] = int(port)
    # A node without its own `user` takes the stack's sshUser, checked (and named) as that setting.
    user_key = f"{where}.user" if "user" in value else "sshUser"
    checked["user"] = user = value["user"] if "user" in value else r.get("sshUser")
    if not isinstance(user, str) or not validate.UNIX_USER_RE.fullmatch(user):
        r.problem(user_key, f"{user!r} is not a Unix user name; use lower-case letters, digits, '_' and '-'")
    my_ip = validate.unmapped(value.get("myIp"))
    if my_ip is not None and validate.check_ip(my_ip):
        r.problem(f"{where}.myIp", validate.check_ip(my_ip))
        my_ip = None
    checked["myIp"] = my_ip
    checked["jumpHost"] = jump = validate.unmapped(value.get("jumpHost"))
    if jump is not None and validate.check_host(jump):
        r.problem(f"{where}.jumpHost", validate.check_host(jump))
    # the machine each key is for: a key line naming another one is refused
    machines = {"hostKey": ([a for a in (host, my_ip) if validate.is_host(a)], (22, checked["port"])),
                "jumpHostKey": ([jump] if validate.is_host(jump) else [], (22,))}
    for setting in ("hostKey", "jumpHostKey"):
        checked[setting] = None
        if value.get(setting) is not None:
            checked[setting], error = ssh_keys.ssh_host_key(value[setting], *machines[setting])
            if error:
                r.problem(f"{where}.{setting}", error)
    if "jumpHostKey" in value and jump is None:
        r.problem(f"{where}.jumpHostKey", "is set but jumpHost is not; set jumpHost or remove jumpHostKey")
    checked["virtType"] = virt_type = value.get("virtType") if "virtType" in allowed else None
    if virt_type is not None and virt_type not in VIRT_TYPES:
        r.problem(f"{where}.virtType", f"{virt_type!r} is not supported; use {' or '.join(VIRT_TYPES)}, or leave it out "
                  "to detect (kvm when /dev/kvm is usable)")
    return NodeSettings(**{NODE_SETTINGS[setting].name: v for setting, v in checked.items()})


def node_problems(r: Reader, production: bool, nodes: list[tuple[str, NodeSettings]]) -> None:
    """Across nodes: one machine per node (two nodes on one host would both write
    /etc/nova/nova.conf, with different content), addresses compared in canonical form (FD00::A
    is fd00:0::a), and pinned host keys in production, for each node and its jump host."""
    seen: dict[str, str] = {}
    for where, node in nodes:
        for address in {validate.canonical_address(a) for a in (node.host, node.my_ip) if isinstance(a, str)}:
            if address in seen and seen[address] != node.name:
                r.problem(f"{where}.host", f"{node.name!r} is on {address}, as {seen[address]!r} is: each node needs a "
                          "machine of its own (both would write /etc/nova/nova.conf); an all-in-one node is not supported")
            seen.setdefault(address, node.name)
        if production:
            _production_host_keys(r, where, node)


def _production_host_keys(r: Reader, where: str, node: NodeSettings) -> None:
    if node.host_key is None:
        r.problem(f"{where}.hostKey", f"node {node.name!r} has no pinned SSH host key, which a production stack requires; "
                  f"set it to the output of `ssh-keyscan -t ed25519 {node.host}`")
    if node.jump_host and node.jump_host_key is None:
        r.problem(f"{where}.jumpHostKey", f"node {node.name!r} goes through {node.jump_host} without a pinned host key, "
                  f"which a production stack requires; set it to the output of `ssh-keyscan -t ed25519 {node.jump_host}`")


# What the program names its other components (__main__.py) and the keystone provider: each
# names its resources after itself (controller, controller-restart, placement-db-mysql). A
# hypervisor's component and steps are named after the node (compute1, compute1-restart), so a
# hypervisor named like one of them, or like one of its resources, would share names with it
# (controller-restart twice): one node for two in the plan, its graph and the engine's log.
# tests/test_hostile_settings.py keeps this list whole.
OTHER_COMPONENT_NAMES = ("nova-db", "keystone", "nova-identity", "controller", "placement", "hypervisor-roster",
                         "cells", "migration", "dashboard")


def _hypervisor_name_problem(r: Reader, where: str, name: Any, controller: Optional[NodeSettings],
                             stack_resource: str) -> None:
    """A hypervisor named like another component or its resources, like the stack itself
    (`stack_resource`, the root resource's name), or like the controller node (nova would take
    the two for one host)."""
    if not isinstance(name, str):
        return  # refused as a node name
    component = next((c for c in OTHER_COMPONENT_NAMES if name == c or name.startswith(f"{c}-")), None)
    if component is not None or name == stack_resource:
        what = (f"the program's {component} component and its resources ({component}, {component}-...)"
                if component else "the stack itself")
        r.problem(f"{where}.name", f"{name!r} is named like {what}; a hypervisor's component and steps are named "
                  f"after the hypervisor ({name}, {name}-restart...), so the plan and its graph would take two "
                  "resources for one; name the hypervisor after its host, e.g. compute1")
    elif controller is not None and name == controller.name:
        r.problem(f"{where}.name", f"{name!r} is the controller's name too: nova would take the two nodes for one "
                  "host; give each node its own host name")


def controller(r: Reader) -> Optional[NodeSettings]:
    return node(r, "controller", r.get("controller"), name_default="controller")


def hypervisors(r: Reader, controller: Optional[NodeSettings], stack_resource: str) -> tuple[NodeSettings, ...]:
    value = r.get("hypervisors", [])
    if not isinstance(value, list):
        if value not in (None, {}):
            r.problem("hypervisors", "must be a list of nodes")
        return ()
    nodes = []
    for i, item in enumerate(value):
        checked = node(r, f"hypervisors[{i}]", item, name_default=f"compute{i + 1}", hypervisor=True)
        if checked is not None:
            _hypervisor_name_problem(r, f"hypervisors[{i}]", checked.name, controller, stack_resource)
            nodes.append(checked)
    names = [n.name for n in nodes]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        r.problem("hypervisors", f"node name {dup!r} is used twice; give each hypervisor its own name")
    return tuple(nodes)


def dashboard(r: Reader, controller: Optional[NodeSettings]) -> DashboardSettings:
    value = r.get("dashboard", {})
    if not isinstance(value, dict):
        r.problem("dashboard", "must be a map: {enabled: true, node: <controller|node map>}")
        return DashboardSettings(False, None)
    for extra in sorted(set(value) - {"enabled", "node", "multidomain", "timeZone"}):
        r.problem(f"dashboard.{extra}", "is not a dashboard setting; use enabled, node, multidomain and timeZone")
    multidomain = value.get("multidomain", False)
    if not isinstance(multidomain, bool):
        r.problem("dashboard.multidomain", "must be true or false")
        multidomain = False
    time_zone = value.get("timeZone", "UTC")
    if not isinstance(time_zone, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}", time_zone):
        r.problem("dashboard.timeZone", f"{time_zone!r} is not a time zone name; use e.g. UTC or Europe/Paris")
        time_zone = "UTC"
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        r.problem("dashboard.enabled", "must be true or false")
        enabled = False
    node_value = value.get("node")
    chosen = controller if node_value in (None, "controller") else node(r, "dashboard.node", node_value,
                                                                        name_default="dashboard")
    if enabled and chosen is not None and chosen is not controller and r.get("production"):
        _production_host_keys(r, "dashboard.node", chosen)
    return DashboardSettings(enabled=enabled, node=chosen if enabled else None, multidomain=multidomain,
                             time_zone=time_zone)
