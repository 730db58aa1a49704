"""The phase timings of the labs of a session, printed in pytest's terminal summary (a plugin
registered on first use: tests/e2e/conftest.py need not change) and kept in
STATE_DIR/last-timings.json. Under pytest-xdist the lab runs in a worker, whose terminal nobody
sees: the worker hands its summary to the controller (`workeroutput["summary_sections"]`), which
prints it (tests/conftest.py)."""
from __future__ import annotations

import json
from typing import Dict, List, Tuple

import pytest

from lab.common import STATE_DIR

PLUGIN = "nova-e2e-hosts-timings"
TITLE = "e2e test hosts: phase timings (seconds)"
ORDER = ("leftovers_s", "root_build_s", "root_base_s", "root_node_s", "root_services_s", "root_hypervisor_s", "network_s", "accounts_s",
         "hosts_s", "libvirt_s", "services_s", "services_keystone_s", "services_placement_s", "services_glance_s", "services_network_s", "services_browser_s",
         "deploy_s", "package_install_s", "assertions_s", "teardown_s")


class _Report:
    def __init__(self) -> None:
        self.sections: List[Tuple[str, Dict[str, float]]] = []
        self.lines: List[str] = []

    def rendered(self) -> List[str]:
        lines = []
        for label, timings in self.sections:
            keys = [k for k in ORDER if k in timings] + sorted(k for k in timings if k not in ORDER)
            lines.append(f"{label}: " + ", ".join(f"{k[:-2]} {timings[k]}" for k in keys))
        return lines + self.lines

    def pytest_sessionfinish(self, session) -> None:
        try:
            (STATE_DIR / "last-timings.json").write_text(json.dumps(dict(self.sections), indent=2))
        except OSError:
            pass
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller prints it
            workeroutput.setdefault("summary_sections", []).append((TITLE, self.rendered()))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if hasattr(terminalreporter.config, "workerinput"):
            return
        terminalreporter.section(TITLE)
        for line in self.rendered():
            terminalreporter.write_line(line)


def _plugin(config: pytest.Config) -> _Report:
    plugin = config.pluginmanager.get_plugin(PLUGIN)
    if plugin is None:
        plugin = _Report()
        config.pluginmanager.register(plugin, PLUGIN)
    return plugin


def report_timings(config: pytest.Config, label: str, timings: Dict[str, float]) -> None:
    """Show `timings` (the dict itself: what is added later shows too) in the summary."""
    _plugin(config).sections.append((label, timings))


def report_lines(config: pytest.Config, lines: List[str]) -> None:
    """Show these lines (the engine's timing table) after the timings."""
    _plugin(config).lines.extend(lines)
