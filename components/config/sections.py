"""Checks of the structured settings: nodes, the dashboard, nova's identity, nova.conf overrides."""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
from typing import Any, Optional

from components import releases, validate
from components.config.reader import _Reader
from components.config.schema import _NODE_NAME_RE, _OPTION_RE, INTERFACES, KNOWN_SERVICE_TYPES, Secret
from components.config.settings import DashboardSettings, IdentitySettings, NodeSettings, PlacementSettings
from components.virt_types import VIRT_TYPES


def _db_user(r: _Reader, user: Optional[str]) -> Optional[str]:
    if user is not None and len(user) > 32:
        r.problem("dbUser", f"{user!r} is longer than 32 characters, the limit of MySQL 8 account names")
        return None
    return user


# A node map's keys, from NodeSettings' fields (the one declaration): stack key -> field.
NODE_SETTINGS = {f.metadata["key"]: f for f in dataclasses.fields(NodeSettings)}
NODE_KEYS = tuple(key for key, f in NODE_SETTINGS.items() if not f.metadata["hypervisors_only"])
HYPERVISOR_KEYS = tuple(NODE_SETTINGS)


def _node(r: _Reader, key: str, value: Any, name_default: str, virt: bool = False) -> Optional[NodeSettings]:
    if value is None:
        return None
    allowed = HYPERVISOR_KEYS if virt else NODE_KEYS
    required = [k for k in allowed if NODE_SETTINGS[k].metadata["required"]]
    if not isinstance(value, dict):
        optional = [k for k in allowed if k not in required]
        r.problem(key, f"must be a map with {', '.join(required)} and optional {', '.join(optional)}")
        return None
    for extra in sorted(set(value) - set(allowed)):
        close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
        r.problem(f"{key}.{extra}", "is not a node setting" + (f"; did you mean `{close[0]}`?" if close else f"; use {', '.join(sorted(allowed))}"))
    for setting in required:
        if setting not in value:
            r.problem(f"{key}.{setting}", f"is required: {NODE_SETTINGS[setting].metadata['required']}")
    checked: dict[str, Any] = {}  # stack key -> value
    checked["name"] = name = value.get("name", name_default)
    if not isinstance(name, str) or not _NODE_NAME_RE.fullmatch(name):
        r.problem(f"{key}.name", f"{name!r} is not a node name; use lower-case letters, digits and '-'")
    checked["host"] = host = value.get("host")
    if host is not None and validate.check_host(host):
        r.problem(f"{key}.host", validate.check_host(host))
    port = value.get("port", 22)
    if validate.check_port(port):
        r.problem(f"{key}.port", validate.check_port(port))
        port = 22
    checked["port"] = int(port)
    checked["user"] = user = value.get("user", r.raw.get("sshUser"))
    if not isinstance(user, str) or not validate.UNIX_USER_RE.fullmatch(user):
        r.problem(f"{key}.user", f"{user!r} is not a Unix user name; use lower-case letters, digits, '_' and '-'")
    my_ip = value.get("myIp")
    if my_ip is not None and validate.check_ip(my_ip):
        r.problem(f"{key}.myIp", validate.check_ip(my_ip))
        my_ip = None
    checked["myIp"] = my_ip
    checked["jumpHost"] = jump = value.get("jumpHost")
    if jump is not None and validate.check_host(jump):
        r.problem(f"{key}.jumpHost", validate.check_host(jump))
    for setting in ("hostKey", "jumpHostKey"):
        checked[setting] = None
        if value.get(setting) is not None:
            checked[setting], error = validate.ssh_host_key(value[setting])
            if error:
                r.problem(f"{key}.{setting}", error)
    if "jumpHostKey" in value and jump is None:
        r.problem(f"{key}.jumpHostKey", "is set but jumpHost is not; set jumpHost or remove jumpHostKey")
    checked["virtType"] = virt_type = value.get("virtType") if "virtType" in allowed else None
    if virt_type is not None and virt_type not in VIRT_TYPES:
        r.problem(f"{key}.virtType", f"{virt_type!r} is not supported; use {' or '.join(VIRT_TYPES)}, or leave it out "
                  "to detect (kvm when /dev/kvm is usable)")
    return NodeSettings(**{NODE_SETTINGS[setting].name: v for setting, v in checked.items()})


