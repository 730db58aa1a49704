"""One typed, validated view of a stack's configuration.

`load_settings(raw, secret_keys, stack)` is pure: it takes the stack's config as Pulumi hands it
to a program (keys `openstack-nova:<name>` mapped to strings, JSON for arrays and objects) and
returns `Settings`, or raises `ConfigError` listing every problem at once. Nothing is
registered with Pulumi before that succeeds, so bad config never half-applies a stack.

What the settings make of nova.conf (an override of an option the program fills) is checked in
a phase of its own once they are read, `components.override_check`: it renders, and this layer
stays below the renderers.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from components import releases, validate
from components.config import migration, nodes, sections
from components.config.reader import Reader, strip_namespace
from components.config.schema import PROJECT, SECRET_KEYS, SEED_DEFAULT_PASSWORD, ConfigError
from components.config.settings import DatabaseSettings, KeystoneSettings, MessagingSettings, Settings
from components.validate import validate_host_pattern


def load_settings(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str], stack: str) -> Settings:
    ours, unknown = strip_namespace(raw)
    secret_names = {k.rpartition(":")[2] for k in secret_keys}
    r = Reader(ours, secret_names)
    r.problems.extend(unknown)

    release_name, distro = r.get("release"), r.get("distro")
    profile = None
    if release_name is not None:
        profile = releases.profile(release_name, distro)
        if release_name not in releases.RELEASES:
            r.problem("release", f"{release_name!r} is not a known release; use one of {', '.join(sorted(releases.RELEASES))}")
        elif profile is None:
            offered = sorted(d for (rel, d) in releases.PROFILES if rel == release_name)
            r.problem("distro", f"{distro!r} does not package release {release_name}; use one of {', '.join(offered)}")
    production = r.get("production")

    # -- database ----------------------------------------------------------------------------
    db_name = r.identifier("dbName")
    db_names: tuple[str, ...] = ()
    if profile is not None and db_name is not None:
        db_names = tuple(template.format(name=db_name) for template in profile.release.databases.values())
        for derived in db_names:
            if derived != db_name:
                r.check_identifier("dbName", derived)
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
        host=r.host("dbHost"),
        port=r.port("dbPort"),
        admin_user=r.name("dbAdminUser"),
        admin_password=r.secret("dbAdminPassword"),
        ca_file=r.path("dbCaFile"),
        names=db_names,
        main_name=db_name,
        api_name=(profile.release.databases.get("api", "").format(name=db_name) or None) if profile and db_name else None,
        cell0_name=(profile.release.databases.get("cell0", "").format(name=db_name) or None) if profile and db_name else None,
        user=sections.db_user(r),
        password=r.secret("dbPassword"),
        allowed_hosts=tuple(allowed_hosts) if isinstance(allowed_hosts, list) else (),
        drop_on_delete=r.get("dbDropOnDelete"),
    )

    if database.password is not None and not database.password.value.isascii():
        # nova reaches MySQL through PyMySQL, which sends a login password as latin-1 while the
        # server hashed its UTF-8 bytes: a non-ASCII password locks nova out.
        r.problem("dbPassword", "contains non-ASCII characters, which nova's MySQL driver cannot log in with; use ASCII")

    if (database.password is not None and profile is not None and profile.release.cells_v2
            and any(c in database.password.value for c in "@%")):
        # nova-manage cell_v2 map_cell0 derives the cell0 URL from [database] connection and
        # percent-decodes the whole URL, so an encoded '@' or '%' in the password corrupts it.
        r.problem("dbPassword", f"contains '@' or '%', which release {profile.name}'s cell0 mapping "
                  "cannot carry (nova-manage percent-decodes the database URL); use other characters")

    messaging = MessagingSettings(
        host=r.host("rabbitHost", default=database.host),
        port=r.port("rabbitPort"),
        user=r.name("rabbitUser"),
        password=r.secret("rabbitPassword"),
    )

    keystone_host = r.host("keystoneHost")
    public_default = f"http://{validate.url_host(keystone_host)}:5000" if keystone_host else None
    keystone = KeystoneSettings(
        host=keystone_host,
        public_url=r.url("keystonePublicUrl", default=public_default, credentials_hint=KEYSTONE_CREDENTIALS),
        auth_url=r.url("keystoneAuthUrl", default=public_default, credentials_hint=KEYSTONE_CREDENTIALS),
        admin_user=r.name("keystoneAdminUser"),
        admin_project=r.name("keystoneAdminProject"),
        admin_password=r.secret("keystoneAdminPassword"),
        user_domain=r.name("keystoneUserDomain"),
        project_domain=r.name("keystoneProjectDomain"),
        ca_file=r.path("keystoneCaFile"),
        insecure=r.get("keystoneInsecure"),
        region=r.get("region"),
    )
    if keystone.region is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", keystone.region):
        r.problem("region", f"{keystone.region!r} is not a region name; use e.g. RegionOne (it must not be empty)")

    controller = nodes.controller(r)
    hypervisors = nodes.hypervisors(r, controller, f"{PROJECT}-{stack}")
    nodes.node_problems(r, bool(production), ([("controller", controller)] if controller else [])
                        + [(f"hypervisors[{i}]", node) for i, node in enumerate(hypervisors)])
    dashboard = nodes.dashboard(r, controller)

    identity = sections.identity(r, profile, controller)

    ssh_key = r.secret("sshPrivateKey", multiline=True)  # a PEM/OpenSSH key spans lines

    overrides, secret_overrides = sections.overrides(r)
    moves = migration.migration(r, hypervisors, release_name,
                                profile is not None and "live_migration_scheme" in profile.release.compute_conf.get("libvirt", {}))

    placement_password = r.secret("placementPassword")
    metadata_secret = r.secret("metadataSecret")
    if profile is not None and profile.release.needs_placement and placement_password is None:
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
        glance_host=r.host("glanceHost"),
        neutron_user=r.name("neutronUser"),
        neutron_password=r.secret("neutronPassword"),
        metadata_secret=metadata_secret,
        placement_user=r.name("placementUser"),
        placement_password=placement_password,
        placement=sections.placement(r, profile, controller),
        memcached_servers=sections.memcached(r),
        nova_conf_overrides=overrides,
        nova_conf_secret_overrides=secret_overrides,
        workers=_workers(r),
        migration=moves,
    )

    warnings: list[str] = []
    if production:
        for key in SECRET_KEYS:
            value = r.raw.get(key)
            if isinstance(value, str) and value == SEED_DEFAULT_PASSWORD:
                r.problem(key, f"is the tutorial's default password; a production stack needs its own (`pulumi config set --secret {key} <value>`)")
        warnings = _production_rules(r, keystone, database, settings_kwargs["identity"])

    if r.problems:
        raise ConfigError(list(dict.fromkeys(r.problems)))  # a key read twice reports once
    return Settings(**settings_kwargs, warnings=tuple(warnings), secrets=dict(r.secrets))


# What a user who put a password into a keystone URL is told.
KEYSTONE_CREDENTIALS = "the admin's password is the secret setting keystoneAdminPassword"


def _production_rules(r: Reader, keystone: KeystoneSettings, database: DatabaseSettings,
                      identity) -> list[str]:
    """What a production stack refuses (TLS off where passwords and tokens travel), and what it
    only warns about (returned), each with the reason. README lists them."""
    for key, url in (("keystonePublicUrl", keystone.public_url), ("keystoneAuthUrl", keystone.auth_url)):
        if url is not None and not url.startswith("https://"):
            r.problem(key, f"{url!r} is plain http, which a production stack refuses: every service's password "
                      "and token crosses it in clear; use an https URL (and keystoneCaFile for a private CA)")
    if keystone.insecure:
        r.problem("keystoneInsecure", "is true, which a production stack refuses: keystone's certificate would not "
                  "be verified; set keystoneCaFile to the CA that signed it instead")
    if database.ca_file is None:
        r.problem("dbCaFile", "is not set, which a production stack refuses: nova's database password and data "
                  "would cross the network unencrypted; set it to the CA of the database server's certificate")
    warnings = []
    if "%" in database.allowed_hosts:
        warnings.append("dbAllowedHosts: '%' lets nova's database account log in from any host; a production "
                        "stack should list its nodes' network instead, e.g. 10.0.10.%")
    for interface, url in identity.endpoints:
        if interface == "public" and isinstance(url, str) and url.startswith("http://"):
            warnings.append(f"endpointUrls.public: {url!r} is plain http: clients send their tokens to it in "
                            "clear; publish an https URL")
    return warnings


MAX_WORKERS = 64


def _workers(r: Reader) -> Optional[int]:
    value = r.get("workers")
    if value is None or value == 0:
        return None
    if not 1 <= value <= MAX_WORKERS:
        r.problem("workers", f"{value} is not a process count; use 1 to {MAX_WORKERS}, or 0 for the distribution's defaults")
        return None
    return value
