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
from components.database import NovaDatabase, NovaDatabaseArgs
from components.identity import ServiceIdentity, ServiceIdentityArgs, nova_identity_args
from components.node import OPENRC, NodeSteps, content_hash
from components.nova_conf import render_placement_conf, render_placement_masked, secret_values

PLACEMENT_CONF = "/etc/placement/placement.conf"


@dataclass
class PlacementArgs:
    settings: Settings
    provider: openstack.Provider  # keystone
    nova_identity: Optional[ServiceIdentity] = None  # its project and role ids: no second lookup
    openrc: Optional[pulumi.Resource] = None  # the admin credentials verify sources (set by the controller)
    preflight: Optional[pulumi.Resource] = None  # the controller's preflight


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
        s, p = args.settings, args.settings.placement
        db, packaging = s.database, s.release.packaging
        self.database = NovaDatabase(f"{name}-db", NovaDatabaseArgs(
            admin_host=db.host, admin_port=db.port, admin_user=db.admin_user,
            admin_password=pulumi.Output.secret(db.admin_password.value), admin_ca_file=db.ca_file,
            databases=[p.db_name], user=p.db_user, password=pulumi.Output.secret(p.db_password.value),
            hosts=list(db.allowed_hosts), drop_databases_on_delete=db.drop_on_delete, protect=s.production,
        ), pulumi.ResourceOptions(parent=self))
        self.identity = ServiceIdentity(f"{name}-identity", placement_identity_args(s, args.provider, args.nova_identity),
                                        pulumi.ResourceOptions(parent=self))

        steps = NodeSteps(self, name, s.controller, private_key=s.ssh_private_key)
        self.conf_text = pulumi.Output.secret(render_placement_conf(s, secret_values(s)))
        conf_hash = content_hash(self.conf_text)
        after_preflight = [args.preflight] if args.preflight else []
        self.packages = steps.run("packages", scripts.install_packages(
            packaging.placement_packages, packaging.preseed, packaging.source), depends_on=after_preflight)
        self.config = steps.write_file("conf", PLACEMENT_CONF, self.conf_text, group="placement",
                                       mode="0640", depends_on=[self.packages])
        self.db_sync = steps.run("db-sync", scripts.placement_db_sync(),
                                 depends_on=[self.config, self.database], triggers=[s.release.name])
        # the stack's `workers` as uwsgi's process count; the restart runs again when it changes
        self.workers = None
        if s.workers and packaging.placement_uwsgi_inis:
            self.workers = steps.run("workers", scripts.set_uwsgi_processes(packaging.placement_uwsgi_inis, s.workers),
                                     depends_on=[self.packages])
        self.restart = steps.run("restart", scripts.restart_services(packaging.placement_services),
                                 depends_on=[self.db_sync, self.config, *([self.workers] if self.workers else [])],
                                 triggers=[conf_hash, *([str(s.workers)] if self.workers else [])])
        self.verify = steps.run(
            "verify", scripts.verify_placement(OPENRC, p.endpoint_url),
            depends_on=[self.restart, *self.identity.endpoints.values(), *([args.openrc] if args.openrc else [])],
            triggers=[conf_hash])
        self.conf_masked = render_placement_masked(s)
        self.register_outputs({"url": p.endpoint_url, "placement_conf": self.conf_masked})
