"""The database provider's interface, declared once (ServiceDatabaseArgs), and the shared
validation rules it uses."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from components import validate
from components.mysql_inputs import INPUT_KEYS, SECRET_KEYS, ServiceDatabaseArgs, diff_view, parse_inputs
from components.validate import USER_NAME_MAX, validate_host_pattern, validate_identifier
from tests.conftest import PROJECT_ROOT
from tests.mysql_support import (
    make_props, )


# --- the interface: ServiceDatabaseArgs' fields, declared once --------------------------------

FIELDS = [field.name for field in dataclasses.fields(ServiceDatabaseArgs)]
# The registered input and output keys: stacks' state holds them, so they must not change.
WIRE_KEYS = ["admin_host", "admin_port", "admin_user", "admin_password", "admin_ca_file",
             "databases", "user", "password", "hosts", "drop_databases_on_delete"]


def test_the_declared_fields_are_the_wire_keys():
    assert FIELDS == WIRE_KEYS
    assert list(INPUT_KEYS) == FIELDS
    assert SECRET_KEYS == ("admin_password", "password")


def test_every_field_is_an_input_an_output_checked_and_compared(provider, names):
    props = make_props(names)
    assert list(props) == FIELDS  # the tests' own inputs cover every field
    created = provider.create(props)
    assert list(created.outs) == FIELDS
    assert list(provider.update(created.id, created.outs, props).outs) == FIELDS
    assert list(provider.read(created.id, created.outs).outs) == FIELDS
    assert list(diff_view(props)) == FIELDS
    spec = parse_inputs(props)
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


def test_the_provider_refuses_names_by_the_shared_rules(provider, names):
    """The settings and the provider apply one rule to database, user and host names: the
    provider's messages are validate's own."""
    long_user = "u" * (USER_NAME_MAX + 1)
    bad = dict(make_props(names), databases=["no va"], user=long_user, hosts=["a b"])
    assert [(failure.property, failure.reason) for failure in provider.check({}, bad).failures] == [
        ("databases", validate_identifier("no va", "databases[0]")[0]),
        ("user", f"user: {long_user!r} is longer than {USER_NAME_MAX} characters, the MySQL 8 limit for user names; "
                 "use a shorter name"),
        ("hosts", validate_host_pattern("a b", "hosts[0]")[0]),
    ]


def test_shared_rules_live_in_validate_without_pymysql_or_pulumi():
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
