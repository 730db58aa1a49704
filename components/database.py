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

from components.mysql_admin import ServiceDatabase


@dataclass
class NovaDatabaseArgs:
    admin_host: str
    admin_port: int
    admin_user: str
    admin_password: pulumi.Input[str]  # secret
    admin_ca_file: Optional[str]  # CA that signs the server's TLS certificate; None: no TLS
    databases: list[str]
    user: str
    password: pulumi.Input[str]  # secret
    hosts: list[str]  # account host patterns, e.g. ["localhost", "%"]
    drop_databases_on_delete: bool = False  # default keeps nova's data when the stack goes
    protect: bool = False


class NovaDatabase(pulumi.ComponentResource):
    def __init__(self, name: str, args: NovaDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("openstack-nova:components:Database", name, None, opts)
        self.service_database = ServiceDatabase(
            f"{name}-mysql",
            {
                "admin_host": args.admin_host,
                "admin_port": args.admin_port,
                "admin_user": args.admin_user,
                "admin_password": args.admin_password,
                "admin_ca_file": args.admin_ca_file,
                "databases": list(args.databases),
                "user": args.user,
                "password": args.password,
                "hosts": list(args.hosts),
                "drop_databases_on_delete": args.drop_databases_on_delete,
            },
            pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.databases = self.service_database.databases
        self.user = self.service_database.user
        self.hosts = self.service_database.hosts
        self.register_outputs({"databases": self.databases, "user": self.user, "hosts": self.hosts})
