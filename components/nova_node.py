"""What nova needs on a node, apart from how steps reach it: its files' paths, the nova the
packages must install, and the services a node must reach before anything is installed."""
from __future__ import annotations

from urllib.parse import urlsplit

from components import scripts
from components.config import Settings
from components.releases import NOVA_SERIES, NovaRelease, upgrade_sources

NOVA_CONF = "/etc/nova/nova.conf"
OPENRC = "/root/admin-openrc"  # the admin credentials verification sources (0600)
PLACEMENT_CONF = "/etc/placement/placement.conf"

Target = tuple[str, str, int]  # (what, host, port) a preflight step checks


def nova_version(release: NovaRelease) -> scripts.NovaVersion:
    """What a node's package step must install, and the installed novas it may upgrade."""
    return scripts.NovaVersion(release.nova_major, upgrade_sources(release.nova_major), NOVA_SERIES)


def keystone_target(settings: Settings) -> Target:
    """keystone's public URL, for preflight checks."""
    parts = urlsplit(settings.keystone.public_url)
    return "keystone", parts.hostname or "", parts.port or 5000


def controller_targets(settings: Settings) -> list[Target]:
    """The controller reaches the database, the message queue and keystone."""
    return [("database", settings.database.host, settings.database.port),
            ("rabbitmq", settings.messaging.host, settings.messaging.port),
            keystone_target(settings)]


def hypervisor_targets(settings: Settings) -> list[Target]:
    """A hypervisor reaches the message queue and keystone (never the database)."""
    return [("rabbitmq", settings.messaging.host, settings.messaging.port), keystone_target(settings)]
