"""The releases and packagings this program deploys, as data."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping, Optional

from components.releases.conf import MODERN_OPENRC, liberty_conf, modern_conf, placement_conf
from components.releases.types import (
    AptSource, DashboardPackaging, NovaRelease, OptionCheck, Packaging, PlacementRelease, ReleaseProfile,
)

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
    controller_conf=liberty_conf(compute=False),
    compute_conf=liberty_conf(compute=True),
    openrc=MappingProxyType({
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_NAME": "{admin_project}",
        "OS_TENANT_NAME": "{admin_project}",
        "OS_USERNAME": "{admin_user}",
        "OS_PASSWORD": "{keystone_admin_password}",
        "OS_AUTH_URL": "{keystone_auth_url}/v3",
        "OS_IDENTITY_API_VERSION": "3",
    }),
)


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
    controller_conf=modern_conf(compute=False),
    compute_conf=modern_conf(compute=True),
    openrc=MappingProxyType(MODERN_OPENRC),
    option_check=OptionCheck("nova==31.3.1", _pins(0), _MODERN_NAMESPACES),
    placement=PlacementRelease(placement_conf(), OptionCheck("openstack-placement==13.0.0", _pins(0), _PLACEMENT_NAMESPACES)),
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
    controller_conf=modern_conf(compute=False, service_roles_required=False),
    compute_conf=modern_conf(compute=True, service_roles_required=False),
    option_check=OptionCheck("nova==26.3.0", _pins(1), _MODERN_NAMESPACES),
    placement=PlacementRelease(placement_conf(service_roles_required=False), OptionCheck("openstack-placement==8.0.0", _pins(1), _PLACEMENT_NAMESPACES)),
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
    packages=("openstack-dashboard-apache", "curl"),  # curl: the verify step
    settings_dir="/etc/openstack-dashboard/local_settings.d",
    path="/",
    preseed=("openstack-dashboard-apache horizon/activate_vhost boolean true",
             "openstack-dashboard-apache horizon/use_ssl boolean false"),
    wsgi_conf="openstack-nova-dashboard",
    wsgi_process_group="horizon",  # WSGIDaemonProcess horizon, in the package's vhost
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
    # its init scripts run the APIs under uwsgi with these (measured on Debian 13's nova 31)
    api_uwsgi_inis=("/etc/nova/nova-api-uwsgi.ini", "/etc/nova/nova-api-metadata-uwsgi.ini"),
    placement_uwsgi_inis=("/etc/placement/placement-api-uwsgi.ini",),
)
_UBUNTU_MODERN = Packaging(
    distro="ubuntu-24.04",
    # Ubuntu's placement-api runs under apache2 (mod_wsgi); Debian's under uwsgi, its own service.
    placement_services=("apache2",),
    # Ubuntu serves Horizon at /horizon; its settings.py reads the package's local_settings.d.
    dashboard=DashboardPackaging(
        packages=("openstack-dashboard", "curl"),  # curl: the verify step
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
