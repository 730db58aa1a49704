"""One typed, validated view of a stack's configuration.

`load_settings(raw, secret_keys, stack)` is pure: it takes the stack's config as Pulumi hands it
to a program (keys `openstack-nova:<name>` mapped to strings, JSON for arrays and objects) and
returns `Settings`, or raises `ConfigError` listing every problem at once. Nothing is
registered with Pulumi before that succeeds, so bad config never half-applies a stack.

Defaults live in one place, Pulumi.yaml's `config:` block: the CLI applies them, and
`project_defaults()` reads them for every other caller (the offline plan, tests). Keys Pulumi.yaml
cannot declare (objects) are optional and default to empty here.
"""
from __future__ import annotations

import difflib
import json
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from components import releases, validate
from components.mysql_admin import validate_host_pattern, validate_identifier

PROJECT = "openstack-nova"
PULUMI_YAML = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
SEED_DEFAULT_PASSWORD = "openstack"


class Secret:
    """A secret config value. Prints as [secret]; `.value` is read only where it is used."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return "Secret([secret])"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Secret", self.value))


class ConfigError(Exception):
    """Every problem of a stack's config, each naming the key, what is wrong and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the stack configuration:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


# ---------------------------------------------------------------------------------------------
# Schema: key -> (kind, secret, required). Kinds: string, integer, boolean, array, object.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    kind: str
    secret: bool = False
    required: bool = False


