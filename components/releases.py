"""Release profiles: what differs between nova releases and between distributions' packaging of
them, kept as data apart from the logic (openstack-ansible's per-distro vars, puppet-nova's
params.pp). Two axes:

- `NovaRelease`: what nova itself needs, whatever installs it: databases, cells v2, the sync
  sequence, the nova.conf options, the checks, and the PyPI pins that define its valid options;
- `Packaging`: how one distribution ships that release: package names, the services they run,
  debconf answers, the package source to add (Ubuntu 24.04 ships 2024.1: 2025.1 comes from the
  Ubuntu Cloud Archive) and the nova version the packages must install.

A stack names a release and a distro; `profile(release, distro)` joins them into the
`ReleaseProfile` the components read. Option values are templates over the context that
`nova_conf.conf_context` builds ({db_connection}, {my_ip}, ...). An option whose template refers
to a value the stack leaves unset (None) is left out of the file, so nova's own default applies.

`liberty` reproduces the seed tutorial (Ubuntu 14.04 + cloud archive, 2015) option for option.
`2025.1` follows the current install guide: three databases, cells v2, transport_url,
[service_user] tokens, placement. `zed` is Debian 12's own nova 26.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional

Options = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class OptionCheck:
    """What defines a release's valid nova.conf options (tools/nova_options builds them from PyPI)."""
    nova: str  # the exact nova requirement
    libraries: tuple[str, ...]  # option-defining libraries at the release's upper-constraints
    namespaces: tuple[str, ...]  # oslo-config-generator namespaces of nova.conf


@dataclass(frozen=True)
class PlacementRelease:
    """The placement service of a release (a separate project since Stein): its placement.conf
    templates (over the same context as nova.conf's, plus {placement_db_connection}) and the PyPI
    pins that define its valid options."""
    conf: Options
    option_check: Optional[OptionCheck] = None


@dataclass(frozen=True)
class NovaRelease:
    name: str
    nova_major: int  # the upstream nova version the packages must install (12, 26, 31)
    # role -> database name template over the stack's dbName ("main" is dbName itself)
    databases: Mapping[str, str]
    cells_v2: bool  # nova_api + cell0 databases, cell mappings, host discovery
    endpoint_url: str  # template over {host}: the compute endpoint URL
    needs_placement: bool
    # nova-manage sub-commands run as the nova user, in order. `cell_v2 create_cell` is
    # guarded by the script builder (it exits 2 when the cell exists).
    db_sync: tuple[str, ...]
    services_via_api: bool  # service states from `openstack compute service list` (else nova-manage)
    api_checks: tuple[str, ...]  # the seed's "Testing": client commands that must succeed
    expected_up: tuple[str, ...]  # binaries that must report "up" on the controller after a restart
    controller_conf: Options
    compute_conf: Options
    openrc: Mapping[str, str]  # OS_* variable -> template
    compute_expected_up: tuple[str, ...] = ("nova-compute",)  # on each hypervisor
    # Roles nova's user holds on the service project besides the stack's serviceRole: 2025.1's
    # service tokens need `service` (its keystone-manage bootstrap creates that role; zed's does not).
    extra_service_roles: tuple[str, ...] = ()
    upgrade_check: bool = False  # `nova-status upgrade check` exists (Ocata and later)
    placement: Optional[PlacementRelease] = None  # deployed by the program (stack: placement.deploy)
    option_check: Optional[OptionCheck] = None  # None: no PyPI release to check against (Liberty)


@dataclass(frozen=True)
class AptSource:
    """A package source added before installing, and pinned above the distribution's own."""
    name: str  # file name under /etc/apt/sources.list.d and preferences.d
    line: str  # the `deb ...` line
    keyring_package: str  # installed first, from the distribution itself
    origin: str  # the host the pin prefers


@dataclass(frozen=True)
class DashboardPackaging:
    packages: tuple[str, ...]
    settings_dir: str  # Horizon reads every *.py there after local_settings.py
    path: str  # the URL path Horizon is served at (WEBROOT)
    preseed: tuple[str, ...] = ()
    web_server: str = "apache2"


