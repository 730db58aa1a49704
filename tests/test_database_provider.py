"""ServiceDatabaseProvider against the real MariaDB at 127.0.0.1:3306: create, bad inputs,
connection errors, and secrets that never leak. Each test uses its own novatest_<random> names."""
from __future__ import annotations

import secrets
import logging
import traceback

import pymysql
import pytest

from components import mysql_session
from components.mysql_inputs import DatabaseSpecError
from components.mysql_session import DatabaseAdminError
from tests.mysql_support import (
    HOST, HOSTILE_PASSWORDS, HOSTS, PORT, ROOT, accounts, all_privileges_line, can_login, existing_databases,
    grant_lines, login, make_props, sql,
)


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
    monkeypatch.setattr(mysql_session, "SQL_CREATE_USER", "CREATE USER %s@%s IDENTIFIED BOGUS BY %s")
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
