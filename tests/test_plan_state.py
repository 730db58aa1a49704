"""The plan's kept state and files (issue 21, "Weak local files"): private folders and files,
written atomically."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

import tools.plan.__main__ as plan_command
import tools.plan.stack as plan_stack
from tools.plan.files import private_dir, write_private

PASSPHRASE = "openstack"  # the tutorial's, and its password for everything (README)
TOKEN = "Qx7vZ"  # in every secret below, and nowhere else
SECRETS = {
    "dbAdminPassword": f"{TOKEN}-db-admin-1f3a",
    "dbPassword": f"{TOKEN}-shared-9c2e",  # the same password for the database and keystone user
    "novaPassword": f"{TOKEN}-shared-9c2e",
    "rabbitPassword": f"{TOKEN}-rabbit-77d0",
    "keystoneAdminPassword": f"{TOKEN}-keystone-5b11",
    "neutronPassword": f"{TOKEN}-neutron-0a4c",
}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual one: what the plan must not rely on
    yield
    os.umask(old)


@pytest.fixture
def project(tmp_path, monkeypatch, loose_umask):
    """`./dev plan` with the project's out/ at tmp_path/out and a stack `tutorial` like the real
    one, whose secrets (SECRETS) are encrypted as the CLI would under PASSPHRASE."""
    document = yaml.safe_load(plan_stack.stack_path("tutorial").read_text())
    document["encryptionsalt"], key = plan_stack.new_encryption_salt(PASSPHRASE)
    for name, value in SECRETS.items():
        assert {"secure"} == set(document["config"][f"openstack-nova:{name}"])
        document["config"][f"openstack-nova:{name}"] = {"secure": plan_stack.encrypt_value(key, value)}
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.tutorial.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(plan_stack, "STACKS_DIR", stacks)
    monkeypatch.setattr(plan_command, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    return tmp_path


def plan(capsys, *args: str) -> tuple[int, str, str]:
    code = plan_command.main(["tutorial", "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir())


# ---------------------------------------------------------------------------------------------
# Files and folders
# ---------------------------------------------------------------------------------------------
def test_the_plan_makes_out_and_its_files_private(project, capsys):
    assert plan(capsys)[0] == 0
    out = project / "out"
    assert (mode(out), mode(out / "tutorial")) == (0o700, 0o700)
    files = outputs(out / "tutorial")
    assert {p.name for p in files} >= {"plan.txt", "plan.json", "graph.dot", "state.json"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}  # and no temporary left


def test_an_existing_loose_out_is_tightened_and_old_files_replaced_private(project, capsys):
    out = project / "out"
    (out / "tutorial").mkdir(parents=True)
    for folder in (out, out / "tutorial"):
        os.chmod(folder, 0o755)
    for name in ("plan.txt", "state.json"):  # a plan of the old tool: world-readable (no state: not JSON)
        (out / "tutorial" / name).write_text("")
        os.chmod(out / "tutorial" / name, 0o644)
    os.remove(out / "tutorial" / "state.json")
    assert plan(capsys)[0] == 0
    assert (mode(out), mode(out / "tutorial")) == (0o700, 0o700)
    assert mode(out / "tutorial" / "plan.txt") == 0o600 and mode(out / "tutorial" / "state.json") == 0o600


def test_a_file_is_never_readable_by_others_nor_half_written(tmp_path, monkeypatch, loose_umask):
    folder = private_dir(tmp_path / "a" / "b")
    assert (mode(tmp_path / "a"), mode(folder)) == (0o700, 0o700)
    target = folder / "state.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    seen = []
    real_replace = os.replace

    def replace(src, dst):  # the moment before the file appears under its name
        seen.append((Path(src).parent, mode(src), Path(src).read_text(), target.read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_private(target, "new")
    assert seen == [(folder, 0o600, "new", "old")]
    assert (target.read_text(), mode(target)) == ("new", 0o600)
    assert [p.name for p in folder.iterdir()] == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = private_dir(tmp_path / "out") / "plan.txt"
    target.write_text("old")
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_private(target, "new")
    assert [p.name for p in target.parent.iterdir()] == ["plan.txt"] and target.read_text() == "old"


def test_graph_svg_is_private_too(project, capsys, monkeypatch):
    bin_dir = project / "bin"
    bin_dir.mkdir()
    (bin_dir / "dot").write_text("#!/bin/sh\nprintf '<svg>'; cat\n")  # a stand-in Graphviz: -Tsvg on stdin
    os.chmod(bin_dir / "dot", 0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert plan(capsys)[0] == 0
    svg = project / "out" / "tutorial" / "graph.svg"
    assert svg.read_text().startswith("<svg>digraph plan {") and mode(svg) == 0o600

