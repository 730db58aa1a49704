"""A service's MySQL/MariaDB databases and account, as a Pulumi dynamic provider over PyMySQL.

Pulumi pickles `ServiceDatabaseProvider` by reference, and the CLI's provider host (`python -m
pulumi.dynamic`) unpickles it from every stack's state by the path
`components.mysql_admin.ServiceDatabaseProvider`: renaming or moving the module or the class breaks
`pulumi refresh`/`destroy`/`up` of every existing stack (tests/test_database_component.py pins it).
That is also why this file is longer than the others (~400 lines): the provider, the inputs it
declares (ServiceDatabaseArgs) and the SQL it runs stay in the one module every state names.
Importing the module must have no side effects: every method opens its own admin connection and
closes it before returning.

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Optional, Sequence

import pulumi
import pulumi.dynamic
import pymysql
from pulumi.runtime import rpc

from components.validate import (  # noqa: F401 (also re-exported for code importing them from here)
    HOST_PATTERN_RE, IDENTIFIER_RE, USER_NAME_MAX, is_host, validate_host_pattern, validate_identifier,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
ER_NONEXISTING_GRANT = 1141  # MySQL error: SHOW GRANTS / REVOKE for an account or grant that does not exist

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


def _plain(value: Any) -> Any:
    # The engine strips secrets before calling a dynamic provider, but be robust to wrapped values.
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def _is_unknown(value: Any) -> bool:
    """Whether a (preview) value is or contains an unknown Output."""
    value = _plain(value)
    return value == rpc.UNKNOWN or (isinstance(value, (list, tuple)) and any(map(_is_unknown, value)))


def _as_int(value: Any) -> Optional[int]:
    # Numbers cross the Pulumi wire as floats: accept 3306.0, reject 3306.5, True and "3306".
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(_plain(item) for item in (items or ())))


def _host_set(hosts: Iterable[Any]) -> frozenset:
    # The server stores account host names lower-cased (Foo.Example.com -> foo.example.com).
    return frozenset(host.lower() if isinstance(host, str) else host for host in hosts)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


Check = Callable[..., list[str]]  # a field's check(plain value, key, state=, skip_unknown=) -> messages


def _rule(message: str, ok: Callable[[Any], Any]) -> Check:
    """`message`, formatted with the key and the value, unless ok(value)."""
    return lambda value, key, **_: [] if ok(value) else [message.format(key=key, value=value)]


def _check_user(value: Any, key: str, **_: Any) -> list[str]:
    problems = validate_identifier(value, key)
    if not problems and len(value) > USER_NAME_MAX:
        problems.append(f"{key}: {value!r} is longer than {USER_NAME_MAX} characters, "
                        "the MySQL 8 limit for user names; use a shorter name")
    return problems


def _each(validate: Callable[[Any, str], list[str]]) -> Check:
    """A non-empty list of items `validate` accepts; empty is fine in state (read() empties lists)."""
    def check(items: Any, key: str, state: bool = False, skip_unknown: bool = False) -> list[str]:
        if not isinstance(items, (list, tuple)) or not (items or state):
            return [f"{key}: {items!r} must be a non-empty list"]
        return [message for index, item in enumerate(items) if not (skip_unknown and _is_unknown(item))
                for message in validate(_plain(item), f"{key}[{index}]")]
    return check


def _input(check: Check, parse: Callable[[Any], Any] = lambda v: v, compare: Callable[[Any], Any] = lambda v: v,
           secret: bool = False, **default: Any) -> Any:
    """One input: how it is checked, parsed from the wire, compared by diff, and whether it is secret
    (then also left out of the dataclass' repr)."""
    return field(**default, repr=not secret, metadata={"check": check, "parse": parse, "compare": compare,
                                                        "secret": secret})


@dataclass(frozen=True, kw_only=True)
class ServiceDatabaseArgs:
    """The inputs of a ServiceDatabase, declared once: the provider's input and output keys, its
    parsing, validation and diff all follow these fields. The program fills it with Pulumi inputs
    (secret Outputs for the passwords); the provider's parsed copy holds plain values and tuples."""

    # Host name or IP address of the server, as the admin connects to it (no port, no URL).
    admin_host: str = _input(_rule("{key}: {value!r} is not a host name or IP address",
                                   lambda v: _text(v) and is_host(v)))
    # Its TCP port (1-65535); numbers cross the wire as floats (3306.0).
    admin_port: int = _input(_rule("{key}: {value!r} is not a TCP port (1-65535)",
                                   lambda v: 0 < (_as_int(v) or 0) < 65536), parse=_as_int)
    # An account that may CREATE DATABASE, CREATE USER and GRANT (e.g. root).
    admin_user: str = _input(_rule("{key}: {value!r} must be a non-empty string", _text))
    # Its password, secret; may be empty.
    admin_password: pulumi.Input[str] = _input(_rule("{key}: must be a string (it may be empty)", _text_or_none),
                                               parse=lambda v: v or "", secret=True)
    # CA file that signs the server's TLS certificate; None: no TLS.
    admin_ca_file: Optional[str] = _input(_rule("{key}: {value!r} must be a file path or empty", _text_or_none),
                                          parse=lambda v: v or None, default=None)
    # The service's databases, created if missing (plain identifiers).
    databases: Sequence[str] = _input(_each(validate_identifier), parse=_unique, compare=frozenset)
    # The service's account name (a plain identifier, at most USER_NAME_MAX characters).
    user: str = _input(_check_user)
    # Its password, secret; never echoed in a message.
    password: pulumi.Input[str] = _input(_rule("{key}: must be a non-empty string", _text), secret=True)
    # Account host patterns the user logs in from, e.g. ["localhost", "%"]; each gets ALL PRIVILEGES.
    hosts: Sequence[str] = _input(_each(validate_host_pattern), parse=_unique, compare=_host_set)
    # Drop the databases (and their data) on delete; the default keeps them when the stack goes.
    drop_databases_on_delete: bool = _input(
        _rule("{key}: {value!r} must be true or false", lambda v: v is None or isinstance(v, bool)),
        parse=bool, default=False)

    def props(self) -> dict[str, Any]:
        """The inputs as Pulumi properties (lists for sequences): registered inputs and outputs."""
        values = {key: getattr(self, key) for key in INPUT_KEYS}
        return {key: list(v) if isinstance(v, (list, tuple)) else v for key, v in values.items()}

    @property
    def endpoint(self) -> str:
        host = f"[{self.admin_host}]" if ":" in self.admin_host else self.admin_host
        return f"{host}:{self.admin_port}"


_FIELDS = fields(ServiceDatabaseArgs)
INPUT_KEYS = tuple(f.name for f in _FIELDS)
SECRET_KEYS = tuple(f.name for f in _FIELDS if f.metadata["secret"])


def _problems(props: dict[str, Any], skip_unknown: bool = False, state: bool = False) -> list[tuple[str, str]]:
    """Every problem with the inputs, as (top-level property, message), in field order.
    `state`: props are recorded state, whose lists read() may have emptied (drift), not inputs."""
    return [(f.name, message) for f in _FIELDS if not (skip_unknown and _is_unknown(props.get(f.name)))
            for message in f.metadata["check"](_plain(props.get(f.name)), f.name, state=state,
                                               skip_unknown=skip_unknown)]


def _parse(props: dict[str, Any], state: bool = False) -> ServiceDatabaseArgs:
    """Validated inputs; raises DatabaseSpecError listing every problem before anything runs."""
    problems = _problems(props, state=state)
    if problems:
        raise DatabaseSpecError("invalid ServiceDatabase inputs:\n" + "\n".join(f"  - {m}" for _, m in problems))
    return ServiceDatabaseArgs(**{f.name: f.metadata["parse"](_plain(props.get(f.name))) for f in _FIELDS})


def _diff_view(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs normalised for comparison: order/duplicates of lists, 3306 vs 3306.0, "" vs None."""
    return {f.name: f.metadata["compare"](f.metadata["parse"](_plain(props.get(f.name)))) for f in _FIELDS}


def _quote_db(name: str) -> str:
    """Backtick-quote a validated database name (no backticks in it to double)."""
    return f"`{name}`"


def _grant_pattern(name: str) -> str:
    # In database-level GRANT/REVOKE, _ and % are wildcards: escape _ so `nova_api` does not also
    # cover `novaXapi` (validated names contain no %). SHOW GRANTS shows the escaped form.
    return name.replace("_", "\\_")


class _AdminSession(AbstractContextManager):
    """One admin connection; every failure becomes a scrubbed DatabaseAdminError."""

    def __init__(self, spec: ServiceDatabaseArgs, extra_secrets: Iterable[Optional[str]] = ()) -> None:
        self.spec = spec
        self.secrets = (*(getattr(spec, key) for key in SECRET_KEYS), *extra_secrets)
        try:
            self.conn = pymysql.connect(
                host=spec.admin_host, port=spec.admin_port, user=spec.admin_user,
                # UTF-8 bytes: PyMySQL would send a str latin-1 encoded (see module docstring).
                password=spec.admin_password.encode("utf-8"),
                ssl={"ca": spec.admin_ca_file} if spec.admin_ca_file else None,
                connect_timeout=CONNECT_TIMEOUT, charset="utf8mb4", autocommit=True,
            )
        except (pymysql.Error, OSError) as exc:
            raise self._error("connect", exc) from None

    def __exit__(self, *_exc: Any) -> None:
        self.conn.close()

    def _error(self, what: str, exc: BaseException) -> DatabaseAdminError:
        server = isinstance(exc, pymysql.Error) and len(exc.args) == 2
        reason = f"MySQL error {exc.args[0]}: {exc.args[1]}" if server else f"{type(exc).__name__}: {exc}"
        where = f"database admin {self.spec.admin_user!r} at {self.spec.endpoint}"
        return DatabaseAdminError(f"{where}: {what} failed: {reason}", self.secrets)

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
        matches = (match for (line,) in rows if (match := _DB_GRANT_RE.match(line)))
        return {m["db"].replace("``", "`"): m["privs"] + (" WITH GRANT OPTION" if "WITH GRANT OPTION" in m["rest"] else "")
                for m in matches}

    def existing_databases(self, names: Iterable[str]) -> set[str]:
        names = tuple(names)
        return {row[0] for row in self.run("list databases", SQL_EXISTING_DATABASES, (names,))} if names else set()

    def converge(self, spec: ServiceDatabaseArgs) -> None:
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
        return pulumi.dynamic.CreateResult(f"{spec.user}@{spec.endpoint}", spec.props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = any(_is_unknown(news.get(key)) for key in INPUT_KEYS) or _diff_view(olds) != _diff_view(news)
        return pulumi.dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        spec = _parse(news)
        old = _diff_view(olds)  # old state is only needed for what to remove; it may have drifted
        old_hosts = [_plain(host) for host in (_plain(olds.get("hosts")) or ())]
        with _AdminSession(spec, extra_secrets=[old[key] for key in SECRET_KEYS]) as session:
            session.converge(spec)
            if old["user"] != spec.user:
                for host in old_hosts:  # renamed: the old user's accounts (and their grants) go
                    session.drop_user(old["user"], host)
            else:
                kept = _host_set(spec.hosts)
                for host in old_hosts:
                    if host.lower() not in kept:
                        session.drop_user(spec.user, host)
                for db in old["databases"] - set(spec.databases):
                    for host in spec.hosts:  # revoke only: the database and its data stay
                        session.revoke(spec.user, host, db)
        return pulumi.dynamic.UpdateResult(spec.props())

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
            grants = {host: session.db_grants(spec.user, host) for host in spec.hosts}
            hosts = [host for host in spec.hosts if grants[host] is not None]
            complete = {db for db in complete if all(_holds_all(db, grants[host]) for host in hosts)}
        outs = {**spec.props(), "hosts": hosts, "databases": [db for db in spec.databases if db in complete]}
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
    """Type token `pulumi-python:dynamic/mysql:ServiceDatabase`; inputs and outputs are the fields of
    ServiceDatabaseArgs, and the SDK sets an Output attribute for each (`.databases`, `.user`, ...)."""

    def __init__(self, name: str, args: ServiceDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = args.props()  # only ServiceDatabaseArgs' fields, also for a subclass' instance
        # Secret in the stored inputs too, not only in the outputs (additional_secret_outputs).
        props.update({key: pulumi.Output.secret("" if props[key] is None else props[key]) for key in SECRET_KEYS})
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_KEYS)))
        super().__init__(ServiceDatabaseProvider(), name, props, opts)
