"""Accounts and databases on the local services: MariaDB (as its root over the unix socket) and
RabbitMQ (rabbitmqctl). Each `ensure_*` records what it created in the state, and the `drop_*` /
`delete_*` undo one such record. Passwords go on stdin, never in argv."""
from __future__ import annotations

from typing import Sequence

from .common import DB_HOSTS, PrereqError, log, run
from .state import State


def sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise PrereqError(f"unexpected SQL identifier {value!r}")
    return f"`{value}`"


def mysql(sql: str, what: str = "mysql") -> str:
    """Run SQL as MariaDB's root over the unix socket; statements go on stdin (with passwords)."""
    return run(["mysql", "--protocol=socket", "-uroot", "-N", "-B"], input=sql, what=what).stdout


# A nova controller holds many connections (16 uwsgi API workers, conductor and scheduler
# workers, keystone, placement); MariaDB's default max_connections (151) was exhausted, with
# "Too many connections", when another nova deployment shared the server.
MIN_CONNECTIONS = 500


def check_mariadb() -> None:
    if run(["mysql", "--protocol=socket", "-uroot", "-e", "SELECT 1"], check=False).returncode:
        raise PrereqError("MariaDB is not reachable as root over the unix socket")
    current = int(mysql("SELECT @@GLOBAL.max_connections", "read max_connections").strip())
    if current < MIN_CONNECTIONS:  # runtime only: a restart of MariaDB restores its own setting
        mysql(f"SET GLOBAL max_connections = {MIN_CONNECTIONS}", "raise max_connections")


def db_exists(name: str) -> bool:
    return bool(mysql(f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                      f"WHERE SCHEMA_NAME = {sql_str(name)};").strip())


def db_user_exists(user: str, host: str) -> bool:
    return bool(mysql(f"SELECT User FROM mysql.user WHERE User = {sql_str(user)} "
                      f"AND Host = {sql_str(host)};").strip())


def ensure_database(state: State, db: str, user: str, password: str) -> None:
    if not db_exists(db):
        mysql(f"CREATE DATABASE {sql_ident(db)} CHARACTER SET utf8mb4;", what=f"create db {db}")
        state.mark_created("databases", db)
    elif db not in state.created("databases"):
        log(f"database {db} already existed before this harness: using it, will not drop it")
    ensure_account(state, user, password, [f"GRANT ALL PRIVILEGES ON {sql_ident(db)}.* TO {{who}};"])


def ensure_account(state: State, user: str, password: str, grants: Sequence[str]) -> None:
    for host in DB_HOSTS:
        who = f"{sql_str(user)}@{sql_str(host)}"
        if not db_user_exists(user, host):
            mysql(f"CREATE USER {who} IDENTIFIED BY {sql_str(password)};", what=f"create user {user}")
            state.mark_created("db_users", f"{user}@{host}")
        elif f"{user}@{host}" not in state.created("db_users"):
            raise PrereqError(f"MariaDB account {user}@{host} exists and was not created by this "
                              "harness: refusing to change its password")
        else:
            mysql(f"ALTER USER {who} IDENTIFIED BY {sql_str(password)};", what=f"alter user {user}")
        mysql("".join(g.format(who=who) for g in grants), what=f"grant {user}")


def drop_database(db: str) -> None:
    mysql(f"DROP DATABASE IF EXISTS {sql_ident(db)};")


def drop_db_user(account: str) -> None:
    """`account` as recorded in the state: `user@host`."""
    user, host = account.rsplit("@", 1)
    mysql(f"DROP USER IF EXISTS {sql_str(user)}@{sql_str(host)};")


def ensure_rabbit_user(state: State, user: str, password: str) -> None:
    proc = run(["rabbitmqctl", "-q", "list_users"], what="rabbitmqctl list_users (is RabbitMQ up?)",
               timeout=120)
    users = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    if user in users:
        if user not in state.created("rabbit_users"):
            log(f"RabbitMQ user {user} existed before this harness: resetting its password")
        # the password is read from stdin when omitted from argv
        run(["rabbitmqctl", "change_password", user], input=password + "\n",
            what="rabbitmqctl change_password", timeout=120)
    else:
        run(["rabbitmqctl", "add_user", user], input=password + "\n", what="rabbitmqctl add_user",
            timeout=120)
        state.mark_created("rabbit_users", user)
    run(["rabbitmqctl", "set_permissions", "-p", "/", user, ".*", ".*", ".*"],
        what="rabbitmqctl set_permissions", timeout=120)
    run(["rabbitmqctl", "authenticate_user", user], input=password + "\n",
        what="rabbitmqctl authenticate_user", timeout=120)


def delete_rabbit_user(user: str) -> None:
    run(["rabbitmqctl", "delete_user", user])
