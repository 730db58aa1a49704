"""Shared helpers for tests that need a stack's typed settings.

`settings_for` and `problems_for` build the config the CLI would hand the program for a stack
(tests.stack_files.stack_config: the stack file, Pulumi.yaml's defaults, `secrets` set as
`pulumi config set --secret` would, `overrides` as a what-if, None removing a key) and load it
with components.config.load_settings, then check its nova.conf overrides with
components.override_check.checked_settings, as the program does; `problems_for` runs the whole
program on it and checks that the refusal came before anything was registered.

- `placeholder_secrets=True` (the default) fills every secret the test does not set with a
  placeholder, so no passphrase is needed; pass False to decrypt the stack file's own `secure:`
  values (the tutorial stack's documented passphrase is set by tests/conftest.py).
- `cli_rules=True` also applies the Pulumi CLI's stack-config rules (a missing required key, a
  plain value for a secret, a value of the wrong type stop the run before the program starts).
  `cli_rules=False` hands the program what the CLI would refuse, as config reaching it another way
  (PULUMI_CONFIG, the Automation API) can: tests of the program's own checks need that.

Import it as `from tests.support import ...` (tests/ is a package; one module name only).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pytest

from components.config import SECRET_KEYS, ConfigError, load_settings
from components.override_check import checked_settings
from tests.stack_files import stack_config  # with `cli_rules`
from tools.plan import run_program


def _program_config(stack: str, secrets: Optional[Mapping[str, str]] = None, cli_rules: bool = False, *,
                    placeholder_secrets: bool = True, **overrides: Any) -> tuple[dict, frozenset]:
    """The (config, secret keys) pair the program would receive for the stack."""
    config, secret_keys = stack_config(stack, secrets=secrets, overrides=overrides,
                                       placeholder_secrets=placeholder_secrets, cli_rules=cli_rules)
    return config, frozenset(secret_keys)


def settings_for(stack: str, secrets: Optional[Mapping[str, str]] = None, cli_rules: bool = False, *,
                 placeholder_secrets: bool = True, **overrides: Any):
    """The stack's settings as the program loads them; a config problem raises ConfigError."""
    config, secret_keys = _program_config(stack, secrets, cli_rules, placeholder_secrets=placeholder_secrets,
                                          **overrides)
    return checked_settings(load_settings(config, secret_keys, stack))


def problems_for(stack: str, secrets: Optional[Mapping[str, str]] = None, **overrides: Any) -> list[str]:
    """Every problem the program reports for the stack's config, which it must refuse, having
    registered nothing at all (the whole program runs, under the mock runtime: under the real
    engine a registration is a step already under way).

    The CLI's rules are off: the program's own checks must hold for config that bypasses them."""
    config, secret_keys = _program_config(stack, secrets, cli_rules=False, **overrides)
    with pytest.raises(ConfigError) as err:
        run_program(stack, config, secret_keys)
    assert err.value.registered == [], f"registered before failing: {err.value.registered[:5]}"
    return err.value.problems


# --------------------------------------------------------------------------------------------
# The whole program under the mock runtime, with hostile secrets
# --------------------------------------------------------------------------------------------
# The controller's steps, in the order the graph runs them (components/controller.py).
CONTROLLER_STEPS = ["preflight", "packages", "nova-conf", "db-sync", "restart", "verify"]

SENTINEL = "Sentinel-Pa55'\"$(id);%`\\"


def sentinel_secrets() -> dict[str, str]:
    """Hostile values for every secret setting (the schema's SECRET_KEYS); non-ASCII too, except
    for the database password, whose limits config enforces (ASCII, and no '@' or '%' where
    cells v2 maps cell0)."""
    values = {k: f"{SENTINEL}-{k}-ünï" for k in SECRET_KEYS}
    values["dbPassword"] = f"{SENTINEL}-dbPassword".replace("%", "")
    return values


def record(stack: str, secrets=None, cli_rules=True, **overrides):
    """What the program registers for `stack` (placeholders for secrets not given)."""
    config, keys = stack_config(stack, secrets=secrets, overrides=overrides, placeholder_secrets=True,
                                cli_rules=cli_rules)
    return run_program(stack, config, keys)
