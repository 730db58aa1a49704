"""One test host: a Debian root (an overlay over a cached root, written only in the host's own
upper layer), in network, UTS, mount and PID namespaces of its own, chrooted into that root,
with its hostname, its own sshd on port 22 (a host key it generated, the test's public key for
root) and chronyd serving its local clock, as the install guide's nodes have before nova.

Its first process (tini, PID 1 of the host) is the anchor: killing it by its pid ends every
process of the host (the kernel kills a PID namespace with its init), and its mounts end with its
mount namespace; none of them is visible from the machine's own mount table."""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from lab.support.common import PrereqError, log, run
from lab.support.processes import pid_alive, port_open, signal_quietly, start_daemon, stop_daemon, wait_until
from lab.support.state import State

from .common import MARK, inner_env, nsenter

# Runs as PID 1 of the new namespaces (the machine's /bin/sh), then becomes the host's init.
INIT = r"""set -eu
lower=$1 upper=$2 work=$3 m=$4 name=$5 devices=$6
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$m"
mount -t proc proc "$m/proc"
mount -t sysfs -o ro sysfs "$m/sys"
mount -t tmpfs -o mode=0755,size=256m tmpfs "$m/run"
mount -t tmpfs -o mode=1777 tmpfs "$m/tmp"
mount -t tmpfs -o mode=0755,size=1m tmpfs "$m/dev"
for n in null zero full random urandom tty; do touch "$m/dev/$n"; mount --bind "/dev/$n" "$m/dev/$n"; done
for n in $devices; do if [ -c "/dev/$n" ]; then mkdir -p "$(dirname "$m/dev/$n")"; touch "$m/dev/$n"; mount --bind "/dev/$n" "$m/dev/$n"; fi; done
mkdir -p "$m/dev/pts" "$m/dev/shm" "$m/run/lock" "$m/run/sshd"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$m/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$m/dev/shm"
ln -s pts/ptmx "$m/dev/ptmx"
ln -s /proc/self/fd "$m/dev/fd"
ln -s /proc/self/fd/0 "$m/dev/stdin"; ln -s /proc/self/fd/1 "$m/dev/stdout"; ln -s /proc/self/fd/2 "$m/dev/stderr"
hostname "$name"
touch "$m/run/nova-e2e-ready"
exec chroot "$m" /usr/bin/tini -- /bin/sleep infinity
"""
SSHD_DROP_IN = """# nova e2e host: Debian's stock sshd_config, plus
ListenAddress {address}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
"""
# The install guide's time service. No NTP server is reachable: chronyd serves the local clock
# and, with -x, never touches the machine's (shared) clock; `chronyc tracking` then reports a
# Normal leap status, which the program's preflight checks.
CHRONY_CONF = "# nova e2e host\nlocal stratum 10\nport 0\ndriftfile /var/lib/chrony/chrony.drift\n"


