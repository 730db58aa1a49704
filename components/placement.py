"""Placement (a separate service since Stein, which every modern nova needs): its database and
account, its keystone identity and its service on the controller, reusing the program's own
parts (the database provider, ServiceIdentity, NodeSteps). Its steps:

    packages -> placement.conf -> db sync -> restart -> verify

nova's db sync (its upgrade check asks placement) and nova's verify wait for placement's verify.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from components import scripts
from components.config import Settings
from components.handles import ControllerAccess
from components.database import Database, DatabaseArgs, service_database_args
from components.identity import ServiceIdentity, ServiceIdentityArgs, nova_identity_args
from components.nova_node import OPENRC, PLACEMENT_CONF
from components.node import NodeSteps, content_hash, repaired
from components.placement_conf import render_placement_conf, render_placement_masked
from components.releases import ReleaseProfile
from components.template_context import secret_values


@dataclass
class PlacementArgs:
    release: ReleaseProfile
    controller: ControllerAccess  # placement runs there: its connection, preflight and admin openrc
    database: DatabaseArgs  # placement's database and account
    identity: ServiceIdentityArgs  # placement's keystone user, service and endpoints
    conf: str  # placement.conf as rendered (secret: sent as a Pulumi secret on stdin)
    conf_masked: str  # the same with every secret masked, as a plan shows it
    endpoint_url: str  # what verify asks
    workers: Optional[int]  # uwsgi's process count

    @classmethod
    def from_settings(cls, s: Settings, controller: ControllerAccess, provider: openstack.Provider,
                      nova_identity: Optional[ServiceIdentity] = None) -> "PlacementArgs":
        p = s.placement
        return cls(release=s.release, controller=controller,
                   database=service_database_args(s.database, [p.db_name], p.db_user, p.db_password, s.production),
                   identity=placement_identity_args(s, provider, nova_identity),
                   conf=render_placement_conf(s, secret_values(s)), conf_masked=render_placement_masked(s),
                   endpoint_url=p.endpoint_url, workers=s.workers)


def placement_identity_args(s: Settings, provider: openstack.Provider,
                            nova: Optional[ServiceIdentity] = None) -> ServiceIdentityArgs:
    """nova's identity settings (domain, project, roles, region, interfaces) for placement's own
    user, service and endpoints; nova's lookups of the project and roles are reused."""
    role = s.identity.role
    return dataclasses.replace(
        nova_identity_args(s, provider),
        user_name=s.placement_user,
        password=pulumi.Output.secret(s.placement_password.value),
        service_name="placement",
        service_type="placement",
        description="Placement API",
        endpoints=[(iface, s.placement.endpoint_url) for iface, _ in s.identity.endpoints],
        adopt_user_id=None, adopt_service_id=None, adopt_endpoint_ids={},
        **({"project_id": nova.project_id, "role_id": nova.role_ids[role],
            "extra_role_ids": {r: i for r, i in nova.role_ids.items() if r != role}} if nova else {}),
    )


class PlacementService(pulumi.ComponentResource):
    def __init__(self, name: str, args: PlacementArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:Placement", name, None, opts)
        packaging = args.release.packaging
        self.database = Database(f"{name}-db", args.database, pulumi.ResourceOptions(parent=self))
        self.identity = ServiceIdentity(f"{name}-identity", args.identity, pulumi.ResourceOptions(parent=self))

        ctl = args.controller
        steps = NodeSteps(self, name, ctl.node, conn=ctl.connection)
        self.conf_text = pulumi.Output.secret(args.conf)
        conf_hash = content_hash(self.conf_text)
        self.packages = steps.run("packages", scripts.install_packages(
            packaging.placement_packages, packaging.preseed, packaging.source), depends_on=[ctl.preflight])
        self.config = steps.write_file("conf", PLACEMENT_CONF, self.conf_text, group="placement",
                                       mode="0640", depends_on=[self.packages])
        self.db_sync = steps.run("db-sync", scripts.placement_db_sync(),
                                 depends_on=[self.config, self.database], triggers=[args.release.name])
        # the stack's `workers` as uwsgi's process count; the restart runs again when it changes
        self.workers = None
        if args.workers and packaging.placement_uwsgi_inis:
            self.workers = steps.run("workers", scripts.set_uwsgi_processes(packaging.placement_uwsgi_inis, args.workers),
                                     depends_on=[self.packages])
        self.restart = steps.run("restart", scripts.restart_services(packaging.placement_services),
                                 depends_on=[self.db_sync, self.config, *([self.workers] if self.workers else [])],
                                 triggers=[repaired(conf_hash, steps.watches["conf"]),
                                           *([str(args.workers)] if self.workers else [])])
        self.verify = steps.run(
            "verify", scripts.verify_placement(OPENRC, args.endpoint_url),
            depends_on=[self.restart, *self.identity.endpoints.values(), ctl.openrc],
            triggers=[repaired(conf_hash, steps.watches["conf"])])
        self.conf_masked = args.conf_masked
        self.register_outputs({"url": args.endpoint_url, "placement_conf": self.conf_masked})
