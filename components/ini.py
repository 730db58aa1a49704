"""The INI files nova and placement read (oslo.config): filling a release profile's option
templates from a context, merging the stack's overrides, escaping, writing. Pure functions."""
from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import quote

MASK = "[secret]"  # what a secret is shown as in a plan


class _Missing(Exception):
    pass


class _Context(dict):
    def __getitem__(self, key: str):  # a template naming a value that is unset (or unknown)
        value = self.get(key)
        if value is None:
            raise _Missing(key)
        return value


def fill(templates: Mapping[str, Mapping[str, str]], context: Mapping[str, Optional[str]]) -> dict[str, dict[str, str]]:
    """Fill a profile's option templates. Options whose values are unset are left out."""
    ctx = _Context(context)
    filled: dict[str, dict[str, str]] = {}
    for section, options in templates.items():
        for option, template in options.items():
            try:
                value = template.format_map(ctx)
            except _Missing:
                continue
            filled.setdefault(section, {})[option] = value
    return filled


def merge_overrides(options: dict[str, dict[str, str]], *overrides: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    merged = {section: dict(keys) for section, keys in options.items()}
    for layer in overrides:
        for section in sorted(layer):
            for option in sorted(layer[section]):
                merged.setdefault(section, {})[option] = layer[section][option]
    return merged


def oslo_escape(value: str) -> str:
    """oslo.config treats `$name` as a reference to another option: keep `$` literal."""
    return value.replace("$", "$$")


def render_ini(options: Mapping[str, Mapping[str, str]]) -> str:
    """DEFAULT first, other sections in the order given; values escaped for oslo.config."""
    sections = sorted(options, key=lambda s: s != "DEFAULT")
    chunks = []
    for section in sections:
        lines = [f"[{section}]"]
        lines += [f"{option} = {oslo_escape(value)}" for option, value in options[section].items()]
        chunks.append("\n".join(lines) + "\n")
    return "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n\n" + "\n".join(chunks)


def shown(text: str) -> str:
    """A render made with masked secrets, as shown: a mask inside a URL was percent-encoded."""
    return text.replace(quote(MASK, safe=""), MASK)
