"""ServiceDatabase through the provider host the Pulumi CLI really runs, against the real MariaDB.

The CLI starts `python -u -m pulumi.dynamic` in the project root, reads the port it prints and
calls it over gRPC. This test plays the engine (as pulumi/pulumi's provider_plugin.go does) with
the exact inputs the program registers for `nova-db-mysql`, and checks what a user would notice
on the server after each step. Names are ph_<random>_*; everything carrying them is dropped.
"""
from __future__ import annotations

import base64
import pickletools
import secrets
from types import SimpleNamespace

import grpc
import pymysql
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.conftest import require_tcp
from tests.e2e.provider_host import TIMEOUT, ProviderHost, plain, struct
from tools.plan import run_program, stack_config, unwrap

HOST, PORT = "127.0.0.1", 3306
RESOURCE = "nova-db-mysql"


def sql(statement: str, args=None, **connect) -> list[tuple]:
    connect = {"user": "root", "password": "", **connect}
    with pymysql.connect(host=HOST, port=PORT, autocommit=True, connect_timeout=5, **connect) as conn:
        with conn.cursor() as cursor:
            cursor.execute(statement, args)
            return list(cursor.fetchall())


def can_login(user: str, password: str, database: str | None = None) -> bool:
    try:  # UTF-8 bytes: the server hashed the password's UTF-8 bytes (see mysql_admin)
        sql("SELECT 1", user=user, password=password.encode(), database=database)
        return True
    except pymysql.err.OperationalError as exc:
        # Access denied, not some other failure. For an account that does not exist MariaDB fails
        # the login against a stand-in account chosen by hashing the user name; if that one allows
        # unix_socket (Debian's root, mysql), the error is 1698 instead of 1045.
        assert exc.args[0] in (1045, 1698), exc
        return False


def like(prefix: str) -> str:
    return prefix.replace("_", "\\_") + "%"


