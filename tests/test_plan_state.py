"""The plan's kept state and files: private folders and files,
written atomically; secret digests keyed with the stack's passphrase (not recomputable from the
file, different for equal secrets in different places); old-format and damaged state files."""
from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest
import yaml

import tools.plan.__main__ as plan_command
import tools.plan.stack as plan_stack
from tests.stack_files import encrypt_value, new_encryption_salt
from tools.plan import run_program, stack_config
from tools.plan.diff import review
from tools.plan.files import private_dir, write_private
from tools.plan.secure_values import PBKDF2_ROUNDS
from tools.plan.state import comparison_note, snapshot

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
    document["encryptionsalt"], key = new_encryption_salt(PASSPHRASE)
    for name, value in SECRETS.items():
        assert {"secure"} == set(document["config"][f"openstack-nova:{name}"])
        document["config"][f"openstack-nova:{name}"] = {"secure": encrypt_value(key, value)}
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
    """Every file the plans wrote in `folder`, its what-ifs' folders included."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


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


def test_a_plan_that_cannot_be_written_says_so_and_exits_2(project, capsys, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plan_command, "write_plan", full_disk)
    code, out, err = plan(capsys)
    assert code == 2 and err.endswith(f"error: cannot write the plan to {project / 'out' / 'tutorial'}: "
                                      "No space left on device; give --out another folder\n")


def test_graph_svg_is_private_too(project, capsys, monkeypatch):
    bin_dir = project / "bin"
    bin_dir.mkdir()
    (bin_dir / "dot").write_text("#!/bin/sh\nprintf '<svg>'; cat\n")  # a stand-in Graphviz: -Tsvg on stdin
    os.chmod(bin_dir / "dot", 0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert plan(capsys)[0] == 0
    svg = project / "out" / "tutorial" / "graph.svg"
    assert svg.read_text().startswith("<svg>digraph plan {") and mode(svg) == 0o600


def tree(folder: Path) -> dict[str, tuple[int, str]]:
    """Every path under `folder` (itself included) -> its mode and, for a file, its content."""
    return {str(p.relative_to(folder)): (os.lstat(p).st_mode, p.read_text() if p.is_file() else "")
            for p in [folder, *folder.rglob("*")]}


def test_a_stack_name_that_climbs_out_of_stacks_and_out_is_refused(project, capsys):
    """`x/../../victim/evil` read victim/evil.yaml as the stack, wrote the plan into victim/evil
    and chmodded the folders on the way (the project's own root among them) to 0700."""
    victim = project / "victim"
    victim.mkdir()
    (victim / "evil.yaml").write_text((project / "stacks" / "Pulumi.tutorial.yaml").read_text())
    (project / "stacks" / "Pulumi.x").mkdir()
    before = tree(project)
    with pytest.raises(SystemExit) as exit_:
        plan_command.main(["x/../../victim/evil", "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument stack: stack name 'x/../../victim/evil' has '/' at position 1; a stack name is 1 to 100 " \
           "letters, digits, '-', '_' and '.' (the Pulumi CLI's rule), without '..'" in err
    assert tree(project) == before


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "x" * 101, "tutorial\n"])
def test_stack_names_follow_the_cli_rule_and_stay_one_folder(project, capsys, name):
    with pytest.raises(SystemExit) as exit_:
        plan_command.main([name, "--quiet", "--out", str(project / "new")])
    assert exit_.value.code == 2 and "a stack name is 1 to 100 letters" in capsys.readouterr().err
    assert not (project / "new").exists()


def _shared_folder(project: Path) -> Path:
    shared = project / "shared"  # as /tmp: everyone's, sticky
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (shared / "plan.txt").write_text("someone else's")
    (shared / "notes").write_text("someone else's")
    return shared


@pytest.mark.parametrize("where, says", [
    (_shared_folder, "holds files the plan did not write (notes)"),
    (lambda project: project, "holds files the plan did not write (out, stacks)"),  # `--out .` in the project
    (lambda project: project / "stacks" / "Pulumi.tutorial.yaml", "is a file, not a folder"),
    (lambda project: project / "stacks" / "Pulumi.tutorial.yaml" / "plan", "cannot be made: "),
])
def test_out_writes_only_into_a_folder_of_its_own_and_changes_no_other_mode(project, capsys, where, says):
    (project / "out").mkdir()
    target = where(project)
    before = tree(project)
    code, out, err = plan(capsys, "--out", str(target))
    assert code == 2 and f"error: --out {target}: {says}" in err, err
    assert err.rstrip().endswith("give --out a new folder, or an empty one of yours")
    assert tree(project) == before  # no file written or replaced, no mode changed (the sticky bit kept)


def test_out_takes_a_new_folder_an_empty_one_of_yours_and_its_own_earlier_plan(project, capsys):
    empty = project / "empty"
    empty.mkdir(mode=0o755)
    new = project / "new" / "plan"
    for folder in (empty, new):
        assert plan(capsys, "--out", str(folder))[0] == 0
        assert mode(folder) == 0o700 and (folder / "state.json").exists()
        assert plan(capsys, "--out", str(folder))[0] == 0, "its own earlier plan"
    assert mode(project / "new") == 0o700  # made by the plan
    (empty / "notes.txt").write_text("mine")
    code, out, err = plan(capsys, "--out", str(empty))
    assert code == 2 and "holds files the plan did not write (notes.txt)" in err


def test_out_through_a_link_or_of_another_user_keeps_its_mode(project, capsys):
    elsewhere = project / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    os.chmod(elsewhere, 0o755)
    (project / "out").symlink_to(elsewhere)
    assert plan(capsys)[0] == 0
    assert mode(elsewhere) == 0o755 and mode(elsewhere / "tutorial") == 0o700  # not followed: the plan's own is
    if os.geteuid() != 0:
        return  # giving a folder to another user needs root
    shared = project / "theirs"
    shared.mkdir()
    os.chown(shared, 65534, 65534)
    os.chmod(shared, 0o775)
    code, out, err = plan(capsys, "--out", str(shared))
    assert code == 2 and f"--out {shared}: is a folder of another user" in err
    assert mode(shared) == 0o775 and not list(shared.iterdir())
    (project / "out").unlink()
    (project / "out").mkdir(mode=0o755)
    os.chown(project / "out", 65534, 65534)
    os.chmod(project / "out", 0o777)
    assert plan(capsys)[0] == 0
    assert mode(project / "out") == 0o777 and mode(project / "out" / "tutorial") == 0o700


# ---------------------------------------------------------------------------------------------
# Secret digests
# ---------------------------------------------------------------------------------------------
def test_no_secret_is_written_anywhere(project, capsys):
    code, out, err = plan(capsys)
    assert code == 0, err
    again = plan(capsys, "--set", f"rabbitPassword={TOKEN}-rotated")  # a review that shows a secret change
    assert again[0] == 0 and "2 to update, 2 to replace" in again[1]
    written = {str(p.relative_to(project / "out" / "tutorial")): p.read_bytes()
               for p in outputs(project / "out" / "tutorial")}
    assert set(written) >= {"plan.txt", "plan.json", "graph.dot", "state.json", "whatif-rabbitPassword/plan.txt",
                            "whatif-rabbitPassword/plan.json", "whatif-rabbitPassword/graph.dot"}
    for name, content in written.items():
        assert TOKEN.encode() not in content, name
    assert TOKEN not in out + err + again[1] + again[2]


def secret_digests(state: dict) -> dict[tuple[str, str], str]:
    return {(urn, key): r["digests"][key] for urn, r in state["resources"].items() for key in r["secret"]
            if key in r["digests"]}


def test_equal_secrets_in_two_places_have_different_digests(project, capsys):
    assert plan(capsys)[0] == 0
    state = json.loads((project / "out" / "tutorial" / "state.json").read_text())
    digests = secret_digests(state)
    # the shared password is the database's and the keystone user's; one ssh connection is each command's
    by_name = {state["resources"][urn]["name"]: urn for urn, _ in digests}
    shared = [digests[by_name["nova-db-mysql"], "password"], digests[by_name["nova-identity-user"], "password"]]
    assert shared[0] != shared[1]
    assert sum(1 for urn, key in digests if key == "connection") >= 10
    assert len(set(digests.values())) == len(digests)
    # and in the next file, the same secrets at the same places have other digests (its own salt)
    assert plan(capsys)[0] == 0
    later = secret_digests(json.loads((project / "out" / "tutorial" / "state.json").read_text()))
    assert later.keys() == digests.keys() and not set(later.values()) & set(digests.values())


def test_the_tutorial_password_cannot_be_guessed_from_the_state_without_the_passphrase(tmp_path):
    """The real tutorial stack (password and passphrase `openstack`): its state holds neither
    key, guesses without the passphrase's key miss, and the one derivation that hits starts with
    the passphrase provider's PBKDF2 (1,000,000 rounds), as the file says."""
    config = stack_config("tutorial")
    assert config.secrets_key is not None
    state = snapshot(run_program("tutorial", config.values, config.secret_keys), config.secrets_key)
    text = json.dumps(state)
    header = state["secret_digests"]
    assert (header["key"], header["kdf"], header["rounds"], header["mac"]) == (
        "passphrase", "pbkdf2-sha256", 1_000_000, "hmac-sha256")
    assert PBKDF2_ROUNDS == 1_000_000
    urn, user = next((u, r) for u, r in state["resources"].items() if r["name"] == "nova-identity-user")
    target = user["digests"]["password"]
    assert target.startswith("hmac-sha256:") and "password" in user["secret"]

    salt = bytes.fromhex(state["salt"])
    encryption_salt = base64.b64decode(yaml.safe_load(plan_stack.stack_path("tutorial").read_text())
                                       ["encryptionsalt"].split(":")[1])

    def guess(password: str, stack_key: bytes) -> str:  # the documented derivation
        prk = hmac.new(salt, stack_key, hashlib.sha256).digest()
        key = hmac.new(prk, b"openstack-nova plan state: secret input digests\x01", hashlib.sha256).digest()
        message = json.dumps([urn, "password", password], sort_keys=True, separators=(",", ":")).encode()
        return "hmac-sha256:" + hmac.new(key, message, hashlib.sha256).hexdigest()

    right_key = hashlib.pbkdf2_hmac("sha256", PASSPHRASE.encode(), encryption_salt, 1_000_000, 32)
    assert right_key == config.secrets_key
    assert guess(PASSPHRASE, right_key) == target  # the one way in: the passphrase, through the PBKDF2
    assert guess("0penstack", right_key) != target
    wrong_keys = [b"", salt, hashlib.pbkdf2_hmac("sha256", b"wrong", encryption_salt, 1_000_000, 32),
                  hashlib.pbkdf2_hmac("sha256", PASSPHRASE.encode(), encryption_salt, 1_000, 32)]
    assert all(guess(PASSPHRASE, k) != target for k in wrong_keys)
    cheap = [hashlib.sha256(salt + b'"openstack"').hexdigest(),
             hashlib.scrypt(b'"openstack"', salt=salt, n=2 ** 12, r=8, p=1, dklen=16).hex()]  # format 1's
    assert all(c not in target for c in cheap)
    for secret in (right_key, hmac.new(hmac.new(salt, right_key, hashlib.sha256).digest(),
                                       b"openstack-nova plan state: secret input digests\x01", hashlib.sha256).digest()):
        assert secret.hex() not in text and base64.b64encode(secret).decode() not in text


def test_placeholder_plans_say_their_digests_are_unkeyed(tmp_path, capsys, monkeypatch, loose_umask):
    monkeypatch.setattr(plan_command, "PROJECT_ROOT", tmp_path)
    code = plan_command.main(["dev", "--placeholder-secrets", "--quiet"])
    capsys.readouterr()
    assert code == 0
    state = json.loads((tmp_path / "out" / "dev" / "state.json").read_text())
    assert state["format"] == 2 and state["secret_digests"]["key"] == "none"
    assert "placeholder" in state["secret_digests"]["why"]


# ---------------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tutorial():
    config = stack_config("tutorial")
    return config.secrets_key, run_program("tutorial", config.values, config.secret_keys)


def changed(steps) -> dict[str, list[str]]:
    return {s.name: s.changed for s in steps if s.op != "same"}


def test_another_passphrase_key_shows_secrets_changed_and_says_why(tutorial):
    key, rec = tutorial
    state = snapshot(rec, key)
    assert changed(review(state, rec, key)) == {} and comparison_note(state, key) is None
    for other in (hashlib.sha256(b"another passphrase's key").digest(), None):
        steps = review(state, rec, other)
        assert changed(steps)["nova-identity-user"] == ["password"]
        assert all(set(s.changed) <= set(s.secret_changed) for s in steps)  # secrets only: the rest compares
        assert "cannot be compared" in comparison_note(state, other)


def legacy_state(rec) -> dict:
    """A state as the tool of format 1 wrote it (its code, verbatim)."""
    from tools.plan.wire import unwrap
    salt = os.urandom(16)

    def digest(value, secret):
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        if secret:
            return "scrypt:" + hashlib.scrypt(canonical, salt=salt, n=2 ** 12, r=8, p=1, dklen=16).hex()
        return "sha256:" + hashlib.sha256(salt + canonical).hexdigest()

    resources = {}
    for r in rec.resources():
        plain = unwrap(r.raw_inputs)
        secret = {path.split(".")[0].split("[")[0] for path in r.secret_inputs}
        resources[r.urn] = {
            "type": r.type, "name": r.name, "custom": r.custom, "inputs": r.inputs,
            "digests": {key: digest(plain[key], key in secret) for key in plain if key != "__defaults"},
            "secret": sorted(secret), "dependencies": r.dependencies,
            "delete": isinstance(plain.get("delete"), str) and bool(plain.get("delete")),
        }
    return {"format": 1, "stack": rec.stack, "written": "2025-01-01 00:00:00 UTC", "salt": salt.hex(),
            "resources": resources}


def test_a_format_1_state_is_compared_with_and_replaced(project, capsys):
    """Format 1 is read (its digests recomputed with its salt) so the review stays right, and the
    next plan into its folder replaces it with format 2."""
    config = stack_config("tutorial")
    kept = project / "out" / "tutorial" / "state.json"
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps(legacy_state(run_program("tutorial", config.values, config.secret_keys))))
    code, out, err = plan(capsys, "--set", f"rabbitPassword={TOKEN}-rotated")
    assert code == 0 and "2 to update, 2 to replace" in out, err
    assert "format 1" in err and "stays so" in err and json.loads(kept.read_text())["format"] == 1
    code, out, err = plan(capsys)
    assert code == 0 and "0 to update, 0 to replace, 0 to delete, 26 unchanged" in out, err
    assert "format 1" in err and "replaced now with format 2" in err
    assert json.loads(kept.read_text())["format"] == 2 and mode(kept) == 0o600


