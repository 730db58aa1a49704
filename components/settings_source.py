"""Read the stack's configuration from the Pulumi runtime into `Settings` (the thin glue around
the pure `config.load_settings` and the check of what they make of nova.conf,
`override_check.checked_settings`)."""
from __future__ import annotations

import pulumi
import pulumi.runtime.config as runtime_config

from components.config import ConfigError, Settings, load_settings
from components.override_check import checked_settings


def read_settings() -> Settings:
    raw = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    from_env = set(runtime_config.get_config_secret_keys_env() or ())  # an older CLI's handover
    secret_keys = frozenset(key for key in raw if runtime_config.is_config_secret(key) or key in from_env)
    try:
        settings = checked_settings(load_settings(raw, secret_keys, pulumi.get_stack()))
    except ConfigError as err:
        # RunError: the CLI prints the message without a Python traceback.
        raise pulumi.RunError(str(err)) from err
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return settings
