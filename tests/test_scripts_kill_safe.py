"""Every node step is safe to run again after a SIGKILL at any point: the families of components/scripts not covered next to their own tests
(write_file_from_stdin: test_scripts_files; the package step: test_scripts_packages; the uwsgi
.ini step: test_workers; Liberty's dashboard settings: test_horizon).

Each test uses tests/sandbox.py's assert_kill_safe: the step runs in a fresh sandbox, killed
before its K-th command, for every K, then again; the end state (what the shims recorded the
node's tools did) must be the one an uninterrupted run leaves. And no secret a step handles
may be left in a file by a kill (a kill skips EXIT traps and every `rm`).
"""
from __future__ import annotations

import os

from components import scripts
from components.releases import RELEASE_2025_1
from tests.sandbox import KILL_SCRIPT, SIGKILLED, Sandbox, assert_kill_safe
from tests.test_scripts_nova_manage import CELLS, FAKE_NOVA_MANAGE


def no_file_holds(box: Sandbox, secret: bytes) -> None:
    """No file of the sandbox (its shims aside, which hold it as nova's database would) holds
    `secret`, nor does the step's TMPDIR hold any file."""
    assert os.listdir(box.root / "tmp") == []
    for path in box.root.rglob("*"):
        if path.is_file() and path.parent != box.bin:
            assert secret not in path.read_bytes(), path


# --------------------------------------------------------------------------------------------
# db_sync: cells are created once, the sequence ends complete
# --------------------------------------------------------------------------------------------

def sync_node(box: Sandbox) -> str:
    box.su_shim()
    box.shim("nova-manage", FAKE_NOVA_MANAGE)
    box.shim("nova-status", 'echo "| Check: Cells v2 | Result: Success |"')
    box.shim("install")
    return scripts.db_sync(RELEASE_2025_1.db_sync, CELLS, upgrade_check=True)


def sync_state(box: Sandbox):
    calls = box.calls("nova-manage")
    return ((box.state / "cell1").exists(), sum("create_cell" in c for c in calls), calls[-3:],
            box.calls("nova-status")[-1:])


def test_db_sync_killed_at_any_point_then_rerun_maps_cell1_once_and_finishes():
    points = assert_kill_safe(sync_node, sync_state)
    assert points >= 8  # each nova-manage command, the cell lookup's branches, the upgrade check


# --------------------------------------------------------------------------------------------
# placement's verification: the token is never left in a file
# --------------------------------------------------------------------------------------------

def placement_node(box: Sandbox) -> str:
    box.shim("su", 'exec /bin/sh -c "$4"')
    box.shim("sleep")
    box.shim("openstack", '[ "$*" = "token issue -f value -c id" ] && echo gAAAA-token-Sentinel')
    box.shim("placement-status")
    box.shim("curl", 'url=""; hdr=""; for a in "$@"; do case "$a" in http*) url=$a ;; @*) hdr=$(cat "${a#@}") ;; esac; done\n'
                     'case "$url" in */resource_providers) [ "$hdr" = "X-Auth-Token: gAAAA-token-Sentinel" ] && printf 200 || printf 401 ;;\n'
                     '  *) printf 200 ;; esac')
    (box.root / "openrc").write_text("export OS_USERNAME=admin\n")
    (box.root / "tmp").mkdir(exist_ok=True)
    return f"export TMPDIR={box.root}/tmp\n" + scripts.verify_placement(str(box.root / "openrc"), "http://ctl:8778")


def test_verify_placement_killed_while_curl_holds_the_token_leaves_it_in_no_file(box):
    script = placement_node(box)
    body = (box.bin / "curl").read_text().split("\n", 3)[3]  # the shim's body, without its header
    # killed during the authenticated request (the one given headers from @file or @- stdin)
    box.shim("curl", 'case "$*" in *" -H @"*) ' + KILL_SCRIPT + ' ;; esac\n' + body)
    assert box.run(script, killable=True).rc == SIGKILLED
    no_file_holds(box, b"gAAAA-token-Sentinel")


def test_verify_placement_killed_at_any_point_then_rerun_passes():
    points = assert_kill_safe(placement_node, lambda box: os.listdir(box.root / "tmp"))
    assert points >= 8


# --------------------------------------------------------------------------------------------
# services: restarts, the reload of the dashboard's web server, a hypervisor's removal
# --------------------------------------------------------------------------------------------

SERVICES = ["nova-api", "nova-scheduler", "nova-conductor"]
# systemctl ACTION NAME / service NAME ACTION: state/<name> holds the last action
SERVICE_TOOLS = {"systemctl": 'echo "$1" > "$STATE/$2"', "service": 'echo "$2" > "$STATE/$1"'}


def services_node(box: Sandbox) -> str:
    for name, body in SERVICE_TOOLS.items():
        box.shim(name, body)
    return scripts.restart_services(SERVICES)


def test_restart_services_killed_at_any_point_then_rerun_restarts_every_service():
    assert assert_kill_safe(services_node, lambda box: {s: (box.state / s).read_text() for s in SERVICES}) >= len(SERVICES)


def reload_node(box: Sandbox) -> str:
    for name, body in SERVICE_TOOLS.items():
        box.shim(name, body if name == "systemctl" else 'case "$2" in status) exit 0 ;; *) echo "$2" > "$STATE/$1" ;; esac')
    box.shim("a2enconf", 'touch "$STATE/enabled-$2"')
    return scripts.reload_service("apache2", first=scripts.enable_apache_conf("openstack-nova-dashboard"))


def test_the_dashboard_reload_killed_at_any_point_then_rerun_enables_and_reloads():
    assert assert_kill_safe(reload_node, lambda box: ((box.state / "apache2").read_text(),
                                                      (box.state / "enabled-openstack-nova-dashboard").exists())) >= 3


def removal_node(box: Sandbox) -> str:
    # nova's records: state/services, one id per line; delete removes one
    (box.state / "services").write_text("3f1c2b9e-0001\n3f1c2b9e-0002\n")
    box.shim("openstack", 'case "$*" in\n'
                          '  "compute service list --host compute2 --service nova-compute -f value -c ID") cat "$STATE/services" ;;\n'
                          '  "compute service set --disable "*) touch "$STATE/disabled" ;;\n'
                          '  "compute service delete "*) grep -vx "$4" "$STATE/services" > "$STATE/left" || true; mv "$STATE/left" "$STATE/services" ;;\n'
                          'esac')
    (box.root / "openrc").write_text("export OS_USERNAME=admin\n")
    roster = box.root / "roster" / "hypervisors"
    if not roster.exists():  # the stack had compute1 and compute2; compute2 leaves
        roster.parent.mkdir(exist_ok=True)
        roster.write_text("compute1\ncompute2\n")
    return scripts.retire_departed_hypervisors(str(box.root / "openrc"), True, ["compute1"], roster=str(roster))


def test_removing_a_hypervisor_killed_at_any_point_then_rerun_removes_every_record():
    points = assert_kill_safe(removal_node, lambda box: ((box.state / "services").read_text(),
                                                         (box.state / "disabled").exists(),
                                                         (box.root / "roster" / "hypervisors").read_text()))
    assert points >= 5
