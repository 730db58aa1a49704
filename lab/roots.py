"""The hosts' root file systems: Debian 13 built once by debootstrap from the machine's own apt
mirror, kept under CACHE_DIR/roots/<recipe>/root, and rebuilt only when missing or when its
recipe (the package lists, debconf answers, mirror and this file's text) changes. A run never
writes to a cached root: each host mounts it as the lower layer of an overlay of its own.

Recipes form a chain: `base` is debootstrap's minbase plus what every node of the install guide
has before OpenStack (sshd, chrony), and the others start from a copy of it."""
from __future__ import annotations

import hashlib
import inspect
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from lab.support.common import PrereqError, progress, run

from .common import CACHE_DIR, SUITE, inner_env

ROOTS = CACHE_DIR / "roots"
APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_D = Path("/etc/apt/sources.list.d")
# chroot with /proc and /dev, in a mount namespace of its own: the mounts die with the command
CHROOT = 'root=$1; shift; mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && exec chroot "$root" "$@"'
# No package starts a daemon while it is installed (there is no init system in a host); the
# tests start what they need, and the program's restart step runs the init scripts itself.
POLICY_RC_D = "#!/bin/sh\n# nova e2e host: daemons are started explicitly, not by package scripts\nexit 101\n"


def _source_entries() -> List[Tuple[str, List[str], List[str]]]:
    """(URI, suites, components) of the machine's enabled `deb` sources (one-line and deb822)."""
    entries: List[Tuple[str, List[str], List[str]]] = []
    files = [APT_SOURCES] + sorted(APT_SOURCES_D.glob("*.list")) + sorted(APT_SOURCES_D.glob("*.sources"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for para in re.split(r"\n\s*\n", text):
                fields: Dict[str, str] = {}
                for line in para.splitlines():
                    if line.strip() and not line.lstrip().startswith("#") and ":" in line:
                        key, value = line.split(":", 1)
                        fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                    for uri in fields.get("uris", "").split():
                        entries.append((uri, fields.get("suites", "").split(), fields.get("components", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]], words[3:]))
    return entries


def machine_mirrors() -> Tuple[str, Optional[str]]:
    """The Debian mirror and security mirror URIs this machine's apt uses (never hard-coded)."""
    entries = _source_entries()
    main = next((uri for uri, suites, comps in entries
                 if "main" in comps and any("-" not in s and "/" not in s for s in suites)), None)
    if main is None:
        raise PrereqError("no Debian mirror in /etc/apt/sources.list*: the hosts' roots come from it")
    security = next((uri for uri, suites, _ in entries if any(s.endswith("-security") for s in suites)), None)
    return main.rstrip("/"), security.rstrip("/") if security else None


@dataclass(frozen=True)
class Recipe:
    name: str
    packages: Tuple[str, ...] = ()  # installed
    download: Tuple[str, ...] = ()  # only fetched into apt's cache (the program installs them)
    preseed: Tuple[str, ...] = ()  # debconf answers given before installing
    appends: Tuple[Tuple[str, str], ...] = ()  # (path, text) appended after installing
    parent: Optional["Recipe"] = field(default=None, compare=False)

    def digest(self) -> str:
        main, security = machine_mirrors()
        text = json.dumps({"name": self.name, "suite": SUITE, "packages": self.packages, "download": self.download,
                           "preseed": self.preseed, "appends": self.appends, "mirror": main, "security": security,
                           "script": _build_script_digest(),
                           "parent": self.parent.digest() if self.parent else None}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _build_script_digest() -> str:
    """The build script: what decides a root's content (not the caching around it)."""
    text = "".join(inspect.getsource(f) for f in (chroot, _apt, _sources, _build)) + CHROOT + POLICY_RC_D
    return hashlib.sha256(text.encode()).hexdigest()


def chroot(root: Path, argv: List[str], *, input: Optional[str] = None, timeout: float = 1800,
           what: str = "") -> None:
    run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", CHROOT, "chroot", str(root), *argv],
        input=input, env=inner_env(), timeout=timeout, what=what or " ".join(argv[:3]))


def _apt(root: Path, *args: str, what: str) -> None:
    chroot(root, ["apt-get", "-q", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", *args],
           what=what)


def _sources(main: str, security: Optional[str]) -> str:
    lines = [f"deb {main} {SUITE} main", f"deb {main} {SUITE}-updates main"]
    if security:
        lines.append(f"deb {security} {SUITE}-security main")
    return "# nova e2e host: the machine's own mirror\n" + "\n".join(lines) + "\n"


def _build(recipe: Recipe, root: Path, parent: Optional[Path]) -> None:
    if parent is None:
        main, security = machine_mirrors()
        run(["debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}", SUITE, str(root), main],
            timeout=1800, what=f"debootstrap {SUITE} ({main})")
        (root / "etc/apt/sources.list").write_text(_sources(main, security))
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()  # each host generates its own at start
        _apt(root, "update", what="apt-get update")
        return
    run(["cp", "-a", "--reflink=auto", f"{parent}/.", str(root)], timeout=600, what=f"copy the {recipe.parent.name} root")
    _apt(root, "update", what="apt-get update")
    if recipe.preseed:
        chroot(root, ["debconf-set-selections"], input="".join(f"{line}\n" for line in recipe.preseed),
               what="debconf-set-selections")
    if recipe.packages:
        _apt(root, "install", *recipe.packages, what=f"apt-get install ({recipe.name})")
        _apt(root, "clean", what="apt-get clean")
    for path, text in recipe.appends:
        with open(root / path.lstrip("/"), "a") as fh:
            fh.write(text)
    if recipe.download:
        _apt(root, "install", "--download-only", *recipe.download, what=f"apt-get download ({recipe.name})")


def ensure(recipe: Recipe) -> Tuple[Path, Dict[str, float]]:
    """The recipe's root (built when missing or stale, its parent first when that is too) and
    the seconds each build took, by recipe name (0: the cached root was used)."""
    home = ROOTS / recipe.name
    building, old = ROOTS / f".build-{recipe.name}", ROOTS / f".old-{recipe.name}"
    for leftover in (building, old):  # a killed build, a killed swap
        if leftover.exists():
            shutil.rmtree(leftover)
    digest = recipe.digest()
    stamp = home / "recipe.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest and (home / "root/etc").is_dir():
        return home / "root", {recipe.name: 0.0}
    parent, built = ensure(recipe.parent) if recipe.parent else (None, {})
    ROOTS.mkdir(parents=True, exist_ok=True)
    building.mkdir()
    progress(f"building the {recipe.name} root ({SUITE}) under {home} (minutes, once per recipe)")
    started = time.monotonic()
    _build(recipe, building / "root", parent)
    seconds = round(time.monotonic() - started, 1)
    progress(f"the {recipe.name} root built in {seconds:.0f} s")
    (building / "recipe.json").write_text(json.dumps({"digest": digest, "seconds": seconds, "built": time.time(),
                                                      "packages": recipe.packages, "download": recipe.download}))
    if home.exists():
        home.rename(old)
    building.rename(home)
    shutil.rmtree(old, ignore_errors=True)
    return home / "root", {**built, recipe.name: seconds}


# -- the recipes -----------------------------------------------------------------------------------
BASE = Recipe("base", packages=("openssh-server", "chrony", "tini", "iproute2", "procps", "psmisc"))


def node_recipe(packages: Tuple[str, ...]) -> Recipe:
    """A node of the program: the base, with the release's packages already in apt's cache (the
    program's package step installs them; the cache spares the download, not the install)."""
    return Recipe("node", download=tuple(sorted(packages)), parent=BASE)


# What a hypervisor host has before nova's chapter: libvirt and QEMU, as an operator's base image
# would. In a host (a chroot in namespaces of its own, no systemd) libvirt's QEMU driver must not
# build a mount namespace per guest, and QEMU runs as root to open the /dev/kvm the host binds in.
QEMU_CONF = """
# nova e2e host: a chroot in namespaces of its own
namespaces = [ ]
user = "+0"
group = "+0"
"""
# Without systemd there is no D-Bus and no polkit, which Debian's libvirtd asks before letting
# a non-root client (nova-compute runs as nova) in: the classic group-based socket instead.
LIBVIRTD_CONF = """
# nova e2e host: no D-Bus/polkit; members of group libvirt (nova) may manage guests
unix_sock_group = "libvirt"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
"""
HYPERVISOR_PACKAGES = ("libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils")
# The networking chapter's compute-node part with Open vSwitch (networking.py says why not Linux
# bridges): Open vSwitch and neutron's agent for it; ethtool sets the provider port's offloads.
L2_AGENT_PACKAGES = ("neutron-openvswitch-agent", "openvswitch-switch", "ethtool", "iptables")
# neutron's debconf questions, all no: the lab configures neutron itself (networking.py)
NEUTRON_PRESEED = (
    "neutron-common neutron/configure_db boolean false",
    "neutron-common neutron/configure_rabbit boolean false",
    "neutron-common neutron/configure_ksat boolean false",
    "neutron-common neutron/configure_nova boolean false",
    "neutron-api neutron/configure_api-endpoint boolean false",
    "neutron-metadata-agent neutron-metadata/configure boolean false",
)


def hypervisor_recipe(packages: Tuple[str, ...]) -> Recipe:
    """A hypervisor of the program: libvirt and QEMU installed and configured for a host, and
    neutron's Open vSwitch agent (the lab's network service; started by the lab); the release's
    compute packages in apt's cache (the program's package step installs them)."""
    return Recipe("hypervisor", packages=HYPERVISOR_PACKAGES + L2_AGENT_PACKAGES, preseed=NEUTRON_PRESEED,
                  appends=(("/etc/libvirt/qemu.conf", QEMU_CONF), ("/etc/libvirt/libvirtd.conf", LIBVIRTD_CONF)),
                  download=tuple(sorted(packages)), parent=BASE)


# Debian's openstack packages ask these (templates of keystone, placement-common, placement-api).
# All false: the packages must not touch a database (dbconfig-common), create an admin tenant or
# register endpoints; the services host does that itself.
DEBCONF_SELECTIONS = [
    ("keystone", "keystone/configure_db", "boolean", "false"),
    ("keystone", "keystone/create-admin-tenant", "boolean", "false"),
    ("keystone", "keystone/register-endpoint", "boolean", "false"),
    ("placement-common", "placement/configure_db", "boolean", "false"),
    ("placement-common", "placement/configure_ksat", "boolean", "false"),
    ("placement-api", "placement/configure_api-endpoint", "boolean", "false"),
]
# keystone, placement and glance (the image API that 2025.1's verification lists) with
# Debian's debconf questions answered no: the hosts configure them, not the packages; and a
# browser (Debian's chromium and chromedriver) for the dashboard's test.
SERVICES = Recipe(
    "services",
    # chromium and its driver: the browser that opens the program's dashboard
    packages=("keystone", "placement-api", "glance-api", "python3-openstackclient",
              "chromium", "chromium-driver", "fonts-dejavu-core"),
    preseed=tuple(f"{p} {q} {t} {v}" for p, q, t, v in DEBCONF_SELECTIONS) + (
        "glance-common glance/configure_db boolean false",
        "glance-common glance/configure_ksat boolean false",
        "glance-common glance/configure_rabbit boolean false",
        "glance-api glance/configure_api-endpoint boolean false",
    ),
    parent=BASE,
)

# The db host (data.py): MariaDB and RabbitMQ, as the install guide's controller installs them.
# Installing starts neither (policy-rc.d); the lab starts them with their init scripts.
DB = Recipe("db", packages=("mariadb-server", "rabbitmq-server"), parent=BASE)

# The network node (networking.py): the networking chapter's controller and network-node parts
# on one host: neutron's API (uwsgi), RPC server and periodic workers, the Open vSwitch, DHCP and
# metadata agents, with the tools they drive (Open vSwitch, dnsmasq, haproxy).
NETWORK = Recipe(
    "network",
    packages=("neutron-api", "neutron-rpc-server", "neutron-periodic-workers", "neutron-dhcp-agent",
              "neutron-metadata-agent", *L2_AGENT_PACKAGES, "dnsmasq-base", "haproxy",
              "python3-pymysql", "python3-openstackclient"),
    preseed=NEUTRON_PRESEED,
    parent=BASE,
)
