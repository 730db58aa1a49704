"""The lab's guest (lab/guest.py) built from the machine's mirror and booted under QEMU: the QEMU
of the lab's cached hypervisor root, run from a read-only view of it in a mount namespace of its
own, on QEMU's user network (slirp) restricted so that no packet leaves it and no port of the
machine opens. Its DHCP gives the guest 10.0.2.15; there is no metadata service there, so the
guest says it retries. A second boot puts slirp's network on 169.254.0.0/16, where a guestfwd
command (run by QEMU for each connection, inside the same namespace) answers the metadata URLs
with an instance's uuid and hostile user data: the guest says the uuid, pings what is valid,
ignores the rest and is ready. The seconds from QEMU's start to each line are in the summary."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

import pytest

from lab import guest, roots
from lab.support.common import PrereqError
from tests.conftest import service_unavailable
from tests.e2e.hosts.report import report_timings

pytestmark = pytest.mark.e2e

STACK = "e2e"  # whose hypervisor recipe builds a hypervisor root when the machine has none
UUID = "6f1c2a47-3e0b-4d7e-9a55-0c2f8e3b9d14"
# The address line within this (TCG emulates every instruction: a kernel's boot takes longer)
ADDRESS_WITHIN_S = {"kvm": 60, "tcg": 180}
STARTING = f"{guest.MARKER} starting: kernel "  # the guest's first line
RETRY_WITHIN_S = 40  # after the address: the first metadata attempt's 10 s bound, and margin

# The cached root seen read-only at $view (a bind mount remounted read-only), with /proc, the
# machine's /dev (for /dev/kvm) and the test's work directory as its /tmp: the mounts live in a
# namespace that ends with QEMU, and nothing is written to the root.
READ_ONLY_CHROOT = ('root=$1 view=$2 work=$3; shift 3; '
                    'mount --bind "$root" "$view" && mount -o remount,bind,ro "$view" && '
                    'mount -t proc proc "$view/proc" && mount --rbind /dev "$view/dev" && '
                    'mount --bind "$work" "$view/tmp" && exec chroot "$view" "$@"')

# The metadata service of the second boot: one HTTP exchange for each connection QEMU hands it.
METADATA_SH = r"""#!/bin/sh
cr=$(printf '\r')
read -r method path version
while IFS= read -r line; do [ -z "${line%"$cr"}" ] && break; done
case $path in
    /openstack/latest/meta_data.json) file=/tmp/meta_data.json ;;
    /openstack/latest/user_data) file=/tmp/user_data ;;
    *) printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'; exit 0 ;;
esac
printf 'HTTP/1.0 200 OK\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$(wc -c <"$file")"
cat "$file"
"""
USER_DATA = "ping 169.254.0.2\nping 1.2.3.4; rm -rf /\nping $(reboot)\n"


class Qemu:
    """One boot of the guest: QEMU's serial console in a file, QEMU's own messages in another."""

    def __init__(self, built: guest.Guest, root: Path, work: Path, accel: str, netdev: str) -> None:
        self.built, self.root, self.work, self.accel, self.netdev = built, root, work, accel, netdev
        self.view = work.parent / f"{work.name}-view"
        self.view.mkdir()
        self.proc: Optional[subprocess.Popen] = None
        self.started = 0.0

    def __enter__(self) -> "Qemu":
        for name, source in (("vmlinuz", self.built.kernel), ("initrd.img", self.built.initrd)):
            (self.work / name).write_bytes(source.read_bytes())
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", READ_ONLY_CHROOT, "qemu",
                str(self.root), str(self.view), str(self.work),
                "qemu-system-x86_64", "-accel", self.accel, "-m", "256", "-smp", "1",
                "-nographic", "-monitor", "none", "-no-reboot", "-serial", "file:/tmp/console.log",
                "-kernel", "/tmp/vmlinuz", "-initrd", "/tmp/initrd.img", "-append", "console=ttyS0",
                "-netdev", self.netdev, "-device", "virtio-net-pci,netdev=net0,romfile="]
        with open(self.work / "qemu.log", "w") as log:
            self.started = time.monotonic()
            # its own session: stopped below by its process group, which holds only it and what it spawns
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def console(self) -> str:
        path = self.work / "console.log"
        return path.read_text(errors="replace").replace("\r\n", "\n") if path.exists() else ""

    def qemu_log(self) -> str:
        return (self.work / "qemu.log").read_text(errors="replace")

    def has_line(self, line: str) -> bool:
        return re.search(rf"^{re.escape(line)}$", self.console(), re.M) is not None

    def wait_for(self, line: str, within: float) -> float:
        """The seconds from QEMU's start until the console shows `line` (a whole line)."""
        deadline = time.monotonic() + within
        while not self.has_line(line):
            if self.proc.poll() is not None:
                pytest.fail(f"QEMU exited ({self.proc.returncode}) before {line!r}\n{self.qemu_log()[-2000:]}"
                            f"\n--- console:\n{self.console()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {line!r} within {within:.0f} s\n--- console:\n{self.console()[-3000:]}")
            time.sleep(0.2)
        return round(time.monotonic() - self.started, 1)

    def guest_lines(self) -> list[str]:
        return [line for line in self.console().splitlines() if line.startswith(guest.MARKER)]


@pytest.fixture(scope="module")
def timings() -> Dict[str, float]:
    """The module's seconds, shown in the summary once the accelerator is known (`accel`)."""
    return {}


