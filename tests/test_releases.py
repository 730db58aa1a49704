"""Release knowledge as data: a nova release and a distribution's packaging are separate axes,
joined per stack by `release` and `distro`."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from components import releases
from tests.support import problems_for, settings_for
from tools.plan import PROJECT_ROOT, run_program, stack_config


def test_each_stack_gets_its_release_on_its_distribution():
    assert [(settings_for(s).release.name, settings_for(s).release.packaging.distro)
            for s in ("tutorial", "dev", "zed", "e2e")] == [("liberty", "ubuntu-14.04"), ("2025.1", "ubuntu-24.04"),
                                                           ("zed", "debian-12"), ("2025.1", "debian-13")]
    debian = settings_for("dev", distro="debian-13").release
    assert (debian.name, debian.packaging.distro, debian.release.nova_major) == ("2025.1", "debian-13", 31)


def test_distributions_package_the_same_release_differently():
    ubuntu, debian = releases.profile("2025.1", "ubuntu-24.04"), releases.profile("2025.1", "debian-13")
    assert ubuntu.release is debian.release  # one release, nova's own needs stated once
    assert "nova-novncproxy" in ubuntu.packaging.packages and "nova-consoleproxy" in debian.packaging.packages
    assert "nova-api-metadata" in debian.packaging.services and "nova-api-metadata" not in ubuntu.packaging.services
    assert ubuntu.packaging.source.line == "deb http://ubuntu-cloud.archive.canonical.com/ubuntu noble-updates/epoxy main"
    assert debian.packaging.source is None and debian.packaging.preseed and not ubuntu.packaging.preseed
    assert releases.profile("zed").packaging.distro == "debian-12"


def test_the_package_step_adds_the_source_and_checks_the_release_s_nova_version():
    config, keys = stack_config("dev", placeholder_secrets=True)
    packages = run_program("dev", config, keys).by_name("controller-packages").inputs["create"]
    assert "case \"$upstream\" in 31.*)" in packages
    assert "> /etc/apt/sources.list.d/cloudarchive-epoxy.list" in packages


def test_an_unpackaged_distro_is_a_config_error_naming_the_choices():
    assert "distro: 'debian-12' does not package release 2025.1; use one of debian-13, ubuntu-24.04" in problems_for(
        "dev", distro="debian-12")
    assert "release: 'mitaka' is not a known release; use one of 2025.1, liberty, zed" in problems_for(
        "dev", release="mitaka")


@pytest.mark.parametrize("release", sorted(releases.RELEASES))
def test_cells_v2_is_stated_not_inferred(release):
    r = releases.RELEASES[release]
    assert r.cells_v2 == ("cell0" in r.databases) == ("cell_v2 map_cell0" in r.db_sync)
    assert r.services_via_api == r.cells_v2  # Liberty asks nova-manage, which reads the database


def test_loading_the_configuration_imports_neither_pymysql_nor_pulumi():
    code = ("import sys, components.config; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pymysql', 'pulumi'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_hypervisors_do_not_depend_on_the_controller_module():
    tree = ast.parse((PROJECT_ROOT / "components" / "compute.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "components.controller" not in imported and "components.node" in imported
