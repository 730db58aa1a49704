"""The controller node (the seed's compute-node): nova's API, conductor, scheduler and console
proxy. Its steps, in the order the graph states once:

    preflight -> packages -> nova.conf, openrc -> db sync -> restart -> verify
                          -> api-workers (uwsgi's process count, when `workers` is set) -> restart

db sync also waits for the database component (its databases and grants) and placement (nova's
upgrade check asks it); verify also waits for the keystone endpoints. A changed nova.conf rewrites
the file and, through a content-hash trigger, re-runs only restart and verify; packages and db
sync are left alone.

It is built in two calls, because placement runs on this node and the two wait for each other:
`ControllerNode(...)` prepares the node (preflight, packages, files) and offers `access` to the
components that run there too (placement); `start(placement_ready=...)` syncs the database and
runs the services once those are ready, and returns the `ControllerHandle` the hypervisors and host
discovery use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from pulumi_command import remote

from components import scripts
from components.config import NodeSettings, Secret, Settings
from components.handles import ControllerAccess, ControllerHandle
from components.node import NodeSteps, content_hash, ran_again, repaired
from components.nova_conf import cell_templates, plain_secret_overrides, render_masked, render_nova_conf
from components.nova_node import NOVA_CONF, OPENRC, Target, controller_targets, nova_version
from components.openrc import render_openrc
from components.releases import ReleaseProfile
from components.template_context import CONTROLLER, secret_values


@dataclass
class ControllerArgs:
    release: ReleaseProfile
    node: NodeSettings
    private_key: Optional[Secret]
    preflight_targets: Sequence[Target]
    nova_conf: str  # the rendered file (secret: sent as a Pulumi secret on stdin)
    nova_conf_masked: str  # the same with every secret masked, as a plan shows it
    openrc: str  # the admin openrc (secret)
    workers: Optional[int]  # uwsgi's process count for the APIs it serves
    cells: Optional[scripts.CellTemplates]  # the cell mappings db sync creates (cells v2 releases)
    database: pulumi.Resource  # db sync waits for its databases and grants
    endpoints: Sequence[pulumi.Resource]  # verify waits for the catalog

    @classmethod
    def from_settings(cls, s: Settings, database: pulumi.Resource,
                      endpoints: Sequence[pulumi.Resource]) -> "ControllerArgs":
        return cls(release=s.release, node=s.controller, private_key=s.ssh_private_key,
                   preflight_targets=controller_targets(s),
                   nova_conf=render_nova_conf(s, s.controller, CONTROLLER, secret_values(s), plain_secret_overrides(s)),
                   nova_conf_masked=render_masked(s, s.controller, CONTROLLER), openrc=render_openrc(s),
                   workers=s.workers, cells=cell_templates(s) if s.release.release.cells_v2 else None,
                   database=database, endpoints=endpoints)


class ControllerNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: ControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:ControllerNode", name, None, opts)
        self.args = args
        release, packaging = args.release.release, args.release.packaging
        node = self.steps = NodeSteps(self, name, args.node, private_key=args.private_key)

        self.nova_conf_text = pulumi.Output.secret(args.nova_conf)
        self.nova_conf_sha256 = content_hash(self.nova_conf_text)
        self.preflight = node.run("preflight", scripts.preflight(args.preflight_targets))
        self.packages = node.run("packages", scripts.install_packages(
            packaging.packages, packaging.preseed, packaging.source, nova_version(release)), depends_on=[self.preflight])
        self.config = node.write_file("nova-conf", NOVA_CONF, self.nova_conf_text, group="nova", mode="0640",
                                      depends_on=[self.packages])
        self.openrc = node.write_file("openrc", OPENRC, pulumi.Output.secret(args.openrc), depends_on=[self.preflight])
        # The stack's `workers` for the APIs uwsgi serves (nova.conf carries it for the others).
        self.api_workers = None
        if args.workers and packaging.api_uwsgi_inis:
            self.api_workers = node.run("api-workers", scripts.set_uwsgi_processes(packaging.api_uwsgi_inis, args.workers),
                                        depends_on=[self.packages])
        self.access = ControllerAccess(args.node, node.connection, self.preflight, self.openrc)

    def start(self, placement_ready: Sequence[pulumi.Resource] = (),
              placement_restarts: Sequence[remote.Command] = ()) -> ControllerHandle:
        """Sync the databases and run the services, once what they ask (placement) is ready.
        Verification runs again whenever placement restarts (`placement_restarts`): the
        scheduler and the API ask it."""
        args, node, conf_hash = self.args, self.steps, self.nova_conf_sha256
        release, packaging = args.release.release, args.release.packaging
        # Runs again when the release changes (an upgrade: schema, data migrations, the check).
        self.db_sync = node.run("db-sync", scripts.db_sync(release.db_sync, args.cells, release.upgrade_check),
                                depends_on=[self.config, args.database, *placement_ready], triggers=[args.release.name])
        self.restart = node.run("restart", scripts.restart_services(packaging.services),
                                depends_on=[self.db_sync, self.config, *([self.api_workers] if self.api_workers else [])],
                                triggers=[repaired(conf_hash, node.watches["nova-conf"])])
        self.verify = node.run(
            "verify", scripts.verify_services(OPENRC, release.services_via_api, release.expected_up, release.api_checks),
            depends_on=[self.restart, self.openrc, *args.endpoints, *placement_ready],
            triggers=[repaired(conf_hash, node.watches["nova-conf"], node.watches["openrc"]),
                      *(value for step in placement_restarts for value in ran_again(step))])
        self.nova_conf_masked = args.nova_conf_masked
        self.register_outputs({"host": args.node.host, "nova_conf": self.nova_conf_masked, "nova_conf_sha256": conf_hash})
        return ControllerHandle(**vars(self.access), db_sync=self.db_sync, restart=self.restart, verify=self.verify,
                                restarts=(self.restart, *placement_restarts))