@functools.lru_cache(maxsize=1)
def project_declarations() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block: key -> {type, description, secret, default, items}."""
    declared = yaml.safe_load(PULUMI_YAML.read_text()).get("config") or {}
    return {key: decl for key, decl in declared.items() if isinstance(decl, dict)}


# What Pulumi.yaml cannot declare: structured values (its types are string, integer, boolean
# and array of those) and optional secrets (a declared key without a default is one the CLI
# requires, and a secret must not carry a plain default).
UNDECLARED: dict[str, Key] = {
    "controller": Key("object", required=True),
    "hypervisors": Key("array"),  # of node maps
    "dashboard": Key("object"),
    "endpointUrls": Key("object"),
    "adoptIds": Key("object"),
    "novaConf": Key("object"),
    "novaConfSecret": Key("object", secret=True),
    "sshPrivateKey": Key("string", secret=True),  # unset: the SSH agent
    "placementPassword": Key("string", secret=True),  # required by modern releases (checked below)
    "metadataSecret": Key("string", secret=True),
}


def _schema() -> dict[str, Key]:
    declared = {key: Key(decl["type"], secret=bool(decl.get("secret")), required="default" not in decl)
                for key, decl in project_declarations().items()}
    return {**declared, **UNDECLARED}


SCHEMA: dict[str, Key] = _schema()

INTERFACES = ("public", "internal", "admin")
KNOWN_SERVICE_TYPES = ("compute",)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}$")  # keystone/rabbit/ssh names
_NODE_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
_OPTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_URL_RE = re.compile(r"^https?://[^\s'\"`\\]+$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./-]*$")


# ---------------------------------------------------------------------------------------------
# Settings: what components receive
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    admin_user: str
    admin_password: Secret
    ca_file: Optional[str]
    names: tuple[str, ...]  # the release's databases, main one included
    main_name: str
    api_name: Optional[str]
    user: str
    password: Secret
    allowed_hosts: tuple[str, ...]
    drop_on_delete: bool


@dataclass(frozen=True)
class MessagingSettings:
    host: str
    port: int
    user: str
    password: Secret


@dataclass(frozen=True)
class KeystoneSettings:
    host: str
    public_url: str  # what clients are told (auth_uri / www_authenticate_uri)
    auth_url: str  # where services authenticate (Liberty: admin port 35357)
    admin_user: str
    admin_project: str
    admin_password: Secret
    user_domain: str
    project_domain: str
    ca_file: Optional[str]
    insecure: bool
    region: str


@dataclass(frozen=True)
class IdentitySettings:
    user: str
    password: Secret
    user_domain: str
    project: str
    role: str
    project_id: Optional[str]  # set: no keystone lookup of `project` (preview needs no keystone)
    role_id: Optional[str]
    service_name: str
    service_type: str
    description: str
    endpoints: tuple[tuple[str, str], ...]  # (interface, url)
    adopt_user_id: Optional[str]
    adopt_service_id: Optional[str]
    adopt_endpoint_ids: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NodeSettings:
    name: str
    host: str
    port: int
    user: str
    my_ip: str
    jump_host: Optional[str]
    virt_type: Optional[str] = None  # hypervisors only: kvm, qemu or None (detect)
    host_key: Optional[str] = None  # "keytype base64": the SSH host key the node must present
    jump_host_key: Optional[str] = None  # the same for the jump host


@dataclass(frozen=True)
class DashboardSettings:
    enabled: bool
    node: Optional[NodeSettings]


@dataclass(frozen=True)
class Settings:
    stack: str
    release: releases.ReleaseProfile
    production: bool
    database: DatabaseSettings
    messaging: MessagingSettings
    keystone: KeystoneSettings
    identity: IdentitySettings
    controller: NodeSettings
    ssh_private_key: Optional[Secret]
    hypervisors: tuple[NodeSettings, ...]
    dashboard: DashboardSettings
    glance_host: Optional[str]  # None: nova finds glance in the keystone catalog
    neutron_user: str
    neutron_password: Secret
    metadata_secret: Optional[Secret]
    placement_user: str
    placement_password: Optional[Secret]
    memcached_servers: Optional[str]
    nova_conf_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    nova_conf_secret_overrides: Mapping[str, Mapping[str, Secret]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def project_defaults() -> dict[str, Any]:
    """The defaults Pulumi.yaml declares, by key (without the project namespace)."""
    return {key: decl["default"] for key, decl in project_declarations().items() if "default" in decl}


class _Reader:
    """Reads raw config values by key (Pulumi.yaml's defaults under them), collecting problems
    instead of raising."""

    def __init__(self, raw: Mapping[str, Any], secret_keys: set[str]):
        self.raw = {**project_defaults(), **raw}
        self.secret_keys = secret_keys
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{key}: {text}")

    def _value(self, key: str) -> Any:
        spec = SCHEMA[key]
        value = self.raw.get(key)
        if value == "" and spec.kind == "string" and project_defaults().get(key) == "":
            value = None  # Pulumi.yaml's "" default: derived from other settings
        if value is None:
            if spec.required:
                how = f"pulumi config set --secret {key} <value>" if spec.secret else f"pulumi config set {key} <value>"
                self.problem(key, f"is required but not set; set it with `{how}`")
            return None
        if spec.kind == "string":
            if not isinstance(value, str):
                self.problem(key, f"must be a string, got {type(value).__name__}")
                return None
            return value
        if spec.kind == "integer":
            if isinstance(value, bool):
                self.problem(key, "must be an integer, got a boolean")
                return None
            try:
                number = int(value) if not isinstance(value, float) or value.is_integer() else None
            except (TypeError, ValueError):
                number = None
            if number is None:
                self.problem(key, f"must be an integer, got {_shown(key, value, spec)}")
            return number
        if spec.kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            self.problem(key, f"must be true or false, got {_shown(key, value, spec)}")
            return None
        # array / object: JSON text (as Pulumi passes structured config) or already parsed
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                self.problem(key, f"must be a {'list' if spec.kind == 'array' else 'map'} (structured config), got a plain string")
                return None
        expected = list if spec.kind == "array" else dict
        if not isinstance(value, expected):
            self.problem(key, f"must be a {'list' if spec.kind == 'array' else 'map'}, got {type(value).__name__}")
            return None
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._value(key)
        return default if value is None else value

    def secret(self, key: str, multiline: bool = False) -> Optional[Secret]:
        value = self._value(key)
        if value is None:
            return None
        if key not in self.secret_keys:
            self.problem(key, f"holds a password in plain text; store it encrypted with `pulumi config set --secret {key} <value>`")
        if value == "":
            self.problem(key, f"is empty; set a real value with `pulumi config set --secret {key} <value>`")
        elif isinstance(value, str) and "\x00" in value:
            self.problem(key, "must not contain NUL characters")
        elif isinstance(value, str) and not multiline and ("\n" in value or "\r" in value):
            self.problem(key, "must not contain newlines")
        return Secret(value) if isinstance(value, str) else Secret(json.dumps(value))

    # -- typed checks ------------------------------------------------------------------------
    def host(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and validate.check_host(value):
            self.problem(key, validate.check_host(value))
            return None
        return value

    def identifier(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        found = validate_identifier(value, key)
        self.problems.extend(found)
        return None if found else value

    def name(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and not _NAME_RE.match(value):
            self.problem(key, f"{value!r} is not a plain name; use letters, digits, '.', '_', '-' or '@'")
            return None
        return value

    def url(self, key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and not _URL_RE.match(value):
            self.problem(key, f"{value!r} is not an http(s) URL; use e.g. http://controller:8774/v2.1")
            return None
        return value

    def path(self, key: str, value: Optional[str]) -> Optional[str]:
        if value in (None, ""):
            return None
        if not _PATH_RE.match(value):
            self.problem(key, f"{value!r} is not an absolute path of plain characters; use e.g. /etc/ssl/certs/ca.pem")
            return None
        return value

    def port(self, key: str, value: Optional[int]) -> Optional[int]:
        if value is not None and not 1 <= value <= 65535:
            self.problem(key, f"{value} is not a TCP port; use a number from 1 to 65535")
            return None
        return value


def _shown(key: str, value: Any, spec: Key) -> str:
    return "[secret]" if spec.secret else repr(value)


def _strip_namespace(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep this project's keys; provider keys (openstack:...) are not ours to check."""
    ours: dict[str, Any] = {}
    for full_key, value in raw.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace in ("", PROJECT):
            ours[key] = value
    unknown = []
    for key in ours:
        if key not in SCHEMA:
            close = difflib.get_close_matches(key, SCHEMA, n=1, cutoff=0.7)
            hint = f"; did you mean `{close[0]}`?" if close else f"; known keys are listed in Pulumi.yaml"
            unknown.append(f"{key}: is not a setting of {PROJECT}{hint}")
    return ours, unknown


def load_settings(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str], stack: str) -> Settings:
    ours, unknown = _strip_namespace(raw)
    secret_names = {k.rpartition(":")[2] for k in secret_keys}
    r = _Reader(ours, secret_names)
    r.problems.extend(unknown)

    release_name = r.get("release")
    profile = None
    if release_name is not None:
        profile = releases.PROFILES.get(release_name)
        if profile is None:
            r.problem("release", f"{release_name!r} is not a known release; use one of {', '.join(sorted(releases.PROFILES))}")
    production = r.get("production")

    # -- database ----------------------------------------------------------------------------
    db_name = r.identifier("dbName", r.get("dbName"))
    db_names: tuple[str, ...] = ()
    if profile is not None and db_name is not None:
        db_names = tuple(template.format(name=db_name) for template in profile.databases.values())
        for derived in db_names:
            if derived != db_name:
                r.identifier("dbName", derived)
    allowed_hosts = r.get("dbAllowedHosts")
    if isinstance(allowed_hosts, list):
        if not allowed_hosts:
            r.problem("dbAllowedHosts", "must list at least one host pattern, e.g. [\"localhost\", \"%\"]")
        for i, pattern in enumerate(allowed_hosts):
            if not isinstance(pattern, str):
                r.problem(f"dbAllowedHosts[{i}]", f"must be a string host pattern, got {type(pattern).__name__}")
            else:
                r.problems.extend(validate_host_pattern(pattern, f"dbAllowedHosts[{i}]"))
        if len(set(map(str, allowed_hosts))) != len(allowed_hosts):
            r.problem("dbAllowedHosts", "lists a host pattern twice; list each once")
    database = DatabaseSettings(
        host=r.host("dbHost", r.get("dbHost")),
        port=r.port("dbPort", r.get("dbPort")),
        admin_user=r.name("dbAdminUser", r.get("dbAdminUser")),
        admin_password=r.secret("dbAdminPassword"),
        ca_file=r.path("dbCaFile", r.get("dbCaFile")),
        names=db_names,
        main_name=db_name,
        api_name=(profile.databases.get("api", "").format(name=db_name) or None) if profile and db_name else None,
        user=_db_user(r, r.identifier("dbUser", r.get("dbUser"))),
        password=r.secret("dbPassword"),
        allowed_hosts=tuple(allowed_hosts) if isinstance(allowed_hosts, list) else (),
        drop_on_delete=r.get("dbDropOnDelete"),
    )

    if database.password is not None and not database.password.value.isascii():
        # nova reaches MySQL through PyMySQL, which sends a login password as latin-1 while the
        # server hashed its UTF-8 bytes: a non-ASCII password locks nova out.
        r.problem("dbPassword", "contains non-ASCII characters, which nova's MySQL driver cannot log in with; use ASCII")

    if (database.password is not None and profile is not None and "cell0" in profile.databases
            and any(c in database.password.value for c in "@%")):
        # nova-manage cell_v2 map_cell0 derives the cell0 URL from [database] connection and
        # percent-decodes the whole URL, so an encoded '@' or '%' in the password corrupts it.
        r.problem("dbPassword", f"contains '@' or '%', which release {profile.name}'s cell0 mapping "
                  "cannot carry (nova-manage percent-decodes the database URL); use other characters")

    messaging = MessagingSettings(
        host=r.host("rabbitHost", r.get("rabbitHost", database.host)),
        port=r.port("rabbitPort", r.get("rabbitPort")),
        user=r.name("rabbitUser", r.get("rabbitUser")),
        password=r.secret("rabbitPassword"),
    )

    keystone_host = r.host("keystoneHost", r.get("keystoneHost"))
    public_default = f"http://{validate.url_host(keystone_host)}:5000" if keystone_host else None
    keystone = KeystoneSettings(
        host=keystone_host,
        public_url=r.url("keystonePublicUrl", r.get("keystonePublicUrl", public_default)),
        auth_url=r.url("keystoneAuthUrl", r.get("keystoneAuthUrl", public_default)),
        admin_user=r.name("keystoneAdminUser", r.get("keystoneAdminUser")),
        admin_project=r.name("keystoneAdminProject", r.get("keystoneAdminProject")),
        admin_password=r.secret("keystoneAdminPassword"),
        user_domain=r.name("keystoneUserDomain", r.get("keystoneUserDomain")),
        project_domain=r.name("keystoneProjectDomain", r.get("keystoneProjectDomain")),
        ca_file=r.path("keystoneCaFile", r.get("keystoneCaFile")),
        insecure=r.get("keystoneInsecure"),
        region=r.get("region"),
    )
    if keystone.region is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", keystone.region):
        r.problem("region", f"{keystone.region!r} is not a region name; use e.g. RegionOne (it must not be empty)")

    controller = _node(r, "controller", r.get("controller"), name_default="controller")
    hypervisors = _hypervisors(r, r.get("hypervisors", []))
    _node_problems(r, bool(production), ([("controller", controller)] if controller else [])
                   + [(f"hypervisors[{i}]", node) for i, node in enumerate(hypervisors)])
    dashboard = _dashboard(r, r.get("dashboard", {}), controller)

    identity = _identity(r, profile, controller)

    ssh_key = r.secret("sshPrivateKey", multiline=True)  # a PEM/OpenSSH key spans lines

    overrides, secret_overrides = _overrides(r)

    placement_password = r.secret("placementPassword")
    metadata_secret = r.secret("metadataSecret")
    if profile is not None and profile.needs_placement and placement_password is None:
        r.problem("placementPassword", f"is required by release {profile.name} (placement is a separate service); set it with `pulumi config set --secret placementPassword <value>`")

    settings_kwargs = dict(
        stack=stack,
        release=profile,
        production=production,
        database=database,
        messaging=messaging,
        keystone=keystone,
        identity=identity,
        controller=controller,
        ssh_private_key=ssh_key,
        hypervisors=hypervisors,
        dashboard=dashboard,
        glance_host=r.host("glanceHost", r.get("glanceHost")),
        neutron_user=r.name("neutronUser", r.get("neutronUser")),
        neutron_password=r.secret("neutronPassword"),
        metadata_secret=metadata_secret,
        placement_user=r.name("placementUser", r.get("placementUser")),
        placement_password=placement_password,
        memcached_servers=_memcached(r, r.get("memcachedServers")),
        nova_conf_overrides=overrides,
        nova_conf_secret_overrides=secret_overrides,
    )

    if production:
        for key in ("dbAdminPassword", "dbPassword", "rabbitPassword", "keystoneAdminPassword", "novaPassword",
                    "neutronPassword", "placementPassword", "metadataSecret"):
            value = r.raw.get(key)
            if isinstance(value, str) and value == SEED_DEFAULT_PASSWORD:
                r.problem(key, f"is the tutorial's default password; a production stack needs its own (`pulumi config set --secret {key} <value>`)")

    if r.problems:
        raise ConfigError(r.problems)
    return Settings(**settings_kwargs)


