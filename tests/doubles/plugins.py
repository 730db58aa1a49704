"""The providers a test's engine uses, installed into the test's own PULUMI_HOME as a user installs
plugins (`pulumi plugin install resource NAME VERSION --file BINARY`), at exactly the versions the
program's SDKs request (tools/engine/workspace.required_plugins):
- by default the doubles of this folder, each behind a launcher that runs it with this venv;
- with NOVA_E2E_PLUGINS=DIR, real plugin binaries from DIR (`pulumi-resource-command`,
  `pulumi-resource-openstack`), to check the doubles against the real providers. Such binaries
  are built beside the project, never committed."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from tools.engine.workspace import required_plugins
from tools.plan.paths import PROJECT_ROOT

DOUBLES = {"command": "tests.doubles.command", "openstack": "tests.doubles.openstack"}
REAL_PLUGINS = "NOVA_E2E_PLUGINS"


def launcher(name: str, where: Path) -> Path:
    """An executable that runs the double `name` with this venv's Python from the project root."""
    path = where / f"pulumi-resource-{name}"
    root = shlex.quote(str(PROJECT_ROOT))
    path.write_text("#!/bin/sh\n"
                    f"cd {root} || exit 1\n"
                    f"PYTHONPATH={root} exec {shlex.quote(sys.executable)} -m {DOUBLES[name]} \"$@\"\n")
    path.chmod(0o755)
    return path


def install(env: Mapping[str, str], scratch: Path) -> str:
    """Install the providers into env's PULUMI_HOME; returns what was installed, for reports."""
    real = env.get(REAL_PLUGINS) or os.environ.get(REAL_PLUGINS)
    installed = []
    for plugin in required_plugins():
        if real:
            binary = Path(real) / f"pulumi-resource-{plugin.name}"
            if not binary.is_file():
                raise FileNotFoundError(f"{REAL_PLUGINS}={real}: no {binary.name} there")
        else:
            binary = launcher(plugin.name, scratch)
        done = subprocess.run(["pulumi", "plugin", "install", "resource", plugin.name, plugin.version, "--file",
                               str(binary)], env=dict(env), capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"pulumi plugin install {plugin.name} {plugin.version}: {done.stderr.strip()}")
        installed.append(f"{plugin.name} {plugin.version} ({'real, from ' + real if real else 'double'})")
    return ", ".join(installed)
