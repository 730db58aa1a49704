"""MariaDB helpers and fixtures for the database provider's tests (registered by conftest.py):
names unique to each test, dropped afterwards; the server's own view of accounts and grants.
Their MariaDB is the machine's own on loopback, which `./dev test` installs from Debian's
packages when missing and starts (tools/test-services.sh); the e2e lab runs its own in a host."""
from __future__ import annotations

import secrets

import pymysql
import pytest

from components.mysql_admin import ServiceDatabaseProvider
from tests.conftest import require_tcp

HOST, PORT, ROOT = "127.0.0.1", 3306, "root"
# 127.0.0.1 is what the tests log in from; localhost and % are what a deployment uses.
HOSTS = ["localhost", "127.0.0.1", "%"]
HOSTILE_PASSWORDS = [
    "pa'ss\"w\\o;rd $(id) % ünï\ncode",
    "'; DROP DATABASE mysql; --",
    '"double"',
    "back\\slash\\",
    "100% %s %%",
    "  spaces  ",
    "new\nline\r\n",
    "€ 日本 😀",
    "`backtick` /* comment */ #",
]


def root_connection() -> pymysql.Connection:
    return pymysql.connect(host=HOST, port=PORT, user=ROOT, password="", autocommit=True)


def sql(statement: str, args=None) -> list[tuple]:
    with root_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, args)
        return list(cursor.fetchall())


def login(user: str, password: str, database: str | None = None) -> pymysql.Connection:
    # UTF-8 bytes: PyMySQL sends a str password latin-1 encoded, the server hashed the UTF-8 bytes.
    return pymysql.connect(host=HOST, port=PORT, user=user, password=password.encode("utf-8"),
                           database=database, autocommit=True, connect_timeout=5)


def can_login(user: str, password: str) -> bool:
    try:
        login(user, password).close()
        return True
    except pymysql.err.OperationalError as exc:
        # Access denied, not some other failure. For an account that does not exist MariaDB fails
        # the login against a stand-in account chosen by hashing the user name; when that one
        # allows unix_socket (Debian's root, mysql), the error is 1698 instead of 1045.
        assert exc.args[0] in (1045, 1698), exc
        return False


def accounts(user: str) -> set[str]:
    return {host for (host,) in sql("SELECT Host FROM mysql.user WHERE User = %s", (user,))}


def existing_databases(prefix: str) -> set[str]:
    rows = sql("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
               (prefix.replace("_", "\\_") + "%",))
    return {name for (name,) in rows}


def grant_lines(user: str, host: str) -> list[str]:
    return [line for (line,) in sql("SHOW GRANTS FOR %s@%s", (user, host))]


def grant_name(db: str) -> str:
    # The provider escapes _ (a wildcard in database-level grants), and SHOW GRANTS shows it so.
    return db.replace("_", "\\_")


def all_privileges_line(db: str) -> str:
    return f"GRANT ALL PRIVILEGES ON `{grant_name(db)}`.*"


@pytest.fixture(scope="module")
def mariadb() -> None:
    require_tcp(HOST, PORT, "MariaDB")


class Names:
    """Unique names for one test, and the cleanup of everything that carries them."""

    def __init__(self) -> None:
        self.prefix = f"novatest_{secrets.token_hex(4)}_"
        self.user = self.prefix + "u"

    def db(self, suffix: str) -> str:
        return self.prefix + suffix

    def cleanup(self) -> None:
        for (user, host) in sql("SELECT User, Host FROM mysql.user WHERE User LIKE %s",
                                (self.prefix.replace("_", "\\_") + "%",)):
            sql("DROP USER IF EXISTS %s@%s", (user, host))
        for db in existing_databases(self.prefix):
            assert db.startswith("novatest_")
            sql(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.fixture
def names(mariadb):
    n = Names()
    yield n
    n.cleanup()


@pytest.fixture
def provider() -> ServiceDatabaseProvider:
    return ServiceDatabaseProvider()


def make_props(names: Names, **overrides) -> dict:
    props = {
        "admin_host": HOST,
        "admin_port": float(PORT),  # numbers arrive from the engine as floats
        "admin_user": ROOT,
        "admin_password": "",
        "admin_ca_file": None,
        "databases": [names.db("api"), names.db("nova"), names.db("cell0")],
        "user": names.user,
        "password": "Initial-pw-" + secrets.token_hex(4),
        "hosts": list(HOSTS),
        "drop_databases_on_delete": False,
    }
    props.update(overrides)
    return props
