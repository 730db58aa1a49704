"""What every part of the test hosts shares: their fixed places on the machine, the tools they
need from it, and the one way into a host's namespaces."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from lab.support.common import PrereqError, log, run

# Fixed places (not per session): a killed run's leftovers are found and taken down by the next.
STATE_DIR = Path(os.environ.get("NOVA_E2E_HOSTS_STATE_DIR", "/var/lib/openstack-nova-e2e"))
CACHE_DIR = Path(os.environ.get("NOVA_E2E_HOSTS_CACHE_DIR", "/var/cache/openstack-nova-e2e"))
SUITE = "trixie"  # Debian 13: the distro of the 2025.1 profile the hosts run
BRIDGE = "nova-e2e-br"  # interface names: at most 15 characters
NETNS_PREFIX = "nova-e2e-"
MARK = "nova-e2e-host:"  # in each host's anchor command line: how a pid is known to be ours

# What the machine must have. debootstrap is installed when missing (the one package the hosts
# install on the machine); the rest comes with Debian's standard system.
TOOLS = {"ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux", "mount": "mount",
         "hostname": "hostname", "ssh": "openssh-client", "ssh-keygen": "openssh-client"}
INNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def kvm_runs_unmodified_guests() -> bool:
    """/dev/kvm is there and backed by hardware virtualisation (kvm_intel, kvm_amd). Where the
    machine's only KVM is PVM (kvm_pvm: KVM without hardware support, for guests built for it),
    Debian's kernel stops at its first instruction PVM cannot emulate ("KVM internal error ...
    emulation failure"), so the lab's hypervisors get no /dev/kvm there and run their guests
    with QEMU's emulation (the program's detection then chooses qemu)."""
    return Path("/dev/kvm").exists() and any(Path(f"/sys/module/{m}").is_dir() for m in ("kvm_intel", "kvm_amd"))


def require_root() -> None:
    if os.geteuid() != 0:
        raise PrereqError("the lab needs root (namespaces, mounts, a bridge): run it as root")


def ensure_tools() -> List[str]:
    """Install debootstrap when missing; fail naming every other missing tool. Returns what was
    installed on the machine (for the report)."""
    installed = []
    if not shutil.which("debootstrap"):
        log("installing debootstrap on the machine (apt-get), to build the hosts' roots")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"], env=env,
            timeout=600, what="apt-get install debootstrap")
        installed.append("debootstrap")
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if missing:
        raise PrereqError(f"the machine lacks {', '.join(missing)}")
    return installed


def inner_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of a command run inside a host: a clean one (secrets only via `extra`)."""
    return {"PATH": INNER_PATH, "LANG": "C.UTF-8", "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive",
            **(extra or {})}


def nsenter(pid: int, argv: Sequence[str]) -> List[str]:
    """argv entering every namespace and the root of the host whose first process is `pid`."""
    return ["nsenter", "--target", str(pid), "--net", "--uts", "--mount", "--pid", "--root", "--wd",
            "--", *argv]
