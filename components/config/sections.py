"""Checks of the other structured settings: nova's database account, nova's identity,
placement, nova.conf overrides, memcached servers."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from components import ini, releases, validate
from components.config.reader import Reader
from components.config.schema import INTERFACES, KNOWN_SERVICE_TYPES, Secret
from components.config.settings import IdentitySettings, NodeSettings, PlacementSettings

_OPTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def db_user(r: Reader) -> Optional[str]:
    user = r.identifier("dbUser")
    if user is not None and len(user) > validate.USER_NAME_MAX:
        r.problem("dbUser", f"{user!r} is longer than {validate.USER_NAME_MAX} characters, the limit of MySQL 8 "
                  "account names")
        return None
    return user


def _extra_role_ids(r: Reader, profile: Optional[releases.ReleaseProfile]) -> tuple[tuple[str, str], ...]:
    """`serviceExtraRoleIds`: the ids of the roles a release assigns besides serviceRole (2023.1 and
    later: `service`), so that a preview looks none of them up in keystone."""
    given = r.get("serviceExtraRoleIds", {})
    if not isinstance(given, dict):  # the reader named its type already
        return ()
    extra = [role for role in (profile.release.extra_service_roles if profile else ()) if role != r.get("serviceRole")]
    found = []
    for role, ident in sorted(given.items()):
        key = f"serviceExtraRoleIds.{role}"
        if role == r.get("serviceRole"):
            r.problem(key, f"{role!r} is serviceRole; give its id as serviceRoleId")
        elif profile is not None and role not in extra:
            assigned = ", ".join(extra) or "none"
            r.problem(key, f"{role!r} is not a role this release assigns besides serviceRole (it assigns: {assigned})")
        elif not _is_keystone_id(ident):
            r.problem(key, f"{ident!r} is not a keystone id; use what `openstack role show {role} -f value -c id` prints")
        else:
            found.append((role, ident))
    return tuple(found)


def identity(r: Reader, profile: Optional[releases.ReleaseProfile], controller: Optional[NodeSettings]) -> IdentitySettings:
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
    derived_url = None  # the release's endpoint on the controller
    if profile is not None and controller is not None and controller.host:
        derived_url = profile.release.endpoint_url.format(host=validate.url_host(controller.host))
    default_url = r.url("endpointUrl", default=derived_url, credentials_hint=ENDPOINT_CREDENTIALS)
    per_interface = r.get("endpointUrls", {})
    for iface in per_interface:
        if iface not in INTERFACES:
            r.problem(f"endpointUrls.{iface}", "is not a keystone interface; use public, internal or admin")
        elif iface not in interfaces:
            r.problem(f"endpointUrls.{iface}", f"sets a URL for an interface not listed in endpointInterfaces ({', '.join(map(str, interfaces))})")
        elif not isinstance(per_interface[iface], str):
            r.problem(f"endpointUrls.{iface}", "must be a URL string")
        else:
            r.check_url(f"endpointUrls.{iface}", per_interface[iface], ENDPOINT_CREDENTIALS)
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
    extra_role_ids = _extra_role_ids(r, profile)

    return IdentitySettings(
        user=r.name("novaUser"),
        password=r.secret("novaPassword"),
        user_domain=r.name("novaUserDomain"),
        project=r.name("serviceProject"),
        role=r.name("serviceRole"),
        project_id=looked_up["serviceProjectId"],
        role_id=looked_up["serviceRoleId"],
        extra_role_ids=extra_role_ids,
        service_name=r.name("serviceName"),
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


def placement(r: Reader, profile: Optional[releases.ReleaseProfile],
              controller: Optional[NodeSettings]) -> PlacementSettings:
    """placement: {deploy, dbName, dbUser}; deploy defaults to whether the release has placement."""
    value = r.get("placement", {})
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


def overrides(r: Reader) -> tuple[dict, dict]:
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
            if ini.oslo_section(section) == "default":
                r.problem(f"{key}.{section}", "is not nova's default section: oslo.config reads only `DEFAULT`, in "
                          f"upper case, as that, and [{section}] as a section of its own that nova ignores; "
                          "write DEFAULT")
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
    # oslo.config reads [LIBVIRT] as [libvirt]: one option under two spellings would be set twice
    # (the renderer merges the spellings into one section; which value should win is the user's call)
    plain_out, secret_out = result
    first_spelling: dict[tuple[str, str], str] = {}
    for key, tree in (("novaConf", plain_out), ("novaConfSecret", secret_out)):
        for section, options in tree.items():
            for option in options:
                first = first_spelling.setdefault((ini.oslo_section(section), option), f"{key}.{section}")
                if first.startswith("novaConf.") and key == "novaConfSecret":
                    r.problem(f"{first}.{option}", "is also set in novaConfSecret; set it in one place")
                elif first != f"{key}.{section}":
                    r.problem(f"{key}.{section}.{option}", f"is also set as {first}.{option}, which oslo.config "
                              f"reads as the same [{ini.oslo_section(section)}] option (section names are not "
                              "case-sensitive); set it in one place")
    return plain_out, secret_out


def memcached(r: Reader) -> Optional[str]:
    """memcachedServers: host:port,host:port. The checked items are what is rendered (stripped,
    joined by ','), never the raw text: a line break between items would otherwise reach the file."""
    value = r.get("memcachedServers")
    if value is None or value == "":
        return None
    items = [item.strip() for item in value.split(",")]
    for i, item in enumerate(items):
        host, _, port = item.rpartition(":")
        if (ipv4 := validate.unmapped(host)) != host:  # ::ffff:10.0.0.5:11211 is 10.0.0.5:11211 (validate.unmapped)
            host = ipv4
            items[i] = item = f"{host}:{port}"
        if not host or not validate.is_host(host) or not port.isascii() or not port.isdigit() or validate.check_port(int(port)):
            r.problem("memcachedServers", f"{validate.without_userinfo(item)!r} is not host:port; use e.g. "
                      "controller:11211")
        elif validate.ip(host) and validate.ip(host).version == 6:
            r.problem("memcachedServers", f"{item!r}: use a host name for an IPv6 memcached server (oslo.cache "
                      "needs the inet6:[address]:port form, which this program does not write)")
    if len(set(items)) != len(items):
        r.problem("memcachedServers", "lists a server twice; list each once")
    return ",".join(items)
