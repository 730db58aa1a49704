"""Render /etc/nova/nova.conf: pure functions, no Pulumi.

render_nova_conf(settings, node, role, secrets) -> the whole file as text.
  - the release profile's options for the role (controller or compute), filled from the stack
    (components.template_context.filled);
  - then the stack's overrides (`novaConf`, `novaConfSecret`) merged over them, key by key;
  - every value encoded so that oslo.config reads back exactly that value (components.ini:
    `$` doubled, as it interpolates `$name`; quoted where it would strip spaces or quotes);
  - passwords inside URLs percent-encoded.
The caller passes secret values in `secrets` (plain strings from the stack's settings), so the
same function serves tests and the Pulumi glue; the glue wraps the rendered text in
`Output.secret` before it reaches any resource (it travels on a command's stdin only).
"""
from __future__ import annotations

import string
from typing import Mapping, Optional

from components.config import NodeSettings, Settings
from components.ini import merge_overrides, render_ini
from components.scripts import CellTemplates
from components.template_context import (
    COMPUTE, CONTROLLER, MASK, SECRET_SETTINGS, SETTING_SOURCES, filled, masked_secrets, secret_values, shown,
)
from components.validate import url_host

__all__ = ["secret_filled_options", "setting_filled_options", "cell_templates", "nova_conf_options",
           "render_nova_conf", "render_compute_driver_conf", "plain_secret_overrides", "render_masked"]


def secret_filled_options(settings: Settings) -> dict[tuple[str, str], str]:
    """nova.conf's options (either role's) that the program fills from a secret setting, mapped
    to that setting. Derived by rendering, not listed: an option is secret-filled when changing
    one secret changes its rendered value (a password, or a URL that carries one)."""
    names = secret_values(settings)
    base = {name: f"base-{name}" for name in names}
    found: dict[tuple[str, str], str] = {}
    release = settings.release.release
    for role, templates in ((CONTROLLER, release.controller_conf), (COMPUTE, release.compute_conf)):
        def rendered(secrets):
            return filled(templates, settings, settings.controller, role, secrets, virt_type="qemu")
        before = rendered(base)
        for name in names:
            after = rendered({**base, name: f"changed-{name}"})
            for section, options in after.items():
                for option, value in options.items():
                    if before.get(section, {}).get(option) != value:
                        found[(section, option)] = SECRET_SETTINGS[name]
    return found


# Options that replace what a program-written option decides: nova's deprecated [libvirt]
# live_migration_uri, when set, is the migration URI and live_migration_scheme is ignored
# (qemu+tcp://%s/system would migrate unauthenticated while migration-check tests qemu+ssh).
_REPLACES = {("libvirt", "live_migration_uri"): ("libvirt", "live_migration_scheme")}


def setting_filled_options(settings: Settings) -> dict[tuple[str, str], tuple[str, str]]:
    """nova.conf's options (either role) that the program writes from a setting, each mapped to
    (what the program does with it, the settings to change instead): an option whose template
    names a value derived from the settings, or one that replaces such an option. Constant options
    (the release's own choices, such as `auth_type = password`) are not in it."""
    release = settings.release.release
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for templates in (release.controller_conf, release.compute_conf):
        for section, options in templates.items():
            for option, template in options.items():
                names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
                sources = list(dict.fromkeys(SETTING_SOURCES[name] for name in names if name in SETTING_SOURCES))
                if sources:
                    found[(section, option)] = ("is written by the program", " and ".join(sources))
    for option, replaced in _REPLACES.items():
        if replaced in found:
            found[option] = (f"replaces [{replaced[0]}] {replaced[1]}, which the program writes", found[replaced][1])
    return found


def cell_templates(settings: Settings) -> CellTemplates:
    """The cell mappings' URL templates, shaped like the URLs nova.conf holds (db_url and the
    transport URL): nova fills them from the local nova.conf, so they carry no password."""
    db, mq = settings.database, settings.messaging
    return CellTemplates.build(cell0_name=db.cell0_name, cell_name=db.main_name, db_ipv6=url_host(db.host) != db.host,
                               db_port=db.port != 3306, db_query=bool(db.ca_file), mq_ipv6=url_host(mq.host) != mq.host)


def nova_conf_options(settings: Settings, node: NodeSettings, role: str, secrets: Mapping[str, Optional[str]],
                      secret_overrides: Optional[Mapping[str, Mapping[str, str]]] = None,
                      virt_type: Optional[str] = None) -> dict[str, dict[str, str]]:
    """section -> option -> the value nova must read: what `render_nova_conf` writes."""
    profile = settings.release
    templates = profile.release.controller_conf if role == CONTROLLER else profile.release.compute_conf
    options = filled(templates, settings, node, role, secrets, virt_type)
    return merge_overrides(options, settings.nova_conf_overrides, secret_overrides or {})


def render_nova_conf(settings: Settings, node: NodeSettings, role: str, secrets: Mapping[str, Optional[str]],
                     secret_overrides: Optional[Mapping[str, Mapping[str, str]]] = None,
                     virt_type: Optional[str] = None) -> str:
    return render_ini(nova_conf_options(settings, node, role, secrets, secret_overrides, virt_type))


def render_compute_driver_conf(virt_type: str) -> str:
    """The hypervisor's nova-compute.conf (read after nova.conf): the libvirt driver, its virt type."""
    return render_ini({"DEFAULT": {"compute_driver": "libvirt.LibvirtDriver"}, "libvirt": {"virt_type": virt_type}})


def plain_secret_overrides(settings: Settings) -> dict[str, dict[str, str]]:
    return {s: {k: v.value for k, v in opts.items()} for s, opts in settings.nova_conf_secret_overrides.items()}


def render_masked(settings: Settings, node: NodeSettings, role: str, virt_type: Optional[str] = None) -> str:
    """The file as it will be written, every secret shown as [secret] (also inside URLs)."""
    overrides = {s: {k: MASK for k in opts} for s, opts in settings.nova_conf_secret_overrides.items()}
    return shown(render_nova_conf(settings, node, role, masked_secrets(settings), overrides, virt_type))


