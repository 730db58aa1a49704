"""Render the admin openrc (the seed's "Testing" exports) that verification steps source. Pure."""
from __future__ import annotations

from components import scripts
from components.config import Settings
from components.ini import fill
from components.template_context import CONTROLLER, conf_context, secret_values


def render_openrc(settings: Settings) -> str:
    context = conf_context(settings, settings.controller, CONTROLLER, secret_values(settings))
    values = fill({"openrc": settings.release.release.openrc}, context).get("openrc", {})
    return scripts.render_openrc(values)
