"""Render the admin openrc (the seed's "Testing" exports) that verification steps source: the
release's openrc templates filled from the settings, written as shell exports. Pure."""
from __future__ import annotations

from components import scripts
from components.config import Settings
from components.template_context import CONTROLLER, filled, secret_values


def render_openrc(settings: Settings) -> str:
    values = filled({"openrc": settings.release.release.openrc}, settings, settings.controller, CONTROLLER,
                    secret_values(settings)).get("openrc", {})
    return scripts.render_exports(values)
