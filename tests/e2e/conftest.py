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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test on test hosts of this machine (pytest -m e2e)")
