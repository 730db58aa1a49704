"""The service scripts of components/scripts/services.py, executed for real: restart_services,
verify_services (nova's service listing, per release and per host, then the API checks) and
verify_http.

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from components import scripts
from components.releases import LIBERTY, RELEASE_2025_1, profile

UBUNTU_2025_1 = profile("2025.1", "ubuntu-24.04")
from tests.sandbox import Result, Sandbox


# --------------------------------------------------------------------------------------------
# restart_services
# --------------------------------------------------------------------------------------------

@pytest.fixture
def restart_box(box):
    box.shim("systemctl", '[ "$2" != "$(cat "$STATE/broken" 2>/dev/null)" ] || exit 1')
    box.shim("service", '[ "$1" != "$(cat "$STATE/broken" 2>/dev/null)" ] || exit 1')
    return box


def restarts(box: Sandbox) -> list[str]:
    """The services restarted, through whichever tool the script picked on this machine."""
    if os.path.isdir("/run/systemd/system"):
        assert box.calls("service") == []
        return [c.removeprefix("restart ") for c in box.calls("systemctl")]
    assert box.calls("systemctl") == []
    return [c.removesuffix(" restart") for c in box.calls("service")]


def test_restart_services_restarts_each_once_in_order(restart_box):
    services = list(UBUNTU_2025_1.packaging.services)

    r = restart_box.run(scripts.restart_services(services))

    assert (r.rc, r.err) == (0, "")
    assert restarts(restart_box) == services
    # nova's documented restart order on upgrades: conductor, scheduler, then the API
    assert r.out == "restarted: nova-conductor nova-scheduler nova-api nova-novncproxy\n"


def test_restart_services_stops_on_a_failed_restart(restart_box):
    (restart_box.state / "broken").write_text("nova-scheduler")

    r = restart_box.run(scripts.restart_services(["nova-api", "nova-scheduler", "nova-conductor"]))

    assert r.rc == 1
    assert restarts(restart_box) == ["nova-api", "nova-scheduler"]
    assert "restarted" not in r.out


@pytest.mark.parametrize("name", ["nova-api; reboot", "$(id)", "`id`", "nova api", "", "nova-api\n",
                                  "-H", "--now"])
def test_restart_services_rejects_hostile_names(name):
    with pytest.raises(ValueError):
        scripts.restart_services(["nova-api", name])


# --------------------------------------------------------------------------------------------
# verify_services
# --------------------------------------------------------------------------------------------

# The fake listing: the n-th call prints state/listing.<n> if it exists, else state/listing.
# state/listing-rc.<n> makes the n-th call fail with that exit code.
LISTING = (
    'n=$(cat "$STATE/list-count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STATE/list-count"\n'
    'if [ -f "$STATE/listing-rc.$n" ]; then echo "listing failed" >&2; exit "$(cat "$STATE/listing-rc.$n")"; fi\n'
    'if [ -f "$STATE/listing.$n" ]; then cat "$STATE/listing.$n"; else cat "$STATE/listing"; fi\n'
)
# API check commands log the openrc variable they see, proving the openrc was sourced.
API_CHECK = 'echo "$* OS_TEST_MARKER=${OS_TEST_MARKER-unset}" >> "$STATE/api-checks"'

OPENSTACK_SHIM = (
    'if [ "$*" = "compute service list -f value -c Binary -c State -c Updated At" ]; then\n'
    f"{LISTING}"
    "  exit 0\n"
    "fi\n"
    f"{API_CHECK}"
)


def openrc(box: Sandbox) -> Path:
    path = box.root / "admin-openrc"
    path.write_text(scripts.render_exports({"OS_TEST_MARKER": "sourced it", "OS_USERNAME": "admin"}))
    return path


def listing(box: Sandbox, text: str, call: int | None = None) -> None:
    (box.state / (f"listing.{call}" if call else "listing")).write_text(text)


def api_checks(box: Sandbox) -> list[str]:
    path = box.state / "api-checks"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def os_box(box):
    box.shim("openstack", OPENSTACK_SHIM)
    box.shim("date", f"echo {NOW}")
    box.shim("sleep")
    return box


def verify_2025(box: Sandbox, attempts: int = 30, delay: int = 5) -> Result:
    return box.run(scripts.verify_services(str(openrc(box)), True, RELEASE_2025_1.expected_up,
                                           RELEASE_2025_1.api_checks, attempts, delay))


# The verify step starts at NOW (the sandbox's `date`); a heartbeat after it is FRESH.
NOW, FRESH, STALE = "2026-11-28T10:00:00", "2026-11-28T10:00:05.000000", "2026-11-28T09:59:20.000000"
ALL_UP = f"nova-conductor up {FRESH}\nnova-scheduler up {FRESH}\nnova-compute up {FRESH}\n"
SCHEDULER_DOWN = f"nova-conductor up {FRESH}\nnova-scheduler down {FRESH}\nnova-compute up {FRESH}\n"


def test_verify_openstack_all_up_runs_the_api_checks(os_box):
    listing(os_box, ALL_UP)

    r = verify_2025(os_box)

    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "nova services up: nova-conductor nova-scheduler\n"
        "ok: openstack catalog show compute\n"
        "ok: openstack image list\n"
    )
    assert api_checks(os_box) == [
        "catalog show compute OS_TEST_MARKER=sourced it",
        "image list OS_TEST_MARKER=sourced it",
    ]
    assert os_box.calls("date") == ["-u +%Y-%m-%dT%H:%M:%S"]
    assert os_box.calls("sleep") == []


def test_verify_openstack_service_down_fails_naming_it(os_box):
    listing(os_box, SCHEDULER_DOWN)

    r = verify_2025(os_box, attempts=3, delay=7)

    assert r.rc == 1
    assert r.err == f"nova services not up (no heartbeat since {NOW}) after 21s: nova-scheduler\n"
    assert (os_box.state / "list-count").read_text() == "3\n"
    assert api_checks(os_box) == []


def test_verify_openstack_names_every_down_service(os_box):
    listing(os_box, f"nova-conductor down {FRESH}\nnova-compute up {FRESH}\n")  # scheduler missing altogether
    r = verify_2025(os_box, attempts=2, delay=1)
    assert r.rc == 1
    assert r.err == f"nova services not up (no heartbeat since {NOW}) after 2s: nova-conductor nova-scheduler\n"


def test_verify_needs_a_heartbeat_from_after_the_restart(os_box):
    """The restarted scheduler never came back: its old process's last heartbeat still shows
    it "up" (for service_down_time), which must not pass; a fresh heartbeat does."""
    stale = f"nova-conductor up {FRESH}\nnova-scheduler up {STALE}\n"
    listing(os_box, stale)
    r = verify_2025(os_box, attempts=3, delay=1)
    assert r.rc == 1
    assert r.err == f"nova services not up (no heartbeat since {NOW}) after 3s: nova-scheduler\n"

    (os_box.state / "list-count").unlink()
    listing(os_box, stale, call=1)
    listing(os_box, ALL_UP)
    assert verify_2025(os_box, attempts=3, delay=1).rc == 0


def test_verify_openstack_waits_until_services_come_up(os_box):
    listing(os_box, SCHEDULER_DOWN, call=1)
    (os_box.state / "listing-rc.2").write_text("1")  # the API is not answering yet
    listing(os_box, ALL_UP)

    r = verify_2025(os_box, attempts=5, delay=5)

    assert r.rc == 0, r.err
    assert r.out.startswith("nova services up: nova-conductor nova-scheduler\n")
    assert (os_box.state / "list-count").read_text() == "3\n"
    assert os_box.calls("sleep") == ["5", "5"]
    assert len(api_checks(os_box)) == 2


def test_verify_fails_when_an_api_check_fails(os_box):
    listing(os_box, ALL_UP)
    os_box.shim("openstack", OPENSTACK_SHIM.replace(API_CHECK, '[ "$1" = image ] && exit 3\n' + API_CHECK))
    r = verify_2025(os_box)
    assert r.rc == 3
    assert "ok: openstack catalog show compute\n" in r.out and "ok: openstack image list" not in r.out


LIBERTY_HEADER = "Binary           Host                                 Zone             Status     State Updated_At\n"


def liberty_row(binary: str, state: str) -> str:
    return f"{binary:<16} controller                           internal         enabled    {state}   2026-11-28 10:00:05\n"


def liberty_listing(down: tuple[str, ...] = ()) -> str:
    return LIBERTY_HEADER + "".join(
        liberty_row(b, "XXX" if b in down else ":-)")
        for b in ("nova-cert", "nova-consoleauth", "nova-scheduler", "nova-conductor", "nova-compute"))


@pytest.fixture
def liberty_box(box):
    box.su_shim()
    box.shim("nova-manage", '[ "$*" = "service list" ] || exit 64\n'
                            'echo "Option \\"verbose\\" from group \\"DEFAULT\\" is deprecated" >&2\n' + LISTING)
    box.shim("nova", API_CHECK)
    box.shim("date", f"echo {NOW}")
    box.shim("sleep")
    return box


def verify_liberty(box: Sandbox, attempts: int = 30, delay: int = 5) -> Result:
    return box.run(scripts.verify_services(str(openrc(box)), False, LIBERTY.expected_up,
                                           LIBERTY.api_checks, attempts, delay))


def test_verify_nova_manage_all_up(liberty_box):
    listing(liberty_box, liberty_listing())

    r = verify_liberty(liberty_box)

    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "nova services up: nova-conductor nova-scheduler nova-consoleauth nova-cert\n"
        "ok: nova service-list\n"
        "ok: nova image-list\n"
    )
    assert liberty_box.argvs("su") == [["-s", "/bin/sh", "-c", "nova-manage service list", "nova"]]
    assert api_checks(liberty_box) == ["service-list OS_TEST_MARKER=sourced it",
                                       "image-list OS_TEST_MARKER=sourced it"]


def test_verify_nova_manage_service_down_fails(liberty_box):
    listing(liberty_box, liberty_listing(down=("nova-cert", "nova-scheduler")))

    r = verify_liberty(liberty_box, attempts=4, delay=5)

    assert r.rc == 1
    assert r.err == f"nova services not up (no heartbeat since {NOW}) after 20s: nova-scheduler nova-cert\n"
    assert (liberty_box.state / "list-count").read_text() == "4\n"
    assert api_checks(liberty_box) == []


def test_verify_nova_manage_waits_until_up(liberty_box):
    listing(liberty_box, liberty_listing(down=("nova-conductor",)), call=1)
    listing(liberty_box, liberty_listing(down=("nova-conductor",)), call=2)
    listing(liberty_box, liberty_listing())

    r = verify_liberty(liberty_box, attempts=10, delay=2)

    assert r.rc == 0, r.err
    assert (liberty_box.state / "list-count").read_text() == "3\n"
    assert liberty_box.calls("sleep") == ["2", "2"]


def test_verify_rejects_bad_arguments():
    with pytest.raises(ValueError):
        scripts.verify_services("/root/admin-openrc", True, ["nova-api; reboot"], [])
    with pytest.raises(ValueError):  # zero attempts would report success without checking
        scripts.verify_services("/root/admin-openrc", True, ["nova-api"], [], attempts=0)


# --------------------------------------------------------------------------------------------
# verify_services for one host (hypervisors)
# --------------------------------------------------------------------------------------------

def test_verify_one_host_asks_about_that_host_only(box):
    box.shim("openstack", 'if [ "$*" = "compute service list --host compute1 -f value -c Binary -c State -c Updated At" ]; then\n'
                          f"{LISTING}  exit 0\nfi\nexit 64")
    box.shim("sleep")
    box.shim("date", f"echo {NOW}")
    listing(box, f"nova-compute down {FRESH}\n", call=1)
    listing(box, f"nova-compute up {FRESH}\n")
    r = box.run(scripts.verify_services(str(openrc(box)), True, ["nova-compute"], (), 5, 1, host="compute1"))
    assert (r.rc, r.out) == (0, "nova services up: nova-compute\n"), r.err
    assert box.calls("sleep") == ["1"]


def test_verify_one_host_with_nova_manage_ignores_other_hosts(liberty_box):
    other = "nova-compute     compute2                             nova             enabled    :-)   2026-11-28 10:00:05\n"
    mine = "nova-compute     compute1                             nova             enabled    XXX   2026-11-28 10:00:05\n"
    listing(liberty_box, LIBERTY_HEADER + other + mine)
    r = liberty_box.run(scripts.verify_services(str(openrc(liberty_box)), False, ["nova-compute"], (), 2, 1,
                                                host="compute1"))
    assert r.rc == 1
    assert r.err == f"nova services not up (no heartbeat since {NOW}) after 2s: nova-compute\n"


HOSTILE_HOSTS = ["compute1; reboot", "$(id)", "`id`", "a b", '"x"', "x'y", "{}", "{host}", "a\\b", "compute1\n",
                 "compute1\nid", 'compute1" || system("id") || "']


@pytest.mark.parametrize("via_api", [True, False])
@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_verify_refuses_hostile_host(host, via_api):
    with pytest.raises(ValueError):
        scripts.verify_services("/root/admin-openrc", via_api, ["nova-compute"], (), host=host)


@pytest.mark.parametrize("value", ['a"b', "a\\b", "a\nb", "a\tb"])
def test_an_awk_string_refuses_what_it_would_have_to_escape(value):
    from components.scripts.base import awk_string

    with pytest.raises(ValueError):
        awk_string(value)


def test_a_hostile_openrc_path_is_sourced_as_it_is_and_runs_nothing(os_box):
    from tests.sandbox import assert_no_markers

    # (the script runs in the sandbox's root, where assert_no_markers looks)
    directory = os_box.root / "x'; touch pwned1; echo ' $(touch pwned2) `touch pwned3` {} {0}\nz"
    directory.mkdir()
    path = directory / "admin-openrc"
    path.write_text(openrc(os_box).read_text())
    listing(os_box, ALL_UP)

    r = os_box.run(scripts.verify_services(str(path), True, RELEASE_2025_1.expected_up, RELEASE_2025_1.api_checks))

    assert (r.rc, r.err) == (0, "")
    assert api_checks(os_box) and all(c.endswith("OS_TEST_MARKER=sourced it") for c in api_checks(os_box))
    assert_no_markers(os_box)


# --------------------------------------------------------------------------------------------
# verify_http
# --------------------------------------------------------------------------------------------

def test_verify_http_waits_for_a_success_or_redirect(box):
    box.shim("sleep")
    box.shim("curl", 'n=$(cat "$STATE/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$STATE/n"\n'
                     '[ "$n" -lt 3 ] && { printf 000; exit 7; }\nprintf 302')
    r = box.run(scripts.verify_http("http://10.0.0.6/horizon/", attempts=5, delay=2))
    assert (r.rc, r.out) == (0, "http://10.0.0.6/horizon/ answers 302\n"), r.err
    assert box.calls("sleep") == ["2", "2"]


def test_verify_http_fails_with_the_last_status(box):
    box.shim("sleep")
    box.shim("curl", "printf 500")
    r = box.run(scripts.verify_http("http://10.0.0.6/horizon/", attempts=3, delay=4))
    assert r.rc == 1
    assert r.err == "http://10.0.0.6/horizon/ did not answer after 12s (last status 500)\n"


@pytest.mark.parametrize("script", [
    scripts.verify_http("http://10.0.0.6/horizon/"), scripts.verify_login_page("http://10.0.0.6/"),
    scripts.verify_placement("/root/admin-openrc", "http://10.0.0.6:8778")], ids=["http", "login", "placement"])
def test_a_verify_without_curl_says_so_at_once(box, script):
    """A node without curl (Debian's minimal install has none): the verify fails at once naming
    it, instead of reporting "status 000" until its wait runs out."""
    box.shim("sleep")
    r = box.run(script, path=str(box.bin))  # nothing but the shims: no curl
    assert (r.rc, r.out, r.err) == (127, "", "curl is not installed on this node (its package step installs it)\n")
    assert box.calls() == []


@pytest.mark.parametrize("running, calls, says", [
    (True, ["apache2 status", "apache2 reload"], "apache2 reloaded\n"),
    (False, ["apache2 status", "apache2 start"], "apache2 started (it was not running)\n"),
])
def test_a_reload_starts_a_server_that_is_not_running(box, running, calls, says):
    box.shim("service", f'[ "$2" != status ] || exit {0 if running else 3}')
    r = box.run(scripts.reload_service("apache2"))
    assert (r.rc, r.out, r.err) == (0, says, "")
    assert box.calls("service") == calls


def test_a_failing_start_fails_the_step(box):
    box.shim("service", '[ "$2" != status ] || exit 3\necho "apache2: Invalid command SSLEngine" >&2; exit 1')
    r = box.run(scripts.reload_service("apache2"))
    assert (r.rc, r.out, r.err) == (1, "", "apache2: Invalid command SSLEngine\n")


@pytest.mark.parametrize("url", ["http://h/$(id)", "ftp://h/", "http://h/a b", "http://h/'x'"])
def test_verify_http_refuses_hostile_urls(url):
    with pytest.raises(ValueError):
        scripts.verify_http(url)


# --------------------------------------------------------------------------------------------
# a hypervisor's service record, and its removal when the node leaves the stack
# --------------------------------------------------------------------------------------------

# nova's records as the shim keeps them: state/services, "host id" per line
NOVA_RECORDS_SHIM = (
    'case "$1 $2 $3" in\n'
    '  "compute service list") awk -v h="$5" \'$1 == h {print $2}\' "$STATE/services" ;;\n'
    '  "compute service set") echo "$6" >> "$STATE/disabled" ;;\n'
    '  "compute service delete") awk -v i="$4" \'$2 != i\' "$STATE/services" > "$STATE/left"; mv "$STATE/left" "$STATE/services" ;;\n'
    'esac')


def roster_box(box, records: str, roster: str | None):
    (box.state / "services").write_text(records)
    box.shim("openstack", NOVA_RECORDS_SHIM)
    path = box.root / "var/lib/openstack-nova/hypervisors"
    if roster is not None:
        path.parent.mkdir(parents=True)
        path.write_text(roster)
    return path


def test_the_roster_removes_only_the_hypervisors_that_left_the_stack(box):
    path = roster_box(box, "compute1 3f1c-0001\ncompute2 3f1c-0002\ncompute9 3f1c-0009\n", "compute1\ncompute2\n")
    script = scripts.retire_departed_hypervisors(str(openrc(box)), True, ["compute1"], roster=str(path))
    r = box.run(script)
    assert (r.rc, r.out) == (0, "nova-compute service removed: compute2\nhypervisors of this stack: compute1\n"), r.err
    assert box.calls("openstack") == [
        "compute service list --host compute2 --service nova-compute -f value -c ID",
        "compute service set --disable --disable-reason removed from the stack compute2 nova-compute",
        "compute service delete 3f1c-0002",
    ]
    # compute9 was never this stack's: left alone; the roster now lists the stack's hypervisors
    assert (box.state / "services").read_text() == "compute1 3f1c-0001\ncompute9 3f1c-0009\n"
    assert path.read_text() == "compute1\n"
    again = box.run(script)  # nothing left the stack since: nothing asked of nova
    assert (again.rc, again.out) == (0, "hypervisors of this stack: compute1\n")
    assert len(box.calls("openstack")) == 3


def test_a_rerun_or_replace_of_the_roster_with_the_same_hypervisors_removes_nothing(box):
    path = roster_box(box, "compute1 3f1c-0001\ncompute2 3f1c-0002\n", None)
    script = scripts.retire_departed_hypervisors(str(openrc(box)), True, ["compute2", "compute1"], roster=str(path))
    for _ in range(2):  # the first run (no roster yet: a stack deployed before it) and a forced rerun
        r = box.run(script)
        assert (r.rc, r.out) == (0, "hypervisors of this stack: compute1 compute2\n"), r.err
    assert box.calls("openstack") == [] and path.read_text() == "compute1\ncompute2\n"


def test_the_last_hypervisors_leaving_are_removed_too(box):
    path = roster_box(box, "compute1 3f1c-0001\n", "compute1\n")
    r = box.run(scripts.retire_departed_hypervisors(str(openrc(box)), True, [], roster=str(path)))
    assert (r.rc, r.out) == (0, "nova-compute service removed: compute1\nhypervisors of this stack: none\n"), r.err
    assert (box.state / "services").read_text() == "" and path.read_text() == ""


def test_liberty_removes_with_the_nova_client(box):
    path = roster_box(box, "", "compute1\ncompute2\n")
    box.shim("nova", 'case "$1" in service-list) [ -f "$STATE/gone" ] || printf "%s\\n" "+----+" "| Id | Binary |" '
                     '"+----+" "| 7 | nova-compute |" ;; service-delete) touch "$STATE/gone" ;; esac')
    r = box.run(scripts.retire_departed_hypervisors(str(openrc(box)), False, ["compute1"], roster=str(path)))
    assert (r.rc, r.out) == (0, "nova-compute service removed: compute2\nhypervisors of this stack: compute1\n"), r.err
    assert box.calls("nova") == ["service-list --host compute2 --binary nova-compute",
                                     "service-disable --reason removed from the stack compute2 nova-compute",
                                     "service-delete 7"]


@pytest.mark.parametrize("entry", ["-rf", "$(touch pwned)", "*", "a;b"])
def test_a_tampered_roster_entry_stops_the_step_before_nova_is_asked(box, entry):
    path = roster_box(box, "", f"compute1\n{entry}\n")
    (box.root / "pwned-glob-target").write_text("")
    r = box.run(scripts.retire_departed_hypervisors(str(openrc(box)), True, ["compute1"], roster=str(path)))
    assert r.rc == 1 and "not a host name" in r.err
    assert box.calls("openstack") == [] and not (box.root / "pwned").exists()


def test_the_service_record_step_fails_when_nova_has_no_record(box):
    box.shim("openstack", "exit 0")  # lists nothing
    r = box.run(scripts.service_record(str(openrc(box)), True, "compute2"))
    assert (r.rc, r.err) == (1, "no nova-compute service on compute2\n")


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_service_record_scripts_refuse_hostile_hosts(host):
    with pytest.raises(ValueError):
        scripts.retire_departed_hypervisors("/root/admin-openrc", True, ["compute1", host])
