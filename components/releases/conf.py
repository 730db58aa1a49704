"""Configuration file templates per release: nova.conf (controller and hypervisor), placement.conf
and the admin openrc. Values are templates over template_context.conf_context's names ({my_ip}, ...)."""
from __future__ import annotations

from types import MappingProxyType

from components.releases.types import Options

def _freeze(options: dict) -> Options:
    return MappingProxyType({section: MappingProxyType(dict(keys)) for section, keys in options.items()})


def liberty_conf(compute: bool) -> Options:
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
    else:
        # the stack's `workers` (left out when unset: the services' own defaults, one per CPU)
        conf["DEFAULT"].update(osapi_compute_workers="{workers}", metadata_workers="{workers}")
        conf["conductor"] = {"workers": "{workers}"}
    return _freeze(conf)


# Options shared by every modern (cells v2, placement, service tokens) release.
_MODERN_AUTH = {
    "auth_url": "{keystone_auth_url}",
    "auth_type": "password",
    "project_domain_name": "{project_domain}",
    "user_domain_name": "{user_domain}",
    "project_name": "{service_project}",
}


def modern_conf(compute: bool, service_roles_required: bool = True) -> Options:
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
        conf["libvirt"] = {
            "virt_type": "{virt_type}",
            # The stack's `migration` (left out unless it is enabled): libvirt reaches the target
            # over this scheme, at the address the target names (its myIp), not its hostname.
            "live_migration_scheme": "{live_migration_scheme}",
            "live_migration_inbound_addr": "{live_migration_inbound_addr}",
        }
    else:
        # Only the API/conductor side talks to the databases; hypervisors go through conductor.
        conf["api_database"] = {"connection": "{api_db_connection}"}
        conf["database"] = {"connection": "{db_connection}"}
        conf["neutron"]["service_metadata_proxy"] = "true"
        conf["neutron"]["metadata_proxy_shared_secret"] = "{metadata_secret}"
        # the stack's `workers` (left out when unset); the APIs' count under uwsgi is its .ini's
        conf["DEFAULT"].update(osapi_compute_workers="{workers}", metadata_workers="{workers}")
        conf["conductor"] = {"workers": "{workers}"}
        conf["scheduler"] = {"workers": "{workers}"}
    return _freeze(conf)


MODERN_OPENRC = {
    "OS_PROJECT_DOMAIN_NAME": "{project_domain}",
    "OS_USER_DOMAIN_NAME": "{user_domain}",
    "OS_PROJECT_NAME": "{admin_project}",
    "OS_USERNAME": "{admin_user}",
    "OS_PASSWORD": "{keystone_admin_password}",
    "OS_AUTH_URL": "{keystone_auth_url}/v3",
    "OS_IDENTITY_API_VERSION": "3",
    "OS_REGION_NAME": "{region}",
}


def placement_conf(service_roles_required: bool = True) -> Options:
    """placement.conf as the install guide writes it; as nova's, a service token (nova's
    [service_user] sends one to placement too) counts only with the `service` role where the
    release's guide gives services that role."""
    conf = {
        "placement_database": {"connection": "{placement_db_connection}"},
        "keystone_authtoken": {
            "www_authenticate_uri": "{keystone_public_url}",
            **_MODERN_AUTH,
            "memcached_servers": "{memcached_servers}",
            "username": "{placement_user}",
            "password": "{placement_password}",
        },
    }
    if service_roles_required:
        conf["keystone_authtoken"]["service_token_roles_required"] = "true"
    return _freeze(conf)
