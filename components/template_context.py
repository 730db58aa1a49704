"""The templates' vocabulary: the values a release profile's file templates may name (nova.conf,
placement.conf, the admin openrc), from the stack's settings, and the templates filled with them
(`filled`: what each file's renderer writes, through components.ini or the openrc's exports).
Secrets are passed in separately so that tests, plans (masked) and the Pulumi glue share one
function. The node roles (CONTROLLER, COMPUTE) and `secret_values` are imported from here. Pure."""
from __future__ import annotations

import re
from typing import Mapping, Optional
from urllib.parse import quote

from components.config import SECRET_KEYS, NodeSettings, Settings
from components.validate import url_host

CONTROLLER = "controller"
COMPUTE = "compute"
MASK = "[secret]"  # what a secret is shown as in a plan


def secret_name(key: str) -> str:
    """What a template calls a secret setting: its key in snake_case (dbPassword: {db_password})."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


# Every secret setting a template may name (context name -> stack key): a new secret setting
# reaches the files by its name alone, its value read from Settings.secrets.
SECRET_SETTINGS = {secret_name(key): key for key in SECRET_KEYS}


# The settings each other value a template may name is derived from: what a novaConf override of
# an option the program writes from it is told to set instead (tests keep it complete).
SETTING_SOURCES: dict[str, str] = {
    "workers": "workers",
    "my_ip": "the node's myIp (controller.myIp, hypervisors[].myIp)",
    "vnc_listen": "controller.myIp",
    "db_connection": "dbHost, dbPort, dbName, dbUser and dbCaFile",
    "api_db_connection": "dbHost, dbPort, dbName, dbUser and dbCaFile",
    "rabbit_host": "rabbitHost",
    "rabbit_user": "rabbitUser",
    "transport_url": "rabbitHost, rabbitPort and rabbitUser",
    "keystone_public_url": "keystonePublicUrl (or keystoneHost)",
    "keystone_auth_url": "keystoneAuthUrl (or keystoneHost)",
    "project_domain": "keystoneProjectDomain",
    "user_domain": "keystoneUserDomain",
    "region": "region",
    "memcached_servers": "memcachedServers",
    "service_project": "serviceProject",
    "nova_user": "novaUser",
    "glance_host": "glanceHost",
    "glance_url": "glanceHost",
    "neutron_user": "neutronUser",
    "placement_user": "placementUser",
    "placement_db_connection": "placement.dbName and placement.dbUser",
    "novncproxy_base_url": "controller.myIp",
    "virt_type": "hypervisors[].virtType",
    "live_migration_scheme": "migration (enabled, scheme)",
    "live_migration_inbound_addr": "migration.enabled and the hypervisors' myIp",
    "admin_user": "keystoneAdminUser",
    "admin_project": "keystoneAdminProject",
}


def secret_values(settings: Settings) -> dict[str, Optional[str]]:
    """The plain secret values by context name (None: not set), for tests and the Pulumi glue."""
    return {name: (secret.value if (secret := settings.secrets.get(key)) else None)
            for name, key in SECRET_SETTINGS.items()}


def _url_password(value: str) -> str:
    return quote(value, safe="")


def db_url(settings: Settings, database: str, password: str, user: Optional[str] = None) -> str:
    """A database URL on the stack's db-node, for nova's account unless `user` names another."""
    db = settings.database
    host = url_host(db.host) if db.port == 3306 else f"{url_host(db.host)}:{db.port}"
    url = f"mysql+pymysql://{quote(user or db.user, safe='')}:{_url_password(password)}@{host}/{database}"
    if db.ca_file:
        url += f"?ssl_ca={quote(db.ca_file, safe='/')}"
    return url


def conf_context(settings: Settings, node: NodeSettings, role: str, secrets: Mapping[str, Optional[str]],
                 virt_type: Optional[str] = None) -> dict[str, Optional[str]]:
    """Every value a profile template may name: each secret setting by its name (`secret_name`), and
    the values derived from the settings (SETTING_SOURCES). None means "not set": the option is
    left out."""
    mq = settings.messaging
    ks = settings.keystone
    api_db = settings.database.api_name
    controller = settings.controller
    migrates = role == COMPUTE and settings.migration.enabled
    return {
        **{name: secrets.get(name) for name in SECRET_SETTINGS},
        "workers": str(settings.workers) if settings.workers else None,
        "my_ip": node.my_ip,
        "vnc_listen": node.my_ip if role == CONTROLLER else "0.0.0.0",
        "db_connection": db_url(settings, settings.database.main_name, secrets["db_password"]),
        "api_db_connection": db_url(settings, api_db, secrets["db_password"]) if api_db else None,
        "rabbit_host": mq.host,
        "rabbit_user": mq.user,
        "transport_url": (
            f"rabbit://{quote(mq.user, safe='')}:{_url_password(secrets['rabbit_password'])}@{url_host(mq.host)}:{mq.port}/"
        ),
        "keystone_public_url": ks.public_url,
        "keystone_auth_url": ks.auth_url,
        "project_domain": ks.project_domain,
        "user_domain": ks.user_domain,
        "region": ks.region,
        "memcached_servers": settings.memcached_servers,
        "service_project": settings.identity.project,
        "nova_user": settings.identity.user,
        "glance_host": settings.glance_host,
        "glance_url": f"http://{url_host(settings.glance_host)}:9292" if settings.glance_host else None,
        "neutron_user": settings.neutron_user,
        "placement_user": settings.placement_user,
        "placement_db_connection": (
            db_url(settings, settings.placement.db_name, secrets["placement_db_password"], settings.placement.db_user)
            if secrets.get("placement_db_password") else None),
        "novncproxy_base_url": f"http://{url_host(controller.my_ip)}:6080/vnc_auto.html",
        "virt_type": virt_type,
        "live_migration_scheme": settings.migration.scheme if migrates else None,
        "live_migration_inbound_addr": node.my_ip if migrates else None,
        "admin_user": ks.admin_user,
        "admin_project": ks.admin_project,
    }


class _Missing(Exception):
    pass


class _Context(dict):
    def __getitem__(self, key: str):  # a template naming a value that is unset (or unknown)
        value = self.get(key)
        if value is None:
            raise _Missing(key)
        return value


def fill(templates: Mapping[str, Mapping[str, str]], context: Mapping[str, Optional[str]]) -> dict[str, dict[str, str]]:
    """Fill a profile's option templates. Options whose values are unset are left out (the
    service's own default applies)."""
    ctx = _Context(context)
    result: dict[str, dict[str, str]] = {}
    for section, options in templates.items():
        for option, template in options.items():
            try:
                value = template.format_map(ctx)
            except _Missing:
                continue
            result.setdefault(section, {})[option] = value
    return result


def filled(templates: Mapping[str, Mapping[str, str]], settings: Settings, node: NodeSettings, role: str,
           secrets: Mapping[str, Optional[str]], virt_type: Optional[str] = None) -> dict[str, dict[str, str]]:
    """A file's templates filled for `node` in `role`: section -> option -> value."""
    return fill(templates, conf_context(settings, node, role, secrets, virt_type))


def masked_secrets(settings: Settings) -> dict[str, Optional[str]]:
    """Secret values replaced by a mask, for showing a render in a plan."""
    return {name: (MASK if value is not None else None) for name, value in secret_values(settings).items()}


def shown(text: str) -> str:
    """A render made with masked secrets, as shown: a mask inside a URL was percent-encoded."""
    return text.replace(quote(MASK, safe=""), MASK)
