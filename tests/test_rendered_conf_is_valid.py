"""The nova.conf we render for modern releases, checked against nova's own option definitions
(nova from PyPI in its own virtualenv, see tools/nova_options/): no unknown option, no
deprecated name, nothing deprecated for removal. Building the option data the first time needs
PyPI and takes a few minutes; a failure to build fails these tests."""
from __future__ import annotations

import pytest

from components.nova_conf import COMPUTE, CONTROLLER, plain_secret_overrides, render_nova_conf, secret_values
from tests.support import settings_for
from tools import nova_options

# Every stack on a modern release, with the release whose nova validates it.
CASES = [("dev", "2025.1"), ("prod", "2025.1"), ("e2e", "zed")]


def rendered(stack: str, role: str) -> str:
    secrets = {"novaConfSecret": '{"DEFAULT": {"debug": "true"}}'} if stack == "dev" else None
    s = settings_for(stack, secrets, cli_rules=True)
    node = s.controller if role == CONTROLLER else (s.hypervisors[0] if s.hypervisors else s.controller)
    return render_nova_conf(s, node, role, secret_values(s), plain_secret_overrides(s), virt_type="qemu")


@pytest.mark.parametrize("stack,release", CASES)
@pytest.mark.parametrize("role", [CONTROLLER, COMPUTE])
def test_render_is_valid_for_its_release(stack, release, role):
    conf = rendered(stack, role)
    assert nova_options.validate(conf, release) == []


def test_validator_would_catch_a_seed_option_in_a_modern_file():
    """The check can fail: Liberty's options are refused by 2025.1's nova."""
    conf = rendered("dev", CONTROLLER) + "\n[oslo_messaging_rabbit]\nrabbit_host = db-node\n"
    problems = nova_options.validate(conf.replace("[DEFAULT]\n", "[DEFAULT]\nrpc_backend = rabbit\n", 1), "2025.1")
    assert any("rpc_backend" in p for p in problems)
    assert any("rabbit_host" in p for p in problems)