def _db_user(r: _Reader, user: Optional[str]) -> Optional[str]:
    if user is not None and len(user) > 32:
        r.problem("dbUser", f"{user!r} is longer than 32 characters, the limit of MySQL 8 account names")
        return None
    return user


NODE_KEYS = ("name", "host", "port", "user", "myIp", "jumpHost", "hostKey", "jumpHostKey")


def _node(r: _Reader, key: str, value: Any, name_default: str, virt: bool = False) -> Optional[NodeSettings]:
    if value is None:
        return None
    if not isinstance(value, dict):
        r.problem(key, "must be a map with host, myIp and optional port, user, jumpHost, hostKey")
        return None
    allowed = set(NODE_KEYS) | ({"virtType"} if virt else set())
    for extra in sorted(set(value) - allowed):
        close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
        r.problem(f"{key}.{extra}", "is not a node setting" + (f"; did you mean `{close[0]}`?" if close else f"; use {', '.join(sorted(allowed))}"))
    if "host" not in value:
        r.problem(f"{key}.host", "is required: the address the program reaches the node at over SSH")
    if "myIp" not in value:
        r.problem(f"{key}.myIp", "is required: the node's management IP (nova's my_ip)")
    name = value.get("name", name_default)
    if not isinstance(name, str) or not _NODE_NAME_RE.match(name):
        r.problem(f"{key}.name", f"{name!r} is not a node name; use lower-case letters, digits and '-'")
    host = value.get("host")
    if host is not None and validate.check_host(host):
        r.problem(f"{key}.host", validate.check_host(host))
    port = value.get("port", 22)
    if validate.check_port(port):
        r.problem(f"{key}.port", validate.check_port(port))
        port = 22
    user = value.get("user", r.raw.get("sshUser"))
    if not isinstance(user, str) or not _NAME_RE.match(user):
        r.problem(f"{key}.user", f"{user!r} is not a user name")
    my_ip = value.get("myIp")
    if my_ip is not None and validate.check_ip(my_ip):
        r.problem(f"{key}.myIp", validate.check_ip(my_ip))
        my_ip = None
    jump = value.get("jumpHost")
    if jump is not None and validate.check_host(jump):
        r.problem(f"{key}.jumpHost", validate.check_host(jump))
    keys = {}
    for setting in ("hostKey", "jumpHostKey"):
        if value.get(setting) is not None:
            keys[setting], error = validate.ssh_host_key(value[setting])
            if error:
                r.problem(f"{key}.{setting}", error)
    if "jumpHostKey" in value and jump is None:
        r.problem(f"{key}.jumpHostKey", "is set but jumpHost is not; set jumpHost or remove jumpHostKey")
    virt_type = value.get("virtType") if virt else None
    if virt_type is not None and virt_type not in ("kvm", "qemu"):
        r.problem(f"{key}.virtType", f"{virt_type!r} is not supported; use kvm or qemu, or leave it out to detect (kvm when the CPU has vmx/svm)")
    return NodeSettings(name=name, host=host, port=int(port), user=user, my_ip=my_ip, jump_host=jump, virt_type=virt_type,
                        host_key=keys.get("hostKey"), jump_host_key=keys.get("jumpHostKey"))


