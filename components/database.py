"""A service's databases and its MySQL account on the db-node: nova's (nova_api, nova, nova_cell0
and the nova account) and placement's are each one `Database`.

Deliberately not reproduced from the seed tutorial:
- its `GRANT ALL ON glance.* TO 'glance'@'%'` line in the nova section is a copy-paste mistake
  from the glance chapter: nova never needs privileges on glance's database;
- its `GRANT ... IDENTIFIED BY '...'` form fails on MySQL 8; the accounts are created with
  CREATE USER / ALTER USER and granted separately (see components/mysql_session.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.config import DatabaseSettings, Secret
from components.mysql_admin import ServiceDatabase
from components.mysql_inputs import ServiceDatabaseArgs


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs(ServiceDatabaseArgs):
    """ServiceDatabase's inputs (declared once, in ServiceDatabaseArgs) plus the component's own."""

    protect: bool = False  # Pulumi `protect` on the database resource (production stacks)


def service_database_args(db: DatabaseSettings, databases: Sequence[str], user: str, password: Secret,
                          protect: bool) -> DatabaseArgs:
    """A service's databases and account on the stack's db-node, reached with its admin account
    (passwords as Pulumi secrets): what nova and placement each declare."""
    return DatabaseArgs(
        admin_host=db.host, admin_port=db.port, admin_user=db.admin_user,
        admin_password=pulumi.Output.secret(db.admin_password.value), admin_ca_file=db.ca_file,
        databases=list(databases), user=user, password=pulumi.Output.secret(password.value),
        hosts=list(db.allowed_hosts), drop_databases_on_delete=db.drop_on_delete, protect=protect,
    )


class Database(pulumi.ComponentResource):
    def __init__(self, name: str, args: DatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("openstack-nova:components:Database", name, None, opts)
        # `args` is a ServiceDatabaseArgs: ServiceDatabase registers only its fields, not `protect`.
        self.service_database = ServiceDatabase(
            f"{name}-mysql", args, pulumi.ResourceOptions(parent=self, protect=args.protect)
        )
        self.databases = self.service_database.databases
        self.user = self.service_database.user
        self.hosts = self.service_database.hosts
        self.register_outputs({"databases": self.databases, "user": self.user, "hosts": self.hosts})
