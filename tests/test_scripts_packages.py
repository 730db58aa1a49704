"""The package scripts of components/scripts/packages.py, executed for real: install_packages (apt-get,
waiting for the dpkg lock) and its debconf preseeding.

Each script runs with bash in the sandbox of tests/sandbox.py (the node's tools are fake
commands on PATH that log every call); its fixtures `box` and `listener` are registered
by tests/conftest.py.
"""
from __future__ import annotations

import subprocess

import pytest

from components import scripts
from components.scripts import packages
from components.nova_node import nova_version
from components.releases import PROFILES, RELEASES
from tests.sandbox import KILL_SCRIPT, SIGKILLED, assert_kill_safe, assert_no_markers, tree


# --------------------------------------------------------------------------------------------
# install_packages
# --------------------------------------------------------------------------------------------

APT_OPTS = "-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold"


@pytest.fixture
def apt_box(box, monkeypatch):
    # the step's lock file in the sandbox, not in the machine's /run/lock
    monkeypatch.setattr(packages, "PACKAGE_LOCK", str(box.state / "lock" / "packages.lock"))
    box.shim("apt-get", 'echo "${DEBIAN_FRONTEND-unset}" >> "$STATE/apt-env"\n'
                        '[ ! -f "$STATE/apt-fails" ] || exit 100')
    # fuser exits 0 when a process holds the file; state/lock-held-calls says for how many calls
    box.shim("fuser", 'n=$(cat "$STATE/fuser-count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STATE/fuser-count"\n'
                      'held=$(cat "$STATE/lock-held-calls" 2>/dev/null || echo 0)\n'
                      '[ "$n" -le "$held" ] && { echo "/var/lib/dpkg/lock-frontend: 4242"; exit 0; }\n'
                      "exit 1")
    box.shim("sleep")
    dpkg_shims(box, monkeypatch)
    return box


# dpkg's state, as apt and dpkg see it: state/updates is dpkg's journal directory (a file named
# by digits there: dpkg was interrupted, and apt refuses to run), state/half-configured the
# packages `dpkg --audit` reports. `dpkg --configure -a` finishes the work and clears both.
APT_REFUSES = ("E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.")
DPKG = r"""
case "$*" in
  --audit) [ ! -s "$STATE/half-configured" ] || { echo 'The following packages are only half configured, probably due to problems'; cat "$STATE/half-configured"; } ;;
  "--force-confold --configure -a") echo "${DEBIAN_FRONTEND-unset}" >> "$STATE/configure-env"; rm -f "$STATE"/updates/[0-9]* "$STATE/half-configured" ;;
  *) echo "dpkg shim: unexpected use: $*" >&2; exit 125 ;;
esac
"""


def dpkg_shims(box, monkeypatch):
    (box.state / "updates").mkdir()
    monkeypatch.setattr(packages, "DPKG_UPDATES", str(box.state / "updates"))
    box.shim("dpkg", DPKG)
    # apt-get refuses while dpkg's journal holds a digits-only file, as apt-pkg does
    (box.bin / "apt-get").write_text((box.bin / "apt-get").read_text().replace(
        f"STATE={box.state}\n", f"STATE={box.state}\n"
        f'for f in "$STATE"/updates/*; do case "${{f##*/}}" in *[!0-9]*) ;; *) echo {APT_REFUSES!r} >&2; exit 100 ;; esac; done\n', 1))


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
    assert apt_box.calls("dpkg") == ["--audit"]  # a healthy dpkg: no `dpkg --configure -a`


def test_install_packages_waits_for_the_dpkg_lock(apt_box):
    (apt_box.state / "lock-held-calls").write_text("2")

    r = apt_box.run(scripts.install_packages(["nova-api"]))

    assert r.rc == 0, r.err
    assert r.out == "waiting for the dpkg lock\n" * 2
    names = [line.split()[0] for line in apt_box.calls()]
    assert names == ["fuser", "sleep", "fuser", "sleep", "fuser", "dpkg", "apt-get", "apt-get"]
    assert apt_box.calls("sleep") == ["5", "5"]


