"""The stack's `workers`: how many processes each nova service and the uwsgi-served APIs run on
the controller (Debian's uwsgi starts 16 nova-api processes: too many for a small controller).
nova.conf carries it for the services that read it; for the APIs uwsgi serves, a step sets
`processes` in their .ini files, and their restart waits for it."""
from __future__ import annotations

import grp
import os
import stat

import pytest

from components import scripts
from components.nova_conf import render_masked
from components.template_context import CONTROLLER
from tests.sandbox import KILL_SCRIPT, SIGKILLED, assert_kill_safe, sandbox, tree
from tests.support import problems_for, record, sentinel_secrets, settings_for

DEBIAN_13 = {"release": "2025.1", "distro": "debian-13"}
WORKER_LINES = ("osapi_compute_workers = 2\n", "metadata_workers = 2\n", "[conductor]\nworkers = 2\n",
                "[scheduler]\nworkers = 2\n")


def test_unset_keeps_the_distribution_s_defaults():
    s = settings_for("dev")
    assert s.workers is None
    text = render_masked(s, s.controller, CONTROLLER)
    assert "workers" not in text


def test_set_writes_every_worker_option_of_the_controller():
    s = settings_for("dev", workers=2)
    text = render_masked(s, s.controller, CONTROLLER)
    for line in WORKER_LINES:
        assert line in text
    liberty = settings_for("tutorial", workers=3)
    text = render_masked(liberty, liberty.controller, CONTROLLER)
    assert "osapi_compute_workers = 3\n" in text and "[conductor]\nworkers = 3\n" in text
    assert "[scheduler]" not in text  # Liberty's scheduler has no workers option


@pytest.mark.parametrize("value, says", [
    (500, "workers: 500 is not a process count; use 1 to 64, or 0 for the distribution's defaults"),
    (-1, "workers: -1 is not a process count; use 1 to 64, or 0 for the distribution's defaults"),
    ("two", "workers: must be an integer, got 'two'"),
])
def test_a_bad_count_names_the_key_and_the_fix(value, says):
    assert says in problems_for("dev", workers=value)


def test_debian_s_uwsgi_apis_get_a_step_before_their_restart(box):
    rec = record("dev", secrets=sentinel_secrets(), workers=2, **DEBIAN_13)
    step = rec.by_name("controller-api-workers")
    assert rec.depends("controller-api-workers", "controller-packages")
    assert rec.depends("controller-restart", "controller-api-workers")
    # The registered step, run against Debian's two API .ini files under the sandbox's root
    # (its /etc/nova moved there: the test must not write the machine's own /etc).
    etc_nova = box.root / "etc" / "nova"
    etc_nova.mkdir(parents=True)
    for name in ("nova-api-uwsgi.ini", "nova-api-metadata-uwsgi.ini"):
        (etc_nova / name).write_text(INI)
    r = box.run(step.inputs["create"].replace("/etc/nova/", f"{etc_nova}/"))
    assert (r.rc, r.err) == (0, "")
    assert r.out == (f"written: {etc_nova}/nova-api-uwsgi.ini (processes = 2)\n"
                     f"written: {etc_nova}/nova-api-metadata-uwsgi.ini (processes = 2)\n")
    two_processes = INI.replace("processes = 4", "processes = 2").replace("  processes = 16", "  processes = 2")
    assert {p.name: p.read_text() for p in etc_nova.iterdir()} == {
        "nova-api-uwsgi.ini": two_processes, "nova-api-metadata-uwsgi.ini": two_processes}
    assert rec.depends("placement-workers", "placement-packages")
    assert rec.depends("placement-restart", "placement-workers")
    assert rec.by_name("placement-restart").inputs["triggers"] == ["[secret]", "2"]


def test_no_step_where_the_apis_read_nova_conf_or_nothing_is_set():
    ubuntu = record("dev", secrets=sentinel_secrets(), workers=2)  # Ubuntu: no uwsgi .ini of ours to edit
    unset = record("dev", secrets=sentinel_secrets(), **DEBIAN_13)
    for rec in (ubuntu, unset):
        names = {r.name for r in rec.resources()}
        assert not {"controller-api-workers", "placement-workers"} & names


INI = """[uwsgi]
# Threads and processes
enable-threads = true
processes = 4
[uwsgi]
  processes = 16
threads = 1
#processes = 99
"""


def test_the_script_sets_every_processes_line_and_keeps_the_rest(box):
    ini = box.root / "nova-api-uwsgi.ini"
    ini.write_text(INI)
    os.chmod(ini, 0o640)
    script = scripts.set_uwsgi_processes([str(ini)], 2)

    r = box.run(script)
    assert (r.rc, r.out, r.err) == (0, f"written: {ini} (processes = 2)\n", "")
    assert ini.read_text() == INI.replace("processes = 4", "processes = 2").replace("  processes = 16", "  processes = 2")
    assert stat.S_IMODE(ini.stat().st_mode) == 0o640
    again = box.run(script)
    assert (again.rc, again.out) == (0, f"unchanged: {ini}\n")