@dataclass(frozen=True)
class Packaging:
    distro: str
    packages: tuple[str, ...]  # controller
    services: tuple[str, ...]  # restarted when nova.conf changes
    compute_packages: tuple[str, ...]
    compute_services: tuple[str, ...]
    preseed: tuple[str, ...] = ()  # debconf answers given before installing
    source: Optional[AptSource] = None
    # The hypervisor driver's own file, read by nova-compute AFTER nova.conf (nova-compute-kvm
    # ships it with virt_type=kvm): the driver and virt type are written there, or nova.conf's
    # would never take effect.
    compute_driver_conf: str = "/etc/nova/nova-compute.conf"
    # Horizon: packages, debconf answers, the local_settings.d its settings.py reads, the path
    # it is served at, and the web server to reload. None: Liberty's own way (the seed edits
    # OPENSTACK_HOST in local_settings.py).
    dashboard: Optional[DashboardPackaging] = None
    placement_packages: tuple[str, ...] = ("placement-api",)
    placement_services: tuple[str, ...] = ("placement-api",)  # restarted when placement.conf changes


@dataclass(frozen=True)
class ReleaseProfile:
    """A release as one distribution packages it: what the components read."""
    release: NovaRelease
    packaging: Packaging
    summary: str

    @property
    def name(self) -> str:
        return self.release.name


def _freeze(options: dict) -> Options:
    return MappingProxyType({section: MappingProxyType(dict(keys)) for section, keys in options.items()})


def _liberty_conf(compute: bool) -> Options:
    """The seed's nova.conf; hypervisors (the tutorial series' compute chapter) drop the
    database and EC2 list, and add the console proxy URL and the libvirt driver type."""
    conf = {
        "DEFAULT": {
            "rpc_backend": "rabbit",
            "auth_strategy": "keystone",
            "my_ip": "{my_ip}",
            "enabled_apis": "osapi_compute,metadata",
            "network_api_class": "nova.network.neutronv2.api.API",
            "linuxnet_interface_driver": "nova.network.linux_net.LinuxOVSInterfaceDriver",
            "firewall_driver": "nova.virt.firewall.NoopFirewallDriver",
            "security_group_api": "neutron",
        },
        "database": {"connection": "{db_connection}"},
        "oslo_messaging_rabbit": {
            "rabbit_host": "{rabbit_host}",
            "rabbit_userid": "{rabbit_user}",
            "rabbit_password": "{rabbit_password}",
        },
        "keystone_authtoken": {
            "auth_uri": "{keystone_public_url}",
            "auth_url": "{keystone_auth_url}",
            "auth_plugin": "password",
            "project_domain_id": "default",
            "user_domain_id": "default",
            "project_name": "{service_project}",
            "username": "{nova_user}",
            "password": "{nova_password}",
        },
        "vnc": {
            "vncserver_listen": "{my_ip}",
            "vncserver_proxyclient_address": "{my_ip}",
        },
        "glance": {"host": "{glance_host}"},
        "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
        "neutron": {
            "auth_strategy": "keystone",
            "admin_tenant_name": "{service_project}",
            "admin_username": "{neutron_user}",
            "admin_password": "{neutron_password}",
            "admin_auth_url": "{keystone_auth_url}/v2.0",
        },
    }
    if compute:
        del conf["DEFAULT"]["enabled_apis"], conf["database"]
        conf["vnc"] = {
            "enabled": "True",
            "vncserver_listen": "0.0.0.0",
            "vncserver_proxyclient_address": "{my_ip}",
            "novncproxy_base_url": "{novncproxy_base_url}",
        }
        conf["libvirt"] = {"virt_type": "{virt_type}"}
    return _freeze(conf)


