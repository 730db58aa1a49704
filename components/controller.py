"""The controller node (the seed's compute-node): nova's API, conductor, scheduler and console
proxy. Its steps, in the order the graph states once:

    preflight -> packages -> nova.conf, openrc -> db sync -> restart -> verify

db sync also waits for the database component (its databases and grants); verify also waits for
the keystone endpoints. A changed nova.conf rewrites the file and, through a content-hash
trigger, re-runs only restart and verify; packages and db sync are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import urlsplit

import pulumi

from components import scripts
from components.config import Settings
from components.node import connection, content_hash, step
from components.nova_conf import CONTROLLER, conf_context, fill, plain_secret_overrides, render_masked, render_nova_conf, secret_values

NOVA_CONF = "/etc/nova/nova.conf"
OPENRC = "/root/admin-openrc"


@dataclass
class ControllerArgs:
    settings: Settings
    database: pulumi.Resource  # db sync waits for its databases and grants
    endpoints: Sequence[pulumi.Resource]  # verify waits for the catalog


def url_host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or default_port


def preflight_targets(settings: Settings) -> list[tuple[str, str, int]]:
    ks_host, ks_port = url_host_port(settings.keystone.public_url, 5000)
    return [
        ("database", settings.database.host, settings.database.port),
        ("rabbitmq", settings.messaging.host, settings.messaging.port),
        ("keystone", ks_host, ks_port),
    ]


def render_openrc(settings: Settings) -> str:
    context = conf_context(settings, settings.controller, CONTROLLER, secret_values(settings))
    values = fill({"openrc": settings.release.openrc}, context).get("openrc", {})
    return scripts.render_openrc(values)


class ControllerNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: ControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:ControllerNode", name, None, opts)
        s = args.settings
        node = s.controller
        profile = s.release
        conn = self.connection = connection(node, s.ssh_private_key)

        def run(script: str) -> str:
            return scripts.as_user(script, node.user)

        self.nova_conf_text = pulumi.Output.secret(
            render_nova_conf(s, node, CONTROLLER, secret_values(s), plain_secret_overrides(s))
        )
        conf_hash = self.nova_conf_sha256 = content_hash(self.nova_conf_text)

        self.preflight = step(f"{name}-preflight", conn, run(scripts.preflight(preflight_targets(s))), parent=self)
        self.packages = step(f"{name}-packages", conn, run(scripts.install_packages(profile.packages, profile.preseed)),
                             parent=self, depends_on=[self.preflight])
        self.config = step(f"{name}-nova-conf", conn, run(scripts.write_file_from_stdin(NOVA_CONF, "root", "nova", "0640")),
                           parent=self, depends_on=[self.packages], stdin=self.nova_conf_text, quiet=True)
        self.openrc = step(f"{name}-openrc", conn, run(scripts.write_file_from_stdin(OPENRC, "root", "root", "0600")),
                           parent=self, depends_on=[self.preflight], stdin=pulumi.Output.secret(render_openrc(s)),
                           quiet=True)
        self.db_sync = step(f"{name}-db-sync", conn, run(scripts.db_sync(profile.db_sync)),
                            parent=self, depends_on=[self.config, args.database])
        self.restart = step(f"{name}-restart", conn, run(scripts.restart_services(profile.services)),
                            parent=self, depends_on=[self.db_sync, self.config], triggers=[conf_hash])
        self.verify = step(
            f"{name}-verify", conn,
            run(scripts.verify_services(OPENRC, profile.service_check, profile.expected_up, profile.api_checks)),
            parent=self, depends_on=[self.restart, self.openrc, *args.endpoints], triggers=[conf_hash],
        )
        self.nova_conf_masked = render_masked(s, node, CONTROLLER)
        self.register_outputs({"host": node.host, "nova_conf": self.nova_conf_masked, "nova_conf_sha256": conf_hash})
