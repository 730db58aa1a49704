"""End-to-end tests: the program's steps on test hosts of their own (lab/: Debian
roots in network, UTS, mount and PID namespaces on a bridge), with MariaDB and RabbitMQ in a db
host and keystone/placement/glance in a services host. Nothing is installed on the machine
itself but debootstrap; the roots are cached under /var/cache/openstack-nova-e2e.

They are part of the normal run (`./dev test`); `./dev test -m "not e2e"` leaves them out.
A lab that cannot be brought up skips them on a developer's machine and FAILS them where
NOVA_TESTS_REQUIRE_SERVICES=1 (CI). Set NOVA_E2E_KEEP=1 to leave a lab up after its tests
(then `venv/bin/python -m lab down` removes it); a run killed before its teardown
is taken down by the next one.

The scenarios (scenarios/) share one lab of their own (scenarios/conftest.py); a module of
tests outside them, such as test_hosts.py, gets a lab per module from the fixtures here.
"""
from __future__ import annotations

import pytest

STACK = "e2e"  # the stack whose addresses and nodes the labs are made of (stacks/Pulumi.e2e.yaml)


@pytest.fixture(scope="module")
def plan():
    """The lab a module needs (a module overrides this fixture for another)."""
    from lab.stack import lab_plan
    return lab_plan(STACK)


@pytest.fixture(scope="module")
def lab(request, plan, pytestconfig):
    """The module's lab, up for its tests; its label (the module's LAB_LABEL) heads its timings."""
    from tests.e2e.hosts.fixture import running_lab
    with running_lab(plan, pytestconfig, getattr(request.module, "LAB_LABEL", request.module.__name__)) as lab:
        yield lab


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test on test hosts of this machine (pytest -m e2e)")
