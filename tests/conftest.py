"""Shared test fixtures.

Tests that need a real service (MariaDB, RabbitMQ, sshd...) call `require_service`. On a
developer machine a missing service skips the test; with NOVA_TESTS_REQUIRE_SERVICES=1 (set by
.ci/run) it fails instead, so CI can never go green by skipping the real checks.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# The fixtures of the shell-script sandbox (box, listener), for the tests/test_scripts_*.py modules.
pytest_plugins = ["tests.sandbox", "tests.mysql_support", "tests.engine_support"]

REQUIRE_SERVICES = os.environ.get("NOVA_TESTS_REQUIRE_SERVICES") == "1"
# The tutorial stack's secrets are `secure:` values under this documented passphrase (README).
os.environ["PULUMI_CONFIG_PASSPHRASE"] = "openstack"
os.environ.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)


# `./dev test` runs the suite in two pytest-xdist workers: the e2e tests, which share one lab
# and run in their file order, are one unit of work on one worker; every other test module is a
# unit of its own, spread over the workers. The e2e lab mostly waits (packages, services, the
# engine), so the rest of the suite runs beside it instead of after it. (xdist's own
# `--dist loadgroup` cannot do this under pytest 9: it renames node ids, which pytest 9 ignores.)
E2E_DIR = "tests/e2e/"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    class E2eApart(LoadScopeScheduling):
        """LoadScopeScheduling by module (as `--dist loadfile`), the e2e modules one scope."""

        def _split_scope(self, nodeid: str) -> str:
            return E2E_DIR if nodeid.startswith(E2E_DIR) else nodeid.split("::", 1)[0]

    return E2eApart(config, log)


class _WorkerSummaries:
    """The summaries xdist workers hand over (`workeroutput["summary_sections"]`, e.g. the e2e
    lab's phase timings), printed by the controller: a worker's own terminal is not shown."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, list[str]]] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        self.sections.extend(getattr(node, "workeroutput", {}).get("summary_sections", []))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for title, lines in self.sections:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_WorkerSummaries(), "nova-worker-summaries")


def service_unavailable(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because a real service is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def require_tcp(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        service_unavailable(f"{what} at {host}:{port} is not reachable ({exc})")


@pytest.fixture(scope="module", params=("tutorial", "dev", "prod"))
def stack_run(request):
    """(stack, the program's registrations for it) for each of the three stack files, every
    secret a sentinel: non-ASCII too, except where config refuses it (dbPassword: see test_config)."""
    from tests.support import record, sentinel_secrets
    return request.param, record(request.param, secrets=sentinel_secrets())
