"""The scenarios' one lab and one deployment, shared by every package under tests/e2e/scenarios
(package-scoped fixtures of this package: up before its first test, down after its last), and
the order the groups run in.

The groups build on each other: the migration, dashboard and fault scenarios look at what the
install made; the day-2 scenarios change it (rerun, rotate, drain, drift) and end with its
destroy. pytest collects packages by name; SCENARIO_ORDER puts them in the order they need.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from components import scripts
from tests.e2e.deployment import MIGRATION, STACK, Secrets, hostile, nova_ssh_key
from lab.support.common import timed
from tests.e2e.hosts.fixture import KEEP, running_lab
from tests.e2e.hosts.report import report_lines
from lab.stack import lab_plan, stack_values
from tests.e2e.pulumi_engine import StackEngine
from tools.plan import run_program, stack_config

SCENARIOS = Path(__file__).resolve().parent
SCENARIO_ORDER = ("deploy", "migration", "network", "dashboard", "faults", "day_2")
LAB_LABEL = "2025.1 controller"  # heads the lab's phase timings in the summary


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The scenarios in SCENARIO_ORDER's order of their packages (each package's own tests in
    their file order); every other test where it was collected."""
    places = [i for i, item in enumerate(items) if SCENARIOS in item.path.parents]

    def group(item: pytest.Item) -> int:
        name = item.path.relative_to(SCENARIOS).parts[0]
        if name not in SCENARIO_ORDER:
            raise pytest.UsageError(f"tests/e2e/scenarios/{name}: not in SCENARIO_ORDER (tests/e2e/scenarios/conftest.py)")
        return SCENARIO_ORDER.index(name)

    for place, item in zip(places, sorted((items[i] for i in places), key=group)):
        items[place] = item


@pytest.fixture(scope="package")
def lab(pytestconfig):
    """The stack's lab (every node and the services host), up for every scenario."""
    with running_lab(lab_plan(STACK), pytestconfig, LAB_LABEL) as lab:
        yield lab


@pytest.fixture(scope="package")
def controller(lab):
    """The stack's controller node's host."""
    return lab.hosts[stack_values(STACK)["controller"]["name"]]


@pytest.fixture(scope="package")
def env(lab, controller):
    """What the engine and the helpers read for the controller node (secrets never in its repr)."""
    return lab.environment(controller.name)


@pytest.fixture(scope="package")
def stack_secrets(env) -> dict[str, str]:
    return Secrets({
        "dbAdminPassword": env.db_admin_password,
        "dbPassword": hostile("db", avoid="@%"),  # cells v2 cannot carry them (see config)
        "rabbitPassword": env.rabbit_password,
        "keystoneAdminPassword": env.admin_password,
        "novaPassword": hostile("nova"),
        "neutronPassword": env.neutron_password,  # the lab's neutron's (lab/networking.py)
        "placementPassword": hostile("placement"),  # the program deploys placement itself
        "placementDbPassword": hostile("placementdb"),
        "metadataSecret": env.metadata_secret,
        "sshPrivateKey": env.ssh_private_key,
        "novaSshPrivateKey": nova_ssh_key(),  # the hypervisors' nova user's, for migration
    })


@pytest.fixture(scope="package")
def hypervisors(lab):
    """Every hypervisor's host, in the stack's order."""
    return [lab.hosts[h["name"]] for h in stack_values(STACK)["hypervisors"]]


@pytest.fixture(scope="package")
def hypervisor(hypervisors):
    """The first hypervisor (the one instances boot on; the second is where they move to)."""
    return hypervisors[0]


@pytest.fixture(scope="package")
def other_hypervisor(hypervisors):
    assert len(hypervisors) >= 2, "the e2e stack has two hypervisors (migration moves instances between them)"
    return hypervisors[1]


@pytest.fixture(scope="package")
def detected_virt_type(hypervisors):
    """What the program's own detection script prints on the hypervisor hosts (the same lab
    hardware: one answer): under the mock runtime the program reads this step's stdout from
    here, as an apply reads the real one."""
    found = {h.run(["bash", "-c", scripts.detect_virt_type()], what="detect virt type").stdout.strip() for h in hypervisors}
    assert len(found) == 1, f"the hypervisors detect different virt types: {found}"
    return found.pop()


@pytest.fixture(scope="package")
def record(lab, env, controller, stack_secrets, detected_virt_type):
    """`record(**overrides)`: the program's registrations, each node's host key pinned to the
    one its host generated."""
    values = stack_values(STACK)

    def registrations(**overrides):
        pinned = {"controller": {**values["controller"], "hostKey": controller.host_key},
                  "hypervisors": [{**h, "hostKey": lab.hosts[h["name"]].host_key} for h in values["hypervisors"]]}
        config, keys = stack_config(STACK, secrets=stack_secrets, overrides={
            "dbAdminUser": env.db_admin_user, "migration": MIGRATION, **pinned, **overrides})
        rec = run_program(STACK, config, keys, preview=False, apply_stdout={"detect-virt": detected_virt_type})
        rec.applied_config = SimpleNamespace(values=config, secret_keys=set(keys))  # what the engine is given
        return rec
    return registrations


@pytest.fixture(scope="package")
def deployment(lab, env, record, stack_secrets, pytestconfig, engine, tmp_path_factory):
    rec = record()
    pulumi = engine
    engine = StackEngine(STACK, pulumi, tmp_path_factory.mktemp("e2e-project"))
    try:
        with timed(lab.timings, "deploy_s"):
            first = engine.apply(rec, label="install")
        lab.timings["package_install_s"] = round(sum(
            r.seconds for name, r in engine.results.items() if name.endswith("-packages")), 1)
        started = time.monotonic()
        yield engine, rec, first
        lab.timings["assertions_s"] = round(time.monotonic() - started, 1)
    finally:
        try:
            if engine.state and not KEEP:  # `pulumi destroy` of what the tests left (nothing after the last)
                engine.destroy(label="destroy at teardown")
        finally:
            if engine.history:
                report_lines(pytestconfig, [engine.timing_table(0)] + [
                    f"engine, {a.label}: {len(a.steps)} steps, wall {a.wall:.1f} s" for a in engine.history[1:]])


@pytest.fixture
def openstack(lab, env):
    """`openstack ARGS...` as admin, run in the services host (the machine needs no client);
    credentials in OS_* variables, never in argv."""
    def run(*args: str) -> str:
        proc = lab.services.host.run(["openstack", *args], env=env.openstack_env(base={}), check=False, timeout=180)
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout
    return run