def _node_problems(r: _Reader, production: bool, nodes: list[tuple[str, NodeSettings]]) -> None:
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


def _production_host_keys(r: _Reader, where: str, node: NodeSettings) -> None:
    if node.host_key is None:
        r.problem(f"{where}.hostKey", f"node {node.name!r} has no pinned SSH host key, which a production stack requires; "
                  f"set it to the output of `ssh-keyscan -t ed25519 {node.host}`")
    if node.jump_host and node.jump_host_key is None:
        r.problem(f"{where}.jumpHostKey", f"node {node.name!r} goes through {node.jump_host} without a pinned host key, "
                  f"which a production stack requires; set it to the output of `ssh-keyscan -t ed25519 {node.jump_host}`")


def _hypervisors(r: _Reader, value: Any) -> tuple[NodeSettings, ...]:
    if not isinstance(value, list):
        if value not in (None, {}):
            r.problem("hypervisors", "must be a list of nodes")
        return ()
    nodes = []
    for i, item in enumerate(value):
        node = _node(r, f"hypervisors[{i}]", item, name_default=f"compute{i + 1}", virt=True)
        if node is not None:
            nodes.append(node)
    names = [n.name for n in nodes]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        r.problem("hypervisors", f"node name {dup!r} is used twice; give each hypervisor its own name")
    return tuple(nodes)


def _dashboard(r: _Reader, value: Any, controller: Optional[NodeSettings]) -> DashboardSettings:
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
    node = controller if node_value in (None, "controller") else _node(r, "dashboard.node", node_value, name_default="dashboard")
    if enabled and node is not None and node is not controller and r.get("production"):
        _production_host_keys(r, "dashboard.node", node)
    return DashboardSettings(enabled=enabled, node=node if enabled else None, multidomain=multidomain,
                             time_zone=time_zone)


