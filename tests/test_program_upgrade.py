"""Upgrading the program changes nothing deployed: every stack planned with the program as it
was at BASELINE, then with the program as it is, against that state, shows no update, replace or
delete (a resource that moved keeps its identity through `aliases`), and creates nothing but the
file watches (components/file_watch.py), which run nothing on the nodes.

This guards every refactoring of the components. BASELINE is the program as it changed
deployments last, on purpose (the hypervisors' verification after the controller's restart, the
roster that alone removes hypervisors from nova: each hypervisor's verify and the controller's
are replaced once, the service records updated to no delete, the roster created); move it
forward only with a change that is meant to touch deployments, and say so in that commit.

It runs the offline plan (the mock runtime), whose URNs follow the mock's scheme: the same check
under the real `pulumi` CLI is not possible on these machines (its language host and providers
cannot be built here; README says so)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.test_migration import dev_hypervisors
from tools.plan import PROJECT_ROOT
from tools.plan.stack import known_stacks, stack_path

BASELINE = "8e0a9c800abce947074b3cf7d971dff863356a57"
# The program just before placement became a component of the program's own (an alias).
BEFORE_PLACEMENT_MOVED = "cae8f257935883ac835769dcf004220ae441be7a"
# The program just before each hypervisor's migration check waited for one marker and named its
# peers one line each (its plan grew with the square of the hypervisor count), with the offline
# plan's placeholder nova key as it is now (OpenSSH's format).
BEFORE_MIGRATION_CHECKS_SCALED = "f12209ab48841a4fc611095f73819301f7f702ef"
# The program just before the file watches (a refresh sees drift of the nodes' files).
BEFORE_FILE_WATCHES = "53755ca5a092dd04aca2f6cd1d13f7eae1f5b8b0"
NOTHING = "0 to update, 0 to replace, 0 to delete"
WATCH = "pulumi-python:dynamic/files:FileWatch"


def changes(out: Path) -> dict[str, str]:
    """What the plan in `out` changes, by resource name (unchanged ones left out)."""
    steps = json.loads((out / "plan.json").read_text())["steps"]
    return {step["urn"].rsplit("::", 1)[-1]: step["op"] for step in steps if step["op"] != "same"}


def watches(out: Path) -> dict[str, str]:
    steps = json.loads((out / "plan.json").read_text())["steps"]
    return {step["urn"].rsplit("::", 1)[-1]: "create" for step in steps if step["newState"]["type"] == WATCH}


def plan(root: Path, stack: str, out: Path, against: Path | None = None, settings: dict | None = None) -> str:
    """`./dev plan` of `root`'s program; `settings` (KEY: value) planned as a what-if (--set)."""
    args = [sys.executable, "-m", "tools.plan", stack, "--quiet", "--out", str(out)]
    for key, value in (settings or {}).items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    if stack != "tutorial":  # the tutorial's secrets are encrypted with the documented passphrase
        args.append("--placeholder-secrets")
    if against is not None:
        args += ["--against", str(against)]
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PULUMI_CONFIG_PASSPHRASE": "openstack"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def program_at(commit: str, root: Path) -> Path:
    """The program at `commit`, extracted from this repository's history into `root`."""
    done = subprocess.run(["git", "archive", commit], cwd=PROJECT_ROOT, capture_output=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"git archive {commit} failed (a clone with history is needed): "
                    f"{done.stderr.decode(errors='replace').strip()}", pytrace=False)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(root, filter="data")
    return root


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """The program at BASELINE with today's stack files: what is compared is the program, not a
    stack's own later edits (the e2e stack's second hypervisor is a change of that stack, meant
    to deploy more)."""
    root = program_at(BASELINE, tmp_path_factory.mktemp("baseline"))
    for stack_file in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"):
        (root / "stacks" / stack_file.name).write_text(stack_file.read_text())
    return root


