"""End-to-end tests: real keystone/placement/RabbitMQ/MariaDB/sshd on this Debian 12 machine.

They are marked `e2e` and run only when asked for, so the ordinary suite stays fast:

    pytest -m e2e                 # or: pytest tests/e2e   or: NOVA_E2E=1 pytest

Once asked for, a prerequisite that cannot be installed or started FAILS the test (never a skip).
Set NOVA_E2E_KEEP=1 to leave the environment up after the session (then
`python3 tests/e2e/prereqs.py down --state-dir DIR` removes it).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))

import prereqs  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test against real services on this machine (pytest -m e2e)")


def _e2e_requested(config: pytest.Config) -> bool:
    if os.environ.get("NOVA_E2E") == "1":
        return True
    if "e2e" in (config.getoption("markexpr", default="") or ""):
        return True
    for arg in config.args:  # an explicit path into tests/e2e
        path = Path(str(arg).split("::", 1)[0]).resolve()
        if path == E2E_DIR or E2E_DIR in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if _e2e_requested(config):
        return
    selected = [i for i in items if i.get_closest_marker("e2e") is None]
    deselected = [i for i in items if i.get_closest_marker("e2e") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory: pytest.TempPathFactory):
    """The prerequisites, set up once per session and torn down at its end."""
    state_dir = os.environ.get("NOVA_E2E_STATE_DIR") or str(tmp_path_factory.mktemp("e2e-state"))
    failure = None
    try:
        env = prereqs.setup(state_dir)
    except prereqs.PrereqError as exc:
        failure = str(exc)
    if failure is not None:
        # leave no half-made environment behind, then fail (never skip)
        try:
            prereqs.teardown(state_dir)
        except prereqs.PrereqError as cleanup:
            sys.stderr.write(f"teardown after failed setup: {cleanup}\n")
        pytest.fail(f"e2e prerequisites could not be set up: {failure}", pytrace=False)
    sys.stderr.write(f"\ne2e prerequisites ready in {env.timings}\n")
    yield env
    if os.environ.get("NOVA_E2E_KEEP") != "1":
        prereqs.teardown(env)
