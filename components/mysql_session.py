"""The SQL a ServiceDatabase runs (components/mysql_admin.py), over one admin connection.

Safety rules the code below keeps:
- Identifiers (database and user names) are validated before anything runs
  (components/mysql_inputs.py) and only then backtick-quoted into SQL; everything else (user,
  host, password) goes as query parameters.
- Passwords are only ever query parameters and are scrubbed from every error text anyway,
  because the server echoes statement fragments in syntax errors ("... near '<text>'").
- Accounts are created with CREATE USER IF NOT EXISTS + ALTER USER + GRANT (never
  `GRANT ... IDENTIFIED BY`, which MySQL 8 rejects), so existing accounts are adopted and their
  password converged.

Passwords are hashed by the server from the bytes of the admin connection's character set
(utf8mb4 here). PyMySQL sends a `str` login password latin-1 encoded, so a PyMySQL client (oslo.db)
logging in with a non-ASCII password must pass it as UTF-8 bytes; ASCII passwords avoid the issue.
"""
from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager
from typing import Any, Iterable, Optional

import pymysql

from components.mysql_inputs import SECRET_KEYS, ServiceDatabaseArgs

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


def _quote_db(name: str) -> str:
    """Backtick-quote a validated database name (no backticks in it to double)."""
    return f"`{name}`"


def _grant_pattern(name: str) -> str:
    # In database-level GRANT/REVOKE, _ and % are wildcards: escape _ so `nova_api` does not also
    # cover `novaXapi` (validated names contain no %). SHOW GRANTS shows the escaped form.
    return name.replace("_", "\\_")


def holds_all(db: str, grants: dict[str, str]) -> bool:
    """Whether `grants` (AdminSession.db_grants) give ALL PRIVILEGES on `db`, escaped or not."""
    return any(grants.get(pattern, "").startswith("ALL PRIVILEGES") for pattern in (_grant_pattern(db), db))


class AdminSession(AbstractContextManager):
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

    def drop_database(self, db: str) -> None:
        """Drop `db` and its data (only for drop_databases_on_delete)."""
        self.run(f"DROP DATABASE {db}", SQL_DROP_DATABASE.format(db=_quote_db(db)))
