"""The controller node (the seed's compute-node): nova's API, conductor, scheduler and console
proxy. Its steps, in the order the graph states once:

    preflight -> packages -> nova.conf, openrc -> db sync -> restart -> verify
                          -> api-workers (uwsgi's process count, when `workers` is set) -> restart

db sync also waits for the database component (its databases and grants); verify also waits for
the keystone endpoints. A changed nova.conf rewrites the file and, through a content-hash
trigger, re-runs only restart and verify; packages and db sync are left alone.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components import scripts
from components.config import Settings
from components.placement import PlacementArgs, PlacementService
from components.node import NOVA_CONF, OPENRC, NodeSteps, content_hash, keystone_target, nova_version
from components.nova_conf import CONTROLLER, cell_templates, conf_context, fill, plain_secret_overrides, render_masked, render_nova_conf, secret_values


@dataclass
class ControllerArgs:
    settings: Settings
    database: pulumi.Resource  # db sync waits for its databases and grants
    endpoints: Sequence[pulumi.Resource]  # verify waits for the catalog
    placement: Optional[PlacementArgs] = None  # deploy placement on this node, before nova's db sync


def preflight_targets(settings: Settings) -> list[tuple[str, str, int]]:
    return [
        ("database", settings.database.host, settings.database.port),
        ("rabbitmq", settings.messaging.host, settings.messaging.port),
        keystone_target(settings),
    ]


def render_openrc(settings: Settings) -> str:
    context = conf_context(settings, settings.controller, CONTROLLER, secret_values(settings))
    values = fill({"openrc": settings.release.release.openrc}, context).get("openrc", {})
    return scripts.render_openrc(values)


class ControllerNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: ControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:ControllerNode", name, None, opts)
        s = args.settings
        release, packaging = s.release.release, s.release.packaging
        node = self.steps = NodeSteps(self, name, s.controller, private_key=s.ssh_private_key)
        self.connection = node.connection

        self.nova_conf_text = pulumi.Output.secret(
            render_nova_conf(s, s.controller, CONTROLLER, secret_values(s), plain_secret_overrides(s)))
        conf_hash = self.nova_conf_sha256 = content_hash(self.nova_conf_text)

        self.preflight = node.run("preflight", scripts.preflight(preflight_targets(s)))
        self.packages = node.run("packages", scripts.install_packages(
            packaging.packages, packaging.preseed, packaging.source, nova_version(release)), depends_on=[self.preflight])
        self.config = node.write_file("nova-conf", NOVA_CONF, self.nova_conf_text, group="nova", mode="0640",
                                      depends_on=[self.packages])
        self.openrc = node.write_file("openrc", OPENRC, pulumi.Output.secret(render_openrc(s)),
                                      depends_on=[self.preflight])
        # Placement runs on this node; nova's upgrade check (in db sync) and verify ask it.
        self.placement = None
        if args.placement is not None:
            self.placement = PlacementService("placement", dataclasses.replace(
                args.placement, openrc=self.openrc, preflight=self.preflight), pulumi.ResourceOptions(parent=self))
        needs_placement = [self.placement.verify] if self.placement else []
        # The stack's `workers` for the APIs uwsgi serves (nova.conf carries it for the others).
        self.api_workers = None
        if s.workers and packaging.api_uwsgi_inis:
            self.api_workers = node.run("api-workers", scripts.set_uwsgi_processes(packaging.api_uwsgi_inis, s.workers),
                                        depends_on=[self.packages])
        # Runs again when the release changes (an upgrade: schema, data migrations, the check).
        cells = cell_templates(s) if release.cells_v2 else None
        self.db_sync = node.run("db-sync", scripts.db_sync(release.db_sync, cells, release.upgrade_check),
                                depends_on=[self.config, args.database, *needs_placement], triggers=[release.name])
        self.restart = node.run("restart", scripts.restart_services(packaging.services),
                                depends_on=[self.db_sync, self.config, *([self.api_workers] if self.api_workers else [])],
                                triggers=[conf_hash])
        self.verify = node.run(
            "verify", scripts.verify_services(OPENRC, release.services_via_api, release.expected_up, release.api_checks),
            depends_on=[self.restart, self.openrc, *args.endpoints, *needs_placement], triggers=[conf_hash])
        self.nova_conf_masked = render_masked(s, s.controller, CONTROLLER)
        self.register_outputs({"host": s.controller.host, "nova_conf": self.nova_conf_masked, "nova_conf_sha256": conf_hash})
