"""The lab's guest: a kernel and an initrd that nova's instances boot in seconds, built from
Debian 13's own packages (the kernel of `linux-image-amd64`, busybox from `busybox-static`) and
cached under CACHE_DIR/guest/<name>/ (`vmlinuz`, `initrd.img`, `recipe.json`).

The guest's /init brings up eth0 by DHCP (with the classless static routes on which neutron
serves the metadata route of an isolated network), asks nova's metadata service for the
instance's uuid, pings what its user data asks (`ping <IPv4>` lines) and then stays up. Every
line it prints starts with "nova-lab-guest: ", on the console nova keeps a log of (the kernel
command line nova gives it: `console=ttyS0`), so a test can read what the guest did.

A build is rebuilt only when missing or when its recipe changes: the packages' versions the
mirror has now (apt-get update in a private apt state, a few seconds), the init and udhcpc
scripts, the drivers wanted, and this file. It is made in a directory beside it and renamed into
place, as roots.ensure does, so a killed build never leaves a half guest."""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import lzma
import os
import pwd
import re
import shutil
import stat
import struct
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from lab.support.common import PrereqError, progress, run

from . import roots
from .common import CACHE_DIR, SUITE

GUEST_DIR = CACHE_DIR / "guest"
MARKER = "nova-lab-guest:"  # every console line of the guest starts with it

# Where things are in the initrd (the init script names them).
MODULE_LIST = "/etc/nova-lab-guest/modules"  # the modules to load, in dependency order, one path a line
UDHCPC_SCRIPT = "/etc/nova-lab-guest/udhcpc"
CONSOLE_OVERRIDE = "NOVA_LAB_GUEST_CONSOLE"  # the udhcpc script's console elsewhere: for the tests only