def _node_problems(r: _Reader, production: bool, nodes: list[tuple[str, NodeSettings]]) -> None:
    """Across nodes: one machine per node (two nodes on one host would both write
    /etc/nova/nova.conf, with different content), and pinned host keys in production."""
    seen: dict[str, str] = {}
    for where, node in nodes:
        for address in {node.host and node.host.lower(), node.my_ip}:
            if address is None:
                continue
            if address in seen and seen[address] != node.name:
                r.problem(f"{where}.host", f"{node.name!r} is on {address}, as {seen[address]!r} is: each node needs a "
                          "machine of its own (both would write /etc/nova/nova.conf); an all-in-one node is not supported")
            seen.setdefault(address, node.name)
        if production and node.host_key is None:
            r.problem(f"{where}.hostKey", f"node {node.name!r} has no pinned SSH host key, which a production stack requires; "
                      f"set it to the output of `ssh-keyscan -t ed25519 {node.host}`")
        if production and node.jump_host and node.jump_host_key is None:
            r.problem(f"{where}.jumpHostKey", f"node {node.name!r} goes through {node.jump_host} without a pinned host key; "
                      f"set it to the output of `ssh-keyscan -t ed25519 {node.jump_host}`")


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
    for extra in sorted(set(value) - {"enabled", "node"}):
        r.problem(f"dashboard.{extra}", "is not a dashboard setting; use enabled and node")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        r.problem("dashboard.enabled", "must be true or false")
        enabled = False
    node_value = value.get("node")
    node = controller if node_value in (None, "controller") else _node(r, "dashboard.node", node_value, name_default="dashboard")
    return DashboardSettings(enabled=enabled, node=node if enabled else None)


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
        default_url = profile.endpoint_url.format(host=validate.url_host(controller.host))
    r.url("endpointUrl", default_url)
    per_interface = r.get("endpointUrls", {})
    for iface in per_interface:
        if iface not in INTERFACES:
            r.problem(f"endpointUrls.{iface}", "is not a keystone interface; use public, internal or admin")
        elif iface not in interfaces:
            r.problem(f"endpointUrls.{iface}", f"sets a URL for an interface not listed in endpointInterfaces ({', '.join(map(str, interfaces))})")
        elif not isinstance(per_interface[iface], str):
            r.problem(f"endpointUrls.{iface}", "must be a URL string")
        else:
            r.url(f"endpointUrls.{iface}", per_interface[iface])
    endpoints = tuple((iface, per_interface.get(iface, default_url)) for iface in interfaces if iface in INTERFACES)

    service_type = r.get("serviceType")
    if service_type not in KNOWN_SERVICE_TYPES and not r.get("allowCustomServiceType"):
        r.problem("serviceType", f"{service_type!r} is not a known service type ({', '.join(KNOWN_SERVICE_TYPES)}); "
                  "set allowCustomServiceType to true if it is intended")
    elif isinstance(service_type, str) and not re.match(r"^[a-z][a-z0-9-]*$", service_type):
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
            if not _OPTION_RE.match(section):
                r.problem(f"{key}.{section}", "is not an INI section name; use letters, digits and '_'")
                continue
            if not isinstance(options, dict):
                r.problem(f"{key}.{section}", "must be a map option -> value")
                continue
            for option, value in options.items():
                where = f"{key}.{section}.{option}"
                if not _OPTION_RE.match(option):
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
                if "\n" in value or "\r" in value:
                    r.problem(where, "must not contain a newline (it would inject INI lines)")
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
    if value is None or value == "":
        return None
    for i, item in enumerate(value.split(",")):
        host, _, port = item.strip().rpartition(":")
        if not host or not validate.is_host(host) or not port.isdigit():
            r.problem("memcachedServers", f"{item!r} is not host:port; use e.g. controller:11211")
        elif validate.ip(host) and validate.ip(host).version == 6:
            r.problem("memcachedServers", f"{item!r}: use a host name for an IPv6 memcached server (oslo.cache "
                      "needs the inet6:[address]:port form, which this program does not write)")
    return value
