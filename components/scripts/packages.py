"""Installing packages: the package source, debconf answers, the dpkg lock, and the nova
version the release needs (and may upgrade from)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from components.scripts.base import (
    DEB_LINE_RE, PACKAGE_RE, PRESEED_RE, SOURCE_NAME_RE, HEADER, checked, checked_hosts, checked_path, q,
)

@dataclass(frozen=True)
class NovaVersion:
    """The nova the packages must install (`major`), and the installed majors it may replace
    (`upgrade_from`, with `series` naming every major for messages)."""
    major: int
    upgrade_from: tuple[int, ...]
    series: Mapping[int, str]

    def name(self, major: int) -> str:
        return f"{self.series.get(major, 'an unknown release')} (nova {major})"


# Held for the whole package step: two of our package steps on one node (nova's and placement's
# on a controller, the dashboard's) are independent in the graph and run at once, and apt's own
# locks do not cover debconf-set-selections (found by the end-to-end test: "config.dat is locked").
PACKAGE_LOCK = "/run/lock/openstack-nova-packages.lock"
PACKAGE_LOCK_WAIT = 1800  # seconds: longer than any install we run

# An install killed mid-way (the step's SSH session dropped, the node rebooted) leaves dpkg
# "interrupted", and every later apt-get refuses: "dpkg was interrupted, you must manually run
# 'dpkg --configure -a' to correct the problem". apt decides that from dpkg's journal: a file
# named only by digits in /var/lib/dpkg/updates (apt-pkg's debSystem::CheckUpdates), so the
# step tests exactly that. It also asks `dpkg --audit`, which lists packages a killed apt left
# unpacked or half-configured once dpkg had folded its journal into the status file (apt does
# not refuse then, but leaves them broken). Only then does it run `dpkg --configure -a`, under
# the step's lock, after the dpkg lock wait, non-interactively, keeping changed conffiles as
# apt-get is told to; a healthy node never runs it.
DPKG_UPDATES = "/var/lib/dpkg/updates"

# Waits for dpkg's lock (another apt run) rather than failing; keeps changed conffiles.
APT_GET = "apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold"


def install_packages(packages: Sequence[str], preseed: Sequence[str] = (), source=None,
                     nova: Optional[NovaVersion] = None, lock: Optional[str] = None) -> str:
    """Non-interactive install that waits for the dpkg lock instead of failing on it, holding
    `lock` (flock) so that our package steps on one node run one at a time.
    `preseed` lines (`package question type value`) answer the packages' debconf questions
    first, so the install neither asks nor falls back to an unwanted default. `source` (a
    releases.AptSource) is added and pinned first. With `nova`, the step refuses, before
    installing anything, to replace an installed nova nova cannot upgrade from in one step
    (skipping a non-SLURP release, or going back), and fails unless the installed nova-common is
    the release's major version afterwards, before anything touches the database (a
    distribution's own, older nova would otherwise start on the wrong schema)."""
    pkgs = " ".join(q(p) for p in checked(packages, PACKAGE_RE, "Debian package name"))
    checked(preseed, PRESEED_RE, "debconf selection")
    add_source = ""
    if source is not None:
        checked([source.name], SOURCE_NAME_RE, "apt source name")
        checked([source.line], DEB_LINE_RE, "apt source line")
        checked([source.keyring_package], PACKAGE_RE, "Debian package name")
        checked_hosts([source.origin], "apt origin host")
        add_source = (
            f"{APT_GET} install -y -q --no-install-recommends {q(source.keyring_package)}\n"
            f"printf '%s\\n' {q(source.line)} > /etc/apt/sources.list.d/{source.name}.list\n"
            f"printf '%s\\n' 'Package: *' {q('Pin: origin ' + source.origin)} 'Pin-Priority: 600'"
            f" > /etc/apt/preferences.d/{source.name}.pref\n"
        )
    check = guard = ""
    if nova is not None:
        major = int(nova.major)
        installed = "version=$(dpkg-query -W -f='${Version}' nova-common 2>/dev/null || true)\nupstream=${version#*:}\n"
        check = installed + (
            f"case \"$upstream\" in {major}.*) echo \"nova $upstream installed\" ;;\n"
            f"  *) echo \"installed nova-common is '$version', not nova {major}.x: wrong package source for this release\" >&2; exit 1 ;;\n"
            "esac\n"
        )
        allowed = " | ".join(f"{int(m)}.*" for m in nova.upgrade_from)
        refusals = "".join(
            f"  {int(m)}.*) echo {q(f'refusing to change nova from {nova.name(int(m))} to {nova.name(major)}: ' + _upgrade_hint(int(m), major))} >&2; exit 1 ;;\n"
            for m in sorted(nova.series) if int(m) not in nova.upgrade_from)
        guard = installed + (
            f"case \"$upstream\" in ''{' | ' + allowed if allowed else ''}) ;;\n" + refusals
            + f"  *) echo \"refusing to change nova from $upstream to {nova.name(major)}: an unknown release\" >&2; exit 1 ;;\n"
            "esac\n"
        )
    lock = checked_path(lock or PACKAGE_LOCK)
    hold = (
        f"mkdir -p {q(lock.rsplit('/', 1)[0] or '/')}\n"  # /run/lock: made by the init system, absent in a chroot
        f"exec 9>>{q(lock)}\n"
        f"flock -w {PACKAGE_LOCK_WAIT} 9 || {{ echo {q(f'another package step held {lock} for {PACKAGE_LOCK_WAIT} s: giving up')} >&2; exit 1; }}\n"
    )
    wait = (
        "for i in $(seq 1 120); do\n"
        "  fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1 || break\n"
        "  echo 'waiting for the dpkg lock'; sleep 5\n"
        "done"
    )
    recover = (
        "journal=''\n"
        f"for f in {q(checked_path(DPKG_UPDATES))}/*; do case \"${{f##*/}}\" in ''|*[!0-9]*) ;; *) journal=pending ;; esac; done\n"
        "if [ -n \"$journal\" ] || [ -n \"$(dpkg --audit 2>/dev/null || true)\" ]; then\n"
        "  echo 'dpkg was interrupted (an earlier install was killed): dpkg --configure -a'\n"
        "  dpkg --force-confold --configure -a\n"
        "fi\n"
    )
    return (
        HEADER + "export DEBIAN_FRONTEND=noninteractive\n" + hold + wait + "\n"
        + (f"printf '%s\\n' {' '.join(q(line) for line in preseed)} | debconf-set-selections\n" if preseed else "")
        + guard
        + recover
        + (f"{APT_GET} update -q\n" + add_source if add_source else "")
        + f"{APT_GET} update -q\n"
        f"{APT_GET} install -y -q --no-install-recommends {pkgs}\n"
        + check
    )


def _upgrade_hint(installed: int, target: int) -> str:
    if installed > target:
        return "nova cannot be downgraded"
    return ("nova upgrades one release at a time, or from one SLURP release to the next; "
            "upgrade through the releases in between first")