@dataclass(frozen=True)
class GuestRecipe:
    name: str  # its directory under GUEST_DIR
    kernel_package: str  # a metapackage: the kernel is the versioned linux-image-* it depends on
    busybox_package: str
    # What the guest needs of the kernel to reach its network, as (the kernel's config symbol, the
    # module it builds when =m): the kernel's /boot/config-* says which are modules to load.
    drivers: Tuple[Tuple[str, str], ...]

    def digest(self, resolved: Mapping[str, str], mirrors: Tuple[str, Optional[str]], init: str, udhcpc: str,
               builder: str) -> str:
        """What decides the guest's content: the packages' versions (`resolved`, name -> version),
        the mirror, both scripts' text, the drivers and the builder's source."""
        text = json.dumps({"name": self.name, "suite": SUITE, "kernel_package": self.kernel_package,
                           "busybox_package": self.busybox_package, "drivers": self.drivers,
                           "resolved": dict(resolved), "mirrors": mirrors, "init": init, "udhcpc": udhcpc,
                           "builder": hashlib.sha256(builder.encode()).hexdigest()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


# virtio-net on virtio-pci is the NIC nova's libvirt driver gives a KVM or QEMU guest unless an
# image asks for another (hw_vif_model); udhcpc needs packet sockets. Debian 13 builds virtio-pci
# and packet sockets in (=y) and virtio-net as a module, which needs net_failover and failover.
GUEST = GuestRecipe(
    "busybox",
    kernel_package="linux-image-amd64",
    busybox_package="busybox-static",
    drivers=(("CONFIG_VIRTIO_PCI", "virtio_pci"), ("CONFIG_VIRTIO_NET", "virtio_net"), ("CONFIG_PACKET", "af_packet")),
)


@dataclass(frozen=True)
class Guest:
    kernel: Path
    initrd: Path
    digest: str
    seconds_built: float  # 0.0: the cached guest was used


# -- the guest's scripts ---------------------------------------------------------------------------
INIT = r"""#!/bin/sh
# nova-lab-guest's /init (busybox sh, PID 1): the network modules, eth0 by DHCP, nova's metadata
# and the user data's pings, each step said on the console as one "nova-lab-guest: ..." line.
# Init must never exit (the kernel would panic): every step is bounded, and the last waits forever.
PATH=/bin
export PATH
MODULE_LIST=@MODULE_LIST@
UDHCPC_SCRIPT=@UDHCPC_SCRIPT@
METADATA=http://169.254.169.254/openstack/latest
DHCP_DISCOVERS=20    # udhcpc -t, 3 s apart: a minute before udhcpc goes on asking in the background
METADATA_FOR_S=120   # how long the metadata service is asked, every 2 s
PING_FOR_S=30        # how long one address of the user data is pinged before it is said failed
MAX_PINGS=16         # addresses pinged at most (the user data is untrusted; init must get to ready)
USER_DATA_BYTES=65536
RUN_DIR=/run         # udhcpc's log, the user data

say() {  # one line to the console, written at once (echo's single write)
    echo "nova-lab-guest: $*"
}

uptime_s() {  # whole seconds since boot: a clock nothing sets back
    read -r up _ </proc/uptime
    echo "${up%%.*}"
}

one_line() {  # $1 on one line (a command's error output, for say)
    printf '%s' "$1" | tr '\n' ' '
}

load_modules() {  # each module listed in $1, in the list's order; a failure is said, the rest tried
    while IFS= read -r module; do
        [ -n "$module" ] || continue
        if ! out=$(insmod "$module" 2>&1); then
            say "module $module did not load: $(one_line "$out")"
        fi
    done <"$1"
}

wait_for_interface() {  # $1 appears within $2 seconds
    local waited=0
    while [ ! -e "/sys/class/net/$1" ]; do
        [ "$waited" -lt "$2" ] || return 1
        sleep 1
        waited=$((waited + 1))
    done
}

ipv4_of() {  # the address/prefix the interface $1 has, if any
    ip -4 -o addr show dev "$1" 2>/dev/null | sed -n 's/.* inet \([0-9.]*\/[0-9]*\) .*/\1/p' | head -n 1
}

network_up() {
    ip link set lo up
    if ! wait_for_interface eth0 10; then
        say "no eth0 after 10 s (interfaces: $(one_line "$(ls /sys/class/net)"))"
        return 1
    fi
    ip link set eth0 up
    # -O staticroutes: option 121, on which neutron's DHCP serves the metadata route of an isolated
    # network. The udhcpc script sets the lease and says the address; udhcpc's own messages go to
    # a log (they are not ours to print). Bound, udhcpc renews in the background; with -b, not
    # bound after the discovers, it goes on asking there, and init goes on without a lease.
    udhcpc -i eth0 -s "$UDHCPC_SCRIPT" -O staticroutes -t "$DHCP_DISCOVERS" -T 3 -A 10 -b >>"$RUN_DIR/udhcpc.log" 2>&1
    if [ -z "$(ipv4_of eth0)" ]; then
        say "no DHCP lease on eth0 after $((DHCP_DISCOVERS * 3)) s, still asking in the background"
        return 1
    fi
}

fetch() {  # the body at URL $1 on stdout; busybox wget's -T bounds each read, timeout the whole
    timeout 10 wget -q -T 5 -O - "$1" 2>/dev/null
}

is_ipv4() {  # a dotted quad, each part 0-255 without a leading zero, and nothing else
    case $1 in
        '' | *[!0-9.]*) return 1 ;;
    esac
    printf '%s\n' "$1" | grep -Eqx '((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
}

ping_until() {  # ping the address $1 until it answers, PING_FOR_S seconds at most
    local started
    started=$(uptime_s)
    until ping -c 3 -W 2 "$1" </dev/null >/dev/null 2>&1; do
        if [ $(($(uptime_s) - started)) -ge "$PING_FOR_S" ]; then
            say "ping $1 failed"
            return 1
        fi
        sleep 2
    done
    say "ping $1 ok"
}

ping_targets() {  # the user data on stdin (untrusted): each line exactly "ping <IPv4>" is pinged
    local cr line target pinged=0
    cr=$(printf '\r')
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%"$cr"}
        case $line in
            "ping "*) target=${line#ping } ;;
            *) continue ;;
        esac
        if ! is_ipv4 "$target"; then
            say "user data: a ping line without a plain IPv4 address, ignored"
            continue
        fi
        if [ "$pinged" -ge "$MAX_PINGS" ]; then
            say "user data: more than $MAX_PINGS addresses to ping, the rest ignored"
            return 0
        fi
        pinged=$((pinged + 1))
        ping_until "$target"
    done
}

metadata() {  # the instance's uuid from nova's metadata service, then the pings its user data asks
    local started now said='' meta uuid hex
    started=$(uptime_s)
    until meta=$(fetch "$METADATA/meta_data.json"); do
        now=$(uptime_s)
        if [ $((now - started)) -ge "$METADATA_FOR_S" ]; then
            say "metadata unreachable for $METADATA_FOR_S s, given up"
            return 1
        fi
        if [ -z "$said" ] || [ $((now - said)) -ge 10 ]; then
            say "metadata unreachable, retrying"
            said=$now
        fi
        sleep 2
    done
    hex='[0-9a-fA-F]'
    uuid=$(printf '%s\n' "$meta" |
        sed -n "s/.*\"uuid\": *\"\($hex\{8\}-$hex\{4\}-$hex\{4\}-$hex\{4\}-$hex\{12\}\)\".*/\1/p" | head -n 1)
    if [ -n "$uuid" ]; then
        say "instance-id $uuid"
    else
        say "meta_data.json has no uuid"
    fi
    fetch "$METADATA/user_data" | head -c "$USER_DATA_BYTES" >"$RUN_DIR/user_data"
    if [ -s "$RUN_DIR/user_data" ]; then
        ping_targets <"$RUN_DIR/user_data"
    else
        say "no user data"
    fi
}

main() {
    /bin/busybox --install -s /bin  # the applets' links (the initrd holds busybox and sh only)
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    # Every line to the console, also when the kernel could not open it for init; no input from
    # it (a serial console's input must not reach the steps). A failed redirection of exec would
    # end the shell, so it is tried in a subshell first.
    if (: >/dev/console) 2>/dev/null; then
        exec </dev/null >/dev/console 2>&1
    fi
    # On a serial console the kernel's own messages (module loads, link changes) would land
    # inside our lines: only its errors go to the console now (all of them stay in dmesg).
    echo 4 >/proc/sys/kernel/printk
    mkdir -p "$RUN_DIR"
    say "starting: kernel $(uname -r)"
    load_modules "$MODULE_LIST"
    network_up
    metadata
    say "ready"
    while :; do
        sleep 3600
    done
}

# Only as PID 1 does it boot; sourced elsewhere (the tests) it only defines its functions.
if [ "$$" = 1 ]; then
    main
fi
"""

UDHCPC = r"""#!/bin/sh
# nova-lab-guest's udhcpc script: a lease onto the interface (address, routes) and, when the
# address is new, its "address" line on the console. udhcpc gives $1 (the event) and interface,
# ip, mask (the prefix length), router, staticroutes (option 121: "dest/prefix gateway ...").
# shellcheck disable=SC2154  # those variables come from udhcpc
console=${@CONSOLE_OVERRIDE@:-/dev/console}
set -f  # the route lists are split on spaces, never globbed

say() {
    echo "nova-lab-guest: $*" >"$console"
}

has_address() {
    ip -4 -o addr show dev "$interface" 2>/dev/null | grep -qF " inet $ip/$mask "
}

routes() {
    if [ -n "${staticroutes:-}" ]; then
        # RFC 3442: with classless routes the router option is ignored; neutron's carry the
        # default route (0.0.0.0/0) beside the metadata one. Gateway 0.0.0.0: on the link.
        # shellcheck disable=SC2086  # split into its words, deliberately
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    elif [ -n "${router:-}" ]; then
        # shellcheck disable=SC2086  # the first of the routers
        set -- $router
        ip route replace default via "$1" dev "$interface"
    fi
}

case $1 in
    deconfig)
        ip addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound | renew)
        if ! has_address; then
            ip addr flush dev "$interface"
            ip addr add "$ip/$mask" dev "$interface"
            say "address $ip/$mask on $interface"
        fi
        routes
        ;;
esac
exit 0
"""


def render_init() -> str:
    """The guest's /init."""
    return INIT.replace("@MODULE_LIST@", MODULE_LIST).replace("@UDHCPC_SCRIPT@", UDHCPC_SCRIPT)


def render_udhcpc_script() -> str:
    """The script udhcpc runs at each DHCP event."""
    return UDHCPC.replace("@CONSOLE_OVERRIDE@", CONSOLE_OVERRIDE)


# -- the kernel's modules --------------------------------------------------------------------------
def module_name(path: str) -> str:
    """The kernel's name of a module file (kernel/net/core/failover.ko.xz -> failover)."""
    return Path(path).name.split(".ko", 1)[0].replace("-", "_")


def modules_to_load(config_text: str, drivers: Sequence[Tuple[str, str]]) -> List[str]:
    """The drivers' modules the kernel builds as modules (=m) per its config; one built in (=y)
    needs nothing, one not built at all is an error (the guest would have no network)."""
    config = dict(line.split("=", 1) for line in config_text.splitlines() if line.startswith("CONFIG_") and "=" in line)
    missing = [symbol for symbol, _ in drivers if config.get(symbol) not in ("y", "m")]
    if missing:
        raise PrereqError(f"the guest's kernel lacks {', '.join(missing)}: it needs them for its network")
    return [module for symbol, module in drivers if config[symbol] == "m"]


def modules_for(wanted: Sequence[str], modules_dep_text: str) -> List[str]:
    """The module paths of `wanted` (module names) and of everything they need, each after what
    it needs: the order to insmod them. `modules_dep_text` is in depmod's format ("path: dep
    dep"); a dependency without a line of its own needs nothing more."""
    needs: Dict[str, List[str]] = {}
    by_name: Dict[str, str] = {}
    for line in modules_dep_text.splitlines():
        if ":" not in line:
            continue
        path, rest = (part.strip() for part in line.split(":", 1))
        needs[path] = rest.split()
        by_name[module_name(path)] = path
    order: List[str] = []

    def visit(path: str, chain: Tuple[str, ...]) -> None:
        if path in order:
            return
        if path in chain:
            raise PrereqError(f"modules.dep: a dependency cycle: {' -> '.join(chain + (path,))}")
        for dependency in needs.get(path, ()):
            visit(dependency, chain + (path,))
        order.append(path)

    for name in wanted:
        path = by_name.get(name.replace("-", "_"))
        if path is None:
            raise PrereqError(f"no module {name} in modules.dep")
        visit(path, ())
    return order


def modinfo(image: bytes) -> Dict[str, str]:
    """The .modinfo section of a module (an ELF64 little-endian object): its key=value pairs."""
    if image[:4] != b"\x7fELF" or image[4] != 2 or image[5] != 1:
        raise PrereqError("not a 64-bit little-endian ELF module")
    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", image, 0x3A)
    # Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize
    headers = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for header in headers:
        name_end = image.index(b"\0", names_at + header[0])
        if image[names_at + header[0]:name_end] == b".modinfo":
            data = image[header[4]:header[4] + header[5]]
            return dict(entry.decode(errors="replace").split("=", 1)
                        for entry in data.split(b"\0") if b"=" in entry)
    return {}


def _module_images(module_dir: Path, wanted: Sequence[str]) -> Tuple[str, Dict[str, bytes]]:
    """The modules `wanted` and what they depend on (each module's own `depends=`, which depmod
    reads too: Debian's package has no modules.dep, its postinst makes one), decompressed for
    busybox's insmod. Returns a modules.dep text of them (paths as in the initrd, direct
    dependencies) and each module's image by that path."""
    files = {module_name(str(p)): p for p in (module_dir / "kernel").rglob("*.ko*")}
    lines: List[str] = []
    images: Dict[str, bytes] = {}
    todo, seen = list(wanted), set()
    while todo:
        name = todo.pop(0).replace("-", "_")
        if name in seen:
            continue
        seen.add(name)
        if name not in files:
            raise PrereqError(f"the kernel has no module {name} (under {module_dir})")
        source = files[name]
        image = lzma.decompress(source.read_bytes()) if source.name.endswith(".xz") else source.read_bytes()
        depends = [dep.replace("-", "_") for dep in modinfo(image).get("depends", "").split(",") if dep]
        missing = [dep for dep in depends if dep not in files]
        if missing:
            raise PrereqError(f"module {name} depends on {', '.join(missing)}, not in the kernel's package")
        path = _initrd_module_path(module_dir, source)
        images[path] = image
        lines.append(f"{path}: {' '.join(_initrd_module_path(module_dir, files[dep]) for dep in depends)}".rstrip())
        todo.extend(depends)
    return "\n".join(lines) + "\n", images


def _initrd_module_path(module_dir: Path, source: Path) -> str:
    relative = source.relative_to(module_dir).as_posix()
    return f"lib/modules/{module_dir.name}/{relative.removesuffix('.xz')}"


# -- the initrd ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One member of the initrd: a directory, a file, a symlink (data: its target) or a device."""
    path: str  # without the leading /
    mode: int  # with the file type bits (stat.S_IFREG | 0o755)
    data: bytes = b""
    device: Tuple[int, int] = (0, 0)  # (major, minor) of a character device


def directory(path: str) -> Entry:
    return Entry(path, stat.S_IFDIR | 0o755)


def cpio_newc(entries: Sequence[Entry]) -> bytes:
    """The entries as a "newc" cpio archive, the format the kernel unpacks an initramfs from
    (every member owned by root, time 0: the same entries give the same bytes)."""
    out = bytearray()

    def member(ino: int, name: str, mode: int, nlink: int, data: bytes, device: Tuple[int, int]) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, device[0], device[1], len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % field for field in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, entry in enumerate(entries, start=1):
        member(ino, entry.path.lstrip("/"), entry.mode, 2 if stat.S_ISDIR(entry.mode) else 1, entry.data, entry.device)
    member(0, "TRAILER!!!", 0, 1, b"", (0, 0))
    return bytes(out)


def initrd_entries(busybox: bytes, modules: Mapping[str, bytes], load_order: Sequence[str]) -> List[Entry]:
    """What the guest's initrd holds: busybox (sh the one link made here, the applets' at boot),
    /init and its udhcpc script, the modules and their load order, and the mount points."""
    dirs = {"bin", "dev", "etc", "etc/nova-lab-guest", "proc", "run", "sys", "tmp"}
    for path in modules:
        parent = Path(path).parent
        while str(parent) != ".":
            dirs.add(str(parent))
            parent = parent.parent
    return [
        *(directory(d) for d in sorted(dirs)),
        # before devtmpfs is mounted, the console the kernel opens for init
        Entry("dev/console", stat.S_IFCHR | 0o600, device=(5, 1)),
        Entry("bin/busybox", stat.S_IFREG | 0o755, busybox),
        Entry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        Entry("init", stat.S_IFREG | 0o755, render_init().encode()),
        Entry(UDHCPC_SCRIPT.lstrip("/"), stat.S_IFREG | 0o755, render_udhcpc_script().encode()),
        Entry(MODULE_LIST.lstrip("/"), stat.S_IFREG | 0o644, "".join(f"/{p}\n" for p in load_order).encode()),
        *(Entry(path, stat.S_IFREG | 0o644, image) for path, image in sorted(modules.items())),
    ]


# -- the packages, from the mirror ----------------------------------------------------------------
class PrivateApt:
    """apt-get and apt-cache with a state of their own under `home` (sources, lists, cache, an
    empty dpkg status): the machine's apt state is never read or written. The configuration is
    a file named by APT_CONFIG, not `-o` options: apt reads the machine's apt.conf.d before any
    `-o`, and its hooks (an image's `rm` of /var/cache/apt, an AppStream refresh) would run."""

    def __init__(self, home: Path, sources: str) -> None:
        self.home = home
        for sub in ("lists/partial", "cache/archives/partial", "etc.d", "downloads"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        (home / "sources.list").write_text(sources)
        (home / "status").write_text("")
        settings = {
            "Dir::Etc::Main": home / "etc.d/none.conf", "Dir::Etc::Parts": home / "etc.d",
            "Dir::Etc::SourceList": home / "sources.list", "Dir::Etc::SourceParts": home / "etc.d",
            "Dir::Etc::Preferences": home / "etc.d/none.pref", "Dir::Etc::PreferencesParts": home / "etc.d",
            "Dir::State": home, "Dir::State::Lists": home / "lists", "Dir::State::status": home / "status",
            "Dir::Cache": home / "cache", "Dir::Log": home, "APT::Architecture": "amd64",
            "Acquire::Languages": "none",
        }
        (home / "apt.conf").write_text("".join(f'{key} "{value}";\n' for key, value in settings.items()))
        # apt fetches as its sandbox user (_apt) where that user can write (its partial
        # directories it makes so itself; `apt-get download` writes to the working directory)
        home.chmod(0o755)
        try:
            shutil.chown(home / "downloads", user=pwd.getpwnam("_apt").pw_uid)
        except KeyError:
            pass
        self.env = {**os.environ, "APT_CONFIG": str(home / "apt.conf"), "LC_ALL": "C.UTF-8"}

    def update(self) -> None:
        run(["apt-get", "-q", "update"], env=self.env, timeout=600, what=f"apt-get update ({SUITE}, for the guest)")

    def candidates(self, packages: Sequence[str]) -> Dict[str, Dict[str, str]]:
        """package -> its candidate's control fields (Version, Depends, ...)."""
        out = run(["apt-cache", "show", "--no-all-versions", *packages], env=self.env, what="apt-cache show").stdout
        found: Dict[str, Dict[str, str]] = {}
        for paragraph in re.split(r"\n\s*\n", out):
            fields = dict(re.findall(r"^([A-Za-z0-9-]+): *(.*)$", paragraph, re.M))
            if "Package" in fields:
                found[fields["Package"]] = fields
        return found

    def download(self, versions: Mapping[str, str]) -> Dict[str, Path]:
        """package -> its downloaded .deb, each at the given version."""
        target = self.home / "downloads"
        run(["sh", "-c", 'cd "$1" && shift && exec apt-get -q download "$@"', "download", str(target),
             *(f"{name}={version}" for name, version in versions.items())],
            env=self.env, timeout=1800, what=f"apt-get download {' '.join(versions)}")
        debs = {}
        for name in versions:
            matches = sorted(target.glob(f"{name}_*.deb"))
            if len(matches) != 1:
                raise PrereqError(f"apt-get download {name}: expected one .deb, found {[m.name for m in matches]}")
            debs[name] = matches[0]
        return debs


def resolve(apt: PrivateApt, recipe: GuestRecipe) -> Dict[str, str]:
    """The packages to build the guest from (the kernel: the versioned package the metapackage
    depends on), each with the version the mirror has now."""
    found = apt.candidates([recipe.kernel_package, recipe.busybox_package])
    for name in (recipe.kernel_package, recipe.busybox_package):
        if name not in found:
            raise PrereqError(f"{name} is not in {SUITE} on the mirror")
    depends = found[recipe.kernel_package].get("Depends", "")
    kernel = re.search(r"(linux-image-[0-9][^\s,|()]*-amd64)\s*\(=\s*([^)\s]+)\)", depends)
    if not kernel:
        raise PrereqError(f"{recipe.kernel_package} depends on no linux-image-<version>-amd64 (=...): {depends!r}")
    return {kernel.group(1): kernel.group(2), recipe.busybox_package: found[recipe.busybox_package]["Version"]}


# -- building and caching --------------------------------------------------------------------------
def _builder_source() -> str:
    """This file: any change to how the guest is made rebuilds it (a build takes seconds to a
    minute, and a helper left out of a narrower digest would leave a stale guest)."""
    return Path(__file__).read_text()


BOOT_FLAG_AT, SETUP_MAGIC_AT = 0x1FE, 0x202  # the x86 boot protocol's boot_flag and "HdrS"


def without_boot_flag(kernel: bytes) -> bytes:
    """The bzImage with its boot_flag (0xAA55 at byte 510) zeroed. nova's image safety check
    reads that flag as an MBR's signature, and the setup header in front of it as a partition
    table with invalid entries ("Safety check mbr on gpt failed"): it refuses the kernel where it
    inspects it, a block live migration's destination (nova fetches kernels there with the deep
    inspection, not at boot). QEMU's loader, which boots nova's kernels, reads only the "HdrS"
    magic of the boot protocol; the flag is a boot sector's, for loaders of old."""
    if kernel[SETUP_MAGIC_AT:SETUP_MAGIC_AT + 4] != b"HdrS" or kernel[BOOT_FLAG_AT:BOOT_FLAG_AT + 2] != b"\x55\xaa":
        raise PrereqError("the guest's kernel is not a bzImage (no HdrS magic and boot flag where the x86 boot "
                          "protocol puts them)")
    return kernel[:BOOT_FLAG_AT] + b"\0\0" + kernel[BOOT_FLAG_AT + 2:]


def _one(paths: Sequence[Path], what: str) -> Path:
    if len(paths) != 1:
        raise PrereqError(f"the guest's packages: expected one {what}, found {[str(p) for p in paths]}")
    return paths[0]


def _build(recipe: GuestRecipe, debs: Mapping[str, Path], unpacked: Path, target: Path) -> Dict[str, object]:
    """vmlinuz and initrd.img into `target`; returns what recipe.json records of them."""
    unpacked.mkdir()
    for deb in debs.values():
        run(["dpkg-deb", "-x", str(deb), str(unpacked)], timeout=600, what=f"dpkg-deb -x {deb.name}")
    module_dir = _one([p for base in ("usr/lib/modules", "lib/modules") for p in (unpacked / base).glob("*")
                       if (p / "kernel").is_dir()], "kernel module tree")
    version = module_dir.name
    busybox = _one([p for p in (unpacked / "usr/bin/busybox", unpacked / "bin/busybox") if p.is_file()], "busybox")
    wanted = modules_to_load((unpacked / f"boot/config-{version}").read_text(), recipe.drivers)
    modules_dep, images = _module_images(module_dir, wanted)
    load_order = modules_for(wanted, modules_dep)
    (target / "vmlinuz").write_bytes(without_boot_flag((unpacked / f"boot/vmlinuz-{version}").read_bytes()))
    archive = cpio_newc(initrd_entries(busybox.read_bytes(), images, load_order))
    (target / "initrd.img").write_bytes(gzip.compress(archive, compresslevel=9, mtime=0))
    return {"kernel_version": version, "modules": load_order,
            "sizes": {name: (target / name).stat().st_size for name in ("vmlinuz", "initrd.img")}}


@contextmanager
def _locked() -> Iterator[None]:
    """One build at a time (two test workers, or a test and ./dev lab, may ask together)."""
    GUEST_DIR.mkdir(parents=True, exist_ok=True)
    with open(GUEST_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_guest(recipe: GuestRecipe = GUEST) -> Guest:
    """The recipe's guest: built when missing or stale (asking the mirror which versions it has
    takes a private apt-get update of a few seconds each time), else the cached one."""
    home = GUEST_DIR / recipe.name
    with _locked():
        building, old = GUEST_DIR / f".build-{recipe.name}", GUEST_DIR / f".old-{recipe.name}"
        for leftover in (building, old, *GUEST_DIR.glob(".work-*")):  # a killed build, swap or download
            if leftover.exists():
                shutil.rmtree(leftover)
        with tempfile.TemporaryDirectory(dir=GUEST_DIR, prefix=".work-") as work:
            os.chmod(work, 0o755)  # apt's sandbox user (_apt) fetches into PrivateApt's directories below
            mirrors = roots.machine_mirrors()
            apt = PrivateApt(Path(work) / "apt", roots._sources(*mirrors))
            apt.update()
            resolved = resolve(apt, recipe)
            digest = recipe.digest(resolved, mirrors, render_init(), render_udhcpc_script(), _builder_source())
            stamp = home / "recipe.json"
            if (stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest
                    and (home / "vmlinuz").is_file() and (home / "initrd.img").is_file()):
                return Guest(home / "vmlinuz", home / "initrd.img", digest, 0.0)
            progress(f"building the guest ({', '.join(f'{n} {v}' for n, v in resolved.items())}) under {home}")
            started = time.monotonic()
            debs = apt.download(resolved)
            building.mkdir()
            built = _build(recipe, debs, Path(work) / "unpacked", building)
        seconds = round(time.monotonic() - started, 1)
        progress(f"the guest built in {seconds:.0f} s")
        (building / "recipe.json").write_text(json.dumps({"digest": digest, "seconds": seconds, "built": time.time(),
                                                          "packages": resolved, **built}, indent=2))
        if home.exists():
            home.rename(old)
        building.rename(home)
        shutil.rmtree(old, ignore_errors=True)
    return Guest(home / "vmlinuz", home / "initrd.img", digest, seconds)
