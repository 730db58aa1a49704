"""What nova reads from a configuration file we render: the text handed to oslo.config itself,
in a release's private venv (tools/nova_options; the option cache's, built once), not to a
reader of our own, which would share our renderer's idea of the format."""
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
        done = subprocess.run([str(venv_bin(release, "python")), str(PROBE), *paths], capture_output=True,
                              text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