def databases(prefix: str) -> set[str]:
    return {db for (db,) in sql("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                                (like(prefix),))}


def registered(names, password: str):
    """The program's registration of the database resource (run under the project's mock runtime)."""
    others = {key: f"unused-{key}" for key in ("rabbitPassword", "keystoneAdminPassword", "novaPassword",
                                                "neutronPassword", "placementPassword", "placementDbPassword")}
    config, keys = stack_config(
        "e2e", secrets={**others, "dbAdminPassword": names.admin_password, "dbPassword": password},
        overrides={"dbName": names.db, "dbUser": names.user, "dbAdminUser": names.admin,
                   "dbHost": "127.0.0.1"})  # the machine's MariaDB, not the lab's gateway
    return run_program("e2e", config, keys).by_name(RESOURCE)


@pytest.fixture
def names():
    """Unique names and hostile passwords, each with a token to search leaks by."""
    prefix = f"ph_{secrets.token_hex(4)}"
    ns = SimpleNamespace(prefix=prefix, db=prefix, user=f"{prefix}_u", admin=f"{prefix}_adm",
                         tokens=[secrets.token_hex(8) for _ in range(3)])
    # config accepts these: dbPassword ASCII without '@'/'%' (zed maps cell0), the admin's is free
    ns.admin_password = f"Ad'm\"in;$(id)`x`\\%s %% ü-{ns.tokens[0]}"
    ns.password = f"Us'er\";$(id) `x` \\ -- {ns.tokens[1]}"
    ns.new_password = f"N\"ew'; DROP USER root; -- $(id)\\ {ns.tokens[2]}"
    return ns


@pytest.fixture
def admin(names):
    """A temporary admin account for the program's dbAdminUser/dbAdminPassword; drops everything
    carrying the test's prefix (admin, user, databases) afterwards, whatever happened."""
    require_tcp(HOST, PORT, "MariaDB")
    try:
        sql("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (names.admin, names.admin_password))
        sql("GRANT ALL PRIVILEGES ON *.* TO %s@'127.0.0.1' WITH GRANT OPTION", (names.admin,))  # incl. CREATE USER
        assert can_login(names.admin, names.admin_password)
        yield names
    finally:
        for user, host in sql("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (like(names.prefix),)):
            sql("DROP USER IF EXISTS %s@%s", (user, host))
        for db in databases(names.prefix):
            sql(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.fixture
def host():
    """The provider host exactly as the CLI starts it (tests/e2e/provider_host.py); always killed,
    its output kept for inspection."""
    with ProviderHost() as h:
        yield h


def test_pickled_provider_names_module_path(names):
    # The host finds the provider code only by this reference: a rename breaks existing stacks.
    blob = base64.b64decode(unwrap(registered(names, names.password).raw_inputs["__provider"]))
    strings = [arg for op, arg, _ in pickletools.genops(blob) if isinstance(arg, str)]
    assert strings[:2] == ["components.mysql_admin", "ServiceDatabaseProvider"], strings
    assert len(blob) < 200, "the provider must be pickled by reference, not by value"


def test_lifecycle_through_the_cli_provider_host(admin, host):
    names, stub = admin, host.stub
    reg = registered(names, names.password)
    # Inputs the program marks secret; the engine re-marks the (plain) outputs of the same name
    # secret (annotateSecrets), and additionalSecretOutputs says so explicitly.
    assert sorted(reg.secret_inputs) == ["__provider", "admin_password", "password"]
    assert reg.additional_secret_outputs == ["admin_password", "password"]
    ident = dict(urn=reg.urn, name=RESOURCE, type=reg.type)
    news = unwrap(reg.raw_inputs)
    dbs, user, hosts = news["databases"], news["user"], news["hosts"]
    assert user == names.user and sorted(dbs) == sorted([names.db, f"{names.db}_api", f"{names.db}_cell0"])

    # Handshake is not implemented (the engine falls back to Configure); Configure is sent with
    # acceptSecrets=True, and the host answers False: from here on the engine strips secrets
    # (KeepSecrets=false), so every request below carries plain values, as `news` does.
    with pytest.raises(grpc.RpcError) as err:
        stub.Handshake(provider_pb2.ProviderHandshakeRequest(), timeout=TIMEOUT)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert stub.GetPluginInfo(empty_pb2.Empty(), timeout=TIMEOUT).version
    configured = stub.Configure(provider_pb2.ConfigureRequest(
        args=struct({}), acceptSecrets=True, acceptResources=True, sends_old_inputs=True,
        sends_old_inputs_to_delete=True), timeout=TIMEOUT)
    assert configured.acceptSecrets is False

    # `pulumi up` of a new stack: Check (no olds), then Create with the checked inputs.
    checked = stub.Check(provider_pb2.CheckRequest(**ident, olds=struct({}), news=struct(news)), timeout=TIMEOUT)
    assert list(checked.failures) == [] and plain(checked.inputs) == news
    created = stub.Create(provider_pb2.CreateRequest(**ident, properties=checked.inputs), timeout=TIMEOUT)
    assert created.id == f"{user}@{HOST}:{PORT}"
    state = plain(created.properties)  # outputs come back plain; the engine stores them as the state
    assert state["password"] == names.password and state["admin_password"] == names.admin_password
    assert state["__provider"] == news["__provider"]
    assert sorted(state["databases"]) == sorted(dbs) and state["hosts"] == hosts
    # ... and on the server: the databases exist, the user logs in with its password and may use them.
    assert databases(names.prefix) == set(dbs)
    assert {h for (h,) in sql("SELECT Host FROM mysql.user WHERE User = %s", (user,))} == set(hosts)
    for db in dbs:
        assert can_login(user, names.password, database=db)
        sql(f"CREATE TABLE `{db}`.t (i INT)", user=user, password=names.password.encode())
        for account_host in hosts:
            grants = [line for (line,) in sql("SHOW GRANTS FOR %s@%s", (user, account_host))]
            pattern = db.replace("_", "\\_")  # _ escaped: a wildcard in database-level grants
            assert any(line.startswith(f"GRANT ALL PRIVILEGES ON `{pattern}`.*") for line in grants), grants

    # The next `pulumi up` with unchanged config: Check (olds = old inputs), then Diff against the
    # state (olds = Create's outputs, old_inputs = the old inputs): nothing to do.
    rechecked = stub.Check(provider_pb2.CheckRequest(**ident, olds=checked.inputs, news=struct(news)),
                           timeout=TIMEOUT)
    diff = stub.Diff(provider_pb2.DiffRequest(id=created.id, **ident, olds=created.properties,
                                              news=rechecked.inputs, old_inputs=checked.inputs), timeout=TIMEOUT)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE and list(diff.replaces) == []

    # `pulumi refresh`: Read the state back; nothing drifted, so it is unchanged.
    read = stub.Read(provider_pb2.ReadRequest(id=created.id, **ident, properties=created.properties,
                                              inputs=checked.inputs), timeout=TIMEOUT)
    assert read.id == created.id and plain(read.properties) == state

    # `pulumi config set --secret dbPassword ...; pulumi up`: the program registers new inputs
    # (same pickled provider: it must be deterministic, or every up would show a change).
    new_news = unwrap(registered(names, names.new_password).raw_inputs)
    assert new_news["__provider"] == news["__provider"]
    assert {k: v for k, v in new_news.items() if k != "password"} == {k: v for k, v in news.items() if k != "password"}
    new_checked = stub.Check(provider_pb2.CheckRequest(**ident, olds=checked.inputs, news=struct(new_news)),
                             timeout=TIMEOUT)
    assert list(new_checked.failures) == []
    diff = stub.Diff(provider_pb2.DiffRequest(id=created.id, **ident, olds=created.properties,
                                              news=new_checked.inputs, old_inputs=checked.inputs), timeout=TIMEOUT)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == [], "a replacement would create-then-delete (and drop) the databases"
    updated = stub.Update(provider_pb2.UpdateRequest(id=created.id, **ident, olds=created.properties,
                                                     news=new_checked.inputs, old_inputs=checked.inputs),
                          timeout=TIMEOUT)
    assert plain(updated.properties)["password"] == names.new_password
    assert can_login(user, names.new_password) and not can_login(user, names.password)
    assert sql(f"SELECT COUNT(*) FROM `{dbs[0]}`.t", user=user, password=names.new_password.encode()) == [(0,)]

    # `pulumi destroy`: Delete with the last state (and its inputs).
    stub.Delete(provider_pb2.DeleteRequest(id=created.id, **ident, properties=updated.properties,
                                           old_inputs=new_checked.inputs), timeout=TIMEOUT)
    assert sql("SELECT Host FROM mysql.user WHERE User = %s", (user,)) == []
    assert not can_login(user, names.new_password)
    # The e2e stack sets dbDropOnDelete: the databases go too; otherwise the data must stay.
    assert databases(names.prefix) == (set() if news["drop_databases_on_delete"] else set(dbs))

    # No secret, in any escaping, in what the host printed (each password carries a unique token).
    output = host.stop()
    leaked = [t for t in names.tokens if t.encode() in output]
    assert leaked == [], f"the host printed {len(leaked)} of the passwords"
