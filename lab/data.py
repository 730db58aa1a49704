"""The lab's db host: MariaDB and RabbitMQ in a host of their own, as the install guide's
controller (the seed's db-node) runs them, started by Debian's own init scripts. The machine
needs neither: everything the lab keeps in them (databases, accounts, queues) lives in the
host's overlay and ends with it, and a restart in a test (an outage scenario) touches only the
lab. Their clients run inside the host (MariaDB's root over its unix socket, rabbitmqctl with the
node's cookie); passwords go on stdin, never in argv."""
from __future__ import annotations

import ipaddress
from typing import Sequence

from lab.support.common import PrereqError
from lab.support.processes import port_open, wait_until

from .node import Host

MARIADB_PORT, RABBITMQ_PORT = 3306, 5672
# Debian's MariaDB listens on 127.0.0.1 only and its default max_connections (151) is exhausted
# by a nova controller (16 uwsgi API workers, conductor and scheduler, keystone, placement:
# "Too many connections"). A file, not a runtime SET: a restart keeps it. No name resolution:
# the lab has no DNS, and accounts are matched by address.
MARIADB_CNF = ("/etc/mysql/mariadb.conf.d/99-nova-e2e.cnf",
               "# nova e2e db host: the lab's nodes connect over its bridge\n"
               "[mysqld]\nbind-address = 0.0.0.0\nmax_connections = 500\nskip-name-resolve\n")
MARIADB_INIT, RABBITMQ_INIT = "/etc/init.d/mariadb", "/etc/init.d/rabbitmq-server"


def sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise PrereqError(f"unexpected SQL identifier {value!r}")
    return f"`{value}`"


def account_host(gateway: ipaddress.IPv4Interface) -> str:
    """The account host pattern of the lab's subnet (MariaDB's `a.b.c.%` for a /24): the machine
    (the program's database provider, the tests) and every host of the lab, nobody else."""
    if gateway.network.prefixlen != 24:
        raise PrereqError(f"the lab's subnet {gateway.network} must be a /24 (its accounts are a.b.c.%)")
    return str(gateway.network.network_address).rsplit(".", 1)[0] + ".%"


class DataHost:
    """MariaDB and RabbitMQ in `host`; accounts for clients from `account_host`."""

    def __init__(self, host: Host, account_host: str):
        self.host, self.account_host = host, account_host
        self.address = str(host.address.ip)

    # -- start and restart ----------------------------------------------------------------------
    def start(self) -> None:
        self.host.write(*MARIADB_CNF)
        self._init(MARIADB_INIT, "start")
        self._wait_mariadb()
        self._init(RABBITMQ_INIT, "start")
        self._wait_rabbitmq()

    def restart_mariadb(self) -> None:
        """Stop and start, as an operator's `service mariadb restart`; back when it answers."""
        self._init(MARIADB_INIT, "restart")
        self._wait_mariadb()

    def restart_rabbitmq(self) -> None:
        self._init(RABBITMQ_INIT, "restart")
        self._wait_rabbitmq()

    def _init(self, script: str, action: str) -> None:
        self.host.run([script, action], timeout=300, what=f"{script} {action}")

    def _wait_mariadb(self) -> None:
        wait_until(lambda: self._client(["mariadb", "-uroot", "-e", "SELECT 1"]) and
                   port_open(self.address, MARIADB_PORT),
                   what=f"MariaDB in {self.host.name} to answer", timeout=120, interval=0.5,
                   logfile=self.host.path("/var/log/mysql/error.log"))

    def _wait_rabbitmq(self) -> None:
        wait_until(lambda: self._client(["rabbitmqctl", "-q", "await_startup"]) and
                   port_open(self.address, RABBITMQ_PORT),
                   what=f"RabbitMQ in {self.host.name} to answer", timeout=180, interval=1,
                   logfile=self.host.path(f"/var/log/rabbitmq/rabbit@{self.host.name}.log"))

    def _client(self, argv: Sequence[str]) -> bool:
        return self.host.run(argv, check=False, timeout=60).returncode == 0

    # -- MariaDB ----------------------------------------------------------------------------------
    def mysql(self, sql: str, what: str = "mysql") -> str:
        """SQL as MariaDB's root over the host's unix socket; statements (and passwords) on stdin."""
        return self.host.run(["mariadb", "--protocol=socket", "-uroot", "-N", "-B"], input=sql, what=what).stdout

    def db_exists(self, name: str) -> bool:
        return bool(self.mysql(f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {sql_str(name)};",
                               what=f"does database {name} exist").strip())

    def accounts(self, user: str) -> list[str]:
        """`user@host` of each of `user`'s accounts."""
        return self.mysql(f"SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User = {sql_str(user)};",
                          what=f"accounts of {user}").split()

    def ensure_account(self, user: str, password: str, grants: Sequence[str]) -> None:
        """`user` from the lab's subnet with `password` (set again when it exists) and `grants`
        (each with `{who}` for the account)."""
        who = f"{sql_str(user)}@{sql_str(self.account_host)}"
        self.mysql(f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {sql_str(password)};\n"
                   f"ALTER USER {who} IDENTIFIED BY {sql_str(password)};\n"
                   + "".join(g.format(who=who) for g in grants), what=f"account {user}")

    def ensure_database(self, db: str, user: str, password: str) -> None:
        self.mysql(f"CREATE DATABASE IF NOT EXISTS {sql_ident(db)} CHARACTER SET utf8mb4;", what=f"database {db}")
        self.ensure_account(user, password, [f"GRANT ALL PRIVILEGES ON {sql_ident(db)}.* TO {{who}};"])

    # -- RabbitMQ ---------------------------------------------------------------------------------
    def rabbitmqctl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self.host.run(["rabbitmqctl", *args], input=input, check=check, timeout=120,
                             what=f"rabbitmqctl {' '.join(args[:2])}").stdout

    def ensure_rabbit_user(self, user: str, password: str) -> None:
        """`user` with `password` (read from stdin when argv has none) and every permission on /."""
        users = {line.split()[0] for line in self.rabbitmqctl("-q", "list_users").splitlines() if line.strip()}
        self.rabbitmqctl("change_password" if user in users else "add_user", user, input=password + "\n")
        self.rabbitmqctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
        self.rabbitmqctl("authenticate_user", user, input=password + "\n")