LIBERTY = NovaRelease(
    name="liberty",
    nova_major=12,
    databases=MappingProxyType({"main": "{name}"}),
    cells_v2=False,
    endpoint_url="http://{host}:8774/v2/%(tenant_id)s",
    needs_placement=False,
    db_sync=("db sync",),
    services_via_api=False,
    api_checks=("nova service-list", "nova image-list"),
    expected_up=("nova-conductor", "nova-scheduler", "nova-consoleauth", "nova-cert"),
    controller_conf=_liberty_conf(compute=False),
    compute_conf=_liberty_conf(compute=True),
    openrc=MappingProxyType({
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_NAME": "{admin_project}",
        "OS_TENANT_NAME": "{admin_project}",
        "OS_USERNAME": "{admin_user}",
        "OS_PASSWORD": "{admin_password}",
        "OS_AUTH_URL": "{keystone_auth_url}/v3",
        "OS_IDENTITY_API_VERSION": "3",
    }),
)

# Options shared by every modern (cells v2, placement, service tokens) release.
_MODERN_AUTH = {
    "auth_url": "{keystone_auth_url}",
    "auth_type": "password",
    "project_domain_name": "{project_domain}",
    "user_domain_name": "{user_domain}",
    "project_name": "{service_project}",
}


def _modern_conf(compute: bool, service_roles_required: bool = True) -> Options:
    conf = {
        "DEFAULT": {"transport_url": "{transport_url}", "my_ip": "{my_ip}", "state_path": "/var/lib/nova"},
        # (no [api] auth_strategy: keystone is the default and the option is deprecated for
        # removal since nova 21, so the validator refuses it)
        "keystone_authtoken": {
            "www_authenticate_uri": "{keystone_public_url}",
            **_MODERN_AUTH,
            "memcached_servers": "{memcached_servers}",
            "username": "{nova_user}",
            "password": "{nova_password}",
        },
        "service_user": {
            "send_service_user_token": "true",
            **_MODERN_AUTH,
            "username": "{nova_user}",
            "password": "{nova_password}",
        },
        "vnc": {"enabled": "true", "server_listen": "{vnc_listen}", "server_proxyclient_address": "{my_ip}"},
        # The image API is found in the keystone catalog; glanceHost pins it instead
        # (api_servers is deprecated for removal since nova 21).
        "glance": {"region_name": "{region}", "endpoint_override": "{glance_url}"},
        "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
        "placement": {"region_name": "{region}", **_MODERN_AUTH, "username": "{placement_user}", "password": "{placement_password}"},
        "neutron": {
            **_MODERN_AUTH,
            "region_name": "{region}",
            "username": "{neutron_user}",
            "password": "{neutron_password}",
        },
    }
    if service_roles_required:
        # a service token (nova's [service_user]) is accepted only with the `service` role
        conf["keystone_authtoken"]["service_token_roles_required"] = "true"
    if compute:
        conf["vnc"]["novncproxy_base_url"] = "{novncproxy_base_url}"
        conf["libvirt"] = {"virt_type": "{virt_type}"}
    else:
        # Only the API/conductor side talks to the databases; hypervisors go through conductor.
        conf["api_database"] = {"connection": "{api_db_connection}"}
        conf["database"] = {"connection": "{db_connection}"}
        conf["neutron"]["service_metadata_proxy"] = "true"
        conf["neutron"]["metadata_proxy_shared_secret"] = "{metadata_secret}"
    return _freeze(conf)


_MODERN_OPENRC = {
    "OS_PROJECT_DOMAIN_NAME": "{project_domain}",
    "OS_USER_DOMAIN_NAME": "{user_domain}",
    "OS_PROJECT_NAME": "{admin_project}",
    "OS_USERNAME": "{admin_user}",
    "OS_PASSWORD": "{admin_password}",
    "OS_AUTH_URL": "{keystone_auth_url}/v3",
    "OS_IDENTITY_API_VERSION": "3",
    "OS_REGION_NAME": "{region}",
}

# The cell mappings store URL templates, not URLs: nova fills {username}, {password}, ... from
# the local nova.conf (since Stein), so a rotated password reaches them with nova.conf alone.
_CELLS_V2_SYNC = (
    "api_db sync",
    "cell_v2 map_cell0",
    "cell_v2 create_cell --name=cell1 --verbose",
    "db sync",
    "db online_data_migrations",
    "cell_v2 list_cells --verbose",
)