def test_package_steps_on_one_node_run_one_at_a_time(apt_box):
    """Two package steps the graph runs at once (nova's and placement's on a controller) must not
    interleave: apt's locks do not cover debconf-set-selections."""
    apt_box.shim("apt-get", 'echo "start $WHO" >> "$STATE/order"; /bin/sleep 0.3; echo "end $WHO" >> "$STATE/order"')
    apt_box.shim("debconf-set-selections", "cat >/dev/null")
    script = scripts.install_packages(["nova-api"], ["nova-common nova/configure_db boolean false"])
    procs = [subprocess.Popen(["bash", "-c", script], env={"PATH": f"{apt_box.bin}:/usr/bin:/bin", "WHO": str(who)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for who in (1, 2)]
    assert [p.wait(timeout=30) for p in procs] == [0, 0]
    order = (apt_box.state / "order").read_text().split("\n")[:-1]
    owners = [line.split()[1] for line in order]
    assert len(order) == 8 and owners[:4] == [owners[0]] * 4 and owners[4:] == [owners[4]] * 4 != owners[:4]
    assert (apt_box.state / "lock" / "packages.lock").exists()


def test_the_package_lock_is_held_before_debconf_and_apt():
    script = scripts.install_packages(["nova-api"], ["nova-common nova/configure_db boolean false"])
    assert script.index("flock -w 1800 9") < script.index("debconf-set-selections") < script.index("apt-get")
    # the recovery runs under the step's lock, after the wait for dpkg's, before any apt-get
    assert script.index("flock -w 1800 9") < script.index("fuser") < script.index("dpkg --force-confold --configure -a") \
        < script.index("apt-get")
    assert "exec 9>>/run/lock/openstack-nova-packages.lock\n" in script
    with pytest.raises(ValueError, match="refusing path"):
        scripts.install_packages(["nova-api"], lock="/run/lock/x;reboot")


def test_install_packages_fails_when_apt_fails(apt_box):
    (apt_box.state / "apt-fails").touch()
    r = apt_box.run(scripts.install_packages(["nova-api"]))
    assert r.rc == 100
    assert apt_box.calls("apt-get") == [f"{APT_OPTS} update -q"]  # install never attempted


# --------------------------------------------------------------------------------------------
# an install killed mid-way: dpkg interrupted, and the rerun recovers
# --------------------------------------------------------------------------------------------

def test_an_interrupted_dpkg_is_configured_before_apt_runs(apt_box):
    (apt_box.state / "updates" / "0007").write_text("Status: install ok half-configured\n")
    (apt_box.state / "updates" / "tmp.i").touch()

    r = apt_box.run(scripts.install_packages(["nova-api"]))

    assert r.rc == 0, r.err
    assert r.out == "dpkg was interrupted (an earlier install was killed): dpkg --configure -a\n"
    assert [c.split()[0] for c in apt_box.calls()] == ["fuser", "dpkg", "apt-get", "apt-get"]
    assert apt_box.calls("dpkg") == ["--force-confold --configure -a"]
    assert (apt_box.state / "configure-env").read_text() == "noninteractive\n"
    assert apt_box.calls("apt-get")[-1] == f"{APT_OPTS} install -y -q --no-install-recommends nova-api"


def test_packages_left_half_configured_are_configured_too(apt_box):
    """apt does not refuse once dpkg folded its journal, but the packages are still broken:
    `dpkg --audit` lists them."""
    (apt_box.state / "half-configured").write_text(" nova-common   OpenStack Compute - common files\n")
    r = apt_box.run(scripts.install_packages(["nova-api"]))
    assert r.rc == 0, r.err
    assert apt_box.calls("dpkg") == ["--audit", "--force-confold --configure -a"]
    assert not (apt_box.state / "half-configured").exists()


def test_files_apt_ignores_in_the_journal_do_not_trigger_a_configure(apt_box):
    (apt_box.state / "updates" / "tmp.i").touch()  # dpkg's own temp file: apt ignores it too
    (apt_box.state / "updates" / "0007.new").touch()
    r = apt_box.run(scripts.install_packages(["nova-api"]))
    assert (r.rc, r.out) == (0, ""), r.err
    assert apt_box.calls("dpkg") == ["--audit"]


def test_the_shimmed_apt_refuses_an_interrupted_dpkg_as_apt_does(apt_box):
    """The shims above model the failure this recovery exists for (a guard on the test itself)."""
    (apt_box.state / "updates" / "0007").touch()
    r = apt_box.run(f"apt-get {APT_OPTS} update -q")
    assert (r.rc, r.err) == (100, APT_REFUSES + "\n")


def package_node(box, monkeypatch):
    """A node for the whole 2025.1 step on Ubuntu: apt installs (state/installed), dpkg-query
    reports nova once installed, the cloud archive's files go to etc-apt/."""
    box.shim("fuser", "exit 1")
    box.shim("sleep")
    box.shim("debconf-set-selections", 'cat >> "$STATE/selections"')
    box.shim("apt-get", 'case "$*" in *" install "*) echo "${@: -1}" >> "$STATE/installed" ;; esac')
    box.shim("dpkg-query", 'grep -qx nova-api "$STATE/installed" 2>/dev/null || exit 1; printf 3:31.0.0-0ubuntu1')
    dpkg_shims(box, monkeypatch)
    monkeypatch.setattr(packages, "PACKAGE_LOCK", str(box.state / "lock" / "packages.lock"))
    apt_dir = box.root / "etc-apt"
    (apt_dir / "sources.list.d").mkdir(parents=True)
    (apt_dir / "preferences.d").mkdir()
    ubuntu = PROFILES[("2025.1", "ubuntu-24.04")].packaging
    return scripts.install_packages(["nova-api"], ["nova-common nova/configure_db boolean false"], ubuntu.source,
                                    nova=NOVA_2025_1).replace("/etc/apt/", f"{apt_dir}/")


def package_state(box):
    installed = (box.state / "installed").read_text().split()
    return (sorted(set(installed)), sorted(p.name for p in (box.state / "updates").iterdir()),
            (box.state / "half-configured").exists(), tree(box.root / "etc-apt"))


def test_the_package_step_killed_at_any_point_then_rerun_installs(monkeypatch):
    points = assert_kill_safe(lambda box: package_node(box, monkeypatch), package_state)
    assert points >= 20


def test_an_install_killed_inside_dpkg_is_finished_by_the_rerun(box, monkeypatch):
    script = package_node(box, monkeypatch)
    # the first `install nova-api` is killed while dpkg configures: its journal is left behind
    (box.bin / "apt-get").write_text((box.bin / "apt-get").read_text().replace("\ncase ", (
        '\nif [ "${@: -1}" = nova-api ] && [ ! -f "$STATE/killed" ]; then\n'
        '  touch "$STATE/killed"; echo nova-api > "$STATE/half-configured"; echo x > "$STATE/updates/0001"\n'
        f"  {KILL_SCRIPT}\n"
        "fi\ncase "), 1))
    assert box.run(script, killable=True).rc == SIGKILLED
    assert box.run(f"apt-get {APT_OPTS} install nova-api").err == APT_REFUSES + "\n"  # as apt would

    r = box.run(script)

    assert r.rc == 0, r.err
    assert r.out == ("dpkg was interrupted (an earlier install was killed): dpkg --configure -a\n"
                     "nova 31.0.0-0ubuntu1 installed\n")
    assert box.calls("dpkg")[-1] == "--force-confold --configure -a"
    assert package_state(box)[:3] == (["nova-api", "ubuntu-cloud-keyring"], [], False)


@pytest.mark.parametrize("release, distro", sorted(PROFILES))
def test_install_packages_for_each_release_profile(apt_box, release, distro):
    packages = PROFILES[(release, distro)].packaging.packages
    r = apt_box.run(scripts.install_packages(packages))
    assert r.rc == 0, r.err
    assert apt_box.calls("apt-get")[1].split()[-len(packages):] == list(packages)


@pytest.mark.parametrize("pkg", ["nova; rm", "$(id)", "`id`", "-o Foo", "-oFoo", "Nova-API", "nova api",
                                 "", "x", "nova-api\n", "nova-api\nid"])
def test_install_packages_rejects_hostile_names(pkg):
    with pytest.raises(ValueError):
        scripts.install_packages(["nova-api", pkg])


# --------------------------------------------------------------------------------------------
# debconf preseeding
# --------------------------------------------------------------------------------------------

def test_install_preseeds_debconf_before_apt(box, monkeypatch):
    box.shim("fuser", "exit 1")
    box.shim("apt-get")
    dpkg_shims(box, monkeypatch)
    box.shim("debconf-set-selections", 'cat >> "$STATE/selections"')
    lines = ["nova-consoleproxy nova-consoleproxy/daemon_type select novnc", "nova-common nova/configure_db boolean false"]
    r = box.run(scripts.install_packages(["nova-api"], lines))
    assert r.rc == 0, r.err
    assert (box.state / "selections").read_text() == "".join(line + "\n" for line in lines)
    assert [c.split()[0] for c in box.calls()] == ["fuser", "debconf-set-selections", "dpkg", "apt-get", "apt-get"]


@pytest.mark.parametrize("line", ["nova-common nova/configure_db boolean false; reboot",
                                  "nova-common nova/x string $(id)", "nova-common nova/x boolean"])
def test_install_refuses_hostile_preseed(line):
    with pytest.raises(ValueError):
        scripts.install_packages(["nova-api"], [line])


# --------------------------------------------------------------------------------------------
# the release's package source and the installed nova version
# --------------------------------------------------------------------------------------------

def test_a_cloud_archive_source_is_added_and_pinned_before_the_install(apt_box):
    ubuntu = PROFILES[("2025.1", "ubuntu-24.04")].packaging
    apt_dir = apt_box.root / "etc-apt"
    (apt_dir / "sources.list.d").mkdir(parents=True)
    (apt_dir / "preferences.d").mkdir()
    script = scripts.install_packages(["nova-api"], (), ubuntu.source).replace("/etc/apt/", f"{apt_dir}/")

    r = apt_box.run(script)

    assert r.rc == 0, r.err
    assert apt_box.calls("apt-get") == [
        f"{APT_OPTS} update -q",
        f"{APT_OPTS} install -y -q --no-install-recommends ubuntu-cloud-keyring",
        f"{APT_OPTS} update -q",
        f"{APT_OPTS} install -y -q --no-install-recommends nova-api",
    ]
    assert (apt_dir / "sources.list.d/cloudarchive-epoxy.list").read_text() == (
        "deb http://ubuntu-cloud.archive.canonical.com/ubuntu noble-updates/epoxy main\n")
    assert (apt_dir / "preferences.d/cloudarchive-epoxy.pref").read_text() == (
        "Package: *\nPin: origin ubuntu-cloud.archive.canonical.com\nPin-Priority: 600\n")


HOSTILE_SOURCE_TEXT = "{apt} {} {0} {{x}} '\"; touch {m}/pwned1; echo ' $(touch {m}/pwned2) `touch {m}/pwned3`\nsecond line"


def test_source_values_reach_their_files_verbatim_even_past_validation(apt_box, monkeypatch):
    """The source's values are quoted where they are written, and nothing formats the quoted
    text again: with the validation of the line and origin out of the way, braces, quotes, `;`,
    command substitutions and a newline are written as they are, and none of it runs."""
    import dataclasses
    import re

    monkeypatch.setattr(packages, "DEB_LINE_RE", re.compile(r"(?s).*"))
    monkeypatch.setattr(packages, "checked_hosts", lambda values, what: list(values))
    hostile = HOSTILE_SOURCE_TEXT.replace("{m}", str(apt_box.root))
    source = dataclasses.replace(PROFILES[("2025.1", "ubuntu-24.04")].packaging.source, line=hostile, origin=hostile)
    apt_dir = apt_box.root / "etc-apt"
    (apt_dir / "sources.list.d").mkdir(parents=True)
    (apt_dir / "preferences.d").mkdir()
    script = scripts.install_packages(["nova-api"], (), source).replace("/etc/apt/", f"{apt_dir}/")

    r = apt_box.run(script)

    assert r.rc == 0, r.err
    assert (apt_dir / "sources.list.d/cloudarchive-epoxy.list").read_text() == hostile + "\n"
    assert (apt_dir / "preferences.d/cloudarchive-epoxy.pref").read_text() == (
        f"Package: *\nPin: origin {hostile}\nPin-Priority: 600\n")
    assert_no_markers(apt_box)


@pytest.mark.parametrize("installed, rc, message", [
    ("2:31.0.0-1", 0, "nova 31.0.0-1 installed\n"),
    ("3:31.1.0-0ubuntu1~cloud0", 0, "nova 31.1.0-0ubuntu1~cloud0 installed\n"),
    ("2:26.2.2-1~deb12u5", 1, "installed nova-common is '2:26.2.2-1~deb12u5', not nova 31.x: wrong package source for this release\n"),
    ("", 1, "installed nova-common is '', not nova 31.x: wrong package source for this release\n"),
])
def test_the_install_fails_unless_the_release_s_nova_is_installed(apt_box, installed, rc, message):
    # before the install nothing is installed; after it, `installed` is
    apt_box.shim("dpkg-query", '[ -f "$STATE/installed" ] || exit 1\n'
                               f"printf '%s' {installed!r}" if installed else "exit 1")
    apt_box.shim("apt-get", 'touch "$STATE/installed"')

    r = apt_box.run(scripts.install_packages(["nova-api"], nova=NOVA_2025_1))

    assert r.rc == rc
    assert (r.out if rc == 0 else r.err) == message
    assert apt_box.calls("dpkg-query") == ["-W -f=${Version} nova-common"] * 2


NOVA_2025_1 = nova_version(RELEASES["2025.1"])


@pytest.mark.parametrize("installed, allowed, says", [
    ("2:29.2.0-1", True, ""), ("2:30.0.0-1", True, ""), ("3:31.0.0-0ubuntu1", True, ""),
    ("2:26.2.2-1~deb12u5", False, "refusing to change nova from zed (nova 26) to 2025.1 (nova 31): nova upgrades one "
                                  "release at a time, or from one SLURP release to the next; upgrade through the "
                                  "releases in between first\n"),
    ("2:28.1.0-1", False, "refusing to change nova from 2023.2 (nova 28) to 2025.1 (nova 31)"),
    ("2:32.0.0-1", False, "refusing to change nova from 32.0.0-1 to 2025.1 (nova 31): an unknown release\n"),
])
def test_an_upgrade_nova_does_not_support_is_refused_before_installing(apt_box, installed, allowed, says):
    apt_box.shim("dpkg-query", f"printf '%s' {installed!r}")
    r = apt_box.run(scripts.install_packages(["nova-api"], nova=NOVA_2025_1))
    assert bool(apt_box.calls("apt-get")) == allowed
    if not allowed:
        assert r.rc == 1 and r.err.startswith(says)


def test_the_release_data_allows_slurp_and_consecutive_upgrades_only():
    from components.releases import upgrade_sources

    assert upgrade_sources(31) == (29, 30, 31)  # 2024.1 (SLURP) and 2024.2 to 2025.1
    assert upgrade_sources(29) == (27, 28, 29)
    assert upgrade_sources(28) == (27, 28) and upgrade_sources(27) == (26, 27)


@pytest.mark.parametrize("field, value", [("line", "deb http://x/ubuntu noble main; reboot"), ("name", "../../cron"),
                                          ("origin", "x'y"), ("keyring_package", "-oFoo")])
def test_a_hostile_package_source_is_refused(field, value):
    import dataclasses

    source = dataclasses.replace(PROFILES[("2025.1", "ubuntu-24.04")].packaging.source, **{field: value})
    with pytest.raises(ValueError):
        scripts.install_packages(["nova-api"], (), source)