@pytest.fixture(scope="module")
def built(timings) -> guest.Guest:
    if os.geteuid() != 0:
        service_unavailable("booting the guest needs root (a mount namespace for QEMU's root)")
    started = time.monotonic()
    try:
        built = guest.ensure_guest()
    except PrereqError as exc:
        service_unavailable(f"the guest could not be built: {exc}")
    timings["guest_ensure_s"] = round(time.monotonic() - started, 1)
    timings["guest_build_s"] = built.seconds_built  # 0: the cached guest
    return built


@pytest.fixture(scope="module")
def qemu_root() -> Path:
    """The hypervisor root's QEMU. A cached root may be the lower layer of a running lab's hosts:
    it is taken as it is (its QEMU is all this needs), never rebuilt from here; only a machine
    without one builds it, from the e2e stack's recipe, as the lab would."""
    root = roots.ROOTS / "hypervisor" / "root"
    if not (root / "usr/bin/qemu-system-x86_64").is_file():
        from lab.stack import lab_plan
        try:
            root, _ = roots.ensure(roots.hypervisor_recipe(lab_plan(STACK).hypervisor_packages))
        except PrereqError as exc:
            service_unavailable(f"no hypervisor root for QEMU: {exc}")
    return root


@pytest.fixture(scope="module")
def accel(built, qemu_root, tmp_path_factory, timings, pytestconfig) -> str:
    """kvm when /dev/kvm can run this guest, else tcg. Opening /dev/kvm is not enough: a nested
    KVM may stop the guest with "KVM internal error" (the kernel's decompressor uses instructions
    it cannot emulate); a first boot under KVM tells, and stops as soon as it does."""
    chosen, why = _accelerator(built, qemu_root, tmp_path_factory.mktemp("kvm-probe"), timings)
    print(f"QEMU's accelerator: {chosen} ({why})")
    report_timings(pytestconfig, f"guest image under {chosen} ({why})", timings)
    return chosen


def _accelerator(built: guest.Guest, qemu_root: Path, work: Path, timings: Dict[str, float]) -> tuple[str, str]:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as exc:
        return "tcg", f"no /dev/kvm: {exc.strerror}"
    started = time.monotonic()
    with Qemu(built, qemu_root, work, "kvm", "user,id=net0,restrict=on") as qemu:
        deadline = started + ADDRESS_WITHIN_S["kvm"]
        while time.monotonic() < deadline:
            timings["kvm_probe_s"] = round(time.monotonic() - started, 1)
            if STARTING in qemu.console():
                return "kvm", "/dev/kvm runs the guest"
            if "KVM internal error" in qemu.qemu_log() or qemu.proc.poll() is not None:
                said = [line for line in qemu.qemu_log().splitlines()
                        if "KVM internal error" in line or "emulation failure" in line or "error" in line.lower()]
                return "tcg", f"/dev/kvm cannot run the guest: {'; '.join(said[:2]) or 'QEMU exited'}"
            time.sleep(0.2)
    return "tcg", f"/dev/kvm did not start the guest within {ADDRESS_WITHIN_S['kvm']} s"


def test_the_guest_takes_slirp_s_address_and_retries_the_missing_metadata(built, qemu_root, accel, tmp_path, timings):
    with Qemu(built, qemu_root, tmp_path, accel, "user,id=net0,restrict=on") as qemu:
        timings["boot_to_address_s"] = qemu.wait_for(f"{guest.MARKER} address 10.0.2.15/24 on eth0",
                                                               ADDRESS_WITHIN_S[accel])
        timings["boot_to_retry_s"] = qemu.wait_for(f"{guest.MARKER} metadata unreachable, retrying",
                                                            RETRY_WITHIN_S)
        lines = qemu.guest_lines()
    assert lines[0].startswith(STARTING)
    assert lines[1:] == [f"{guest.MARKER} address 10.0.2.15/24 on eth0", f"{guest.MARKER} metadata unreachable, retrying"]


def test_the_guest_says_its_instance_id_and_pings_only_what_its_user_data_validly_asks(built, qemu_root, accel, tmp_path, timings):
    (tmp_path / "metadata.sh").write_text(METADATA_SH)
    (tmp_path / "meta_data.json").write_text(f'{{"uuid": "{UUID}", "name": "guest", "launch_index": 0}}')
    (tmp_path / "user_data").write_text(USER_DATA)
    # slirp's network where nova's metadata address is; guestfwd answers on 169.254.169.254:80
    netdev = ("user,id=net0,restrict=on,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15,"
              "guestfwd=tcp:169.254.169.254:80-cmd:sh /tmp/metadata.sh")
    with Qemu(built, qemu_root, tmp_path, accel, netdev) as qemu:
        qemu.wait_for(f"{guest.MARKER} address 169.254.0.15/16 on eth0", ADDRESS_WITHIN_S[accel])
        timings["boot_to_ready_s"] = qemu.wait_for(f"{guest.MARKER} ready", 60)
        time.sleep(2)
        assert qemu.proc.poll() is None  # still up: no reboot (-no-reboot would have ended QEMU), no panic
        lines = qemu.guest_lines()
    ignored = f"{guest.MARKER} user data: a ping line without a plain IPv4 address, ignored"
    assert lines[1:] == [f"{guest.MARKER} address 169.254.0.15/16 on eth0", f"{guest.MARKER} instance-id {UUID}",
                         f"{guest.MARKER} ping 169.254.0.2 ok", ignored, ignored, f"{guest.MARKER} ready"]