def _children(pid: int) -> List[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _pidns(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def processes_in(pidns: str) -> List[int]:
    """The machine's pids of every process in that PID namespace."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pidns(int(entry.name)) == pidns:
            pids.append(int(entry.name))
    return pids


@dataclass
class Host:
    name: str
    address: ipaddress.IPv4Interface
    state: State

    @property
    def record(self) -> Dict:
        return self.state.data.setdefault("hosts", {}).setdefault(self.name, {})

    @property
    def dir(self) -> Path:
        return self.state.dir / "hosts" / self.name

    @property
    def pid(self) -> int:
        """The machine's pid of the host's PID 1 (what every command enters)."""
        return self.record["pid1"]

    @property
    def host_key(self) -> str:
        """`ssh-ed25519 AAAA...`: the host key its sshd presents (what the stack pins)."""
        return self.record["host_key"]

    # -- the way in ---------------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, input: Optional[str] = None, env: Optional[Dict[str, str]] = None,
            check: bool = True, timeout: float = 600, what: str = "") -> subprocess.CompletedProcess:
        """Run argv inside the host as root (values as argv, secrets only in `input`/`env`)."""
        return run(nsenter(self.pid, argv), input=input, env=inner_env(env), check=check, timeout=timeout,
                   what=f"{self.name}: {what or ' '.join(argv[:3])}")

    def path(self, inner: str) -> Path:
        """A path of the host's root seen from the machine (through its PID 1's root)."""
        return Path(f"/proc/{self.pid}/root") / inner.lstrip("/")

    def write(self, inner: str, text: str, mode: int = 0o644) -> None:
        path = self.path(inner)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(path, mode)

    # -- start and stop -----------------------------------------------------------------------
    def start(self, lower: Path, netns: str, etc_hosts: str, authorized_key: str, devices: Sequence[str] = ()) -> None:
        """`devices`: the machine's character devices bound into the host when it has them
        (a hypervisor's kvm: without it the host is a machine without virtualisation; its
        net/tun: libvirt makes each guest's tap device with it)."""
        upper, work, merged = self.dir / "upper", self.dir / "work", self.dir / "root"
        self.state.mark_created("host_dirs", str(self.dir))
        for d in (upper, work, merged):
            d.mkdir(parents=True, exist_ok=True)
        anchor = start_daemon(self.state, f"host-{self.name}", [
            "nsenter", f"--net=/run/netns/{netns}", "--",
            "unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "--",
            "/bin/sh", "-c", INIT, MARK + self.name, str(lower), str(upper), str(work), str(merged), self.name,
            " ".join(devices),
        ], MARK + self.name)

        def ready() -> bool:
            kids = _children(anchor)
            if kids and Path(f"/proc/{kids[0]}/root/run/nova-e2e-ready").exists() and \
                    b"tini" in Path(f"/proc/{kids[0]}/cmdline").read_bytes():
                self.record.update(pid1=kids[0], pidns=_pidns(kids[0]))
                return True
            return False

        wait_until(ready, what=f"host {self.name} to start", timeout=30, interval=0.1, pid=anchor,
                   logfile=self.state.log_path(f"host-{self.name}.out"))
        self.state.save()
        self.write("/etc/hostname", f"{self.name}\n")
        self.write("/etc/hosts", etc_hosts)
        self.write("/etc/resolv.conf", "# nova e2e host: no DNS; every name it needs is in /etc/hosts\n")
        self._sshd(authorized_key)
        self._chronyd()

    def _sshd(self, authorized_key: str) -> None:
        self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ssh_host_ed25519_key"],
                 what="ssh-keygen (host key)")
        self.record["host_key"] = " ".join(self.path("/etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2])
        self.state.save()
        self.write("/etc/ssh/sshd_config.d/nova-e2e.conf", SSHD_DROP_IN.format(address=self.address.ip))
        self.path("/root/.ssh").mkdir(mode=0o700, exist_ok=True)
        self.write("/root/.ssh/authorized_keys", authorized_key, mode=0o600)
        self.run(["/usr/sbin/sshd", "-t"], what="sshd -t")
        self.run(["/usr/sbin/sshd", "-E", "/var/log/sshd.log"], what="sshd")
        wait_until(lambda: port_open(str(self.address.ip), 22), what=f"{self.name}'s sshd to listen",
                   timeout=30, interval=0.2)

    def _chronyd(self) -> None:
        self.write("/etc/chrony/chrony.conf", CHRONY_CONF)
        self.run(["install", "-d", "-o", "_chrony", "-g", "_chrony", "-m", "0750", "/run/chrony"], what="/run/chrony")
        self.run(["chronyd", "-x"], what="chronyd -x")
        wait_until(lambda: "Leap status     : Normal" in self.run(["chronyc", "-n", "tracking"], check=False).stdout,
                   what=f"{self.name}'s chronyd to report a Normal leap status", timeout=30, interval=0.5)

    def start_libvirt(self) -> None:
        """virtlogd and libvirtd, as a hypervisor's init system would start them at boot. Each
        host has a libvirt host UUID of its own: libvirt reads it from the machine's SMBIOS, the
        same for every host of a lab, and refuses a migration to "the same host"."""
        conf = self.path("/etc/libvirt/libvirtd.conf")
        conf.write_text(conf.read_text() + f'host_uuid = "{uuid.uuid5(uuid.NAMESPACE_DNS, self.name + ".nova-e2e")}"\n')
        self.run(["/usr/sbin/virtlogd", "-d"], what="virtlogd")
        self.run(["/usr/sbin/libvirtd", "-d"], what="libvirtd")
        wait_until(lambda: self.run(["virsh", "-c", "qemu:///system", "version"], check=False, timeout=30).returncode == 0,
                   what=f"{self.name}'s libvirtd to answer", timeout=60, interval=0.5,
                   logfile=self.path("/var/log/libvirt/libvirtd.log"))

    def stop(self) -> None:
        """Kill the host's PID 1 by its pid (the kernel then ends every process of the host),
        make sure none is left (any straggler is killed by pid), and remove its files."""
        record = self.state.data.get("hosts", {}).get(self.name, {})
        pid1, pidns = record.get("pid1"), record.get("pidns", "")
        if pid1 and pidns and _pidns(pid1) == pidns:
            log(f"stopping host {self.name} (its PID 1: pid {pid1})")
            signal_quietly(pid1, signal.SIGKILL)
        stop_daemon(self.state, f"host-{self.name}", MARK + self.name)
        deadline = time.monotonic() + 20
        while pidns and processes_in(pidns):
            if time.monotonic() > deadline:
                for pid in processes_in(pidns):
                    log(f"host {self.name}: pid {pid} outlived its PID namespace's init: killing it")
                    signal_quietly(pid, signal.SIGKILL)
                if processes_in(pidns):
                    raise PrereqError(f"host {self.name}: processes {processes_in(pidns)} will not exit")
            time.sleep(0.2)
        if pid1 and pid_alive(pid1) and _pidns(pid1) == pidns:
            raise PrereqError(f"host {self.name}: its PID 1 ({pid1}) is still running")
        self.state.data.get("hosts", {}).pop(self.name, None)
        self.state.save()
        if os.path.ismount(self.dir / "root"):
            raise PrereqError(f"host {self.name}: {self.dir / 'root'} is mounted on the machine: not removing it")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        if str(self.dir) in self.state.created("host_dirs"):
            self.state.created("host_dirs").remove(str(self.dir))
            self.state.save()
