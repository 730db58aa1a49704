"""ServiceDatabaseProvider against the real MariaDB at 127.0.0.1:3306.

Every test uses its own novatest_<random> database and user names and drops exactly those
afterwards; nothing else on the server is touched.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
import subprocess
import sys
import traceback

import pymysql
import pytest

from components import mysql_admin, validate
from components.mysql_admin import (
    DatabaseAdminError,
    DatabaseSpecError,
    ServiceDatabaseArgs,
    ServiceDatabaseProvider,
    validate_host_pattern,
    validate_identifier,
)
from tests.conftest import PROJECT_ROOT, require_tcp

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
        assert exc.args[0] == 1045, exc  # access denied, not some other failure
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


# --- the interface: ServiceDatabaseArgs' fields, declared once --------------------------------

FIELDS = [field.name for field in dataclasses.fields(ServiceDatabaseArgs)]
# The registered input and output keys: stacks' state holds them, so they must not change.
WIRE_KEYS = ["admin_host", "admin_port", "admin_user", "admin_password", "admin_ca_file",
             "databases", "user", "password", "hosts", "drop_databases_on_delete"]


def test_the_declared_fields_are_the_wire_keys():
    assert FIELDS == WIRE_KEYS
    assert list(mysql_admin.INPUT_KEYS) == FIELDS
    assert mysql_admin.SECRET_KEYS == ("admin_password", "password")


def test_every_field_is_an_input_an_output_checked_and_compared(provider, names):
    props = make_props(names)
    assert list(props) == FIELDS  # the tests' own inputs cover every field
    created = provider.create(props)
    assert list(created.outs) == FIELDS
    assert list(provider.update(created.id, created.outs, props).outs) == FIELDS
    assert list(provider.read(created.id, created.outs).outs) == FIELDS
    assert list(mysql_admin._diff_view(props)) == FIELDS
    spec = mysql_admin._parse(props)
    assert spec.props() == created.outs
    assert props["password"] not in repr(spec)  # secret fields stay out of the repr

    # Every field has its own check: a value of the wrong kind is reported under its key.
    failures = provider.check({}, {key: object() for key in FIELDS}).failures
    assert sorted({failure.property for failure in failures}) == sorted(FIELDS)

    # Every field is compared: a change to any one of them is a (non-replacing) change.
    changes = {"admin_host": "localhost", "admin_port": 3307.0, "admin_user": "other", "admin_password": "other",
               "admin_ca_file": "/etc/ssl/ca.pem", "databases": [names.db("x")], "user": names.prefix + "v",
               "password": "other", "hosts": ["%"], "drop_databases_on_delete": True}
    assert list(changes) == FIELDS  # a new field needs a changed value here
    for key, value in changes.items():
        result = provider.diff(created.id, created.outs, dict(props, **{key: value}))
        assert result.changes is True and result.replaces == [], key


def test_shared_rules_live_in_validate_without_pymysql_or_pulumi():
    for name in ("validate_identifier", "validate_host_pattern", "IDENTIFIER_RE", "HOST_PATTERN_RE",
                 "USER_NAME_MAX", "is_host"):
        assert getattr(mysql_admin, name) is getattr(validate, name), name  # re-exported, not copied
    assert validate.USER_NAME_MAX == 32
    code = ("import sys, components.validate; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymysql', 'pulumi')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- validation helpers -------------------------------------------------------------------------

def test_validate_identifier_message_names_key_value_and_fix():
    assert validate_identifier("nova_api", "dbName") == []
    assert validate_identifier("no va", "dbUser") == [
        "dbUser: 'no va' is not a plain SQL identifier; use letters, digits and _ "
        "(first not a digit), at most 64 characters"
    ]
    assert validate_identifier("a" * 64, "k") == []
    for bad in ["a" * 65, "1abc", "", "nova\n", "nova-api", None, 3]:
        assert validate_identifier(bad, "k"), bad


@pytest.mark.parametrize("host", ["%", "localhost", "db-1.example.com", "10.0.0.%", "10.0.0._",
                                  "192.168.1.5", "::1", "fe80::1:2", "10.0.0.0/255.255.255.0"])
def test_validate_host_pattern_accepts(host):
    assert validate_host_pattern(host, "dbHosts[0]") == []


@pytest.mark.parametrize("host", ["a'b", 'a"b', "a b", "a;b", "a\nb", "%\n", "$(id)", "a`b", "", None])
def test_validate_host_pattern_rejects(host):
    [message] = validate_host_pattern(host, "dbHosts[0]")
    assert message.startswith(f"dbHosts[0]: {host!r} is not a MySQL account host pattern; use %")


# --- create -------------------------------------------------------------------------------------

def test_create_makes_databases_and_a_user_with_all_privileges(provider, names):
    props = make_props(names)
    result = provider.create(props)

    assert result.id == f"{names.user}@{HOST}:{PORT}"
    assert result.outs["admin_port"] == PORT and isinstance(result.outs["admin_port"], int)
    assert result.outs["hosts"] == HOSTS and result.outs["password"] == props["password"]
    assert existing_databases(names.prefix) == set(props["databases"])
    assert accounts(names.user) == set(HOSTS)
    for host in HOSTS:  # what the server itself says, for every account
        lines = grant_lines(names.user, host)
        for db in props["databases"]:
            assert any(line.startswith(all_privileges_line(db)) for line in lines), (host, lines)

    # The service logs in over TCP with its password and uses its databases.
    with login(names.user, props["password"], props["databases"][1]) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        own = [line for (line,) in cursor.fetchall()]
        assert all(any(line.startswith(all_privileges_line(db)) for line in own) for db in props["databases"])
        cursor.execute("CREATE TABLE instances (id INT PRIMARY KEY, name VARCHAR(64))")
        cursor.execute("INSERT INTO instances VALUES (1, 'vm')")
        cursor.execute("SELECT name FROM instances")
        assert cursor.fetchall() == (("vm",),)


def test_grant_covers_only_the_named_database(provider, names):
    # `nova_api` in a database-level grant is a pattern; the provider escapes the _.
    props = make_props(names, databases=[names.db("a_b")])
    provider.create(props)
    lookalike = names.db("aXb")
    sql(f"CREATE DATABASE `{lookalike}`")
    with login(names.user, props["password"]) as conn, conn.cursor() as cursor:
        with pytest.raises(pymysql.err.OperationalError, match="denied"):
            cursor.execute(f"CREATE TABLE `{lookalike}`.t (id INT)")


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS, ids=range(len(HOSTILE_PASSWORDS)))
def test_hostile_passwords_log_in(provider, names, password):
    props = make_props(names, password=password, databases=[names.db("nova")])
    provider.create(props)
    assert can_login(names.user, password)
    assert not can_login(names.user, password + "x")
    # Converging to the same password again (ALTER USER) keeps it working.
    provider.update("id", props, props)
    assert can_login(names.user, password)


@pytest.mark.parametrize(
    "key, overrides",
    [
        ("user", {"user": "nova; DROP DATABASE x"}),
        ("user", {"user": "no`va"}),
        ("user", {"user": "nova'"}),
        ("user", {"user": ""}),
        ("user", {"user": "1abc"}),
        ("user", {"user": "u" * 65}),
        ("user", {"user": "u" * 33}),  # fits the identifier rule, too long for MySQL 8
        ("databases[1]", {"databases": ["novatest_ok", "nova; DROP DATABASE x"]}),
        ("databases[0]", {"databases": ["no`va"]}),
        ("databases[0]", {"databases": ["nova'"]}),
        ("databases[0]", {"databases": [""]}),
        ("databases[0]", {"databases": ["1abc"]}),
        ("databases[0]", {"databases": ["d" * 65]}),
        ("databases", {"databases": []}),
        ("hosts[1]", {"hosts": ["localhost", "a'b"]}),
        ("hosts", {"hosts": []}),
        ("admin_port", {"admin_port": 3306.5}),
        ("password", {"password": ""}),
    ],
)
def test_rejected_inputs_name_the_key_and_create_nothing(provider, names, key, overrides):
    props = make_props(names, **overrides)
    with pytest.raises(DatabaseSpecError) as info:
        provider.create(props)
    assert f"{key}: " in str(info.value)
    bad = overrides.get(key.split("[")[0])
    if "[" in key:
        bad = bad[int(key.split("[")[1].rstrip("]"))]
    if key not in ("password", "databases", "hosts"):
        assert repr(bad) in str(info.value)
    assert existing_databases(names.prefix) == set() and existing_databases("novatest_ok") == set()
    assert accounts(names.user) == set()
    if props["user"]:  # "" would list the server's anonymous accounts
        assert accounts(props["user"]) == set()
    # check() reports the same problem before anything runs.
    failures = provider.check({}, props).failures
    assert key.split("[")[0] in {failure.property for failure in failures}


def test_all_problems_are_reported_at_once(provider, names):
    props = make_props(names, databases=[names.db("ok"), "x;y"], hosts=["a b"], admin_port="nope")
    props["user"] = "1abc"
    with pytest.raises(DatabaseSpecError) as info:
        provider.create(props)
    text = str(info.value)
    for key in ("user: ", "databases[1]: ", "hosts[0]: ", "admin_port: "):
        assert key in text
    assert existing_databases(names.prefix) == set()


# --- connection errors --------------------------------------------------------------------------

def test_unreachable_port_names_endpoint_and_user(provider, names):
    props = make_props(names, admin_port=1, admin_password="Sentinel-admin-pw")
    with pytest.raises(DatabaseAdminError) as info:
        provider.create(props)
    text = str(info.value)
    assert f"{HOST}:1" in text and repr(ROOT) in text and "connect failed" in text
    assert "Sentinel-admin-pw" not in text and props["password"] not in text


def test_wrong_admin_password_names_endpoint_and_user_and_changes_nothing(provider, names):
    props = make_props(names, admin_password="Wrong-admin-pw-7c1")
    with pytest.raises(DatabaseAdminError) as info:
        provider.create(props)
    text = str(info.value)
    assert f"{HOST}:{PORT}" in text and repr(ROOT) in text and "1045" in text
    assert "Wrong-admin-pw-7c1" not in text and props["password"] not in text
    assert existing_databases(names.prefix) == set() and accounts(names.user) == set()


def test_missing_ca_file_fails_before_anything_runs(provider, names):
    props = make_props(names, admin_ca_file="/nonexistent/ca.pem")
    with pytest.raises(DatabaseAdminError, match=rf"{HOST}:{PORT}: connect failed"):
        provider.create(props)
    assert existing_databases(names.prefix) == set()


# --- idempotency, diff, update ------------------------------------------------------------------

def test_create_twice_adopts_and_converges_password(provider, names):
    props = make_props(names)
    provider.create(props)
    again = dict(props, password="Second-pw-" + secrets.token_hex(4))
    provider.create(again)  # existing databases and accounts are adopted
    assert not can_login(names.user, props["password"])
    assert can_login(names.user, again["password"])
    assert accounts(names.user) == set(HOSTS)


def test_diff(provider, names):
    props = make_props(names)
    same = dict(props, admin_port=int(props["admin_port"]), hosts=list(reversed(HOSTS)), admin_ca_file="")
    assert provider.diff("id", props, same).changes is False
    for change in ({"password": "other"}, {"hosts": ["%"]}, {"databases": [names.db("x")]},
                   {"admin_host": "localhost"}, {"drop_databases_on_delete": True}, {"user": "other"}):
        result = provider.diff("id", props, dict(props, **change))
        assert result.changes is True and result.replaces == [], change
    # A value still unknown at preview is a change, never a replacement.
    unknown = dict(props, password=mysql_admin.rpc.UNKNOWN)
    assert provider.diff("id", props, unknown).changes is True


def test_update_rotates_password_removes_host_adds_database(provider, names):
    props = make_props(names)
    outs = provider.create(props).outs
    assert provider.diff("id", outs, props).changes is False  # a rerun changes nothing

    new = dict(props, password="Rotated-pw-" + secrets.token_hex(4), hosts=["127.0.0.1", "%"],
               databases=props["databases"] + [names.db("extra")])
    result = provider.update("id", outs, new)
    assert result.outs["hosts"] == new["hosts"] and result.outs["password"] == new["password"]
    assert not can_login(names.user, props["password"])
    assert can_login(names.user, new["password"])
    assert accounts(names.user) == {"127.0.0.1", "%"}
    assert names.db("extra") in existing_databases(names.prefix)
    assert any(line.startswith(all_privileges_line(names.db("extra")))
               for line in grant_lines(names.user, "127.0.0.1"))
    assert provider.diff("id", result.outs, new).changes is False


def test_update_removing_a_database_revokes_but_keeps_it(provider, names):
    props = make_props(names)
    outs = provider.create(props).outs
    dropped = props["databases"][0]
    with login(names.user, props["password"], dropped) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE t (v INT)")
        cursor.execute("INSERT INTO t VALUES (42)")
    provider.update("id", outs, dict(props, databases=props["databases"][1:]))
    assert dropped in existing_databases(names.prefix)
    assert sql(f"SELECT v FROM `{dropped}`.t") == [(42,)]
    for host in HOSTS:
        assert not any(f"`{grant_name(dropped)}`" in line for line in grant_lines(names.user, host))


def test_update_renaming_the_user_moves_the_accounts(provider, names):
    props = make_props(names)
    outs = provider.create(props).outs
    renamed = dict(props, user=names.prefix + "v")
    assert provider.diff("id", outs, renamed).replaces == []
    provider.update("id", outs, renamed)
    assert accounts(names.user) == set() and accounts(renamed["user"]) == set(HOSTS)
    assert existing_databases(names.prefix) == set(props["databases"])


# --- read / drift -------------------------------------------------------------------------------

def test_read_reports_drift_and_update_repairs_it(provider, names):
    props = make_props(names)
    created = provider.create(props)
    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs["hosts"] == HOSTS
    assert read.outs["databases"] == props["databases"]
    assert provider.diff(created.id, read.outs, props).changes is False

    revoked = props["databases"][2]
    sql("DROP USER %s@%s", (names.user, "%"))
    sql(f"REVOKE ALL PRIVILEGES ON `{grant_name(revoked)}`.* FROM %s@%s", (names.user, "127.0.0.1"))
    drifted = provider.read(created.id, created.outs)
    assert drifted.outs["hosts"] == ["localhost", "127.0.0.1"]
    assert drifted.outs["databases"] == props["databases"][:2]
    assert drifted.outs["password"] == props["password"]  # cannot be read back: kept
    assert provider.diff(created.id, drifted.outs, props).changes is True

    provider.update(created.id, drifted.outs, props)
    repaired = provider.read(created.id, props)
    assert repaired.outs["hosts"] == HOSTS and repaired.outs["databases"] == props["databases"]
    assert accounts(names.user) == set(HOSTS)
    assert can_login(names.user, props["password"])


def test_read_with_every_account_gone_keeps_the_id_with_no_hosts(provider, names):
    props = make_props(names)
    created = provider.create(props)
    for host in HOSTS:
        sql("DROP USER %s@%s", (names.user, host))
    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs["hosts"] == []
    assert provider.read(created.id, read.outs).outs["hosts"] == []  # a second refresh works too
    provider.update(created.id, read.outs, props)
    assert accounts(names.user) == set(HOSTS)


def test_state_emptied_by_drift_can_still_be_deleted(provider, names):
    props = make_props(names, drop_databases_on_delete=True)
    created = provider.create(props)
    for host in HOSTS:
        sql("DROP USER %s@%s", (names.user, host))
    for db in props["databases"]:
        sql(f"DROP DATABASE `{db}`")
    read = provider.read(created.id, created.outs)
    assert read.outs["hosts"] == [] and read.outs["databases"] == []
    provider.delete(created.id, read.outs)


def test_read_sees_a_dropped_database(provider, names):
    props = make_props(names)
    created = provider.create(props)
    sql(f"DROP DATABASE `{props['databases'][0]}`")
    assert provider.read(created.id, created.outs).outs["databases"] == props["databases"][1:]


def test_read_accepts_an_adopted_unescaped_grant(provider, names):
    # Accounts made by the install guide hold `GRANT ALL ON nova_api.*` (unescaped): still complete.
    db = names.db("api")
    sql(f"CREATE DATABASE `{db}`")
    sql("CREATE USER %s@%s IDENTIFIED BY %s", (names.user, "%", "old"))
    sql(f"GRANT ALL PRIVILEGES ON `{db}`.* TO %s@%s", (names.user, "%"))
    props = make_props(names, databases=[db], hosts=["%"])
    assert provider.read("id", props).outs["databases"] == [db]
    provider.update("id", props, dict(props, databases=[names.db("other")]))
    assert not any(db in line for line in grant_lines(names.user, "%"))  # both forms revoked


# --- delete -------------------------------------------------------------------------------------

def test_delete_drops_the_accounts_and_keeps_the_data(provider, names):
    props = make_props(names)
    created = provider.create(props)
    db = props["databases"][1]
    with login(names.user, props["password"], db) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE instances (id INT)")
        cursor.execute("INSERT INTO instances VALUES (7)")
    provider.delete(created.id, created.outs)
    assert accounts(names.user) == set()
    assert not can_login(names.user, props["password"])
    assert existing_databases(names.prefix) == set(props["databases"])
    assert sql(f"SELECT id FROM `{db}`.instances") == [(7,)]
    provider.delete(created.id, created.outs)  # deleting again is harmless


def test_delete_with_drop_databases_on_delete_drops_them(provider, names):
    props = make_props(names, drop_databases_on_delete=True)
    created = provider.create(props)
    provider.delete(created.id, created.outs)
    assert accounts(names.user) == set() and existing_databases(names.prefix) == set()


# --- secrets never leak -------------------------------------------------------------------------

def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + str(exc) + repr(exc)


def test_sentinel_password_appears_in_no_error_or_log(provider, names, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    sentinel = "Sentinel'Pw\"" + secrets.token_hex(4)
    admin_sentinel = "AdminSentinel" + secrets.token_hex(4)
    texts = []

    for overrides in ({"admin_password": admin_sentinel},  # access denied
                      {"admin_port": 1, "admin_password": admin_sentinel}):  # connection refused
        with pytest.raises(DatabaseAdminError) as info:
            provider.create(make_props(names, password=sentinel, **overrides))
        texts.append(exception_text(info.value))

    # Make the server echo the statement around the password: a syntax error before it.
    monkeypatch.setattr(mysql_admin, "SQL_CREATE_USER", "CREATE USER %s@%s IDENTIFIED BOGUS BY %s")
    with pytest.raises(DatabaseAdminError) as info:
        provider.create(make_props(names, password=sentinel))
    texts.append(exception_text(info.value))
    assert "near" in texts[-1] and "[secret]" in texts[-1]  # the echo happened and was scrubbed
    monkeypatch.undo()

    props = make_props(names, password=sentinel)
    created = provider.create(props)
    provider.update(created.id, created.outs, dict(props, password=sentinel + "2"))
    provider.read(created.id, created.outs)
    provider.delete(created.id, created.outs)

    assert caplog.records, "expected debug logging from the provider"
    logged = [record.getMessage() for record in caplog.records]
    for text in texts + logged:
        for secret in (sentinel, admin_sentinel, pymysql.converters.escape_string(sentinel)):
            assert secret not in text


def test_admin_error_scrubs_known_secrets():
    error = DatabaseAdminError("near 'IDENTIFIED BY 'it\\'s' and it's", secrets=["it's", "", None])
    assert "it's" not in str(error) and "it\\'s" not in str(error)
    assert str(error).count("[secret]") == 2