# Upstream nova versions by series, and the SLURP releases (skip-level upgrades go from one
# SLURP to the next: 2023.1 -> 2024.1 -> 2025.1); any other upgrade goes one series at a time.
NOVA_SERIES: Mapping[int, str] = MappingProxyType({
    12: "liberty", 26: "zed", 27: "2023.1", 28: "2023.2", 29: "2024.1", 30: "2024.2", 31: "2025.1"})
SLURP: frozenset[int] = frozenset({27, 29, 31})


def upgrade_sources(target: int) -> tuple[int, ...]:
    """The installed nova majors a node may go to `target` from in one step (itself included)."""
    return tuple(m for m in NOVA_SERIES if upgrade_allowed(m, target))


def upgrade_allowed(installed: int, target: int) -> bool:
    """Whether nova supports going from `installed` to `target` (upstream majors) in one step."""
    return installed == target or target == installed + 1 or (
        installed in SLURP and target in SLURP and target == min((m for m in SLURP if m > installed), default=None))

# The option sets 2025.1 and zed are checked against (newest 31.x / 26.x on PyPI when this was
# written). The libraries that define options found in nova.conf (and oslo.config itself, which
# runs the generator and validator) are pinned to OpenStack's upper-constraints for the release,
# so that the option set matches what the release ships rather than whatever is newest on PyPI.
# osprofiler is not a dependency of nova, but nova reads its [profiler] options.
# The namespaces are those of nova's etc/nova/nova-config-generator.conf (in the sdist only).
# oslo.db and oslo.cache are absent on purpose: nova's "nova.conf" namespace already lists
# [database], [api_database] and [cache]. zed's generator file lacks oslo.versionedobjects,
# os_vif and os_brick, but zed's nova reads those sections as well.
_MODERN_NAMESPACES = (
    "nova.conf", "oslo.limit", "oslo.log", "oslo.messaging", "oslo.policy", "oslo.privsep",
    "oslo.service.periodic_task", "oslo.service.service", "oslo.middleware", "oslo.concurrency", "oslo.reports",
    "oslo.versionedobjects", "keystonemiddleware.auth_token", "osprofiler", "os_vif", "os_brick",
)

# placement's etc/placement/config-generator.conf namespaces.
_PLACEMENT_NAMESPACES = ("placement.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.middleware.cors",
                         "oslo.middleware.http_proxy_to_wsgi", "oslo.policy", "osprofiler")

# Option-defining libraries at each release's upper-constraints: (2025.1, zed).
_LIBRARY_PINS = {
    "castellan": ("5.2.1", "4.0.0"), "keystoneauth1": ("5.10.0", "5.0.1"),
    "keystonemiddleware": ("10.9.1", "10.1.1"), "os-brick": ("6.11.1", "6.1.2"), "os-vif": ("4.1.0", "3.0.1"),
    "oslo.cache": ("3.10.2", "3.2.0"), "oslo.concurrency": ("7.1.0", "5.0.1"), "oslo.config": ("9.7.2", "9.0.0"),
    "oslo.context": ("5.7.1", "5.0.0"), "oslo.db": ("17.2.1", "12.1.2"), "oslo.i18n": ("6.5.1", "5.1.0"),
    "oslo.limit": ("2.6.1", "2.0.1"), "oslo.log": ("7.1.0", "5.0.0"), "oslo.messaging": ("16.1.2", "14.0.3"),
    "oslo.middleware": ("6.3.1", "5.0.0"), "oslo.policy": ("4.5.1", "4.0.0"), "oslo.privsep": ("3.6.0", "3.0.1"),
    "oslo.reports": ("3.5.1", "2.4.0"), "oslo.serialization": ("5.7.0", "5.0.0"), "oslo.service": ("4.1.2", "3.0.0"),
    "oslo.utils": ("8.2.0", "6.0.2"), "oslo.versionedobjects": ("3.6.0", "3.0.1"), "osprofiler": ("4.2.0", "3.4.3"),
}