@pytest.mark.parametrize("content, says", [
    ("{not json", "not a state file"),
    (json.dumps({"format": 7, "resources": {}}), "state format 7, this tool reads 1, 2"),
    (json.dumps({"format": 2, "salt": "00" * 16, "resources": {}}), "damaged"),
    (json.dumps({"format": 2, "salt": "00" * 16, "resources": {},
                 "secret_digests": {"key": "passphrase", "key_check": "x", "rounds": 1000}}), "1000 PBKDF2 rounds"),
    (json.dumps({"format": 1, "salt": "00" * 16, "resources": {"urn:x": {"type": "t"}}}), "incomplete"),
    (json.dumps({"format": 2, "salt": "00" * 16, "resources": {}, "secret_digests": {"key": "none", "key_check": "x"}}),
     "a damaged state file of format 2 (no time it was written)"),
])
def test_a_state_this_tool_cannot_read_is_refused_in_words(project, capsys, content, says):
    kept = project / "out" / "tutorial" / "state.json"
    kept.parent.mkdir(parents=True)
    kept.write_text(content)
    code, out, err = plan(capsys)
    assert code == 2 and says in err and "delete it and plan again" in err and "Traceback" not in err
    assert kept.read_text() == content


def test_a_state_file_that_is_a_folder_is_refused_in_words(project, capsys):
    kept = project / "out" / "tutorial" / "state.json"
    kept.mkdir(parents=True)
    code, out, err = plan(capsys)
    assert code == 2 and f"error: {kept}: a folder, not a state file; remove it and plan again" in err
    assert kept.is_dir() and not list(kept.parent.glob("plan.*"))
