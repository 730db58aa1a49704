"""The INI syntax nova and placement read (oslo.config): where a section is read, the stack's
overrides merged section by section, values encoded so that oslo.config reads back exactly what was
set, the file written. Pure functions over options already filled (components.template_context
fills a release's templates)."""
from __future__ import annotations

from typing import Mapping


def oslo_section(name: str) -> str:
    """The section oslo.config reads `[name]` as: any case is one section (`[LIBVIRT]` is
    `[libvirt]`), except `DEFAULT`, which only that spelling is (`[default]` is a section nova
    ignores)."""
    return name if name == "DEFAULT" else name.lower()


def merge_overrides(options: dict[str, dict[str, str]], *overrides: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The overrides merged over `options` key by key, each section where oslo.config reads it:
    one `[libvirt]` for `libvirt` and `LIBVIRT`, never two sections whose later one would win."""
    merged = {section: dict(keys) for section, keys in options.items()}
    for layer in overrides:
        for section in sorted(layer):
            for option in sorted(layer[section]):
                merged.setdefault(oslo_section(section), {})[option] = layer[section][option]
    return merged


# How oslo.config reads a value (oslo_config/iniparser.py, then ConfigOpts._substitute, alike since
# oslo.config 1.6, before Liberty): the text after `=` loses the whitespace around it (str.strip:
# any Unicode space) and then one pair of matching quotes; then `\$` becomes `$$`; then `$$` is a
# `$` and `$name` (or `${name}`) the value of option `name`. A line break ends the option.
_QUOTES = ("'", '"')


def oslo_value(value: str) -> str:
    r"""The text after `option = ` that oslo.config reads back as exactly `value`: each `$` written
    `$$`, or `\$` where it follows a backslash (`\$$` would read as `$$$`); the whole in double
    quotes when the parser would otherwise strip whitespace or a pair of quotes from its ends (a
    password `  'pw'  ` written as it is reads as `pw`). Config refuses line breaks in every
    value; one reaching here raises ValueError (no text carries it)."""
    if "\n" in value or "\r" in value:  # the file is read by lines (universal newlines)
        raise ValueError("contains a line break, which no value in nova's configuration file can carry")
    escaped = "".join(("\\$" if i and value[i - 1] == "\\" else "$$") if char == "$" else char
                      for i, char in enumerate(value))
    if escaped != escaped.strip() or (escaped and escaped[0] == escaped[-1] and escaped.startswith(_QUOTES)):
        return f'"{escaped}"'  # the parser strips exactly this pair, and nothing inside it
    return escaped


def render_ini(options: Mapping[str, Mapping[str, str]]) -> str:
    """DEFAULT first, other sections in the order given; values encoded for oslo.config."""
    sections = sorted(options, key=lambda s: s != "DEFAULT")
    chunks = []
    for section in sections:
        lines = [f"[{section}]"]
        for option, value in options[section].items():
            try:
                lines.append(f"{option} = {oslo_value(value)}")
            except ValueError as why:  # never for a stack that config accepted
                raise ValueError(f"[{section}] {option}: {why}") from None
        chunks.append("\n".join(lines) + "\n")
    return "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n\n" + "\n".join(chunks)

