"""The nova-manage scripts of components/scripts.py, executed for real: db_sync (the release's
database sequence, cell creation guarded), nova_manage (as the nova user), the masking of
passwords nova-manage prints, and discover_hosts.

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import pytest

from components import scripts
from components.releases import LIBERTY, RELEASE_2025_1


# --------------------------------------------------------------------------------------------
# db_sync / nova_manage
# --------------------------------------------------------------------------------------------

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
  "cell_v2 create_cell --name=cell1 --verbose")
    if [ -f "$STATE/create_cell_rc" ]; then exit "$(cat "$STATE/create_cell_rc")"; fi
    if [ -f "$STATE/cell1" ]; then
      echo "The specified transport_url and/or database_connection combination already exists for another cell" >&2
      exit 2
    fi
    touch "$STATE/cell1"
    echo f690f4fd-2bc5-4f15-8145-db561a7b9d3d
    ;;
esac
exit 0
"""

SYNC_2025_1 = [
    "api_db sync",
    "cell_v2 map_cell0",
    "cell_v2 list_cells",  # the guard before create_cell
    "cell_v2 create_cell --name=cell1 --verbose",
    "db sync",
    "cell_v2 list_cells",
]


@pytest.fixture
def nova_box(box):
    box.su_shim()
    box.shim("nova-manage", FAKE_NOVA_MANAGE)
    box.shim("install")
    return box


def test_db_sync_2025_1_runs_the_install_guide_sequence_as_nova(nova_box):
    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1
    # every nova-manage ran through `su -s /bin/sh -c ... nova`
    assert nova_box.argvs("su") == [["-s", "/bin/sh", "-c", f"nova-manage {s}", "nova"] for s in SYNC_2025_1]
    assert nova_box.calls("install") == ["-d -o nova -g nova -m 0750 /var/log/nova"]
    assert nova_box.calls()[0] == "install -d -o nova -g nova -m 0750 /var/log/nova"
    assert (nova_box.state / "cell1").exists()
    assert "f690f4fd-2bc5-4f15-8145-db561a7b9d3d" in r.out


def test_db_sync_rerun_does_not_create_the_cell_again(nova_box):
    (nova_box.state / "cell1").touch()

    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == [s for s in SYNC_2025_1 if "create_cell" not in s]
    assert "cell cell1 exists\n" in r.out


def test_db_sync_twice_in_a_row(nova_box):
    script = scripts.db_sync(RELEASE_2025_1.db_sync)
    assert nova_box.run(script).rc == 0
    assert nova_box.run(script).rc == 0
    assert [c for c in nova_box.calls("nova-manage") if "create_cell" in c] == [SYNC_2025_1[3]]


def test_db_sync_accepts_create_cell_already_exists_exit_2(nova_box):
    (nova_box.state / "create_cell_rc").write_text("2")

    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))

    assert r.rc == 0, r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1


def test_db_sync_fails_when_create_cell_fails(nova_box):
    (nova_box.state / "create_cell_rc").write_text("1")

    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))

    assert r.rc == 1
    assert nova_box.calls("nova-manage") == SYNC_2025_1[:4]  # stopped: no db sync after it


def test_db_sync_fails_when_db_sync_fails(nova_box):
    (nova_box.state / "fail").write_text("db sync")

    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))

    assert r.rc == 1
    assert "nova-manage: db sync failed" in r.err
    assert nova_box.calls("nova-manage") == SYNC_2025_1[:5]  # the final list_cells never ran


def test_db_sync_fails_when_api_db_sync_fails(nova_box):
    (nova_box.state / "fail").write_text("api_db sync")
    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))
    assert r.rc == 1
    assert nova_box.calls("nova-manage") == ["api_db sync"]


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
        'if [ "$*" = "cell_v2 list_cells" ]; then\n'
        "  echo \"| cell0 | 0000 | none:/ | mysql+pymysql://nova:db'\\\"\\$x ;\\\\:/Zz9@127.0.0.1/nova_cell0 | False |\"\n"
        "  echo \"| cell1 | f690 | rabbit://openstack:r4bbit@mq:5672/ | mysql+pymysql://nova:****@db/nova | False |\"\n"
        "  echo \"warning: mysql+pymysql://nova:s3cret pass@db/nova\" >&2\n"
        "fi\n"
        "exit 0"))
    r = nova_box.run(scripts.db_sync(RELEASE_2025_1.db_sync))
    assert r.rc == 0, r.err
    for secret in ("Zz9", "r4bbit", "s3cret"):
        assert secret not in r.out + r.err
    assert "| cell0 | 0000 | none:/ | mysql+pymysql://nova:****@127.0.0.1/nova_cell0 | False |" in r.out
    assert "rabbit://openstack:****@mq:5672/" in r.out
    assert "warning: mysql+pymysql://nova:****@db/nova" in r.err


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
