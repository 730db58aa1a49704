"""ServiceDatabaseProvider against the real MariaDB: idempotent creates, diff, updates, reads that
see drift, and deletes that keep the data unless told otherwise."""
from __future__ import annotations

import secrets

from pulumi.runtime import rpc

from tests.mysql_support import (
    HOSTS, accounts, all_privileges_line, can_login, existing_databases,
    grant_lines, grant_name, login, make_props, sql,
)


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
    unknown = dict(props, password=rpc.UNKNOWN)
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
