"""The package scripts of components/scripts.py, executed for real: install_packages (apt-get,
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
from components.node import nova_version
from components.releases import PROFILES, RELEASES


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
    assert "exec 9>>/run/lock/openstack-nova-packages.lock\n" in script
    with pytest.raises(ValueError, match="refusing path"):
        scripts.install_packages(["nova-api"], lock="/run/lock/x;reboot")


def test_install_packages_fails_when_apt_fails(apt_box):
    (apt_box.state / "apt-fails").touch()
    r = apt_box.run(scripts.install_packages(["nova-api"]))
    assert r.rc == 100
    assert apt_box.calls("apt-get") == [f"{APT_OPTS} update -q"]  # install never attempted


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
