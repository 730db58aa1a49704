"""The second phase of reading a stack: its nova.conf overrides checked against what the program
writes. Pure.

`components.config.load_settings` reads and checks every setting on its own; whether a `novaConf`
or `novaConfSecret` option collides with one the program fills can only be told by rendering
nova.conf from those settings, and the renderers sit above the settings layer. So this check runs
as its own step once the settings are read (`checked_settings`), before anything is registered,
and `components/config` imports no renderer.
"""
from __future__ import annotations

import re

from components.config import ConfigError, Settings
from components.ini import oslo_section
from components.nova_conf import secret_filled_options, setting_filled_options
from components.releases.secret_options import AUTH_PLUGIN_SECRET_OPTIONS, SECRET_OPTIONS


def checked_settings(settings: Settings) -> Settings:
    """`settings` when their overrides pass `override_problems`; else ConfigError with every one."""
    problems = override_problems(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def override_problems(settings: Settings) -> list[str]:
    """novaConf and novaConfSecret must not set what the program fills from a secret setting
    (the list is derived from the renderers): the password would sit in clear in the stack, the
    plan and the state, and a later rotation of the setting would never reach nova.conf. Nor what
    it writes from another setting (migration, keystone, messaging, database...): the override
    would silently win on every node while the program's own steps (its checks, the migration
    files, the cell mappings) still follow the setting. A plain novaConf value that looks like a
    credential belongs in novaConfSecret. Each problem names the override's key and the fix."""
    def normal(section: str, option: str) -> tuple[str, str]:
        return section.lower(), option.lower().replace("-", "_")  # how oslo.config finds them

    filled = {normal(*where): key for where, key in secret_filled_options(settings).items()}
    decided = {normal(*where): why for where, why in setting_filled_options(settings).items()}
    problems: list[str] = []
    for layer, tree in (("novaConf", settings.nova_conf_overrides), ("novaConfSecret", settings.nova_conf_secret_overrides)):
        for section, options in tree.items():
            for option, value in options.items():
                where = f"{layer}.{section}.{option}"
                key = filled.get(normal(section, option))
                if key is not None:
                    problems.append(f"{where}: is filled by the program from the secret setting {key}; set that "
                                    f"instead (`pulumi config set --secret {key} <value>`): an override would keep "
                                    f"the password out of {key}'s rotation")
                elif normal(section, option) in decided:
                    what, sources = decided[normal(section, option)]
                    problems.append(f"{where}: {what} from {sources}; set that instead: a {layer} value would "
                                    "silently replace it on every node while the program's own steps (checks, "
                                    "migration, cell mappings) still follow the setting")
                elif layer == "novaConf" and _looks_secret(section, option, value):
                    problems.append(f"{where}: looks like a credential (an option nova marks secret, a password, key "
                                    "or token option, or a value with user:password@), which novaConf would keep in "
                                    "clear in the stack file, plan and state; set it in novaConfSecret instead "
                                    "(`pulumi config set --secret novaConfSecret '<json>'`)")
    return problems


# Option names that look like a credential's, for the options nova does not define (its own
# secret ones are listed in components.releases.secret_options): rabbit_pass, auth_key, ...
_SECRET_OPTION_RE = re.compile(r"password|passwd|passphrase|passcode|secret|private_key|token|credential"
                               r"|(^|_)(pass|pwd|key|keys)$", re.IGNORECASE)
# user:password@ in a value: after a scheme (even with a space in it, where a URL parser would
# stop: `rabbit://nova:pa ss@mq`), or without one (`nova:pass@mq:5672`).
_URL_CREDENTIALS_RE = re.compile(r"://[^/?#]*@|[^\s/@:]+:[^/@]*@")


def _looks_secret(section: str, option: str, value: str) -> bool:
    return bool((oslo_section(section), option) in SECRET_OPTIONS or option in AUTH_PLUGIN_SECRET_OPTIONS
                or _SECRET_OPTION_RE.search(option) or _URL_CREDENTIALS_RE.search(value))