def _identity(r: _Reader, profile: Optional[releases.ReleaseProfile], controller: Optional[NodeSettings]) -> IdentitySettings:
    interfaces = r.get("endpointInterfaces")
    if isinstance(interfaces, list):
        if not interfaces:
            r.problem("endpointInterfaces", "must list at least one of public, internal, admin")
        for i, name in enumerate(interfaces):
            if name not in INTERFACES:
                r.problem(f"endpointInterfaces[{i}]", f"{name!r} is not a keystone interface; use public, internal or admin")
        if len(set(map(str, interfaces))) != len(interfaces):
            r.problem("endpointInterfaces", "lists an interface twice; list each once")
    else:
        interfaces = []
    default_url = r.get("endpointUrl")
    if default_url is None and profile is not None and controller is not None and controller.host:
        default_url = profile.release.endpoint_url.format(host=validate.url_host(controller.host))
    r.url("endpointUrl", default_url, ENDPOINT_CREDENTIALS)
    per_interface = r.get("endpointUrls", {})
    for iface in per_interface:
        if iface not in INTERFACES:
            r.problem(f"endpointUrls.{iface}", "is not a keystone interface; use public, internal or admin")
        elif iface not in interfaces:
            r.problem(f"endpointUrls.{iface}", f"sets a URL for an interface not listed in endpointInterfaces ({', '.join(map(str, interfaces))})")
        elif not isinstance(per_interface[iface], str):
            r.problem(f"endpointUrls.{iface}", "must be a URL string")
        else:
            r.url(f"endpointUrls.{iface}", per_interface[iface], ENDPOINT_CREDENTIALS)
    endpoints = tuple((iface, per_interface.get(iface, default_url)) for iface in interfaces if iface in INTERFACES)

    service_type = r.get("serviceType")
    if service_type not in KNOWN_SERVICE_TYPES and not r.get("allowCustomServiceType"):
        r.problem("serviceType", f"{service_type!r} is not a known service type ({', '.join(KNOWN_SERVICE_TYPES)}); "
                  "set allowCustomServiceType to true if it is intended")
    elif isinstance(service_type, str) and not re.fullmatch(r"[a-z][a-z0-9-]*", service_type):
        r.problem("serviceType", f"{service_type!r} is not a service type; use lower-case letters, digits and '-'")

    adopt = r.get("adoptIds", {})
    for extra in sorted(set(adopt) - {"user", "service", "endpoints"}):
        r.problem(f"adoptIds.{extra}", "is not adoptable; use user, service and endpoints.<interface>")
    adopt_endpoints = adopt.get("endpoints", {})
    if not isinstance(adopt_endpoints, dict):
        r.problem("adoptIds.endpoints", "must map interface names to endpoint ids")
        adopt_endpoints = {}
    for iface, ident in adopt_endpoints.items():
        if iface not in interfaces:
            r.problem(f"adoptIds.endpoints.{iface}", "names an interface not listed in endpointInterfaces")
    for key, ident in [("user", adopt.get("user")), ("service", adopt.get("service"))] + [
        (f"endpoints.{k}", v) for k, v in adopt_endpoints.items()
    ]:
        if ident is not None and not _is_keystone_id(ident):
            r.problem(f"adoptIds.{key}", f"{ident!r} is not a keystone id (32 hex characters as `openstack user show nova -f value -c id` prints)")
    looked_up = {}
    for key, command in (("serviceProjectId", "project show service"), ("serviceRoleId", "role show admin")):
        looked_up[key] = r.get(key)
        if looked_up[key] is not None and not _is_keystone_id(looked_up[key]):
            r.problem(key, f"{looked_up[key]!r} is not a keystone id; use what `openstack {command} -f value -c id` prints")
            looked_up[key] = None

    return IdentitySettings(
        user=r.name("novaUser", r.get("novaUser")),
        password=r.secret("novaPassword"),
        user_domain=r.name("novaUserDomain", r.get("novaUserDomain")),
        project=r.name("serviceProject", r.get("serviceProject")),
        role=r.name("serviceRole", r.get("serviceRole")),
        project_id=looked_up["serviceProjectId"],
        role_id=looked_up["serviceRoleId"],
        service_name=r.name("serviceName", r.get("serviceName")),
        service_type=service_type,
        description=r.get("serviceDescription"),
        endpoints=endpoints,
        adopt_user_id=adopt.get("user"),
        adopt_service_id=adopt.get("service"),
        adopt_endpoint_ids=tuple(sorted(adopt_endpoints.items())),
    )


# What a user who put a password into an endpoint URL is told.
ENDPOINT_CREDENTIALS = ("an endpoint URL is published in keystone's catalog to every client, and nova's own "
                        "password is the secret setting novaPassword")


