"""The stack's configuration: `schema` (what can be set), `settings` (what components get),
`reader` (raw values, problems collected), `nodes` and `sections` (structured settings) and
`load` (`load_settings`). Loading it imports neither PyMySQL nor pulumi.
"""
from components.config.load import load_settings
from components.config.schema import (
    PROJECT, PULUMI_YAML, SCHEMA, SECRET_KEYS, SEED_DEFAULT_PASSWORD, UNDECLARED, ConfigError, Key, Secret,
    project_declarations, project_defaults,
)
from components.config.nodes import NODE_KEYS
from components.config.settings import (
    DashboardSettings, DatabaseSettings, IdentitySettings, KeystoneSettings, MessagingSettings, NodeSettings, Settings,
)

__all__ = [
    "load_settings", "PROJECT", "PULUMI_YAML", "SCHEMA", "SECRET_KEYS", "SEED_DEFAULT_PASSWORD", "UNDECLARED",
    "ConfigError", "Key", "Secret", "project_declarations", "project_defaults", "NODE_KEYS", "DashboardSettings",
    "DatabaseSettings", "IdentitySettings", "KeystoneSettings", "MessagingSettings", "NodeSettings", "Settings",
]
