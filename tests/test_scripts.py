"""The shell scripts of components/scripts.py, executed for real.

Each test builds a script with the pure function under test and runs it with bash in a fresh
temporary directory. The node's tools (su, nova-manage, apt-get, openstack, systemctl...) are
replaced by small fake commands ("shims") placed first on PATH; every shim appends its argv to
one calls log, so a test can assert exactly what ran and in which order. Nothing of our own code
is mocked: what is asserted is what a node would do.
"""
from __future__ import annotations

import grp
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from components import scripts
from components.releases import LIBERTY, RELEASE_2025_1

BASH = shutil.which("bash") or "/bin/bash"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

@dataclass
class Result:
    rc: int
    out: str
    err: str


class Sandbox:
    """A temp directory with a bin/ of shims, a state/ directory the shims read, and one log
    of every shim call (the argv separated by the ASCII unit separator \\x1f)."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.log = root / "calls.log"
        self.bin.mkdir()
        self.state.mkdir()
        self.log.touch()

    def shim(self, name: str, body: str = "exit 0") -> Path:
        """A fake `name` that logs its argv, then runs `body` (bash). $STATE and $LOG are set."""
        path = self.bin / name
        path.write_text(
            "#!/bin/bash\n"
            f"STATE={self.state}\nLOG={self.log}\n"
            f"{{ printf '%s' {name}; printf '\\037%s' \"$@\"; printf '\\n'; }} >> \"$LOG\"\n"
            f"{body}\n"
        )
        path.chmod(0o755)
        return path

    def su_shim(self) -> None:
        """`su -s /bin/sh -c CMD nova` runs CMD with sh; any other use of su is an error."""
        self.shim("su", (
            'if [ "$#" -ne 5 ] || [ "$1" != -s ] || [ "$2" != /bin/sh ] || [ "$3" != -c ] || [ "$5" != nova ]; then\n'
            '  echo "su shim: unexpected use: $*" >&2; exit 125\n'
            "fi\n"
            'exec /bin/sh -c "$4"'
        ))

    def argvs(self, name: str | None = None) -> list[list[str]]:
        """Every logged call (of `name` only, without the name, when given), as argv lists."""
        calls = [line.split("\x1f") for line in self.log.read_text().splitlines()]
        if name is None:
            return calls
        return [argv[1:] for argv in calls if argv[0] == name]

    def calls(self, name: str | None = None) -> list[str]:
        """Like argvs, each call's words joined with spaces (for readable assertions)."""
        return [" ".join(argv) for argv in self.argvs(name)]

    def run(self, script: str, stdin: bytes = b"", path: str | None = None) -> Result:
        env = {"PATH": path or f"{self.bin}:{SYSTEM_PATH}", "HOME": str(self.root), "LC_ALL": "C"}
        proc = subprocess.run([BASH, "-c", script], input=stdin, capture_output=True, env=env,
                              cwd=self.root, timeout=60)
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def box():
    # mkdtemp's names only use [a-z0-9_], which write_file_from_stdin's path check accepts
    # (pytest's tmp_path may contain brackets for parametrized tests).
    root = Path(tempfile.mkdtemp(prefix="scripts-"))
    try:
        yield Sandbox(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener():
    """A real TCP listener on 127.0.0.1; yields its port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


HOSTILE_TEXT = (
    "$(touch {m}/pwned1)\n"
    "`touch {m}/pwned2`\n"
    "'\"; touch {m}/pwned3; echo '\n"
    "x; rm -rf {m}/precious\n"
    "${{HOME}} $PATH \\n back\\slash\n"
    "no trailing newline"
)


def assert_no_markers(box: Sandbox) -> None:
    assert sorted(p.name for p in box.root.glob("pwned*")) == []
    assert not Path("/tmp/pwned").exists()


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
# install_packages
# --------------------------------------------------------------------------------------------

APT_OPTS = "-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold"


@pytest.fixture
def apt_box(box):
    box.shim("apt-get", 'echo "${DEBIAN_FRONTEND-unset}" >> "$STATE/apt-env"\n'
                        '[ ! -f "$STATE/apt-fails" ] || exit 100')
    # fuser exits 0 when a process holds the file; state/lock-held-calls says for how many calls
    box.shim("fuser", 'n=$(cat "$STATE/fuser-count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STATE/fuser-count"\n'
                      'held=$(cat "$STATE/lock-held-calls" 2>/dev/null || echo 0)\n'
                      '[ "$n" -le "$held" ] && { echo "/var/lib/dpkg/lock-frontend: 4242"; exit 0; }\n'
                      "exit 1")
    box.shim("sleep")
    return box


def test_install_packages_updates_then_installs_noninteractively(apt_box):
    r = apt_box.run(scripts.install_packages(["nova-api", "python3-openstackclient"]))

    assert (r.rc, r.out, r.err) == (0, "", "")
    assert apt_box.calls("apt-get") == [
        f"{APT_OPTS} update -q",
        f"{APT_OPTS} install -y -q --no-install-recommends nova-api python3-openstackclient",
    ]
    assert (apt_box.state / "apt-env").read_text() == "noninteractive\nnoninteractive\n"
    assert apt_box.calls("fuser") == ["/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock"]
    assert apt_box.calls("sleep") == []


def test_install_packages_waits_for_the_dpkg_lock(apt_box):
    (apt_box.state / "lock-held-calls").write_text("2")

    r = apt_box.run(scripts.install_packages(["nova-api"]))

    assert r.rc == 0, r.err
    assert r.out == "waiting for the dpkg lock\n" * 2
    names = [line.split()[0] for line in apt_box.calls()]
    assert names == ["fuser", "sleep", "fuser", "sleep", "fuser", "apt-get", "apt-get"]
    assert apt_box.calls("sleep") == ["5", "5"]


def test_install_packages_fails_when_apt_fails(apt_box):
    (apt_box.state / "apt-fails").touch()
    r = apt_box.run(scripts.install_packages(["nova-api"]))
    assert r.rc == 100
    assert apt_box.calls("apt-get") == [f"{APT_OPTS} update -q"]  # install never attempted


def test_install_packages_for_each_release_profile(apt_box):
    r = apt_box.run(scripts.install_packages(RELEASE_2025_1.packages))
    assert r.rc == 0, r.err
    assert apt_box.calls("apt-get")[1].split()[-len(RELEASE_2025_1.packages):] == list(RELEASE_2025_1.packages)


@pytest.mark.parametrize("pkg", ["nova; rm", "$(id)", "`id`", "-o Foo", "-oFoo", "Nova-API", "nova api",
                                 "", "x", "nova-api\n", "nova-api\nid"])
def test_install_packages_rejects_hostile_names(pkg):
    with pytest.raises(ValueError):
        scripts.install_packages(["nova-api", pkg])


# --------------------------------------------------------------------------------------------
# preflight
# --------------------------------------------------------------------------------------------

CHRONY_TRACKING = (
    "Reference ID    : A9FEA97B (169.254.169.123)\n"
    "Stratum         : 4\n"
    "System time     : 0.000012 seconds fast of NTP time\n"
    "Leap status     : {leap}\n"
)


def chrony(box: Sandbox, leap: str = "Normal") -> None:
    box.shim("chronyc", f"cat <<'EOF'\n{CHRONY_TRACKING.format(leap=leap)}EOF")


def test_preflight_passes_with_synced_clock_and_open_port(box, listener):
    chrony(box)

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener), ("rabbitmq", "127.0.0.1", listener)]))

    assert (r.rc, r.out, r.err) == (0, "preflight ok\n", "")
    assert box.calls("chronyc") == ["-n tracking"]


def test_preflight_reports_a_closed_port(box, listener):
    chrony(box)
    closed = free_port()

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener), ("rabbitmq", "127.0.0.1", closed)]))

    assert r.rc == 1
    assert r.out == ""
    assert r.err == f"preflight failed:\n  - unreachable: rabbitmq (127.0.0.1:{closed})\n"


def test_preflight_reports_every_problem_at_once(box, listener):
    chrony(box, leap="Not synchronised")
    closed1, closed2 = free_port(), free_port()

    r = box.run(scripts.preflight([
        ("database", "127.0.0.1", closed1),
        ("rabbitmq", "127.0.0.1", listener),
        ("keystone", "127.0.0.1", closed2),
    ]))

    assert r.rc == 1
    assert r.err == (
        "preflight failed:\n"
        "  - time: chrony is not synchronised (chronyc tracking)\n"
        f"  - unreachable: database (127.0.0.1:{closed1})\n"
        f"  - unreachable: keystone (127.0.0.1:{closed2})\n"
    )


def test_preflight_reports_unsynchronised_chrony(box, listener):
    chrony(box, leap="Not synchronised")
    r = box.run(scripts.preflight([("database", "127.0.0.1", listener)]))
    assert (r.rc, r.out) == (1, "")
    assert r.err == "preflight failed:\n  - time: chrony is not synchronised (chronyc tracking)\n"


def test_preflight_without_any_time_tool_reports_it(box, listener):
    # PATH holds only what the script needs besides the time tools (the system has timedatectl).
    tools = box.root / "tools"
    tools.mkdir()
    for tool in ("bash", "timeout"):
        (tools / tool).symlink_to(shutil.which(tool))

    r = box.run(scripts.preflight([("database", "127.0.0.1", listener)]), path=str(tools))

    assert r.rc == 1
    assert r.err == "preflight failed:\n  - time: neither chrony nor ntp is installed\n"


def test_preflight_uses_timedatectl_when_it_is_the_only_tool(box, listener):
    tools = box.root / "tools"
    tools.mkdir()
    for tool in ("bash", "timeout"):
        (tools / tool).symlink_to(shutil.which(tool))
    (tools / "timedatectl").symlink_to(box.shim("timedatectl", 'printf "%s\\n" "$(< "$STATE/ntp-synced")"'))
    (box.state / "ntp-synced").write_text("no\n")
    script = scripts.preflight([("database", "127.0.0.1", listener)])

    r = box.run(script, path=str(tools))
    assert r.rc == 1
    assert r.err == "preflight failed:\n  - time: the clock is not NTP-synchronised (timedatectl)\n"

    (box.state / "ntp-synced").write_text("yes\n")
    r = box.run(script, path=str(tools))
    assert (r.rc, r.out, r.err) == (0, "preflight ok\n", "")
    assert box.calls("timedatectl") == ["show -p NTPSynchronized --value"] * 2


def test_preflight_never_executes_a_hostile_host(box, listener):
    chrony(box)
    evil1 = "$(touch pwned1)"
    evil2 = "x'\"; touch pwned2; echo \"'"
    evil3 = "`touch pwned3`"

    r = box.run(scripts.preflight([("database", evil1, 3306), ("rabbitmq", evil2, 5672),
                                   ("keystone", evil3, 5000), ("ok", "127.0.0.1", listener)]))

    assert r.rc == 1
    assert r.err == (
        "preflight failed:\n"
        f"  - unreachable: database ({evil1}:3306)\n"
        f"  - unreachable: rabbitmq ({evil2}:5672)\n"
        f"  - unreachable: keystone ({evil3}:5000)\n"
    )
    assert_no_markers(box)


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
    services = list(RELEASE_2025_1.services)

    r = restart_box.run(scripts.restart_services(services))

    assert (r.rc, r.err) == (0, "")
    assert restarts(restart_box) == services
    assert r.out == "restarted: nova-api nova-scheduler nova-conductor nova-novncproxy\n"


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
    'if [ "$*" = "compute service list -f value -c Binary -c State" ]; then\n'
    f"{LISTING}"
    "  exit 0\n"
    "fi\n"
    f"{API_CHECK}"
)


def openrc(box: Sandbox) -> Path:
    path = box.root / "admin-openrc"
    path.write_text(scripts.render_openrc({"OS_TEST_MARKER": "sourced it", "OS_USERNAME": "admin"}))
    return path


def listing(box: Sandbox, text: str, call: int | None = None) -> None:
    (box.state / (f"listing.{call}" if call else "listing")).write_text(text)


def api_checks(box: Sandbox) -> list[str]:
    path = box.state / "api-checks"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def os_box(box):
    box.shim("openstack", OPENSTACK_SHIM)
    box.shim("nova-status", API_CHECK)
    box.shim("sleep")
    return box


def verify_2025(box: Sandbox, attempts: int = 30, delay: int = 5) -> Result:
    return box.run(scripts.verify_services(str(openrc(box)), "openstack", RELEASE_2025_1.expected_up,
                                           RELEASE_2025_1.api_checks, attempts, delay))


ALL_UP = "nova-conductor up\nnova-scheduler up\nnova-compute up\n"
SCHEDULER_DOWN = "nova-conductor up\nnova-scheduler down\nnova-compute up\n"


def test_verify_openstack_all_up_runs_the_api_checks(os_box):
    listing(os_box, ALL_UP)

    r = verify_2025(os_box)

    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "nova services up: nova-conductor nova-scheduler\n"
        "ok: openstack catalog show compute\n"
        "ok: openstack image list\n"
        "ok: nova-status upgrade check\n"
    )
    assert api_checks(os_box) == [
        "catalog show compute OS_TEST_MARKER=sourced it",
        "image list OS_TEST_MARKER=sourced it",
        "upgrade check OS_TEST_MARKER=sourced it",
    ]
    assert os_box.calls("sleep") == []


def test_verify_openstack_service_down_fails_naming_it(os_box):
    listing(os_box, SCHEDULER_DOWN)

    r = verify_2025(os_box, attempts=3, delay=7)

    assert r.rc == 1
    assert r.err == "nova services not up after 21s: nova-scheduler\n"
    assert (os_box.state / "list-count").read_text() == "3\n"
    assert api_checks(os_box) == []


def test_verify_openstack_names_every_down_service(os_box):
    listing(os_box, "nova-conductor down\nnova-compute up\n")  # scheduler missing altogether
    r = verify_2025(os_box, attempts=2, delay=1)
    assert r.rc == 1
    assert r.err == "nova services not up after 2s: nova-conductor nova-scheduler\n"


def test_verify_openstack_waits_until_services_come_up(os_box):
    listing(os_box, SCHEDULER_DOWN, call=1)
    (os_box.state / "listing-rc.2").write_text("1")  # the API is not answering yet
    listing(os_box, ALL_UP)

    r = verify_2025(os_box, attempts=5, delay=5)

    assert r.rc == 0, r.err
    assert r.out.startswith("nova services up: nova-conductor nova-scheduler\n")
    assert (os_box.state / "list-count").read_text() == "3\n"
    assert os_box.calls("sleep") == ["5", "5"]
    assert len(api_checks(os_box)) == 3


def test_verify_fails_when_an_api_check_fails(os_box):
    listing(os_box, ALL_UP)
    os_box.shim("nova-status", "exit 3")
    r = verify_2025(os_box)
    assert r.rc == 3
    assert "ok: nova-status upgrade check" not in r.out


LIBERTY_HEADER = "Binary           Host                                 Zone             Status     State Updated_At\n"


def liberty_row(binary: str, state: str) -> str:
    return f"{binary:<16} controller                           internal         enabled    {state}   2015-11-10 12:00:00\n"


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
    box.shim("sleep")
    return box


def verify_liberty(box: Sandbox, attempts: int = 30, delay: int = 5) -> Result:
    return box.run(scripts.verify_services(str(openrc(box)), "nova-manage", LIBERTY.expected_up,
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
    assert r.err == "nova services not up after 20s: nova-scheduler nova-cert\n"
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
        scripts.verify_services("/root/admin-openrc", "ping", ["nova-api"], [])
    with pytest.raises(ValueError):
        scripts.verify_services("/root/admin-openrc", "openstack", ["nova-api; reboot"], [])
    with pytest.raises(ValueError):  # zero attempts would report success without checking
        scripts.verify_services("/root/admin-openrc", "openstack", ["nova-api"], [], attempts=0)


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
# Hypervisors: per-host verification, virt type detection, host discovery; sudo; HTTP checks
# --------------------------------------------------------------------------------------------

def test_verify_one_host_asks_about_that_host_only(box):
    box.shim("openstack", 'if [ "$*" = "compute service list --host compute1 -f value -c Binary -c State" ]; then\n'
                          f"{LISTING}  exit 0\nfi\nexit 64")
    box.shim("sleep")
    listing(box, "nova-compute down\n", call=1)
    listing(box, "nova-compute up\n")
    r = box.run(scripts.verify_services(str(openrc(box)), "openstack", ["nova-compute"], (), 5, 1, host="compute1"))
    assert (r.rc, r.out) == (0, "nova services up: nova-compute\n"), r.err
    assert box.calls("sleep") == ["1"]


def test_verify_one_host_with_nova_manage_ignores_other_hosts(liberty_box):
    other = "nova-compute     compute2                             nova             enabled    :-)   2015-11-10 12:00:00\n"
    mine = "nova-compute     compute1                             nova             enabled    XXX   2015-11-10 12:00:00\n"
    listing(liberty_box, LIBERTY_HEADER + other + mine)
    r = liberty_box.run(scripts.verify_services(str(openrc(liberty_box)), "nova-manage", ["nova-compute"], (), 2, 1,
                                                host="compute1"))
    assert r.rc == 1
    assert r.err == "nova services not up after 2s: nova-compute\n"


@pytest.mark.parametrize("host", ["compute1; reboot", "$(id)", "a b", '"x"'])
def test_verify_refuses_hostile_host(host):
    with pytest.raises(ValueError):
        scripts.verify_services("/root/admin-openrc", "openstack", ["nova-compute"], (), host=host)


def test_detect_virt_type_prints_one_of_the_two(box):
    r = box.run(scripts.detect_virt_type())
    assert r.rc == 0
    cpu_has_vmx = any(flag in open("/proc/cpuinfo").read().split() for flag in ("vmx", "svm"))
    assert r.out == ("kvm\n" if cpu_has_vmx and os.path.exists("/dev/kvm") else "qemu\n")


def test_discover_hosts_runs_once_as_nova(box):
    box.su_shim()
    box.shim("nova-manage")
    r = box.run(scripts.discover_hosts())
    assert r.rc == 0, r.err
    assert box.calls("nova-manage") == ["cell_v2 discover_hosts --verbose"]
    assert box.argvs("su") == [["-s", "/bin/sh", "-c", "nova-manage cell_v2 discover_hosts --verbose", "nova"]]


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


@pytest.mark.parametrize("url", ["http://h/$(id)", "ftp://h/", "http://h/a b", "http://h/'x'"])
def test_verify_http_refuses_hostile_urls(url):
    with pytest.raises(ValueError):
        scripts.verify_http(url)


def test_install_preseeds_debconf_before_apt(box):
    box.shim("fuser", "exit 1")
    box.shim("apt-get")
    box.shim("debconf-set-selections", 'cat >> "$STATE/selections"')
    lines = ["nova-consoleproxy nova-consoleproxy/daemon_type select novnc", "nova-common nova/configure_db boolean false"]
    r = box.run(scripts.install_packages(["nova-api"], lines))
    assert r.rc == 0, r.err
    assert (box.state / "selections").read_text() == "".join(line + "\n" for line in lines)
    assert [c.split()[0] for c in box.calls()] == ["fuser", "debconf-set-selections", "apt-get", "apt-get"]


@pytest.mark.parametrize("line", ["nova-common nova/configure_db boolean false; reboot",
                                  "nova-common nova/x string $(id)", "nova-common nova/x boolean"])
def test_install_refuses_hostile_preseed(line):
    with pytest.raises(ValueError):
        scripts.install_packages(["nova-api"], [line])


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