def _placement(r: _Reader, value: Any, profile: Optional[releases.ReleaseProfile],
               controller: Optional[NodeSettings]) -> PlacementSettings:
    """placement: {deploy, dbName, dbUser}; deploy defaults to whether the release has placement."""
    offered = profile is not None and profile.release.placement is not None
    if not isinstance(value, dict):
        r.problem("placement", "must be a map: {deploy: true, dbName: placement, dbUser: placement}")
        value = {}
    for extra in sorted(set(value) - {"deploy", "dbName", "dbUser"}):
        r.problem(f"placement.{extra}", "is not a placement setting; use deploy, dbName and dbUser")
    deploy = value.get("deploy", offered)
    if not isinstance(deploy, bool):
        r.problem("placement.deploy", "must be true or false")
        deploy = False
    if deploy and not offered and profile is not None:
        r.problem("placement.deploy", f"release {profile.name} has no placement service (it predates it); "
                  "remove placement.deploy")
        deploy = False
    names = {}
    for key in ("dbName", "dbUser"):
        names[key] = value.get(key, "placement")
        found = validate.validate_identifier(names[key], f"placement.{key}")
        r.problems.extend(found)
    if len(str(names["dbUser"])) > validate.USER_NAME_MAX:
        r.problem("placement.dbUser", f"is longer than {validate.USER_NAME_MAX} characters, the MySQL 8 limit")
    password = r.secret("placementDbPassword")
    if deploy and password is None:
        r.problem("placementDbPassword", "is required to deploy placement (its database account); set it with "
                  "`pulumi config set --secret placementDbPassword <value>`")
    url = f"http://{validate.url_host(controller.host)}:8778" if deploy and controller and controller.host else None
    return PlacementSettings(deploy, names["dbName"], names["dbUser"], password, url)


def _is_keystone_id(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value))


def _overrides(r: _Reader) -> tuple[dict, dict]:
    plain = r.get("novaConf", {})
    secret_value = r.secret("novaConfSecret", multiline=True)  # JSON; values are checked below
    secret: dict = {}
    if secret_value is not None:
        try:
            secret = json.loads(secret_value.value)
        except json.JSONDecodeError:
            r.problem("novaConfSecret", "must be a map section -> option -> value (set it with --secret from JSON)")
    result = []
    for key, tree, wrap in (("novaConf", plain, str), ("novaConfSecret", secret, Secret)):
        out: dict = {}
        if not isinstance(tree, dict):
            r.problem(key, "must be a map section -> option -> value")
            result.append(out)
            continue
        for section, options in tree.items():
            if not _OPTION_RE.fullmatch(section):
                r.problem(f"{key}.{section}", "is not an INI section name; use letters, digits and '_'")
                continue
            if not isinstance(options, dict):
                r.problem(f"{key}.{section}", "must be a map option -> value")
                continue
            for option, value in options.items():
                where = f"{key}.{section}.{option}"
                if not _OPTION_RE.fullmatch(option):
                    r.problem(where, "is not an option name; use letters, digits and '_'")
                    continue
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (int, float)):
                    value = str(value)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    value = ",".join(value)
                if not isinstance(value, str):
                    r.problem(where, "must be a string, number, boolean or list of strings")
                    continue
                # novaConf's strings were checked as it was read (the reader checks every plain
                # setting's strings); novaConfSecret's are checked here, the value never shown.
                if key == "novaConfSecret" and (problem := validate.check_characters(
                        value, validate.SECRET_REFUSED_CATEGORIES, secret=True)):
                    r.problem(where, problem)
                    continue
                out.setdefault(section, {})[option] = wrap(value)
        result.append(out)
    plain_out, secret_out = result
    for section, options in secret_out.items():
        for option in options:
            if option in plain_out.get(section, {}):
                r.problem(f"novaConf.{section}.{option}", "is also set in novaConfSecret; set it in one place")
    return plain_out, secret_out


def _memcached(r: _Reader, value: Optional[str]) -> Optional[str]:
    """host:port,host:port. The checked items are what is rendered (stripped, joined by ','),
    never the raw text: a line break between items would otherwise reach the file."""
    if value is None or value == "":
        return None
    items = [item.strip() for item in value.split(",")]
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not validate.is_host(host) or not port.isascii() or not port.isdigit() or validate.check_port(int(port)):
            r.problem("memcachedServers", f"{item!r} is not host:port; use e.g. controller:11211")
        elif validate.ip(host) and validate.ip(host).version == 6:
            r.problem("memcachedServers", f"{item!r}: use a host name for an IPv6 memcached server (oslo.cache "
                      "needs the inet6:[address]:port form, which this program does not write)")
    if len(set(items)) != len(items):
        r.problem("memcachedServers", "lists a server twice; list each once")
    return ",".join(items)
