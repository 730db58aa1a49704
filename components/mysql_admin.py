"""A service's MySQL/MariaDB databases and account, as a Pulumi dynamic provider over PyMySQL.

Pulumi pickles `ServiceDatabaseProvider` by reference to this module, so importing it must have no
side effects: every method opens its own admin connection and closes it before returning.

Safety rules the code below keeps:
- Identifiers (database and user names) are validated before anything runs and only then
  backtick-quoted into SQL; everything else (user, host, password) goes as query parameters.
- Passwords are only ever query parameters and are scrubbed from every error text anyway,
  because the server echoes statement fragments in syntax errors ("... near '<text>'").
- Accounts are created with CREATE USER IF NOT EXISTS + ALTER USER + GRANT (never
  `GRANT ... IDENTIFIED BY`, which MySQL 8 rejects), so existing accounts are adopted and their
  password converged.
- Database data is never dropped unless `drop_databases_on_delete` is set.

Passwords are hashed by the server from the bytes of the admin connection's character set
(utf8mb4 here). PyMySQL sends a `str` login password latin-1 encoded, so a PyMySQL client (oslo.db)
logging in with a non-ASCII password must pass it as UTF-8 bytes; ASCII passwords avoid the issue.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import pulumi
import pulumi.dynamic
import pymysql
from pulumi.runtime import rpc

log = logging.getLogger(__name__)

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# %, localhost, host names, IPv4/IPv6 addresses, wildcard patterns (10.0.0.%) and ip/netmask.
HOST_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.%:/-]{1,255}$")
ADMIN_HOST_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
# MySQL 8 limits user names to 32 characters (MariaDB allows 80): keep stacks portable.
USER_NAME_MAX = 32
CONNECT_TIMEOUT = 5
INPUT_KEYS = (
    "admin_host", "admin_port", "admin_user", "admin_password", "admin_ca_file",
    "databases", "user", "password", "hosts", "drop_databases_on_delete",
)

# MySQL error numbers handled explicitly.
ER_NONEXISTING_GRANT = 1141  # SHOW GRANTS / REVOKE for an account or grant that does not exist

# SQL text, with %s for query parameters. {db} is a validated, backtick-quoted identifier.
SQL_CREATE_DATABASE = "CREATE DATABASE IF NOT EXISTS {db}"
SQL_DROP_DATABASE = "DROP DATABASE IF EXISTS {db}"
SQL_CREATE_USER = "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s"
SQL_ALTER_USER = "ALTER USER %s@%s IDENTIFIED BY %s"
SQL_GRANT = "GRANT ALL PRIVILEGES ON {db}.* TO %s@%s"
SQL_REVOKE = "REVOKE ALL PRIVILEGES ON {db}.* FROM %s@%s"
SQL_REVOKE_GRANT_OPTION = "REVOKE GRANT OPTION ON {db}.* FROM %s@%s"
SQL_DROP_USER = "DROP USER IF EXISTS %s@%s"
SQL_SHOW_GRANTS = "SHOW GRANTS FOR %s@%s"
SQL_EXISTING_DATABASES = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN %s"

# One line of SHOW GRANTS for a database-level grant: GRANT <privs> ON `db`.* TO ...
_DB_GRANT_RE = re.compile(r"^GRANT (?P<privs>.+?) ON `(?P<db>(?:[^`]|``)+)`\.\* TO (?P<rest>.*)$")


def validate_identifier(value: Any, key: str) -> list[str]:
    """Problems with `value` as a plain SQL identifier (empty list when fine)."""
    if isinstance(value, str) and IDENTIFIER_RE.fullmatch(value):
        return []
    return [
        f"{key}: {value!r} is not a plain SQL identifier; use letters, digits and _ "
        "(first not a digit), at most 64 characters"
    ]


def validate_host_pattern(value: Any, key: str) -> list[str]:
    """Problems with `value` as the host part of a MySQL account (empty list when fine)."""
    if isinstance(value, str) and HOST_PATTERN_RE.fullmatch(value):
        return []
    return [
        f"{key}: {value!r} is not a MySQL account host pattern; use %, localhost, a host name, "
        "an IPv4/IPv6 address or a wildcard pattern such as 10.0.0.% "
        "(letters, digits and . - _ : % / only)"
    ]


def _scrub(text: str, secrets: Iterable[Optional[str]]) -> str:
    """Replace every known secret, also as the server or repr() would escape it, by [secret]."""
    variants: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and secret:
            variants.update({secret, pymysql.converters.escape_string(secret), repr(secret)[1:-1]})
    for variant in sorted(variants, key=len, reverse=True):  # longest first: escaped forms
        text = text.replace(variant, "[secret]")
    return text


class DatabaseAdminError(Exception):
    """A connection or SQL failure of the admin session; the text never contains a secret."""

    def __init__(self, message: str, secrets: Iterable[Optional[str]] = ()) -> None:
        super().__init__(_scrub(message, secrets))


class DatabaseSpecError(ValueError):
    """Invalid ServiceDatabase inputs; lists every problem at once."""


@dataclass(frozen=True)
class _Spec:
    admin_host: str
    admin_port: int
    admin_user: str
    admin_password: str
    admin_ca_file: Optional[str]
    databases: tuple[str, ...]
    user: str
    password: str
    hosts: tuple[str, ...]
    drop_databases_on_delete: bool

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.admin_password, self.password)

    @property
    def endpoint(self) -> str:
        host = f"[{self.admin_host}]" if ":" in self.admin_host else self.admin_host
        return f"{host}:{self.admin_port}"

    def outputs(self) -> dict[str, Any]:
        return {
            "admin_host": self.admin_host,
            "admin_port": self.admin_port,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "admin_ca_file": self.admin_ca_file,
            "databases": list(self.databases),
            "user": self.user,
            "password": self.password,
            "hosts": list(self.hosts),
            "drop_databases_on_delete": self.drop_databases_on_delete,
        }


def _plain(value: Any) -> Any:
    # The engine strips secrets before calling a dynamic provider, but be robust to wrapped values.
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def _is_unknown(value: Any) -> bool:
    """Whether a (preview) value is or contains an unknown Output."""
    value = _plain(value)
    if value == rpc.UNKNOWN:
        return True
    if isinstance(value, (list, tuple)):
        return any(_is_unknown(item) for item in value)
    return False


def _as_int(value: Any) -> Optional[int]:
    # Numbers cross the Pulumi wire as floats: accept 3306.0, reject 3306.5, True and "3306".
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _problems(props: dict[str, Any], skip_unknown: bool = False, state: bool = False) -> list[tuple[str, str]]:
    """Every problem with the inputs, as (top-level property, message).

    `state`: props are recorded state, whose lists read() may have emptied (drift), not inputs.
    """
    problems: list[tuple[str, str]] = []

    def add(key: str, messages: list[str]) -> None:
        problems.extend((key, message) for message in messages)

    def value(key: str) -> Any:
        return _plain(props.get(key))

    def skip(key: str) -> bool:
        return skip_unknown and _is_unknown(props.get(key))

    if not skip("admin_host"):
        host = value("admin_host")
        if not (isinstance(host, str) and ADMIN_HOST_RE.fullmatch(host)):
            add("admin_host", [f"admin_host: {host!r} is not a host name or IP address"])
    if not skip("admin_port"):
        port = _as_int(value("admin_port"))
        if port is None or not 0 < port < 65536:
            add("admin_port", [f"admin_port: {value('admin_port')!r} is not a TCP port (1-65535)"])
    if not skip("admin_user"):
        admin_user = value("admin_user")
        if not (isinstance(admin_user, str) and admin_user):
            add("admin_user", [f"admin_user: {admin_user!r} must be a non-empty string"])
    if not skip("admin_password") and not isinstance(value("admin_password"), (str, type(None))):
        add("admin_password", ["admin_password: must be a string (it may be empty)"])
    if not skip("admin_ca_file") and not isinstance(value("admin_ca_file"), (str, type(None))):
        add("admin_ca_file", [f"admin_ca_file: {value('admin_ca_file')!r} must be a file path or empty"])
    for key, validate in (("databases", validate_identifier), ("hosts", validate_host_pattern)):
        if skip(key):
            continue
        items = value(key)
        if not isinstance(items, (list, tuple)) or not (items or state):
            add(key, [f"{key}: {items!r} must be a non-empty list"])
            continue
        for index, item in enumerate(items):
            if not (skip_unknown and _is_unknown(item)):
                add(key, validate(_plain(item), f"{key}[{index}]"))
    if not skip("user"):
        user = value("user")
        add("user", validate_identifier(user, "user"))
        if isinstance(user, str) and IDENTIFIER_RE.fullmatch(user) and len(user) > USER_NAME_MAX:
            add("user", [f"user: {user!r} is longer than {USER_NAME_MAX} characters, "
                         "the MySQL 8 limit for user names; use a shorter name"])
    if not skip("password"):
        password = value("password")
        if not (isinstance(password, str) and password):
            add("password", ["password: must be a non-empty string"])  # never echo a password
    if not skip("drop_databases_on_delete"):
        drop = value("drop_databases_on_delete")
        if not isinstance(drop, (bool, type(None))):
            add("drop_databases_on_delete", [f"drop_databases_on_delete: {drop!r} must be true or false"])
    return problems


def _parse(props: dict[str, Any], state: bool = False) -> _Spec:
    """Validated inputs; raises DatabaseSpecError listing every problem before anything runs."""
    problems = _problems(props, state=state)
    if problems:
        raise DatabaseSpecError(
            "invalid ServiceDatabase inputs:\n" + "\n".join(f"  - {message}" for _, message in problems)
        )
    value = lambda key: _plain(props.get(key))  # noqa: E731
    return _Spec(
        admin_host=value("admin_host"),
        admin_port=_as_int(value("admin_port")),
        admin_user=value("admin_user"),
        admin_password=value("admin_password") or "",
        admin_ca_file=value("admin_ca_file") or None,
        databases=_unique(_plain(db) for db in value("databases")),
        user=value("user"),
        password=value("password"),
        hosts=_unique(_plain(host) for host in value("hosts")),
        drop_databases_on_delete=bool(value("drop_databases_on_delete")),
    )


def _quote_db(name: str) -> str:
    """Backtick-quote a validated database name (no backticks in it to double)."""
    return f"`{name}`"


def _grant_pattern(name: str) -> str:
    # In database-level GRANT/REVOKE, _ and % are wildcards: escape _ so `nova_api` does not also
    # cover `novaXapi` (validated names contain no %). SHOW GRANTS shows the escaped form.
    return name.replace("_", "\\_")


def _same_host(a: str, b: str) -> bool:
    # The server stores account host names lower-cased (Foo.Example.com -> foo.example.com).
    return a.lower() == b.lower()


class _AdminSession:
    """One admin connection; every failure becomes a scrubbed DatabaseAdminError."""

    def __init__(self, spec: _Spec, extra_secrets: Iterable[Optional[str]] = ()) -> None:
        self.spec = spec
        self.secrets = (*spec.secrets, *extra_secrets)
        try:
            self.conn = pymysql.connect(
                host=spec.admin_host,
                port=spec.admin_port,
                user=spec.admin_user,
                # UTF-8 bytes: PyMySQL would send a str latin-1 encoded (see module docstring).
                password=spec.admin_password.encode("utf-8"),
                ssl={"ca": spec.admin_ca_file} if spec.admin_ca_file else None,
                connect_timeout=CONNECT_TIMEOUT,
                charset="utf8mb4",
                autocommit=True,
            )
        except (pymysql.Error, OSError) as exc:
            raise self._error("connect", exc) from None

    def __enter__(self) -> "_AdminSession":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.conn.close()

    def _error(self, what: str, exc: BaseException) -> DatabaseAdminError:
        if isinstance(exc, pymysql.Error) and len(exc.args) == 2:
            reason = f"MySQL error {exc.args[0]}: {exc.args[1]}"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return DatabaseAdminError(
            f"database admin {self.spec.admin_user!r} at {self.spec.endpoint}: {what} failed: {reason}",
            self.secrets,
        )

    def run(self, what: str, sql: str, args: Any = None, missing_ok: bool = False) -> Optional[list[tuple]]:
        """Execute one statement; None when missing_ok and the account/grant does not exist."""
        log.debug("%s at %s as %s", what, self.spec.endpoint, self.spec.admin_user)
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        except pymysql.Error as exc:
            if missing_ok and exc.args and exc.args[0] == ER_NONEXISTING_GRANT:
                return None
            # `from None`: the chained PyMySQL exception would put the raw text into tracebacks.
            raise self._error(what, exc) from None

    def db_grants(self, user: str, host: str) -> Optional[dict[str, str]]:
        """{database pattern as the server shows it: privilege list} or None if no account."""
        rows = self.run(f"SHOW GRANTS FOR {user!r}@{host!r}", SQL_SHOW_GRANTS, (user, host), missing_ok=True)
        if rows is None:
            return None
        grants = {}
        for (line,) in rows:
            match = _DB_GRANT_RE.match(line)
            if match:
                privs = match["privs"] + (" WITH GRANT OPTION" if "WITH GRANT OPTION" in match["rest"] else "")
                grants[match["db"].replace("``", "`")] = privs
        return grants

    def existing_databases(self, names: Iterable[str]) -> set[str]:
        names = tuple(names)
        if not names:
            return set()
        return {row[0] for row in self.run("list databases", SQL_EXISTING_DATABASES, (names,))}

    def converge(self, spec: _Spec) -> None:
        """Create what is missing and set the password and grants for every listed account."""
        for db in spec.databases:
            self.run(f"CREATE DATABASE {db}", SQL_CREATE_DATABASE.format(db=_quote_db(db)))
        for host in spec.hosts:
            account = (spec.user, host)
            self.run(f"CREATE USER {spec.user!r}@{host!r}", SQL_CREATE_USER, (*account, spec.password))
            self.run(f"ALTER USER {spec.user!r}@{host!r}", SQL_ALTER_USER, (*account, spec.password))
            for db in spec.databases:
                self.run(f"GRANT ON {db} TO {spec.user!r}@{host!r}",
                         SQL_GRANT.format(db=_quote_db(_grant_pattern(db))), account)

    def revoke(self, user: str, host: str, db: str) -> None:
        """Remove the account's database-level grant on `db`, escaped or not; keep the data."""
        grants = self.db_grants(user, host) or {}
        for pattern in {_grant_pattern(db), db}:  # db: an adopted unescaped grant
            privs = grants.get(pattern)
            if privs is None:
                continue
            quoted = _quote_db(pattern)
            what = f"REVOKE ON {db} FROM {user!r}@{host!r}"
            if not privs.startswith("USAGE"):
                self.run(what, SQL_REVOKE.format(db=quoted), (user, host), missing_ok=True)
            if "WITH GRANT OPTION" in privs:
                self.run(what, SQL_REVOKE_GRANT_OPTION.format(db=quoted), (user, host), missing_ok=True)

    def drop_user(self, user: str, host: str) -> None:
        self.run(f"DROP USER {user!r}@{host!r}", SQL_DROP_USER, (user, host))


