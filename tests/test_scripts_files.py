"""The file-writing scripts of components/scripts/files.py, executed for real: write_file_from_stdin
(atomic write of stdin with owner, group and mode), render_exports (the admin openrc's exports,
sourced by bash), and as_user (the same script, stdin included, through sudo).

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from components import scripts
from tests.sandbox import HOSTILE_TEXT, KILL_SCRIPT, SIGKILLED, Result, Sandbox, assert_kill_safe, assert_no_markers, sandbox, tree


# --------------------------------------------------------------------------------------------
# write_file_from_stdin
# --------------------------------------------------------------------------------------------

def write(box: Sandbox, path: Path, content: bytes, mode: str = "0640", owner: str = "root",
          group: str = "root") -> Result:
    return box.run(scripts.write_file_from_stdin(str(path), owner, group, mode), stdin=content)


def test_write_file_creates_file_with_exact_content_and_mode(box):
    target = box.root / "etc" / "nova" / "nova.conf"
    content = b"[DEFAULT]\nmy_ip = 10.0.0.11\n\n[database]\nconnection = mysql+pymysql://nova:s3cret@db/nova\n"

    r = write(box, target, content, mode="0640")

    assert (r.rc, r.out, r.err) == (0, f"written: {target}\n", "")
    assert target.read_bytes() == content
    st = target.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (0, 0)
    # atomic: the temp file was renamed into place, nothing else is left in the directory
    assert sorted(os.listdir(target.parent)) == ["nova.conf"]


def test_write_file_other_mode(box):
    target = box.root / "admin-openrc"
    r = write(box, target, b"export OS_PASSWORD=x\n", mode="0600")
    assert r.rc == 0, r.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_file_same_content_is_unchanged_and_not_rewritten(box):
    target = box.root / "nova.conf"
    content = b"[DEFAULT]\ndebug = false\n"
    assert write(box, target, content).out == f"written: {target}\n"
    old = 1_000_000_000
    os.utime(target, (old, old))
    inode = target.stat().st_ino

    r = write(box, target, content)

    assert (r.rc, r.out, r.err) == (0, f"unchanged: {target}\n", "")
    assert target.stat().st_mtime == old
    assert target.stat().st_ino == inode
    assert target.read_bytes() == content
    assert sorted(os.listdir(box.root / ".")) == sorted(["bin", "state", "calls.log", "nova.conf"])


def test_write_file_rewrites_on_different_content(box):
    target = box.root / "nova.conf"
    write(box, target, b"old\n")
    os.utime(target, (1_000_000_000, 1_000_000_000))

    r = write(box, target, b"new\n")

    assert (r.rc, r.out) == (0, f"written: {target}\n")
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mtime != 1_000_000_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in target.parent.glob("nova.conf.*")] == []


def test_write_file_same_content_but_wrong_mode_is_fixed(box):
    """A file with the right content but the wrong mode (e.g. a world-readable nova.conf) must
    not be reported unchanged: the requested mode is the point of the step."""
    target = box.root / "nova.conf"
    target.write_bytes(b"password = s3cret\n")
    target.chmod(0o644)

    r = write(box, target, b"password = s3cret\n", mode="0640")

    assert (r.rc, r.out) == (0, f"written: {target}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == b"password = s3cret\n"
    assert write(box, target, b"password = s3cret\n", mode="0640").out == f"unchanged: {target}\n"


def test_write_file_same_content_but_wrong_group_is_fixed(box):
    target = box.root / "nova.conf"
    write(box, target, b"x = 1\n", group="root")
    assert target.stat().st_gid == 0

    r = write(box, target, b"x = 1\n", group="daemon")  # gid 1 on Debian/Ubuntu

    assert (r.rc, r.out) == (0, f"written: {target}\n")
    assert target.stat().st_gid == grp.getgrnam("daemon").gr_gid != 0


def test_write_file_hostile_content_is_written_verbatim_and_not_executed(box):
    (box.root / "precious").mkdir()
    content = HOSTILE_TEXT.format(m=box.root).encode()
    target = box.root / "openrc"

    r = write(box, target, content)

    assert (r.rc, r.out, r.err) == (0, f"written: {target}\n", "")
    assert target.read_bytes() == content
    assert_no_markers(box)
    assert (box.root / "precious").is_dir()


def test_write_file_failure_leaves_no_temp_file_and_keeps_old_file(box):
    target = box.root / "nova.conf"
    write(box, target, b"old\n")

    r = write(box, target, b"new\n", owner="no-such-user-here")

    assert r.rc != 0
    assert "no-such-user-here" in r.err
    assert target.read_bytes() == b"old\n"
    assert sorted(os.listdir(box.root)) == ["bin", "calls.log", "nova.conf", "state"]


def test_write_file_refuses_to_drop_the_file_into_a_directory(box):
    target = box.root / "nova.conf"
    target.mkdir()
    r = write(box, target, b"x\n")
    assert r.rc != 0
    assert os.listdir(target) == []


# --------------------------------------------------------------------------------------------
# write_file_from_stdin killed at any point (SIGKILL skips the EXIT trap), then run again
# --------------------------------------------------------------------------------------------

SECRET_CONF = b"[database]\nconnection = mysql+pymysql://nova:s3cret-Sentinel@db/nova\n" * 200


@pytest.mark.parametrize("before", [None, b"[database]\nconnection = old\n"])
def test_write_file_killed_at_any_point_then_rerun_leaves_exactly_the_file(before):
    def prepare(box: Sandbox):
        etc = box.root / "etc" / "nova"
        if before is not None:
            etc.mkdir(parents=True)
            (etc / "nova.conf").write_bytes(before)
            (etc / "nova.conf").chmod(0o644)
        return scripts.write_file_from_stdin(str(etc / "nova.conf"), "root", "daemon", "0640"), SECRET_CONF

    # the whole directory: the file, its owner, group and mode, and no temp file left beside it
    points = assert_kill_safe(prepare, lambda box: tree(box.root / "etc"))
    assert points >= 10  # every line of the script, the mv and the trap included
    # ...and that state is the right one
    daemon = grp.getgrnam("daemon").gr_gid
    with sandbox() as box:
        script, stdin = prepare(box)
        assert box.run(script, stdin).rc == 0
        assert tree(box.root / "etc") == {"nova/nova.conf": (SECRET_CONF, 0o640, 0, daemon)}


def test_a_kill_in_the_middle_of_the_content_leaves_the_old_file_and_the_rerun_removes_the_partial_copy(box):
    """The partial temp file holds secrets: the rerun removes it, not only its own."""
    target = box.root / "nova.conf"
    write(box, target, b"old\n")
    # `cat` writes the first 100 bytes, then the step is killed (as by a dropped SSH session)
    box.shim("cat", f"head -c 100\n{KILL_SCRIPT}")
    killed = box.run(scripts.write_file_from_stdin(str(target), "root", "root", "0640"), stdin=SECRET_CONF, killable=True)
    assert killed.rc == SIGKILLED
    leftovers = sorted(p.name for p in box.root.glob(".nova.conf.openstack-nova-tmp.*"))
    assert len(leftovers) == 1
    partial = box.root / leftovers[0]
    assert partial.read_bytes() == SECRET_CONF[:100] and stat.S_IMODE(partial.stat().st_mode) == 0o600
    assert target.read_bytes() == b"old\n"  # never truncated

    (box.bin / "cat").unlink()
    r = write(box, target, SECRET_CONF)

    assert (r.rc, r.out) == (0, f"written: {target}\n"), r.err
    assert target.read_bytes() == SECRET_CONF
    assert sorted(os.listdir(box.root)) == ["bin", "calls.log", "nova.conf", "script.pgid", "state"]


def test_the_rerun_removes_only_this_target_s_leftovers(box):
    target = box.root / "nova.conf"
    mine = [".nova.conf.openstack-nova-tmp.Ab3dE9", ".nova.conf.openstack-nova-tmp.000000"]
    others = ["nova.conf.backup",  # an admin's copy (the shape of mktemp's old `nova.conf.XXXXXX`)
              ".nova.conf.openstack-nova-tmp.keep-me",  # not mktemp's 6 characters
              ".placement.conf.openstack-nova-tmp.Ab3dE9",  # another target's, maybe in use
              "nova.conf.d"]
    for name in mine + others:
        (box.root / name).write_text("password = s3cret\n")

    r = write(box, target, b"new\n")

    assert r.rc == 0, r.err
    assert sorted(os.listdir(box.root)) == sorted(["bin", "calls.log", "state", "nova.conf", *others])
    assert target.read_bytes() == b"new\n"


@pytest.mark.parametrize("path", [
    "/tmp/a b", "/tmp/a'b", '/tmp/a"b', "/tmp/a;b", "/tmp/$(id)", "/tmp/`id`", "relative/path",
    "", "/tmp/x\n", "/tmp/x\nrm -rf /",
])
def test_write_file_rejects_bad_paths(path):
    with pytest.raises(ValueError):
        scripts.write_file_from_stdin(path, "root", "root", "0640")


@pytest.mark.parametrize("mode", ["640", "0648", "u+rw", "0640; id", "0640\n", "00640"])
def test_write_file_rejects_bad_modes(mode):
    with pytest.raises(ValueError):
        scripts.write_file_from_stdin("/etc/nova/nova.conf", "root", "root", mode)


# --------------------------------------------------------------------------------------------
# render_exports
# --------------------------------------------------------------------------------------------

def test_render_exports_round_trips_hostile_values(box):
    values = {
        "OS_PASSWORD": "it's \"quoted\" $HOME ${PATH} `touch pwned1` $(touch pwned2); touch pwned3",
        "OS_USERNAME": "  leading and trailing spaces  ",
        "OS_PROJECT_NAME": "multi\nline\n",
        "OS_AUTH_URL": "http://keystone:5000/v3?a=1&b=2#x",
        "OS_REGION_NAME": "",
        "OS_TRICKY": "back\\slash \\n ! * ? [a] ~ ' \"",
    }
    rc = box.root / "openrc"
    rc.write_text(scripts.render_exports(values))
    names = list(values)

    r = box.run(f". {rc}\n" + "".join(f'printf "%s\\0" "${name}"\n' for name in names))

    assert r.rc == 0, r.err
    assert r.err == ""
    assert r.out.split("\0")[:-1] == [values[n] for n in names]
    assert_no_markers(box)


def test_render_exports_sets_the_variables(box):
    rc = box.root / "openrc"
    rc.write_text(scripts.render_exports({"OS_USERNAME": "admin", "OS_PASSWORD": "p w"}))
    r = box.run(f". {rc}\nexec env")
    assert "OS_USERNAME=admin\n" in r.out
    assert "OS_PASSWORD=p w\n" in r.out


def test_render_exports_exact_text():
    assert scripts.render_exports({"OS_USERNAME": "admin", "OS_PASSWORD": "a'b"}) == (
        "export OS_USERNAME=admin\n"
        "export OS_PASSWORD='a'\"'\"'b'\n"
    )


@pytest.mark.parametrize("name", ["OS_X; touch pwned", "$(id)", "OS-X", "1OS", "", "OS X"])
def test_render_exports_rejects_bad_variable_names(name):
    with pytest.raises(ValueError):
        scripts.render_exports({name: "x"})


# --------------------------------------------------------------------------------------------
# as_user
# --------------------------------------------------------------------------------------------

def test_as_user_runs_the_same_script_through_sudo_with_stdin(box):
    box.shim("sudo", '[ "$1" = -n ] || exit 64\nshift\nexec "$@"')
    target = box.root / "out.txt"
    script = scripts.write_file_from_stdin(str(target), "root", "root", "0600")
    assert scripts.as_user(script, "root") == script
    r = box.run(scripts.as_user(script, "deploy"), stdin=b"it's $(secret)\n")
    assert r.rc == 0, r.err
    assert target.read_bytes() == b"it's $(secret)\n"
    assert box.argvs("sudo")[0][:3] == ["-n", "/bin/bash", "-c"]
    with pytest.raises(ValueError):
        scripts.as_user(script, "deploy; id")
