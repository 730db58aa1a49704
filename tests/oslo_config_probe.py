"""Asks nova's own libraries, in a release's private venv (tools/nova_options builds it with
nova's pinned oslo.config and keystoneauth1); run by that venv's python, never imported by the
project's own interpreter. Prints JSON.

    python oslo_config_probe.py read FILE...
        for each file, section -> option -> the string a StrOpt of that name reads (after the
        parser's stripping and unquoting and ConfigOpts' `$` substitution), with the sections
        as the file spells them;
    python oslo_config_probe.py secret-options OPTDATA_YAML
        {"options": [[section, option], ...], "auth_plugin_options": [...]}: the options nova's
        definitions (oslo-config-generator's dump) mark secret, deprecated names included, and
        the names of keystoneauth's plugin options marked secret.
"""
from __future__ import annotations

import json
import sys


def read(path: str) -> dict[str, dict[str, str]]:
    from oslo_config import cfg

    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(path, sections).parse()  # only to learn which options the file names
    conf = cfg.ConfigOpts()
    for section, options in sections.items():
        conf.register_opts([cfg.StrOpt(name) for name in options], group=None if section == "DEFAULT" else section)
    conf(args=[], project="probe", default_config_files=[path], default_config_dirs=[], use_env=False)
    return {section: {name: (conf[name] if section == "DEFAULT" else conf[section][name]) for name in options}
            for section, options in sections.items()}


def secret_options(optdata: str) -> dict[str, list]:
    import yaml
    from keystoneauth1 import loading

    with open(optdata) as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    options = set()
    for group, entries in data["options"].items():
        for opt in entries["opts"]:
            if opt.get("secret"):
                options.add((group, opt["name"]))
                for old in opt.get("deprecated_opts") or []:
                    options.add((old.get("group") or group, old.get("name") or opt["name"]))
    plugin_options = set()
    for name in loading.get_available_plugin_names():
        try:
            opts = loading.get_auth_plugin_conf_options(name)
        except Exception:  # a plugin whose optional dependencies are missing
            continue
        plugin_options.update(opt.dest for opt in opts if opt.secret)
    return {"options": sorted(options), "auth_plugin_options": sorted(plugin_options)}


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "read":
        json.dump([read(path) for path in arguments], sys.stdout)
    else:
        json.dump(secret_options(*arguments), sys.stdout)
