"""What nova reads from a configuration file we render: the text handed to oslo.config itself,
in a release's private venv (tools/nova_options; the option cache's, built once), not to a
reader of our own, which would share our renderer's idea of the format; and which options nova's
own definitions mark secret."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from tools import nova_options
from tools.nova_options.build import venv_env
from tools.nova_options.cache import venv_bin

PROBE = Path(__file__).with_name("oslo_config_probe.py")


def read_as_nova(texts: list[str], release: str = "2025.1") -> list[dict[str, dict[str, str]]]:
    """For each file's text: section -> option -> the value oslo.config (release's pin) reads."""
    nova_options.ensure_optdata(release)
    with tempfile.TemporaryDirectory(prefix="oslo-read-") as tmp:
        paths = []
        for i, text in enumerate(texts):
            path = Path(tmp) / f"{i}.conf"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        # nova's services run without a locale, where Python reads files as UTF-8 (PEP 538/540)
        env = {**venv_env(), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return _probe(release, "read", *paths, env=env)


def secret_options(release: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(section, option) of every option nova's definitions (release's pins) mark secret, old
    names included, and the names of keystoneauth's plugin options marked secret."""
    found = _probe(release, "secret-options", str(nova_options.ensure_optdata(release)), env=venv_env())
    return {tuple(pair) for pair in found["options"]}, set(found["auth_plugin_options"])


def _probe(release: str, *arguments: str, env: dict[str, str]):
    nova_options.ensure_optdata(release)
    done = subprocess.run([str(venv_bin(release, "python")), str(PROBE), *arguments], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