def test_the_script_refuses_a_packaging_it_does_not_know(box):
    missing = box.root / "absent.ini"
    r = box.run(scripts.set_uwsgi_processes([str(missing)], 2))
    assert (r.rc, r.err) == (1, f"{missing} is missing: not the packaging this release expects\n")
    bare = box.root / "bare.ini"
    bare.write_text("[uwsgi]\nthreads = 1\n")
    r = box.run(scripts.set_uwsgi_processes([str(bare)], 2))
    assert (r.rc, r.err) == (1, f"{bare} sets no processes\n")
    assert bare.read_text() == "[uwsgi]\nthreads = 1\n"


@pytest.mark.parametrize("path, count", [("/etc/x.ini; reboot", 2), ("/etc/$(id).ini", 2), ("relative.ini", 2),
                                         ("/etc/nova/nova-api-uwsgi.ini", 0), ("/etc/nova/nova-api-uwsgi.ini", 1000)])
def test_the_script_refuses_hostile_paths_and_counts(path, count):
    with pytest.raises(ValueError):
        scripts.set_uwsgi_processes([path], count)


# --------------------------------------------------------------------------------------------
# killed at any point, then run again: never a truncated .ini (every rerun refused one)
# --------------------------------------------------------------------------------------------

def _two_inis(box) -> str:
    etc = box.root / "etc"
    etc.mkdir()
    for name, mode in (("nova-api-uwsgi.ini", 0o640), ("nova-api-metadata-uwsgi.ini", 0o604)):
        ini = etc / name
        ini.write_text(INI)
        os.chown(ini, 0, grp.getgrnam("daemon").gr_gid)
        ini.chmod(mode)
    return scripts.set_uwsgi_processes([str(etc / "nova-api-uwsgi.ini"), str(etc / "nova-api-metadata-uwsgi.ini")], 2)


def test_killed_at_any_point_the_rerun_sets_both_files_and_keeps_owner_and_mode():
    points = assert_kill_safe(_two_inis, lambda box: tree(box.root / "etc"))
    assert points >= 20  # each file's lines, the mv of each included
    with sandbox() as box:
        assert box.run(_two_inis(box)).rc == 0
        daemon = grp.getgrnam("daemon").gr_gid
        want = INI.replace("processes = 4", "processes = 2").replace("  processes = 16", "  processes = 2").encode()
        assert tree(box.root / "etc") == {"nova-api-uwsgi.ini": (want, 0o640, 0, daemon),
                                          "nova-api-metadata-uwsgi.ini": (want, 0o604, 0, daemon)}


def test_a_kill_while_the_new_text_is_written_leaves_the_file_whole(box):
    script = _two_inis(box)
    ini = box.root / "etc" / "nova-api-uwsgi.ini"
    # sed writes part of the new text, then the step is killed
    box.shim("sed", f'/bin/sed "$@" | head -c 30\n{KILL_SCRIPT}')
    assert box.run(script, killable=True).rc == SIGKILLED
    assert ini.read_text() == INI  # not truncated: the partial text went to a temp file
    assert [p.name for p in ini.parent.glob(".nova-api-uwsgi.ini.openstack-nova-tmp.??????")] != []

    (box.bin / "sed").unlink()
    r = box.run(script)

    assert r.rc == 0, r.err
    assert r.out == f"written: {ini} (processes = 2)\nwritten: {ini.parent}/nova-api-metadata-uwsgi.ini (processes = 2)\n"
    assert sorted(os.listdir(ini.parent)) == ["nova-api-metadata-uwsgi.ini", "nova-api-uwsgi.ini"]
    assert "processes = 2\n" in ini.read_text() and "processes = 4" not in ini.read_text()
    assert (stat.S_IMODE(ini.stat().st_mode), ini.stat().st_gid) == (0o640, grp.getgrnam("daemon").gr_gid)


def test_a_symlinked_ini_is_written_through(box):
    real = box.root / "pkg" / "nova-api-uwsgi.ini"
    real.parent.mkdir()
    real.write_text(INI)
    real.chmod(0o640)
    link = box.root / "nova-api-uwsgi.ini"
    link.symlink_to(real)

    r = box.run(scripts.set_uwsgi_processes([str(link)], 3))

    assert r.rc == 0, r.err
    assert link.is_symlink() and "processes = 3\n" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert os.listdir(real.parent) == ["nova-api-uwsgi.ini"]
