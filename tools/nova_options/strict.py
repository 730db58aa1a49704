"""The stricter pass (``_venv-check``, run by the private venv's python: imports oslo.config):
classify every section and option of a nova.conf (or placement.conf) against index.json.

It knows what oslo-config-validator does not: the sections that exist only at run time
(privsep contexts, [neutron_tunnel], nova's dynamic groups), the options a keystoneauth plugin
adds where auth_type selects it (or where auth_section points), unknown options in sections the
validator skips, and options deprecated for removal.  Its messages name sections and options only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .optdata import option_info, with_group_renamed
from .pins import DEFAULT_PROJECT, conf_name

Groups = dict[str, dict[str, Any]]
Deprecated = dict[str, dict[str, Any]]
Sections = dict[str, dict[str, list[str]]]


def _problem(section: str, option: str | None, kind: str, message: str) -> dict[str, Any]:
    return {"section": section, "option": option, "kind": kind, "message": message}


def _list_value(values: list[str] | None) -> list[str]:
    if not values:
        return []
    return [item.strip() for item in values[-1].split(",") if item.strip()]


def _new_group(auth: bool = False) -> dict[str, Any]:
    return {"opts": {}, "auth": auth, "extended": set()}


def _extend(group: dict[str, Any], key: str, info: dict[str, Any]) -> None:
    """Allow `key` in `group` beyond the generator's data (the data wins where it has `key`)."""
    if key not in group["opts"]:
        group["opts"][key] = info
        group["extended"].add(key)


def _plugin_entries(index: dict[str, Any], plugin: str, group: str) -> dict[str, Any]:
    """Allowed keys and deprecated aliases of a keystoneauth plugin's options in `group`."""
    allowed: dict[str, Any] = {}
    aliases: dict[str, Any] = {}
    for opt in index["plugins"].get(plugin, []):
        info = option_info(opt)
        allowed[opt["name"]] = info
        allowed[opt["dest"]] = info
        for dep in opt["deprecated_opts"]:
            dep_group = group if dep["group"] == "@" else dep["group"]
            if dep_group == group:
                aliases[dep["name"]] = {"group": group, "name": opt["name"]}
    return {"opts": allowed, "deprecated": aliases}


def _known_groups(index: dict[str, Any], sections: Sections) -> tuple[Groups, Deprecated]:
    """The groups valid in this file, and the deprecated names by section."""
    groups: Groups = {
        g: {"opts": dict(v["opts"]), "auth": v["auth"], "extended": set()}
        for g, v in index["groups"].items()
    }
    deprecated: Deprecated = {g: dict(v) for g, v in index["deprecated"].items()}

    def add_group(name: str, opts: list[dict[str, Any]]) -> None:
        target = groups.setdefault(name, _new_group())
        for opt in opts:
            info = option_info(opt)
            for key in (opt["name"], opt["dest"]):
                _extend(target, key, info)
            for dep in opt["deprecated_opts"]:
                deprecated.setdefault(dep["group"], {})[dep["name"]] = {
                    "group": name, "name": opt["name"],
                }

    # Sections that exist only at run time: nova's privsep context sections, [neutron_tunnel],
    # and one dynamic group per value of the option that lists them.
    for name, opts in index["extra_groups"].items():
        add_group(name, opts)
    for template in index["dynamic_templates"]:
        src_group, src_opt = template["source"]
        for value in _list_value(sections.get(src_group, {}).get(src_opt)):
            add_group(template["group"].replace("@", value),
                      with_group_renamed(template["opts"], "@", value))

    def auth_groups() -> Iterator[tuple[str, dict[str, Any]]]:
        """The file's sections that can load a keystoneauth plugin (looked up as it goes)."""
        for name in list(sections):
            group = groups.get(name)
            if group and group["auth"]:
                yield name, group

    # keystoneauth: auth_type selects a plugin whose options become valid in that section;
    # auth_section names another section that holds the plugin's settings instead.
    for name, _group in auth_groups():
        ref = _list_value(sections[name].get("auth_section"))
        if not ref:
            continue
        if ref[0] in groups:
            groups[ref[0]]["auth"] = True
        else:
            target = groups[ref[0]] = _new_group(auth=True)
            for key in ("auth_type", "auth_section"):
                _extend(target, key, {"name": key, "dfr": False, "since": None})
    for name, group in auth_groups():
        plugin_values = sections[name].get("auth_type")
        plugin = plugin_values[-1].strip() if plugin_values else ""
        if not plugin:
            continue
        extra = _plugin_entries(index, plugin, name)
        for key, info in extra["opts"].items():
            _extend(group, key, info)
        for old, new in extra["deprecated"].items():
            deprecated.setdefault(name, {}).setdefault(old, new)
    return groups, deprecated


def _classify(sections: Sections, groups: Groups, deprecated: Deprecated) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []
    allowed_by_extension: list[list[str]] = []
    for section, values in sections.items():
        group = groups.get(section)
        section_deprecated = deprecated.get(section, {})
        if group is None and not section_deprecated:
            names = ", ".join(values) if values else "no options"
            problems.append(_problem(section, None, "unknown-section",
                                     f"[{section}]: unknown section ({names})"))
            continue
        for key in values:
            notes = []
            alias = section_deprecated.get(key)
            info = group["opts"].get(key) if group else None
            if alias is not None:
                notes.append(f"deprecated name; use [{alias['group']}] {alias['name']}")
            if info is not None and info["dfr"]:
                since = f" (since {info['since']})" if info.get("since") else ""
                notes.append(f"deprecated for removal{since}")
            if notes:
                kind = "deprecated-name" if alias is not None else "deprecated-for-removal"
                problems.append(_problem(section, key, kind,
                                         f"[{section}] {key}: {'; '.join(notes)}"))
            elif info is None:
                where = "" if group else " (section holds only deprecated names)"
                problems.append(_problem(section, key, "unknown-option",
                                         f"[{section}] {key}: unknown option{where}"))
            elif group and key in group["extended"]:
                allowed_by_extension.append([section, key])
    return {"problems": problems, "allowed_by_extension": allowed_by_extension,
            "parse_error": False}


def check_file(index_path: Path, input_file: Path) -> dict[str, Any]:
    """Classify every section and option of input_file (runs in the private venv)."""
    from oslo_config import cfg, iniparser

    index = json.loads(index_path.read_text())
    name = conf_name(index.get("project", DEFAULT_PROJECT))
    sections: Sections = {}
    try:
        cfg.ConfigParser(str(input_file), sections).parse()
    except iniparser.ParseError as exc:
        # The message and line number only, never the line itself.  oslo.config reports an
        # assignment when it reads the line after it, so the number can be one too high.
        return {
            "problems": [_problem("", None, "parse",
                                  f"near line {exc.lineno}: cannot parse {name}: {exc.msg}")],
            "allowed_by_extension": [],
            "parse_error": True,
        }
    groups, deprecated = _known_groups(index, sections)
    return _classify(sections, groups, deprecated)
