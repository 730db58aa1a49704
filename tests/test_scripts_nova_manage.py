"""The nova-manage scripts of components/scripts/nova_manage.py, executed for real: db_sync (the release's
database sequence, cell creation guarded), nova_manage (as the nova user), the masking of
passwords nova-manage prints, and discover_hosts.

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import os
import shlex

import pytest

from components import scripts
from components.releases import LIBERTY, RELEASE_2025_1
from tests.sandbox import KILL_SCRIPT, SIGKILLED, assert_no_markers


# --------------------------------------------------------------------------------------------
# db_sync / nova_manage
# --------------------------------------------------------------------------------------------

T0 = "mysql+pymysql://{username}:{password}@{hostname}/nova_cell0"
T1 = "mysql+pymysql://{username}:{password}@{hostname}/nova"
TT = "rabbit://{username}:{password}@{hostname}:{port}/{path}"
CELLS = scripts.CellTemplates(cell0_database=T0, cell_database=T1, transport=TT)
CELL1 = "f690f4fd-2bc5-4f15-8145-db561a7b9d3d"
CELL0 = "00000000-0000-0000-0000-000000000000"

FAKE_NOVA_MANAGE = r"""
if [ -f "$STATE/fail" ] && [ "$*" = "$(cat "$STATE/fail")" ]; then echo "nova-manage: $* failed" >&2; exit 1; fi
case "$*" in
  "cell_v2 list_cells")
    echo "+-------+--------------------------------------+--------------------------+-----------------------------------------+----------+"
    echo "|  Name |                 UUID                 |      Transport URL       |           Database Connection           | Disabled |"
    echo "+-------+--------------------------------------+--------------------------+-----------------------------------------+----------+"
    echo "| cell0 | 00000000-0000-0000-0000-000000000000 |          none:/          | mysql+pymysql://nova:****@db/nova_cell0 |  False   |"
    if [ -f "$STATE/cell1" ]; then
    echo "| cell1 | f690f4fd-2bc5-4f15-8145-db561a7b9d3d | rabbit://openstack:****@mq |    mysql+pymysql://nova:****@db/nova    |  False   |"
    fi
    echo "+-------+--------------------------------------+--------------------------+-----------------------------------------+----------+"
    ;;
  "cell_v2 create_cell --name=cell1 "*)
    if [ -f "$STATE/create_cell_rc" ]; then exit "$(cat "$STATE/create_cell_rc")"; fi
    touch "$STATE/cell1"
    echo f690f4fd-2bc5-4f15-8145-db561a7b9d3d
    ;;
  "db online_data_migrations")
    # state/migrations: the exit codes of successive runs, one per line (default 0)
    n=$(cat "$STATE/migration-count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STATE/migration-count"
    rc=$(sed -n "${n}p" "$STATE/migrations" 2>/dev/null); exit "${rc:-0}"
    ;;
esac
exit 0
"""

SYNC_2025_1 = [
    "api_db sync",
    f"cell_v2 map_cell0 --database_connection {T0}",
    f"cell_v2 update_cell --cell_uuid {CELL0} --transport-url none:/// --database_connection {T0}",
    "cell_v2 list_cells",  # the cell1 lookup
    f"cell_v2 create_cell --name=cell1 --database_connection {T1} --transport-url {TT} --verbose",
    "db sync",
    "db online_data_migrations",
    "cell_v2 list_cells --verbose",
]
UPDATE_CELL1 = f"cell_v2 update_cell --cell_uuid {CELL1} --database_connection {T1} --transport-url {TT}"


@pytest.fixture
def nova_box(box):
    box.su_shim()
    box.shim("nova-manage", FAKE_NOVA_MANAGE)
    box.shim("nova-status", '[ "$*" = "upgrade check" ] || exit 64\n'
                            'echo "| Check: Cells v2 | Result: Success |"; exit "$(cat "$STATE/status-rc" 2>/dev/null || echo 0)"')
    box.shim("install")
    return box


def sync(box, upgrade_check=False):
    return box.run(scripts.db_sync(RELEASE_2025_1.db_sync, CELLS, upgrade_check))


def test_db_sync_2025_1_maps_cells_with_templates_as_nova(nova_box):
    r = sync(nova_box)

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1
    # every nova-manage ran through `su -s /bin/sh -c ... nova`, each template one argument
    assert [argv[:3] + argv[4:] for argv in nova_box.argvs("su")] == [["-s", "/bin/sh", "-c", "nova"]] * 8
    assert [shlex.split(argv[3])[0] for argv in nova_box.argvs("su")] == ["nova-manage"] * 8
    assert nova_box.argvs("nova-manage")[1] == ["cell_v2", "map_cell0", "--database_connection", T0]
    assert nova_box.calls("install") == ["-d -o nova -g nova -m 0750 /var/log/nova"]
    assert nova_box.calls()[0] == "install -d -o nova -g nova -m 0750 /var/log/nova"
    assert (nova_box.state / "cell1").exists()
    assert CELL1 in r.out


def test_db_sync_rerun_updates_the_existing_cell_to_the_templates(nova_box):
    (nova_box.state / "cell1").touch()  # e.g. mapped by hand with literal URLs

    r = sync(nova_box)

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1[:4] + [UPDATE_CELL1] + SYNC_2025_1[5:]
    # the uuid reached nova-manage through su's environment, not through the command text
    assert "CELL_UUID" in nova_box.argvs("su")[4][3]


def test_db_sync_twice_in_a_row_creates_one_cell(nova_box):
    assert sync(nova_box).rc == 0
    assert sync(nova_box).rc == 0
    assert [c for c in nova_box.calls("nova-manage") if "create_cell" in c] == [SYNC_2025_1[4]]
    assert nova_box.calls("nova-manage").count(UPDATE_CELL1) == 1


def test_db_sync_accepts_create_cell_already_exists_exit_2(nova_box):
    (nova_box.state / "create_cell_rc").write_text("2")

    r = sync(nova_box)

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1


def test_db_sync_fails_when_create_cell_fails(nova_box):
    (nova_box.state / "create_cell_rc").write_text("1")

    r = sync(nova_box)

    assert r.rc == 1
    assert nova_box.calls("nova-manage") == SYNC_2025_1[:5]  # stopped: no db sync after it


def test_db_sync_fails_when_db_sync_fails(nova_box):
    (nova_box.state / "fail").write_text("db sync")

    r = sync(nova_box)

    assert r.rc == 1
    assert "nova-manage: db sync failed" in r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1[:6]  # no migrations, no final list_cells


def test_db_sync_fails_when_api_db_sync_fails(nova_box):
    (nova_box.state / "fail").write_text("api_db sync")
    r = sync(nova_box)
    assert r.rc == 1
    assert nova_box.calls("nova-manage") == ["api_db sync"]


def test_online_data_migrations_run_until_nothing_is_left(nova_box):
    (nova_box.state / "migrations").write_text("1\n1\n0\n")
    r = sync(nova_box)
    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage").count("db online_data_migrations") == 3


@pytest.mark.parametrize("rc", ["2", "127"])
def test_online_data_migrations_errors_fail_the_step(nova_box, rc):
    (nova_box.state / "migrations").write_text(rc + "\n")
    r = sync(nova_box)
    assert r.rc == 1
    assert r.err.endswith(f"online data migrations did not finish (nova-manage exit {rc})\n")
    assert nova_box.calls("nova-manage")[-1] == "db online_data_migrations"


@pytest.mark.parametrize("rc, rc_step, says", [("0", 0, "upgrade check: ok\n"),
                                               ("1", 0, "upgrade check: passed with warnings\n"),
                                               ("2", 1, "nova-status upgrade check failed (exit 2)\n"),
                                               ("255", 1, "nova-status upgrade check failed (exit 255)\n")])
def test_the_upgrade_check_gates_the_sync(nova_box, rc, rc_step, says):
    (nova_box.state / "status-rc").write_text(rc)
    r = sync(nova_box, upgrade_check=True)
    assert r.rc == rc_step
    assert (r.out if rc_step == 0 else r.err).endswith(says)
    if rc_step:  # the report is shown when the check fails
        assert "| Check: Cells v2 | Result: Success |" in r.err
    assert nova_box.argvs("su")[-1] == ["-s", "/bin/sh", "-c", "nova-status upgrade check", "nova"]


@pytest.mark.parametrize("template", [T0 + "; id", "mysql+pymysql://nova:pw@db/nova", T1.replace("{hostname}", "$(id)")])
def test_db_sync_refuses_anything_but_a_template(template):
    with pytest.raises(ValueError):
        scripts.db_sync(RELEASE_2025_1.db_sync, scripts.CellTemplates(template, T1, TT))
    with pytest.raises(ValueError, match="need the cells' URL templates"):
        scripts.db_sync(RELEASE_2025_1.db_sync)


def test_db_sync_liberty_is_db_sync_as_nova(nova_box):
    r = nova_box.run(scripts.db_sync(LIBERTY.db_sync))

    assert r.rc == 0, r.err
    assert nova_box.argvs("su") == [["-s", "/bin/sh", "-c", "nova-manage db sync", "nova"]]
    assert nova_box.argvs("nova-manage") == [["db", "sync"]]


def test_nova_manage_builds_su_command():
    assert scripts.nova_manage("db sync") == "su -s /bin/sh -c 'nova-manage db sync' nova"


@pytest.mark.parametrize("args", [
    "db sync; rm -rf /", "$(id)", "`id`", "db sync && id", "db sync | sh", "db sync\nid",
    "db sync\n", "db 'sync'", "cell_v2 create_cell --name=$(id)", "--help", "",
])
def test_nova_manage_rejects_hostile_args(args):
    with pytest.raises(ValueError):
        scripts.nova_manage(args)


def test_db_sync_rejects_hostile_steps():
    with pytest.raises(ValueError):
        scripts.db_sync(["api_db sync", "db sync; rm -rf /"])


# --------------------------------------------------------------------------------------------
# Passwords nova-manage prints are masked
# --------------------------------------------------------------------------------------------

def test_db_sync_masks_database_passwords_nova_manage_prints(nova_box):
    """nova-manage prints cell mappings' URLs and does not mask a password it stored decoded
    (seen on a real Zed install): the step's output must not carry it."""
    nova_box.shim("nova-manage", (
        'if [ "$1 $2" = "cell_v2 list_cells" ]; then\n'
        "  echo \"| cell0 | 0000 | none:/ | mysql+pymysql://nova:db'\\\"\\$x ;\\\\:/Zz9@127.0.0.1/nova_cell0 | False |\"\n"
        "  echo \"| cell1 | f690f4fd-2bc5-4f15-8145-db561a7b9d3d | rabbit://openstack:r4bbit@mq:5672/ | mysql+pymysql://nova:****@db/nova | False |\"\n"
        "  echo \"warning: mysql+pymysql://nova:s3cret pass@db/nova\" >&2\n"
        "fi\n"
        "exit 0"))
    r = sync(nova_box)
    assert r.rc == 0, r.err
    for secret in ("Zz9", "r4bbit", "s3cret"):
        assert secret not in r.out + r.err
    assert "| cell0 | 0000 | none:/ | mysql+pymysql://nova:****@127.0.0.1/nova_cell0 | False |" in r.out
    assert "rabbit://openstack:****@mq:5672/" in r.out
    assert "warning: mysql+pymysql://nova:****@db/nova" in r.err


MASK_CASES = [
    # (line nova-manage prints, what the step shows)
    ("rabbit://u1:p1@h1:5672,u2:p2@h2:5672/", "rabbit://u1:****@h1:5672,u2:****@h2:5672/"),
    ("rabbit://a:x1@h1,b:x2@h2:5671,c:x3@[fd00::3]:5672/nova?ssl=1",
     "rabbit://a:****@h1,b:****@h2:5671,c:****@[fd00::3]:5672/nova?ssl=1"),
    ("rabbit://openstack:p@ss@mq:5672/", "rabbit://openstack:****@mq:5672/"),
    ("mysql+pymysql://nova:a:b/c#d e@f@db.example.org/nova?charset=utf8",
     "mysql+pymysql://nova:****@db.example.org/nova?charset=utf8"),
    ("rabbit://u1:p,1@h1,u2:p@2@h2:5672/vhost", "rabbit://u1:****@h1,u2:****@h2:5672/vhost"),
    ("mysql://nova:pw@[fd00::1]:3306/nova", "mysql://nova:****@[fd00::1]:3306/nova"),
    ("rabbit://:onlypass@mq//", "rabbit://:****@mq//"),
    ("(mysql://nova:pw@db)", "(mysql://nova:****@db)"),
    ("transport rabbit://u:a b@mq/ database mysql://n:c d@db/nova",
     "transport rabbit://u:****@mq/ database mysql://n:****@db/nova"),
    # a table: a URL without credentials, then one with (the first must not swallow the second)
    ("| cell1 | f690 | rabbit://mq:5672/ | mysql+pymysql://nova:pw@db/nova | False |",
     "| cell1 | f690 | rabbit://mq:5672/ | mysql+pymysql://nova:****@db/nova | False |"),
    ("mysql://nova:$(touch pwned1)`touch pwned2`'\"; touch pwned3 \\@db/nova", "mysql://nova:****@db/nova"),
    # nothing to mask: left exactly as printed
    ("mysql+pymysql://{username}:{password}@{hostname}/nova", None),
    ("none:///", None), ("rabbit://guest@mq:5672/", None), ("rabbit://mq1:5672,mq2:5672/", None),
    ("contact admin@example.org, at 10:30 | ok", None), ("mysql+pymysql://nova:****@db/nova", None),
    ("", None),
]
SECRETS = ("p1", "p2", "x1", "x2", "x3", "p@ss", "a:b", "c#d", "e@f", "p,1", "p@2", "pw", "onlypass", "a b", "c d", "pwned")


@pytest.mark.parametrize("line, shown", MASK_CASES)
def test_mask_urls_masks_every_password_and_nothing_else(box, line, shown):
    r = box.run(scripts.MASKED_FUNCTION + "\nmask_urls", stdin=(line + "\n").encode())
    assert (r.rc, r.err) == (0, "")
    assert r.out == (line if shown is None else shown) + "\n"
    if shown is not None:
        for secret in SECRETS:
            if secret in line:
                assert secret not in r.out
    assert_no_markers(box)


def test_masked_keeps_the_status_and_both_streams_and_makes_no_temp_file(box):
    box.shim("mktemp", "exit 1")  # the old `masked` kept stderr in a temp file
    box.shim("tool", 'echo "out rabbit://u:o1@mq/"; echo "err mysql://n:e1@db/x" >&2; exit 3')
    r = box.run(scripts.MASKED_FUNCTION + "\nrc=0; masked tool || rc=$?\necho \"rc=$rc\"")
    assert (r.out, r.err) == ("out rabbit://u:****@mq/\nrc=3\n", "err mysql://n:****@db/x\n")
    assert box.calls("mktemp") == []


def test_a_sync_killed_while_nova_manage_prints_a_password_leaves_it_nowhere(nova_box):
    """A kill skips the EXIT trap and every `rm`: no file may hold what nova-manage printed."""
    (nova_box.root / "tmp").mkdir()
    nova_box.shim("nova-manage", 'echo "ERROR: cannot connect to mysql+pymysql://nova:Leak3d-Sentinel@db/nova" >&2\n'
                                 'echo "cell mysql+pymysql://nova:Leak3d-Sentinel@db/nova"\n' + KILL_SCRIPT)
    script = f"export TMPDIR={nova_box.root}/tmp\n" + scripts.db_sync(RELEASE_2025_1.db_sync, CELLS)
    r = nova_box.run(script, killable=True)
    assert r.rc == SIGKILLED
    assert "Leak3d-Sentinel" not in r.out + r.err
    assert os.listdir(nova_box.root / "tmp") == []
    for path in nova_box.root.rglob("*"):
        if path.is_file() and path.parent != nova_box.bin:  # (the shim holds it, as nova's database does)
            assert b"Leak3d-Sentinel" not in path.read_bytes(), path


# --------------------------------------------------------------------------------------------
# discover_hosts
# --------------------------------------------------------------------------------------------

def test_discover_hosts_runs_once_as_nova(box):
    box.su_shim()
    box.shim("nova-manage")
    r = box.run(scripts.discover_hosts())
    assert r.rc == 0, r.err
    assert box.calls("nova-manage") == ["cell_v2 discover_hosts --verbose"]
    assert box.argvs("su") == [["-s", "/bin/sh", "-c", "nova-manage cell_v2 discover_hosts --verbose", "nova"]]
