"""The shapes of release knowledge: a nova release, a distribution's packaging of it, and the
profile a stack gets by joining both."""
from __future__ import annotations

from dataclasses import dataclass
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
    # An Apache conf (conf-available/<name>.conf, enabled with a2enconf) running Horizon's WSGI
    # app in the main Python interpreter: Debian's vhost leaves it in a sub-interpreter, where
    # cryptography's PyO3 module fails ("may only be initialized once per interpreter process")
    # and every page is a 500 (measured on Debian 13). None: the package's own setup works.
    wsgi_conf: Optional[str] = None
    wsgi_dir: str = "/usr/share/openstack-dashboard"
    # The mod_wsgi daemon process the package's vhost defines but leaves unused (Debian comments
    # out its WSGIProcessGroup): unused, Horizon runs in every Apache child, and its sessions,
    # which Debian keeps in each process's own memory (LocMemCache), are lost whenever a request
    # lands on another child: a login bounces back to the login page (found by the e2e test).
    wsgi_process_group: Optional[str] = None


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
    placement_packages: tuple[str, ...] = ("placement-api", "curl")  # curl: its verify step
    placement_services: tuple[str, ...] = ("placement-api",)  # restarted when placement.conf changes
    # uwsgi .ini files whose `processes` the stack's `workers` sets (Debian serves the APIs under
    # uwsgi: 16 nova-api processes by default); empty: the APIs read nova.conf's worker options.
    api_uwsgi_inis: tuple[str, ...] = ()
    placement_uwsgi_inis: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseProfile:
    """A release as one distribution packages it: what the components read."""
    release: NovaRelease
    packaging: Packaging
    summary: str

    @property
    def name(self) -> str:
        return self.release.name
