"""The lab's guest (lab/guest.py) without building it: its /init and udhcpc script run under the
machine's sh with stub commands (what they print, what they run, what hostile user data cannot
make them run), the modules' load order, the initrd's format and what the cache is keyed by. The
guest built from the mirror and booted under QEMU: tests/e2e/test_guest_image.py."""
from __future__ import annotations

import gzip
import shutil
import stat
import struct
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from lab import guest
from lab.support.common import PrereqError
from tests.conftest import service_unavailable

MARKER = "nova-lab-guest: "
UUID = "0b9f0d63-8d2a-4c36-9e4f-6a1f7f1f2e10"

# Each stub records its argv, one line a call, in $STUB_LOG, as "name arg arg ...".
RECORD = 'printf "%s\\n" "$(basename "$0") $*" >>"$STUB_LOG"\n'
PING_ANSWERS = RECORD + 'case $5 in 192.0.2.*) exit 1 ;; esac\n'  # TEST-NET-1 never answers


def stubs(directory: Path, commands: Dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, body in commands.items():
        path = directory / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    return directory


def run_init(tmp_path: Path, commands: str, *, stub: Dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    """Source the guest's /init in the machine's sh (which defines its functions and, not being
    PID 1, boots nothing), put the stubs first on PATH, then run `commands`."""
    init = tmp_path / "init"
    init.write_text(guest.render_init())
    bin_dir = stubs(tmp_path / "stubs", stub)
    log = tmp_path / "calls"
    log.touch()
    return subprocess.run(["sh", "-c", f'. "$1"; PATH="$2:$PATH"; RUN_DIR="$3"; {commands}', "sh", str(init),
                           str(bin_dir), str(tmp_path)],
                          input=stdin, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "STUB_LOG": str(log)})


def calls(tmp_path: Path) -> List[str]:
    return (tmp_path / "calls").read_text().splitlines()


def printed(proc: subprocess.CompletedProcess) -> List[str]:
    lines = proc.stdout.splitlines()
    assert all(line.startswith(MARKER) for line in lines), lines  # every line the guest prints
    return [line[len(MARKER):] for line in lines]


# -- the scripts' syntax ---------------------------------------------------------------------------
@pytest.mark.parametrize("render", [guest.render_init, guest.render_udhcpc_script])
def test_the_scripts_pass_sh_s_syntax_check(tmp_path, render):
    script = tmp_path / "script"
    script.write_text(render())
    check = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert render().startswith("#!/bin/sh\n")


@pytest.mark.parametrize("render", [guest.render_init, guest.render_udhcpc_script])
def test_shellcheck_finds_nothing_in_the_scripts(tmp_path, render):
    # as dash: POSIX sh with `local`, which busybox's sh (ash) has too
    if not shutil.which("shellcheck"):
        service_unavailable("shellcheck is not installed (tools/test-services.sh installs it)")
    script = tmp_path / "script"
    script.write_text(render())
    check = subprocess.run(["shellcheck", "-s", "dash", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_init_boots_only_as_pid_1_and_then_never_returns():
    init = guest.render_init()
    assert init.rstrip().endswith('if [ "$$" = 1 ]; then\n    main\nfi')
    main = init.split("main() {", 1)[1]
    assert 'say "ready"\n    while :; do\n        sleep 3600\n    done\n}' in main


# -- the user data's pings -------------------------------------------------------------------------
HOSTILE = [
    "ping 1.2.3.4; rm -rf /",
    "ping $(reboot)",
    "ping `reboot`",
    "ping 1.2.3.4 && reboot",
    "ping 1.2.3.4|reboot",
    "ping -f 10.0.0.1",  # an option smuggled in
    "ping 10.0.0.1 -c 100000",
    "ping 256.1.1.1",
    "ping 01.2.3.4",  # a leading zero (octal, to some tools)
    "ping 1.2.3",
    "ping 1.2.3.4.5",
    "ping ",
    "ping 10.0.0.1 ",
    "ping\t10.0.0.1",
    "ping  10.0.0.1",
]


def test_hostile_user_data_lines_are_never_run_nor_pinged(tmp_path):
    user_data = "\n".join(["#!/bin/sh", "reboot", *HOSTILE, "ping 10.0.0.1"]) + "\n"
    proc = run_init(tmp_path, "ping_targets", stdin=user_data,
                    stub={"ping": PING_ANSWERS, "reboot": RECORD, "rm": RECORD})
    assert proc.returncode == 0, proc.stderr
    assert calls(tmp_path) == ["ping -c 3 -W 2 10.0.0.1"]  # never reboot or rm, never an odd ping
    lines = printed(proc)
    # each is said ignored but the one with a tab (not a "ping " line: skipped as "reboot" is)
    assert lines.count("user data: a ping line without a plain IPv4 address, ignored") == len(HOSTILE) - 1
    assert lines[-1] == "ping 10.0.0.1 ok"


def test_each_ping_line_is_pinged_in_order_and_said_ok_or_failed(tmp_path):
    # CRLF line ends, a last line without its newline; the failing one is given up at once (the
    # bound set to 0 s), after its first attempt
    user_data = "ping 10.0.0.1\r\nping 192.0.2.7\r\nnot a ping\nping 255.255.255.255"
    proc = run_init(tmp_path, "PING_FOR_S=0; ping_targets", stdin=user_data, stub={"ping": PING_ANSWERS})
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == ["ping 10.0.0.1 ok", "ping 192.0.2.7 failed", "ping 255.255.255.255 ok"]
    assert calls(tmp_path) == ["ping -c 3 -W 2 10.0.0.1", "ping -c 3 -W 2 192.0.2.7", "ping -c 3 -W 2 255.255.255.255"]


def test_a_failing_address_is_retried_within_its_bound(tmp_path):
    clock = fake_clock(tmp_path)
    proc = run_init(tmp_path, f"{clock}; ping_targets", stdin="ping 192.0.2.1\n",
                    stub={"ping": PING_ANSWERS, "sleep": SLEEP_ADVANCES_CLOCK})
    assert printed(proc) == ["ping 192.0.2.1 failed"]
    attempts = [c for c in calls(tmp_path) if c.startswith("ping ")]
    assert len(attempts) == 16  # every 2 s (the stub's clock) until 30 s had passed


def test_the_pings_of_one_user_data_are_bounded_in_number(tmp_path):
    user_data = "".join(f"ping 10.0.0.{i}\n" for i in range(1, 21))
    proc = run_init(tmp_path, "ping_targets", stdin=user_data, stub={"ping": PING_ANSWERS})
    lines = printed(proc)
    assert lines[:16] == [f"ping 10.0.0.{i} ok" for i in range(1, 17)]
    assert lines[16:] == ["user data: more than 16 addresses to ping, the rest ignored"]


# -- the metadata service --------------------------------------------------------------------------
# The stub clock: uptime_s reads a file that the stub sleep moves on (no test waits for real).
SLEEP_ADVANCES_CLOCK = RECORD + 'echo $(( $(cat "$CLOCK") + $1 )) >"$CLOCK"\n'
PASS_THROUGH_TIMEOUT = 'shift; exec "$@"\n'  # timeout SECS PROG ARGS: the stub wget decides


def fake_clock(tmp_path: Path) -> str:
    (tmp_path / "clock").write_text("0\n")
    return f'CLOCK={tmp_path / "clock"}; export CLOCK; uptime_s() {{ cat "$CLOCK"; }}'


def wget_serving(meta: Optional[str], user_data: Optional[str]) -> str:
    """A stub wget answering the metadata URLs with these bodies (None: an error, as for a 404)."""
    def answer(body: Optional[str]) -> str:
        return "exit 1" if body is None else f"printf '%s' '{body}'"
    return RECORD + ('for url; do :; done\n'
                     f'case $url in\n  */meta_data.json) {answer(meta)} ;;\n  */user_data) {answer(user_data)} ;;\n'
                     '  *) exit 1 ;;\nesac\n')


def test_metadata_says_the_instance_s_uuid_then_pings_its_user_data(tmp_path):
    meta = f'{{"random_seed": "x", "uuid": "{UUID}", "availability_zone": "nova", "name": "vm", "launch_index": 0}}'
    proc = run_init(tmp_path, "metadata", stub={"timeout": PASS_THROUGH_TIMEOUT, "ping": PING_ANSWERS,
                                                "wget": wget_serving(meta, "ping 10.0.0.1\nping 10.0.0.2\n")})
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == [f"instance-id {UUID}", "ping 10.0.0.1 ok", "ping 10.0.0.2 ok"]
    assert calls(tmp_path)[0] == "wget -q -T 5 -O - http://169.254.169.254/openstack/latest/meta_data.json"
    assert calls(tmp_path)[1] == "wget -q -T 5 -O - http://169.254.169.254/openstack/latest/user_data"


def test_metadata_without_user_data_or_uuid_says_so(tmp_path):
    proc = run_init(tmp_path, "metadata", stub={"timeout": PASS_THROUGH_TIMEOUT,
                                                "wget": wget_serving('{"uuid": "not-a-uuid"}', None)})
    assert printed(proc) == ["meta_data.json has no uuid", "no user data"]


def test_unreachable_metadata_is_retried_every_2_s_and_said_every_10_s_for_120_s(tmp_path):
    proc = run_init(tmp_path, f"{fake_clock(tmp_path)}; metadata",
                    stub={"timeout": PASS_THROUGH_TIMEOUT, "wget": wget_serving(None, None),
                          "sleep": SLEEP_ADVANCES_CLOCK})
    assert proc.returncode == 1
    lines = printed(proc)
    assert lines == ["metadata unreachable, retrying"] * 12 + ["metadata unreachable for 120 s, given up"]
    assert calls(tmp_path).count("wget -q -T 5 -O - http://169.254.169.254/openstack/latest/meta_data.json") == 61
    assert set(c for c in calls(tmp_path) if c.startswith("sleep")) == {"sleep 2"}


# -- the udhcpc script -----------------------------------------------------------------------------
IP_STUB = RECORD + 'case "$*" in "-4 -o addr show dev "*) cat "$ADDRS" 2>/dev/null ;; esac\n'


def run_udhcpc(tmp_path: Path, event: str, lease: Dict[str, str], has: str = "") -> tuple[List[str], List[str]]:
    """(the ip commands, the console lines) of the script at one event."""
    script = tmp_path / "udhcpc"
    script.write_text(guest.render_udhcpc_script())
    console, log, addrs = tmp_path / "console", tmp_path / "calls", tmp_path / "addrs"
    addrs.write_text(has)
    log.write_text("")
    bin_dir = stubs(tmp_path / "stubs", {"ip": IP_STUB})
    proc = subprocess.run(["sh", str(script), event], capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_LOG": str(log), "ADDRS": str(addrs),
                               guest.CONSOLE_OVERRIDE: str(console), "interface": "eth0", **lease})
    assert proc.returncode == 0, proc.stderr
    ip_calls = [c for c in log.read_text().splitlines() if not c.startswith("ip -4 -o addr show")]
    return ip_calls, console.read_text().splitlines() if console.exists() else []


NEUTRON_LEASE = {"ip": "10.0.0.5", "mask": "24", "router": "10.0.0.1",
                 "staticroutes": "169.254.169.254/32 10.0.0.2 0.0.0.0/0 10.0.0.1"}


def test_a_lease_with_classless_routes_sets_them_and_not_the_router(tmp_path):
    ip_calls, console = run_udhcpc(tmp_path, "bound", NEUTRON_LEASE)
    assert ip_calls == ["ip addr flush dev eth0", "ip addr add 10.0.0.5/24 dev eth0",
                        "ip route replace 169.254.169.254/32 via 10.0.0.2 dev eth0",
                        "ip route replace 0.0.0.0/0 via 10.0.0.1 dev eth0"]
    assert console == ["nova-lab-guest: address 10.0.0.5/24 on eth0"]


def test_a_classless_route_through_0_0_0_0_is_on_the_link(tmp_path):
    ip_calls, _ = run_udhcpc(tmp_path, "bound", {**NEUTRON_LEASE, "staticroutes": "169.254.169.254/32 0.0.0.0"})
    assert ip_calls[-1] == "ip route replace 169.254.169.254/32 dev eth0"


def test_a_lease_without_classless_routes_takes_the_first_router(tmp_path):
    ip_calls, console = run_udhcpc(tmp_path, "bound", {"ip": "10.0.2.15", "mask": "24", "router": "10.0.2.2 10.0.2.3"})
    assert ip_calls == ["ip addr flush dev eth0", "ip addr add 10.0.2.15/24 dev eth0",
                        "ip route replace default via 10.0.2.2 dev eth0"]
    assert console == ["nova-lab-guest: address 10.0.2.15/24 on eth0"]


def test_a_renewal_of_the_same_address_keeps_it_and_says_nothing(tmp_path):
    has = "2: eth0    inet 10.0.0.5/24 scope global eth0\\       valid_lft forever preferred_lft forever\n"
    ip_calls, console = run_udhcpc(tmp_path, "renew", NEUTRON_LEASE, has=has)
    assert [c for c in ip_calls if c.startswith("ip addr")] == [] and console == []
    assert "ip route replace 169.254.169.254/32 via 10.0.0.2 dev eth0" in ip_calls


def test_deconfig_clears_the_interface_and_leaves_it_up(tmp_path):
    ip_calls, console = run_udhcpc(tmp_path, "deconfig", {})
    assert ip_calls == ["ip addr flush dev eth0", "ip link set eth0 up"] and console == []


# -- the modules -----------------------------------------------------------------------------------
# depmod's format: each module's dependencies, all of them (modprobe loads them from the end)
MODULES_DEP = """\
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/char/hw_random/rng-core.ko
"""


def test_modules_come_after_what_they_need():
    assert guest.modules_for(["virtio_net"], MODULES_DEP) == [
        "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko"]


def test_modules_wanted_together_load_each_once_and_names_match_with_dashes_or_underscores():
    order = guest.modules_for(["net_failover", "virtio_rng", "virtio_net", "e1000"], MODULES_DEP)
    assert order == ["kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
                     "kernel/drivers/char/hw_random/rng-core.ko", "kernel/drivers/char/hw_random/virtio-rng.ko",
                     "kernel/drivers/net/virtio_net.ko", "kernel/drivers/net/ethernet/intel/e1000/e1000.ko"]


def test_only_direct_dependencies_listed_still_load_in_order():
    direct = "c.ko: b.ko\nb.ko: a.ko\na.ko:\n"
    assert guest.modules_for(["c"], direct) == ["a.ko", "b.ko", "c.ko"]


def test_an_unknown_module_or_a_cycle_is_an_error():
    with pytest.raises(PrereqError, match="no module nosuch"):
        guest.modules_for(["nosuch"], MODULES_DEP)
    with pytest.raises(PrereqError, match="cycle: a.ko -> b.ko -> a.ko"):
        guest.modules_for(["a"], "a.ko: b.ko\nb.ko: a.ko\n")


def test_the_kernel_config_says_which_drivers_are_modules():
    config = "# comment\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_NET=m\nCONFIG_PACKET=y\n# CONFIG_E1000 is not set\n"
    assert guest.modules_to_load(config, guest.GUEST.drivers) == ["virtio_net"]
    with pytest.raises(PrereqError, match="lacks CONFIG_E1000"):
        guest.modules_to_load(config, (("CONFIG_E1000", "e1000"),))


def elf_with_modinfo(modinfo: bytes) -> bytes:
    """A minimal ELF64 object: sections null, .modinfo, .shstrtab."""
    names = b"\0.modinfo\0.shstrtab\0"
    data_at = 64
    names_at = data_at + len(modinfo)
    shoff = names_at + len(names)
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2)
    sections = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                struct.pack("<IIQQQQIIQQ", 1, 1, 2, 0, data_at, len(modinfo), 0, 0, 1, 0),
                struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, names_at, len(names), 0, 0, 1, 0)]
    return header + modinfo + names + b"".join(sections)


