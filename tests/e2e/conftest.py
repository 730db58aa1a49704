"""End-to-end tests: real keystone/placement/RabbitMQ/MariaDB/sshd on this Debian 12 machine.

They are part of the normal run (`./dev test`); `./dev test -m "not e2e"` leaves them out.
A prerequisite that cannot be installed or started skips them on a developer's machine and
FAILS them where NOVA_TESTS_REQUIRE_SERVICES=1 (CI). Set NOVA_E2E_KEEP=1 to leave the
environment up after the session (then `python3 tests/e2e/prereqs.py down --state-dir DIR`
removes it).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))

import harness  # noqa: E402
from tests.conftest import service_unavailable  # noqa: E402


TIMINGS = pytest.StashKey[dict]()
REPORTS = pytest.StashKey[list]()  # lines for the end of the session (the engine's timing tables)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test against real services on this machine (pytest -m e2e)")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    # the fixture's own stderr line is captured (shown only on a failure): repeat it here
    if TIMINGS in config.stash:
        terminalreporter.write_line(f"e2e prerequisites ready in {config.stash[TIMINGS]}")
    for report in config.stash.get(REPORTS, []):
        terminalreporter.write_line(report)


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config):
    """The prerequisites, set up once per session and torn down at its end."""
    state_dir = os.environ.get("NOVA_E2E_STATE_DIR") or str(tmp_path_factory.mktemp("e2e-state"))
    failure = None
    try:
        env = harness.setup(state_dir)
    except harness.PrereqError as exc:
        failure = str(exc)
    if failure is not None:
        # leave no half-made environment behind, then skip (a failure under CI's flag)
        try:
            harness.teardown(state_dir)
        except harness.PrereqError as cleanup:
            sys.stderr.write(f"teardown after failed setup: {cleanup}\n")
        service_unavailable(f"e2e prerequisites could not be set up: {failure}")
    sys.stderr.write(f"\ne2e prerequisites ready in {env.timings}\n")
    pytestconfig.stash[TIMINGS] = env.timings
    yield env
    if os.environ.get("NOVA_E2E_KEEP") != "1":
        harness.teardown(env)


@pytest.fixture
def openstack(e2e_env: harness.E2EEnvironment):
    """`openstack ARGS...` as admin, returning its stdout; credentials travel in OS_* variables,
    never in argv."""
    def run(*args: str) -> str:
        proc = subprocess.run(["openstack", *args], env=e2e_env.openstack_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout
    return run


@pytest.fixture(scope="session")
def e2e_report(pytestconfig: pytest.Config) -> list:
    """Append text here to have it printed at the end of the session, after the summary."""
    return pytestconfig.stash.setdefault(REPORTS, [])