@pytest.mark.parametrize("stack", known_stacks())
def test_the_program_upgrade_changes_nothing_deployed(baseline, tmp_path, stack):
    plan(baseline, stack, tmp_path / "before")
    text = plan(PROJECT_ROOT, stack, tmp_path / "after", against=tmp_path / "before")
    summary = text[text.index("Summary"):].splitlines()[1].strip()
    assert NOTHING in summary, summary
    assert changes(tmp_path / "after") == watches(tmp_path / "after")  # every create a file watch


def test_a_moved_resource_is_the_same_resource(tmp_path):
    """Placement was the controller's child; the program builds it now, aliased: the review
    matches it to its old URN (as the engine does) instead of a delete and a create."""
    plan(program_at(BEFORE_PLACEMENT_MOVED, tmp_path / "program"), "dev", tmp_path / "before")
    plan(PROJECT_ROOT, "dev", tmp_path / "after", against=tmp_path / "before")
    text = (tmp_path / "after" / "plan.txt").read_text()
    assert ("same: moved from urn:pulumi:dev::openstack-nova::openstack-nova:components:ControllerNode"
            "$openstack-nova:components:Placement::placement (alias)") in text


def upgraded_dev(commit: str, settings: dict, tmp_path: Path) -> dict[str, str]:
    """The dev stack with `settings`, deployed by the program at `commit`, then planned with the
    program as it is: what changes, by resource name."""
    before = program_at(commit, tmp_path / "program")
    # its stack file holds the settings: a what-if (--set) would leave no state to compare with
    stack_file = yaml.safe_load(stack_path("dev").read_text())
    stack_file["config"].update({f"openstack-nova:{key}": value for key, value in settings.items()})
    (before / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack_file))
    plan(before, "dev", tmp_path / "before")
    plan(PROJECT_ROOT, "dev", tmp_path / "after", against=tmp_path / "before", settings=settings)
    return changes(tmp_path / "after")


def test_a_migrating_stack_runs_its_migration_checks_once_more_and_changes_nothing_else(tmp_path):
    """A deployed stack with `migration`, upgraded to the checks that scale: each hypervisor's
    `migration-check` is replaced (its script names each peer on one line, and its triggers are
    the digest alone, which covers the peers' names and addresses through the known hosts) and
    the `migration-peers-ready` marker is created, which does nothing. A check changes nothing on
    its node and has no delete, so the upgrade runs each check once more: no file is written
    again, nothing restarts. (The file watches, since, are created too.)"""
    changed = upgraded_dev(BEFORE_MIGRATION_CHECKS_SCALED,
                           {"migration": {"enabled": True}, "hypervisors": dev_hypervisors(3)}, tmp_path)
    assert changed == {**{f"compute{i}-migration-check": "replace" for i in (1, 2, 3)},
                       "migration-peers-ready": "create", **watches(tmp_path / "after")}


def test_a_deployed_stack_gets_its_file_watches_and_nothing_runs_again(tmp_path):
    """The file watches' upgrade, on a stack that writes every kind of file (nova.conf, the
    hypervisors' driver conf, placement.conf, the openrc, Horizon's settings, migration's SSH
    files): a watch is created per written file (no SSH: create records what the file should
    be), and no write step, restart, verify or migration check changes, since a trigger is what
    it was while no file was repaired (generation 0). The first refresh after the upgrade then
    reads every file."""
    created = upgraded_dev(BEFORE_FILE_WATCHES, {"migration": {"enabled": True}, "hypervisors": dev_hypervisors(2)},
                           tmp_path)
    assert set(created.values()) == {"create"} and created == watches(tmp_path / "after")
    assert sorted(created) == sorted(f"{node}-{step}-watch" for node, steps in (
        ("controller", ("nova-conf", "openrc")), ("placement", ("conf",)), ("dashboard", ("settings",)),
        *((f"compute{i}", ("nova-conf", "compute-conf", "nova-ssh-key", "nova-authorized-keys", "nova-known-hosts",
                           "libvirt-ssh-config")) for i in (1, 2))) for step in steps)
