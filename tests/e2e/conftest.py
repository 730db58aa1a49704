"""End-to-end tests: the program's steps on test hosts of their own (tests/e2e/hosts: Debian
roots in network, UTS, mount and PID namespaces on a bridge), against the machine's MariaDB and
RabbitMQ and keystone/placement/glance in a services host. Nothing is installed on the machine
itself but debootstrap; the roots are cached under /var/cache/openstack-nova-e2e.

They are part of the normal run (`./dev test`); `./dev test -m "not e2e"` leaves them out.
A lab that cannot be brought up skips them on a developer's machine and FAILS them where
NOVA_TESTS_REQUIRE_SERVICES=1 (CI). Set NOVA_E2E_KEEP=1 to leave a module's lab up after it
(then `cd tests/e2e && ../../venv/bin/python -m hosts down` removes it); a run killed before
its teardown is taken down by the next one.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))


STACK = "e2e"  # the stack whose addresses and nodes the labs are made of (stacks/Pulumi.e2e.yaml)


@pytest.fixture(scope="module")
def plan():
    """The lab a module needs (a module overrides this fixture for another)."""
    from hosts.stack import lab_plan
    return lab_plan(STACK)


@pytest.fixture(scope="module")
def lab(request, plan, pytestconfig):
    """The module's lab, up for its tests; its label (the module's LAB_LABEL) heads its timings."""
    from hosts.fixture import running_lab
    with running_lab(plan, pytestconfig, getattr(request.module, "LAB_LABEL", request.module.__name__)) as lab:
        yield lab


@pytest.fixture(scope="module")
def controller(lab):
    """The stack's controller node's host."""
    from hosts.stack import stack_values
    return lab.hosts[stack_values(STACK)["controller"]["name"]]


@pytest.fixture(scope="module")
def env(lab, controller):
    """What the engine and the helpers read for the controller node (secrets never in its repr)."""
    return lab.environment(controller.name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test on test hosts of this machine (pytest -m e2e)")
