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
