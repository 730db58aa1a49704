"""The nova.conf (and placement.conf) we render for modern releases, checked against nova's (and
placement's) own option definitions (each from PyPI in its own virtualenv, see
tools/nova_options/): no unknown option, no deprecated name, nothing deprecated for removal.
Building the option data the first time needs PyPI and takes a few minutes; a failure to build
fails these tests."""
from __future__ import annotations

import pytest

from components.nova_conf import plain_secret_overrides, render_nova_conf
from components.template_context import COMPUTE, CONTROLLER, secret_values
from components.placement_conf import render_placement_conf
from tests.support import settings_for
from tools import nova_options

# Every stack on a modern release, with the release whose nova validates it; "+migration": the
# stack with `migration` on (its libvirt options: the e2e test sets it with the keys it pins).
CASES = [("dev", "2025.1"), ("prod", "2025.1"), ("e2e", "2025.1"), ("zed", "zed"), ("e2e+migration", "2025.1"),
         ("zed+migration", "zed")]
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIItVb8l4yjEdDFfBd4rTut+EPVeX9juj4pR6uJS5lzzj"


def rendered(stack: str, role: str) -> str:
    stack, migration = stack.split("+")[0], stack.endswith("+migration")
    secrets = {"novaConfSecret": '{"DEFAULT": {"debug": "true"}}'} if stack == "dev" else None
    overrides = {}
    if migration:
        from tools.plan.stack import placeholder
        secrets = {**(secrets or {}), "novaSshPrivateKey": placeholder("novaSshPrivateKey")}
        hypervisors = settings_for(stack).hypervisors
        overrides = {"migration": {"enabled": True}, "hypervisors": [
            {"name": h.name, "host": h.host, "myIp": h.my_ip, "hostKey": HOST_KEY} for h in hypervisors]}
    s = settings_for(stack, secrets, cli_rules=True, **overrides)
    if migration and role == COMPUTE:
        assert "live_migration_scheme = ssh" in render_nova_conf(s, s.hypervisors[0], role, secret_values(s))
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


# Every stack's placement.conf, with the release whose placement validates it.
PLACEMENT_CASES = [("dev", "2025.1"), ("prod", "2025.1"), ("zed", "zed")]


def rendered_placement(stack: str) -> str:
    s = settings_for(stack, cli_rules=True)
    return render_placement_conf(s, secret_values(s))


@pytest.mark.parametrize("stack,release", PLACEMENT_CASES)
def test_placement_render_is_valid_for_its_release(stack, release):
    assert settings_for(stack, cli_rules=True).release.name == release
    assert nova_options.validate(rendered_placement(stack), release, project="placement") == []


@pytest.mark.parametrize("stack,release", [("dev", "2025.1"), ("zed", "zed")])
def test_validator_would_catch_a_bad_option_or_section_in_placement_conf(stack, release):
    conf = rendered_placement(stack).replace(
        "[placement_database]\n", "[placement_database]\nmax_pool_sizee = 5\n", 1)
    conf += "\n[api_database]\nconnection = sqlite://\n"  # nova's, not placement's
    assert nova_options.validate(conf, release, project="placement") == [
        "[placement_database] max_pool_sizee: unknown option",
        "[api_database]: unknown section (connection)",
    ]
