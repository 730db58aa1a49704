"""The file-writing scripts of components/scripts.py, executed for real: write_file_from_stdin
(atomic write of stdin with owner, group and mode), render_openrc (sourced by bash), and as_user
(the same script, stdin included, through sudo).

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
from tests.sandbox import HOSTILE_TEXT, Result, Sandbox, assert_no_markers


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
    assert sorted(p.name for p in box.root.glob("nova.conf*")) == ["nova.conf"]


def test_write_file_refuses_to_drop_the_file_into_a_directory(box):
    target = box.root / "nova.conf"
    target.mkdir()
    r = write(box, target, b"x\n")
    assert r.rc != 0
    assert os.listdir(target) == []


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
# render_openrc
# --------------------------------------------------------------------------------------------

def test_render_openrc_round_trips_hostile_values(box):
    values = {
        "OS_PASSWORD": "it's \"quoted\" $HOME ${PATH} `touch pwned1` $(touch pwned2); touch pwned3",
        "OS_USERNAME": "  leading and trailing spaces  ",
        "OS_PROJECT_NAME": "multi\nline\n",
        "OS_AUTH_URL": "http://keystone:5000/v3?a=1&b=2#x",
        "OS_REGION_NAME": "",
        "OS_TRICKY": "back\\slash \\n ! * ? [a] ~ ' \"",
    }
    rc = box.root / "openrc"
    rc.write_text(scripts.render_openrc(values))
    names = list(values)

    r = box.run(f". {rc}\n" + "".join(f'printf "%s\\0" "${name}"\n' for name in names))

    assert r.rc == 0, r.err
    assert r.err == ""
    assert r.out.split("\0")[:-1] == [values[n] for n in names]
    assert_no_markers(box)


def test_render_openrc_exports_the_variables(box):
    rc = box.root / "openrc"
    rc.write_text(scripts.render_openrc({"OS_USERNAME": "admin", "OS_PASSWORD": "p w"}))
    r = box.run(f". {rc}\nexec env")
    assert "OS_USERNAME=admin\n" in r.out
    assert "OS_PASSWORD=p w\n" in r.out


def test_render_openrc_exact_text():
    assert scripts.render_openrc({"OS_USERNAME": "admin", "OS_PASSWORD": "a'b"}) == (
        "export OS_USERNAME=admin\n"
        "export OS_PASSWORD='a'\"'\"'b'\n"
    )


@pytest.mark.parametrize("name", ["OS_X; touch pwned", "$(id)", "OS-X", "1OS", "", "OS X"])
def test_render_openrc_rejects_bad_variable_names(name):
    with pytest.raises(ValueError):
        scripts.render_openrc({name: "x"})


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