def test_modinfo_reads_a_module_s_dependencies():
    image = elf_with_modinfo(b"license=GPL\0depends=net_failover,failover\0name=virtio_net\0")
    assert guest.modinfo(image) == {"license": "GPL", "depends": "net_failover,failover", "name": "virtio_net"}
    with pytest.raises(PrereqError):
        guest.modinfo(b"not an ELF")


# -- the initrd ------------------------------------------------------------------------------------
def read_newc(archive: bytes) -> Dict[str, tuple[int, bytes, tuple[int, int]]]:
    """name -> (mode, data, (rdev major, minor)), read back as the kernel would."""
    members, at = {}, 0
    while True:
        assert archive[at:at + 6] == b"070701"
        fields = [int(archive[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rdev, namesize = fields[1], fields[6], (fields[9], fields[10]), fields[11]
        name = archive[at + 110:at + 110 + namesize - 1].decode()
        at = (at + 110 + namesize + 3) & ~3
        data = archive[at:at + size]
        at = (at + size + 3) & ~3
        if name == "TRAILER!!!":
            assert not archive[at:].strip(b"\0")
            return members
        members[name] = (mode, data, rdev)


def test_the_initrd_holds_busybox_init_the_modules_and_their_order():
    modules = {"lib/modules/6.12.0/kernel/net/core/failover.ko": b"F", "lib/modules/6.12.0/kernel/drivers/net/virtio_net.ko": b"V"}
    order = ["lib/modules/6.12.0/kernel/net/core/failover.ko", "lib/modules/6.12.0/kernel/drivers/net/virtio_net.ko"]
    members = read_newc(guest.cpio_newc(guest.initrd_entries(b"BUSYBOX", modules, order)))
    assert members["init"][0] == stat.S_IFREG | 0o755 and members["init"][1].decode() == guest.render_init()
    assert members["bin/busybox"][:2] == (stat.S_IFREG | 0o755, b"BUSYBOX")
    assert members["bin/sh"][:2] == (stat.S_IFLNK | 0o777, b"busybox")
    assert members["dev/console"][0] == stat.S_IFCHR | 0o600 and members["dev/console"][2] == (5, 1)
    assert members[guest.UDHCPC_SCRIPT[1:]][1].decode() == guest.render_udhcpc_script()
    assert members[guest.MODULE_LIST[1:]][1].decode().splitlines() == [f"/{p}" for p in order]
    assert members["lib/modules/6.12.0/kernel/drivers/net/virtio_net.ko"][1] == b"V"
    names = list(members)
    for name in names:  # each directory before what it holds
        parent = str(Path(name).parent)
        assert parent == "." or names.index(parent) < names.index(name)
        if stat.S_ISDIR(members[name][0]):
            assert members[name][0] == stat.S_IFDIR | 0o755


def test_the_same_entries_make_the_same_initrd_bytes():
    entries = guest.initrd_entries(b"BUSYBOX", {}, [])
    assert gzip.compress(guest.cpio_newc(entries), mtime=0) == gzip.compress(guest.cpio_newc(list(entries)), mtime=0)


# -- what the cache is keyed by --------------------------------------------------------------------
RESOLVED = {"linux-image-6.12.118+deb13-amd64": "6.12.118-1", "busybox-static": "1:1.37.0-6+b9"}
MIRRORS = ("http://deb.example/debian", "http://deb.example/debian-security")


def digest(**changes) -> str:
    arguments = {"resolved": RESOLVED, "mirrors": MIRRORS, "init": guest.render_init(),
                 "udhcpc": guest.render_udhcpc_script(), "builder": "the builder's source", **changes}
    return guest.GUEST.digest(**arguments)


def test_the_cache_digest_follows_the_init_text_the_versions_and_the_builder():
    assert digest() == digest()
    assert digest(init=guest.render_init() + "# changed\n") != digest()
    assert digest(udhcpc=guest.render_udhcpc_script().replace("flush", "flush ")) != digest()
    assert digest(resolved={**RESOLVED, "busybox-static": "1:1.37.0-7"}) != digest()
    assert digest(builder="another source") != digest()
    assert digest(mirrors=("http://other.example/debian", None)) != digest()


class FakeApt:
    def __init__(self, found: Dict[str, Dict[str, str]]) -> None:
        self.found = found

    def candidates(self, packages):
        return {name: fields for name, fields in self.found.items() if name in packages}


def test_the_kernel_is_the_versioned_package_the_metapackage_depends_on():
    apt = FakeApt({"linux-image-amd64": {"Version": "6.12.118-1",
                                         "Depends": "linux-image-6.12.118+deb13-amd64 (= 6.12.118-1)"},
                   "busybox-static": {"Version": "1:1.37.0-6+b9"}})
    assert guest.resolve(apt, guest.GUEST) == RESOLVED
    apt.found["linux-image-amd64"]["Depends"] = "linux-image-6.12.118+deb13-amd64-unsigned"
    with pytest.raises(PrereqError, match="depends on no linux-image"):
        guest.resolve(apt, guest.GUEST)
    del apt.found["busybox-static"]
    with pytest.raises(PrereqError, match="busybox-static is not in trixie"):
        guest.resolve(apt, guest.GUEST)


def test_the_private_apt_reads_none_of_the_machine_s_apt_configuration(tmp_path):
    apt = guest.PrivateApt(tmp_path / "apt", "deb http://deb.example/debian trixie main\n")
    dump = subprocess.run(["apt-config", "dump"], env=apt.env, capture_output=True, text=True, check=True).stdout
    settings = dict(line.rstrip(";").split(" ", 1) for line in dump.splitlines() if " " in line)
    home = str(tmp_path / "apt")
    for key in ("Dir::Etc::parts", "Dir::Etc::sourcelist", "Dir::Etc::sourceparts", "Dir::State::lists",
                "Dir::State::status", "Dir::Cache", "Dir::Etc::preferencesparts"):
        assert settings[key].strip('"').startswith(home), (key, settings[key])
    # no hook of the machine's apt.conf.d (an image's cache cleaning, an AppStream refresh)
    assert "Post-Invoke" not in dump


def test_the_kernel_loses_only_the_boot_flag_nova_s_safety_check_reads_as_an_mbr():
    kernel = bytearray(4096)
    kernel[0x1FE:0x200] = b"\x55\xaa"
    kernel[0x202:0x206] = b"HdrS"
    kernel[0x300:0x304] = b"code"
    patched = guest.without_boot_flag(bytes(kernel))
    assert patched[0x1FE:0x200] == b"\0\0" and len(patched) == len(kernel)
    assert patched[:0x1FE] == kernel[:0x1FE] and patched[0x200:] == kernel[0x200:]
    with pytest.raises(PrereqError, match="not a bzImage"):
        guest.without_boot_flag(b"\x7fELF" + bytes(4092))