def _holds_all(db: str, grants: dict[str, str]) -> bool:
    return any(grants.get(pattern, "").startswith("ALL PRIVILEGES") for pattern in (_grant_pattern(db), db))


def _diff_view(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs normalised for comparison: order/duplicates of lists, 3306 vs 3306.0, "" vs None."""
    value = lambda key: _plain(props.get(key))  # noqa: E731
    lists = {key: frozenset(_plain(item) for item in (value(key) or ())) for key in ("databases", "hosts")}
    return {
        "admin_host": value("admin_host"),
        "admin_port": _as_int(value("admin_port")),
        "admin_user": value("admin_user"),
        "admin_password": value("admin_password") or "",
        "admin_ca_file": value("admin_ca_file") or None,
        "user": value("user"),
        "password": value("password"),
        "drop_databases_on_delete": bool(value("drop_databases_on_delete")),
        "databases": lists["databases"],
        "hosts": frozenset(host.lower() if isinstance(host, str) else host for host in lists["hosts"]),
    }


class ServiceDatabaseProvider(pulumi.dynamic.ResourceProvider):
    """Databases plus one user with ALL PRIVILEGES on them from each host pattern.

    Every change is an in-place update: replacing would run create-then-delete, and delete with
    `drop_databases_on_delete` would drop the databases the replacement just adopted. A user rename
    is therefore also an update (new accounts first, then the old ones are dropped); the id keeps the
    name it was created with, as the id is only a label and no method relies on it.
    """

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        # Report bad inputs at preview, before anything runs; unknown values are checked at create.
        failures = [pulumi.dynamic.CheckFailure(key, message) for key, message in _problems(news, skip_unknown=True)]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        spec = _parse(props)
        with _AdminSession(spec) as session:
            session.converge(spec)
        return pulumi.dynamic.CreateResult(f"{spec.user}@{spec.endpoint}", spec.outputs())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = any(_is_unknown(news.get(key)) for key in INPUT_KEYS) or _diff_view(olds) != _diff_view(news)
        return pulumi.dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        spec = _parse(news)
        old = _diff_view(olds)  # old state is only needed for what to remove; it may have drifted
        old_hosts = [_plain(host) for host in (_plain(olds.get("hosts")) or ())]
        with _AdminSession(spec, extra_secrets=[old["password"], old["admin_password"]]) as session:
            session.converge(spec)
            if old["user"] != spec.user:
                for host in old_hosts:  # renamed: the old user's accounts (and their grants) go
                    session.drop_user(old["user"], host)
            else:
                for host in old_hosts:
                    if not any(_same_host(host, new) for new in spec.hosts):
                        session.drop_user(spec.user, host)
                for db in old["databases"] - set(spec.databases):
                    for host in spec.hosts:  # revoke only: the database and its data stay
                        session.revoke(spec.user, host, db)
        return pulumi.dynamic.UpdateResult(spec.outputs())

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        """The listed state actually on the server, so refresh shows drift and update repairs it.

        `hosts` keeps the listed hosts whose account exists; `databases` keeps the listed databases
        that exist and on which every remaining account holds ALL PRIVILEGES. With no account left
        the id is kept and `hosts` is empty: the next update recreates the accounts in place rather
        than Pulumi forgetting the resource. The password cannot be read back and is kept.
        """
        spec = _parse(props, state=True)
        with _AdminSession(spec) as session:
            complete = session.existing_databases(spec.databases)
            hosts = []
            for host in spec.hosts:
                grants = session.db_grants(spec.user, host)
                if grants is None:
                    continue
                hosts.append(host)
                complete = {db for db in complete if _holds_all(db, grants)}
        outs = spec.outputs()
        outs["hosts"] = hosts
        outs["databases"] = [db for db in spec.databases if db in complete]
        return pulumi.dynamic.ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = _parse(props, state=True)
        with _AdminSession(spec) as session:
            for host in spec.hosts:
                session.drop_user(spec.user, host)  # drops the account's grants with it
            if spec.drop_databases_on_delete:
                for db in spec.databases:
                    session.run(f"DROP DATABASE {db}", SQL_DROP_DATABASE.format(db=_quote_db(db)))


class ServiceDatabase(pulumi.dynamic.Resource, module="mysql", name="ServiceDatabase"):
    """Type token `pulumi-python:dynamic/mysql:ServiceDatabase`; inputs as ServiceDatabaseProvider."""

    admin_host: pulumi.Output[str]
    admin_port: pulumi.Output[int]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    admin_ca_file: pulumi.Output[Optional[str]]
    databases: pulumi.Output[list[str]]
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    hosts: pulumi.Output[list[str]]
    drop_databases_on_delete: pulumi.Output[bool]

    def __init__(self, name: str, props: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {"admin_ca_file": None, "drop_databases_on_delete": False, **props}
        # Secret in the stored inputs too, not only in the outputs (additional_secret_outputs).
        for key in ("password", "admin_password"):
            value = props.get(key)
            props[key] = pulumi.Output.secret("" if value is None else value)
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["password", "admin_password"])
        )
        super().__init__(ServiceDatabaseProvider(), name, props, opts)
