"""Render /etc/placement/placement.conf (the release's placement, on the controller). Pure."""
from __future__ import annotations

from typing import Mapping, Optional

from components.config import Settings
from components.ini import render_ini
from components.template_context import CONTROLLER, filled, masked_secrets, shown


def placement_conf_options(settings: Settings, secrets: Mapping[str, Optional[str]]) -> dict[str, dict[str, str]]:
    """section -> option -> the value placement must read: what `render_placement_conf` writes."""
    templates = settings.release.release.placement.conf
    return filled(templates, settings, settings.controller, CONTROLLER, secrets)


def render_placement_conf(settings: Settings, secrets: Mapping[str, Optional[str]]) -> str:
    """/etc/placement/placement.conf of the release's placement, on the controller."""
    return render_ini(placement_conf_options(settings, secrets))


def render_placement_masked(settings: Settings) -> str:
    return shown(render_placement_conf(settings, masked_secrets(settings)))
