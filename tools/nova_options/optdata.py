"""Deriving the option data (run by the private venv's python: may import oslo.config,
keystoneauth1, nova and yaml, but only inside functions, so the project interpreter can import
this module too).

From oslo-config-generator's optdata.yaml, ``_venv-postprocess`` writes:
  * index.json: every group's options (name, dest, deprecated for removal and since when), the
    deprecated names, keystoneauth's plugin options, and for nova its dynamic group templates and
    the sections registered only at run time (privsep contexts, [neutron_tunnel]; placement has
    none of either); strict.py reads it;
  * optdata-strict.yaml: the data oslo-config-validator reads, in which every option deprecated
    for removal is also listed as deprecated.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .pins import DEFAULT_PROJECT, NAMESPACES, REQUIREMENTS

# Modules whose import registers the oslo.privsep context sections nova's processes read
# ([nova_sys_admin], [privsep_osbrick], [vif_plug_ovs_privileged], ...).
PRIVSEP_MODULES = (
    "nova.privsep",
    "os_brick.privileged",
    "vif_plug_ovs.privsep",
    "vif_plug_linux_bridge.privsep",
)

# Nova's dynamic groups: (group template, option listing the instances, nova module whose
# register_dynamic_opts() registers them).  "@" stands for each listed value.
DYNAMIC_GROUP_SOURCES = (
    ("mdev_@", ("devices", "enabled_mdev_types"), "nova.conf.devices"),
    ("neutron_physnet_@", ("neutron", "physnets"), "nova.conf.neutron"),
)
_PLACEHOLDER = "XNOVAOPTSDYNX"


def option_info(opt: dict[str, Any]) -> dict[str, Any]:
    """What the checker needs of an option, from the generator's YAML entry or an opt_entry."""
    return {
        "name": opt["name"],
        "dfr": bool(opt.get("deprecated_for_removal")),
        "since": opt.get("deprecated_since"),
    }


