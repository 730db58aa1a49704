"""Database under Pulumi mocks: the resource graph it registers, without a database."""
from __future__ import annotations

import dataclasses
import threading

import pulumi
import pytest
from pulumi.runtime import rpc, settings

from components.database import Database, DatabaseArgs
from components.mysql_inputs import INPUT_KEYS, ServiceDatabaseArgs

SERVICE_DATABASE_TYPE = "pulumi-python:dynamic/mysql:ServiceDatabase"
COMPONENT_TYPE = "openstack-nova:components:Database"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[str, dict] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.inputs[args.name] = args.inputs
        return f"{args.typ}-{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """Keeps the raw RegisterResource requests: parent, protect, additional secret outputs."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.lock = threading.Lock()
        self.requests: dict[str, object] = {}
        self.urns: dict[str, str] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        with self.lock:  # registrations arrive from several threads
            self.requests[request.name] = request
            self.urns[request.name] = response.urn
        return response


@pytest.fixture
def monitor():
    # set_mocks is process-global and reuses an existing Stack: start and leave a clean root.
    settings.ROOT.set(None)
    mocks = Mocks()
    mon = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="openstack-nova", stack="test", preview=False, monitor=mon)
    yield mon
    settings.ROOT.set(None)


def args(**overrides) -> DatabaseArgs:
    values = dict(
        admin_host="10.0.0.11",
        admin_port=3306,
        admin_user="root",
        admin_password=pulumi.Output.secret("admin-pw"),
        admin_ca_file=None,
        databases=["nova_api", "nova", "nova_cell0"],
        user="nova",
        password=pulumi.Output.secret("nova-pw"),
        hosts=["localhost", "%"],
    )
    values.update(overrides)
    return DatabaseArgs(**values)


def test_component_registers_one_secret_service_database_child(monitor):
    resolved = {}

    @pulumi.runtime.test
    def run():
        db = Database("nova-db", args(protect=True))
        assert isinstance(db.service_database, pulumi.CustomResource)
        return pulumi.Output.all(db.databases, db.user, db.hosts).apply(
            lambda values: resolved.update(databases=values[0], user=values[1], hosts=values[2])
        )

    run()

    component = monitor.requests["nova-db"]
    child = monitor.requests["nova-db-mysql"]
    assert component.type == COMPONENT_TYPE and not component.custom
    assert child.type == SERVICE_DATABASE_TYPE and child.custom
    assert child.parent == monitor.urns["nova-db"]
    assert child.protect is True
    assert set(child.additionalSecretOutputs) >= {"password", "admin_password"}

    inputs = monitor.mocks.inputs["nova-db-mysql"]
    for key in ("password", "admin_password"):
        assert rpc.is_rpc_secret(inputs[key]), key
    assert rpc.unwrap_rpc_secret(inputs["password"]) == "nova-pw"
    assert inputs["databases"] == ["nova_api", "nova", "nova_cell0"]
    assert inputs["hosts"] == ["localhost", "%"] and inputs["user"] == "nova"
    assert inputs["admin_port"] == 3306  # a float on the wire; the provider coerces it
    assert inputs["drop_databases_on_delete"] is False
    assert "__provider" in inputs  # the pickled provider travels with the inputs
    assert resolved == {"databases": ["nova_api", "nova", "nova_cell0"], "user": "nova",
                        "hosts": ["localhost", "%"]}


def test_plain_password_is_still_sent_secret(monitor):
    @pulumi.runtime.test
    def run():
        Database("nova-db", args(password="plain-pw", admin_password=""))

    run()

    inputs = monitor.mocks.inputs["nova-db-mysql"]
    assert rpc.is_rpc_secret(inputs["password"]) and rpc.is_rpc_secret(inputs["admin_password"])
    assert monitor.requests["nova-db-mysql"].protect is False


def test_registered_inputs_are_exactly_the_declared_fields(monitor):
    fields = [field.name for field in dataclasses.fields(ServiceDatabaseArgs)]
    assert list(INPUT_KEYS) == fields
    # The component's Args restates nothing: ServiceDatabaseArgs' fields plus its own `protect`.
    assert issubclass(DatabaseArgs, ServiceDatabaseArgs)
    assert [field.name for field in dataclasses.fields(DatabaseArgs)] == fields + ["protect"]
    outputs = {}

    @pulumi.runtime.test
    def run():
        db = Database("nova-db", args(admin_ca_file="/etc/mysql/ca.pem", drop_databases_on_delete=True,
                                          protect=True))
        outputs.update({key: getattr(db.service_database, key, None) for key in fields})

    run()

    assert all(isinstance(value, pulumi.Output) for value in outputs.values()), outputs
    inputs = monitor.mocks.inputs["nova-db-mysql"]
    assert sorted(inputs) == sorted(fields + ["__provider"])  # no `protect`, nothing forgotten
    assert sorted(monitor.requests["nova-db-mysql"].object.keys()) == sorted(inputs)
    assert inputs["admin_ca_file"] == "/etc/mysql/ca.pem" and inputs["drop_databases_on_delete"] is True
    assert monitor.requests["nova-db-mysql"].protect is True


def test_the_provider_is_pickled_by_its_module_path():
    """The dynamic-provider host finds the provider's code only by this reference, stored in every
    stack's state: a rename breaks existing stacks (`pulumi refresh`/`destroy`/`up` of them)."""
    import base64
    import pickletools

    from tests.support import record
    from tools.plan import unwrap

    blob = base64.b64decode(unwrap(record("dev").by_name("nova-db-mysql").raw_inputs)["__provider"])
    strings = [arg for _, arg, _ in pickletools.genops(blob) if isinstance(arg, str)]
    assert strings[:2] == ["components.mysql_admin", "ServiceDatabaseProvider"], strings
    assert len(blob) < 200, "the provider must be pickled by reference, not by value"
