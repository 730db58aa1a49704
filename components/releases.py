"""Release profiles: what differs between nova releases, kept as data apart from the logic.

A profile names the packages, services, databases, keystone endpoint, database sync sequence and
the nova.conf options a release needs. Option values are templates over the context that
`nova_conf.conf_context` builds ({db_connection}, {my_ip}, ...). An option whose template
refers to a value the stack leaves unset (None) is left out of the file, so nova's own default
applies (as puppet-nova does).

`liberty` reproduces the seed tutorial (Ubuntu 14.04 + cloud archive, 2015) option for option.
`2025.1` follows the current install guide: three databases, cells v2, transport_url,
[service_user] tokens, placement.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

Options = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class ReleaseProfile:
    name: str
    summary: str
    # Controller
    packages: tuple[str, ...]
    services: tuple[str, ...]  # restarted when nova.conf changes
    expected_up: tuple[str, ...]  # binaries that must report "up" after the restart
    # Hypervisors
    compute_packages: tuple[str, ...]
    compute_services: tuple[str, ...]
    # role -> database name template over the stack's dbName ("main" is dbName itself)
    databases: Mapping[str, str]
    endpoint_url: str  # template over {host}: the compute endpoint URL
    needs_placement: bool
    # nova-manage sub-commands run as the nova user, in order. `cell_v2 create_cell` is
    # guarded by the script builder (it exits 2 when the cell exists).
    db_sync: tuple[str, ...]
    discover_hosts: bool  # cells v2: map new hypervisors with `cell_v2 discover_hosts`
    service_check: str  # "nova-manage" (reads the DB directly) or "openstack" (the API)
    api_checks: tuple[str, ...]  # the seed's "Testing": client commands that must succeed
    controller_conf: Options
    compute_conf: Options
    openrc: Mapping[str, str] = field(default_factory=dict)  # OS_* variable -> template
    # debconf answers given before installing (`package question type value`)
    preseed: tuple[str, ...] = ()


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


LIBERTY = ReleaseProfile(
    name="liberty",
    summary="the seed tutorial: nova 12 (Liberty) on Ubuntu 14.04 with the cloud archive",
    packages=("nova-api", "nova-cert", "nova-conductor", "nova-consoleauth", "nova-novncproxy",
              "nova-scheduler", "python-novaclient"),
    services=("nova-api", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-consoleauth", "nova-cert"),
    expected_up=("nova-conductor", "nova-scheduler", "nova-consoleauth", "nova-cert"),
    compute_packages=("nova-compute", "sysfsutils"),
    compute_services=("nova-compute",),
    databases=MappingProxyType({"main": "{name}"}),
    endpoint_url="http://{host}:8774/v2/%(tenant_id)s",
    needs_placement=False,
    db_sync=("db sync",),
    discover_hosts=False,
    service_check="nova-manage",
    api_checks=("nova service-list", "nova image-list"),
    controller_conf=_liberty_conf(compute=False),
    compute_conf=_liberty_conf(compute=True),
    openrc={
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_NAME": "{admin_project}",
        "OS_TENANT_NAME": "{admin_project}",
        "OS_USERNAME": "{admin_user}",
        "OS_PASSWORD": "{admin_password}",
        "OS_AUTH_URL": "{keystone_auth_url}/v3",
        "OS_IDENTITY_API_VERSION": "3",
    },
)

# Options shared by every modern (cells v2, placement, service tokens) release.
_MODERN_AUTH = {
    "auth_url": "{keystone_auth_url}",
    "auth_type": "password",
    "project_domain_name": "{project_domain}",
    "user_domain_name": "{user_domain}",
    "project_name": "{service_project}",
}


def _modern_conf(compute: bool) -> Options:
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

_CELLS_V2_SYNC = (
    "api_db sync",
    "cell_v2 map_cell0",
    "cell_v2 create_cell --name=cell1 --verbose",
    "db sync",
    "cell_v2 list_cells",
)

RELEASE_2025_1 = ReleaseProfile(
    name="2025.1",
    summary="nova 31 (2025.1 Epoxy) on Ubuntu 24.04, as the current install guide does it",
    packages=("nova-api", "nova-conductor", "nova-novncproxy", "nova-scheduler", "python3-openstackclient"),
    services=("nova-api", "nova-scheduler", "nova-conductor", "nova-novncproxy"),
    expected_up=("nova-conductor", "nova-scheduler"),
    compute_packages=("nova-compute",),
    compute_services=("nova-compute",),
    databases=MappingProxyType({"api": "{name}_api", "main": "{name}", "cell0": "{name}_cell0"}),
    endpoint_url="http://{host}:8774/v2.1",
    needs_placement=True,
    db_sync=_CELLS_V2_SYNC,
    discover_hosts=True,
    service_check="openstack",
    api_checks=("openstack catalog show compute", "openstack image list", "nova-status upgrade check"),
    controller_conf=_modern_conf(compute=False),
    compute_conf=_modern_conf(compute=True),
    openrc=_MODERN_OPENRC,
)

# Zed as Debian 12 ships it: the 2025.1 profile but for package names, checks and debconf.
ZED = dataclasses.replace(
    RELEASE_2025_1,
    name="zed",
    summary="nova 26 (Zed) from Debian 12's own archive",
    # Debian ships the noVNC proxy in nova-consoleproxy (its init script is nova-novncproxy).
    packages=("nova-api", "nova-conductor", "nova-scheduler", "nova-consoleproxy", "python3-openstackclient"),
    # No image check: listing images needs glance, which a Zed lab may not run yet; listing
    # flavors proves the compute API answers an authenticated request.
    api_checks=("openstack catalog show compute", "openstack flavor list", "nova-status upgrade check"),
    preseed=(
        # Debian's nova packages would otherwise offer to configure the database, RabbitMQ and
        # keystone themselves (this program does that), and run the SPICE proxy, not noVNC.
        "nova-common nova/configure_db boolean false",
        "nova-common nova/configure_rabbit boolean false",
        "nova-common nova/configure_placement boolean false",
        "nova-common nova/configure_neutron boolean false",
        "nova-common nova/configure_ksat boolean false",
        "nova-api novaapi/configure_db boolean false",
        "nova-api nova/configure_api-endpoint boolean false",
        "nova-consoleproxy nova-consoleproxy/daemon_type select novnc",
    ),
)

PROFILES: Mapping[str, ReleaseProfile] = MappingProxyType({p.name: p for p in (LIBERTY, RELEASE_2025_1, ZED)})