def with_group_renamed(opts: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """opt_entry dicts whose deprecated names' groups have `old` replaced by `new`."""
    return [
        {**opt, "deprecated_opts": [
            {**dep, "group": dep["group"].replace(old, new)} for dep in opt["deprecated_opts"]
        ]}
        for opt in opts
    ]


def opt_entry(opt: Any, group: str) -> dict[str, Any]:
    """A compact description of an oslo.config Opt, like one entry of the generator's YAML."""
    return {
        "name": opt.name,
        "dest": opt.dest,
        "deprecated_for_removal": bool(getattr(opt, "deprecated_for_removal", False)),
        "deprecated_since": getattr(opt, "deprecated_since", None),
        "deprecated_opts": [
            {"name": d.name or opt.dest, "group": d.group or group}
            for d in (opt.deprecated_opts or [])
        ],
    }


def _collect_plugins() -> dict[str, Any]:
    from keystoneauth1 import loading

    plugins: dict[str, Any] = {}
    for name in sorted(loading.get_available_plugin_names()):
        try:
            opts = loading.get_auth_plugin_conf_options(name)
        except Exception:  # a plugin whose optional dependencies are missing
            continue
        plugins[name] = [opt_entry(o, "@") for o in opts]
    return plugins


def _collect_dynamic_and_privsep(known_groups: set[str]) -> dict[str, Any]:
    import importlib

    from oslo_config import cfg

    import nova.conf

    conf = nova.conf.CONF
    conf([], project="nova", default_config_files=[], default_config_dirs=[])
    before = set(conf.keys())
    templates: list[dict[str, Any]] = []
    for _template, (src_group, src_opt), _module in DYNAMIC_GROUP_SOURCES:
        conf.set_override(src_opt, [_PLACEHOLDER], group=src_group)
    static_groups: dict[str, list[dict[str, Any]]] = {}
    for module in sorted({m for _, _, m in DYNAMIC_GROUP_SOURCES}):
        importlib.import_module(module).register_dynamic_opts(conf)
    for group in sorted(set(conf.keys()) - before):
        opts = [opt_entry(info["opt"], group) for info in conf._groups[group]._opts.values()]
        for template, source, _module in DYNAMIC_GROUP_SOURCES:
            if group == template.replace("@", _PLACEHOLDER):
                templates.append({"group": template, "source": list(source),
                                  "opts": with_group_renamed(opts, _PLACEHOLDER, "@")})
                break
        else:
            # Registered unconditionally by register_dynamic_opts (e.g. [neutron_tunnel]).
            static_groups[group] = opts

    privsep_names = {"helper_command", "capabilities"}
    for module in PRIVSEP_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    for group, obj in cfg.CONF._groups.items():
        if group in known_groups or group in static_groups:
            continue
        dests = {info["opt"].dest for info in obj._opts.values()}
        if privsep_names <= dests:
            static_groups[group] = [
                opt_entry(info["opt"], group) for info in obj._opts.values()
            ]
    return {"templates": templates, "static_groups": static_groups}


def _yaml_load(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def _no_extras(_known_groups: set[str]) -> dict[str, Any]:
    return {"templates": [], "static_groups": {}}


# project -> what it reads beyond the generator's data (dynamic templates, run-time sections).
_EXTRAS = {"nova": _collect_dynamic_and_privsep, "placement": _no_extras}


def postprocess(release: str, rdir: Path, project: str = DEFAULT_PROJECT) -> None:
    """Derive optdata-strict.yaml and index.json from optdata.yaml (runs in the private venv)."""
    import yaml

    data = _yaml_load(rdir / "optdata.yaml")
    options: dict[str, Any] = data["options"]

    seen = {o.get("namespace") for g in options.values() for o in g["opts"]}
    empty = [n for n in NAMESPACES[project][release] if n not in seen]
    if empty:
        raise SystemExit(f"namespaces that produced no options: {', '.join(empty)}")

    groups: dict[str, Any] = {}
    for group, gdata in options.items():
        entries = {}
        for opt in gdata["opts"]:
            info = option_info(opt)
            entries[opt["name"]] = info
            if opt.get("dest"):
                entries[opt["dest"]] = info
        groups[group] = {
            "opts": entries,
            # keystoneauth plugin loading is possible where both common auth options exist.
            "auth": "auth_type" in entries and "auth_section" in entries,
        }
    deprecated: dict[str, dict[str, Any]] = {}
    for group, entries in data["deprecated_options"].items():
        for dep in entries:
            deprecated.setdefault(group, {})[dep["name"]] = {
                "group": dep["replacement_group"], "name": dep["replacement_name"],
            }

    extras = _EXTRAS[project](set(options))
    index = {
        "project": project,
        "release": release,
        project: REQUIREMENTS[project][release],
        "groups": groups,
        "deprecated": deprecated,
        "plugins": _collect_plugins(),
        "dynamic_templates": extras["templates"],
        "extra_groups": extras["static_groups"],
    }
    _replace_atomically(rdir / "index.json", json.dumps(index, sort_keys=True))

    # The strict option data for oslo-config-validator: names only (it reads nothing else
    # unless --check-defaults is given, which makes it load ~20x faster than optdata.yaml), and
    # every deprecated-for-removal option also listed under deprecated_options, which the
    # validator reports as a warning (fatal with --fatal-warnings).
    strict_opts = {}
    strict_deprecated = {g: list(v) for g, v in data["deprecated_options"].items()}
    for group, gdata in options.items():
        strict_opts[group] = {
            "opts": [{"name": o["name"], "dest": o.get("dest")} for o in gdata["opts"]]
        }
        for opt in gdata["opts"]:
            if opt.get("deprecated_for_removal"):
                strict_deprecated.setdefault(group, []).append({
                    "name": opt["name"], "replacement_group": None, "replacement_name": None,
                })
    strict = {"options": strict_opts, "deprecated_options": strict_deprecated}
    _replace_atomically(rdir / "optdata-strict.yaml", yaml.safe_dump(strict, default_flow_style=False))


def _replace_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a check reading the cache without its build lock (another
    checkout's, or a test's) sees the old file or the new one, never a missing or half file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
