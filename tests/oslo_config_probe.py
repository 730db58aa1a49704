"""Reads configuration files as nova does, through oslo.config itself: run by a release's
private venv python (tools/nova_options builds it with nova's pinned oslo.config), never imported
by the project's own interpreter. Prints JSON: for each file, section -> option -> the string a
StrOpt of that name reads (after the parser's stripping and unquoting and ConfigOpts' `$`
substitution), with the sections as the file spells them.

    python oslo_config_probe.py FILE...
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


if __name__ == "__main__":
    json.dump([read(path) for path in sys.argv[1:]], sys.stdout)