def _pins(column: int) -> tuple[str, ...]:
    return tuple(f"{name}=={versions[column]}" for name, versions in _LIBRARY_PINS.items())


def _placement_conf() -> Options:
    """placement.conf as the install guide writes it."""
    return _freeze({
        "placement_database": {"connection": "{placement_db_connection}"},
        "keystone_authtoken": {
            "www_authenticate_uri": "{keystone_public_url}",
            **_MODERN_AUTH,
            "memcached_servers": "{memcached_servers}",
            "username": "{placement_user}",
            "password": "{placement_password}",
        },
    })


RELEASE_2025_1 = NovaRelease(
    name="2025.1",
    nova_major=31,
    databases=MappingProxyType({"api": "{name}_api", "main": "{name}", "cell0": "{name}_cell0"}),
    cells_v2=True,
    endpoint_url="http://{host}:8774/v2.1",
    needs_placement=True,
    db_sync=_CELLS_V2_SYNC,
    services_via_api=True,
    api_checks=("openstack catalog show compute", "openstack image list"),
    expected_up=("nova-conductor", "nova-scheduler"),
    extra_service_roles=("service",),
    upgrade_check=True,
    controller_conf=_modern_conf(compute=False),
    compute_conf=_modern_conf(compute=True),
    openrc=MappingProxyType(_MODERN_OPENRC),
    option_check=OptionCheck("nova==31.3.1", _pins(0), _MODERN_NAMESPACES),
    placement=PlacementRelease(_placement_conf(), OptionCheck("openstack-placement==13.0.0", _pins(0), _PLACEMENT_NAMESPACES)),
)

ZED = dataclasses.replace(
    RELEASE_2025_1,
    name="zed",
    nova_major=26,
    # No image check: listing images needs glance, which a Zed lab may not run yet; listing
    # flavors proves the compute API answers an authenticated request.
    api_checks=("openstack catalog show compute", "openstack flavor list"),
    # zed's keystone has no `service` role: no service-role requirement for its tokens
    extra_service_roles=(),
    controller_conf=_modern_conf(compute=False, service_roles_required=False),
    compute_conf=_modern_conf(compute=True, service_roles_required=False),
    option_check=OptionCheck("nova==26.3.0", _pins(1), _MODERN_NAMESPACES),
    placement=PlacementRelease(_placement_conf(), OptionCheck("openstack-placement==8.0.0", _pins(1), _PLACEMENT_NAMESPACES)),
)

RELEASES: Mapping[str, NovaRelease] = MappingProxyType({r.name: r for r in (LIBERTY, ZED, RELEASE_2025_1)})

