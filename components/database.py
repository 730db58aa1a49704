"""Nova's databases (nova_api, nova, nova_cell0) and the nova MySQL account.

Deliberately not reproduced from the seed tutorial:
- its `GRANT ALL ON glance.* TO 'glance'@'%'` line in the nova section is a copy-paste mistake
  from the glance chapter: nova never needs privileges on glance's database;
- its `GRANT ... IDENTIFIED BY '...'` form fails on MySQL 8; the accounts are created with
  CREATE USER / ALTER USER and granted separately (see components/mysql_admin.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.mysql_admin import ServiceDatabase, ServiceDatabaseArgs


@dataclass(frozen=True, kw_only=True)
class NovaDatabaseArgs(ServiceDatabaseArgs):
    """ServiceDatabase's inputs (declared once, in ServiceDatabaseArgs) plus the component's own."""

    protect: bool = False  # Pulumi `protect` on the database resource (production stacks)


class NovaDatabase(pulumi.ComponentResource):
    def __init__(self, name: str, args: NovaDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("openstack-nova:components:Database", name, None, opts)
        # `args` is a ServiceDatabaseArgs: ServiceDatabase registers only its fields, not `protect`.
        self.service_database = ServiceDatabase(
            f"{name}-mysql", args, pulumi.ResourceOptions(parent=self, protect=args.protect)
        )
        self.databases = self.service_database.databases
        self.user = self.service_database.user
        self.hosts = self.service_database.hosts
        self.register_outputs({"databases": self.databases, "user": self.user, "hosts": self.hosts})