# -- packaging ---------------------------------------------------------------------------------
# Debian's nova packages would otherwise offer to configure the database, RabbitMQ and keystone
# themselves (this program does that), and run the SPICE proxy, not noVNC.
_DEBIAN_PRESEED = (
    "nova-common nova/configure_db boolean false",
    "nova-common nova/configure_rabbit boolean false",
    "nova-common nova/configure_placement boolean false",
    "nova-common nova/configure_neutron boolean false",
    "nova-common nova/configure_ksat boolean false",
    "nova-api novaapi/configure_db boolean false",
    "nova-api nova/configure_api-endpoint boolean false",
    "nova-consoleproxy nova-consoleproxy/daemon_type select novnc",
)
# Debian: openstack-dashboard-apache. Answered non-interactively, it would keep Apache's default
# sites, whose default-ssl.conf needs mod_ssl that nothing enabled, and apache refuses to start
# ("Invalid command 'SSLEngine'"): take over the virtual host, without SSL, served at /.
_DEBIAN_DASHBOARD = DashboardPackaging(
    packages=("openstack-dashboard-apache",),
    settings_dir="/etc/openstack-dashboard/local_settings.d",
    path="/",
    preseed=("openstack-dashboard-apache horizon/activate_vhost boolean true",
             "openstack-dashboard-apache horizon/use_ssl boolean false"),
)
_DEBIAN = Packaging(
    distro="debian",  # replaced per release below
    # Debian ships the noVNC proxy in nova-consoleproxy (its init script is nova-novncproxy), and
    # its nova-api package also runs the metadata API as nova-api-metadata.
    packages=("nova-api", "nova-conductor", "nova-scheduler", "nova-consoleproxy", "python3-openstackclient"),
    # restarted in nova's documented upgrade order: conductor, scheduler, then the APIs
    services=("nova-conductor", "nova-scheduler", "nova-api", "nova-api-metadata", "nova-novncproxy"),
    compute_packages=("nova-compute",),
    compute_services=("nova-compute",),
    preseed=_DEBIAN_PRESEED,
    dashboard=_DEBIAN_DASHBOARD,
)
_UBUNTU_MODERN = Packaging(
    distro="ubuntu-24.04",
    # Ubuntu's placement-api runs under apache2 (mod_wsgi); Debian's under uwsgi, its own service.
    placement_services=("apache2",),
    # Ubuntu serves Horizon at /horizon; its settings.py reads the package's local_settings.d.
    dashboard=DashboardPackaging(
        packages=("openstack-dashboard",),
        settings_dir="/usr/share/openstack-dashboard/openstack_dashboard/local/local_settings.d",
        path="/horizon/",
    ),
    packages=("nova-api", "nova-conductor", "nova-novncproxy", "nova-scheduler", "python3-openstackclient"),
    services=("nova-conductor", "nova-scheduler", "nova-api", "nova-novncproxy"),
    compute_packages=("nova-compute",),
    compute_services=("nova-compute",),
    # Ubuntu 24.04 ships 2024.1: 2025.1 (epoxy) comes from the Ubuntu Cloud Archive.
    source=AptSource(
        name="cloudarchive-epoxy",
        line="deb http://ubuntu-cloud.archive.canonical.com/ubuntu noble-updates/epoxy main",
        keyring_package="ubuntu-cloud-keyring",
        origin="ubuntu-cloud.archive.canonical.com",
    ),
)


def _packaging(base: Packaging, distro: str) -> Packaging:
    return dataclasses.replace(base, distro=distro)


PROFILES: Mapping[tuple[str, str], ReleaseProfile] = MappingProxyType({
    ("liberty", "ubuntu-14.04"): ReleaseProfile(LIBERTY, Packaging(
        distro="ubuntu-14.04",
        packages=("nova-api", "nova-cert", "nova-conductor", "nova-consoleauth", "nova-novncproxy",
                  "nova-scheduler", "python-novaclient"),
        services=("nova-api", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-consoleauth", "nova-cert"),
        compute_packages=("nova-compute", "sysfsutils"),
        compute_services=("nova-compute",),
        # (the seed's earlier chapters enabled cloud-archive:liberty; it adds no source here)
    ), "the seed tutorial: nova 12 (Liberty) on Ubuntu 14.04 with the cloud archive"),
    ("zed", "debian-12"): ReleaseProfile(ZED, _packaging(_DEBIAN, "debian-12"),
                                         "nova 26 (Zed) from Debian 12's own archive"),
    ("2025.1", "ubuntu-24.04"): ReleaseProfile(RELEASE_2025_1, _UBUNTU_MODERN,
                                               "nova 31 (2025.1 Epoxy) on Ubuntu 24.04 with the Ubuntu Cloud Archive"),
    ("2025.1", "debian-13"): ReleaseProfile(RELEASE_2025_1, _packaging(_DEBIAN, "debian-13"),
                                            "nova 31 (2025.1 Epoxy) from Debian 13's own archive"),
})
# The distribution a release runs on when a stack names none.
DEFAULT_DISTRO: Mapping[str, str] = MappingProxyType({"liberty": "ubuntu-14.04", "zed": "debian-12",
                                                      "2025.1": "ubuntu-24.04"})


def profile(release: str, distro: Optional[str] = None) -> Optional[ReleaseProfile]:
    return PROFILES.get((release, distro or DEFAULT_DISTRO.get(release, "")))
