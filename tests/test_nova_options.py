"""tools/nova_options/: validating a rendered nova.conf against nova's real option definitions.

The first run builds a private virtualenv per release under .cache/ (pip needs the package
index; about two minutes each); later runs reuse it.  A failed build fails these tests: it is
never a reason to skip them.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tools import nova_options
from tools.nova_options.cache import fingerprint, tool_digest
from tools.nova_options.check import scrub, secret_values

# The command line: `python3 -m tools.nova_options ...`, run from the project root.
TOOL = [sys.executable, "-m", "tools.nova_options"]

PASSWORD = "Pw-4c1d-never-print-me"
RABBIT_PASSWORD = "rabbit-Secret-77"

MINIMAL_2025_1 = f"""\
[DEFAULT]
transport_url = rabbit://nova:{RABBIT_PASSWORD}@127.0.0.1:5672/
my_ip = 192.0.2.10

[database]
connection = mysql+pymysql://nova:{PASSWORD}@127.0.0.1/nova

[api_database]
connection = mysql+pymysql://nova:{PASSWORD}@127.0.0.1/nova_api

[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000/
auth_url = http://127.0.0.1:5000/
memcached_servers = 127.0.0.1:11211
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = {PASSWORD}

[vnc]
enabled = true
server_listen = 0.0.0.0

[oslo_concurrency]
lock_path = /var/lib/nova/tmp
"""


def with_lines(conf: str, section: str, *lines: str) -> str:
    """`conf` with `lines` added at the end of `section` (created at the end if absent)."""
    out, inside, done = [], False, False
    for line in conf.splitlines():
        if line.startswith("["):
            if inside and not done:
                out.extend(lines)
                done = True
            inside = line.strip() == f"[{section}]"
        out.append(line)
    if inside and not done:
        out.extend(lines)
        done = True
    if not done:
        out += ["", f"[{section}]", *lines]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def release_2025_1():
    """Build (or reuse) the 2025.1 cache once for this module; any failure fails the tests."""
    try:
        nova_options.ensure_optdata("2025.1")
    except nova_options.NovaOptionsError as exc:
        pytest.fail(f"building the nova 2025.1 option data failed:\n{exc}", pytrace=False)
    return "2025.1"


def problems_for(conf: str, release: str = "2025.1") -> list[str]:
    problems = nova_options.validate(conf, release)
    assert isinstance(problems, list)
    return problems


def test_release_pins_are_exact():
    # One exact nova (and exact libraries) per release: a verdict never depends on what PyPI
    # published since.
    assert "2025.1" in nova_options.NOVA_RELEASES and "zed" in nova_options.NOVA_RELEASES
    for release, pin in nova_options.NOVA_RELEASES.items():
        assert re.fullmatch(r"nova==\d+\.\d+\.\d+", pin), f"{release}: {pin!r} is not one exact version"
    for release, pins in nova_options.RELEASE_LIBRARY_PINS.items():
        assert release in nova_options.NOVA_RELEASES
        assert all("==" in pin and "*" not in pin for pin in pins)
        assert release in nova_options.CONFIG_NAMESPACES


def test_cache_is_built_once_and_reused(release_2025_1):
    rdir = nova_options.release_dir(release_2025_1)
    assert nova_options.cache_is_complete(release_2025_1)
    marker = json.loads((rdir / nova_options.MARKER_NAME).read_text())
    assert marker["fingerprint"]["nova"] == "nova==31.3.1"
    started = time.monotonic()
    path = nova_options.ensure_optdata(release_2025_1)
    assert time.monotonic() - started < 5, "a complete cache must be reused, not rebuilt"
    assert path == rdir / "optdata.yaml"
    text = path.read_text()
    # The generator's YAML, covering nova's own options and its libraries'.
    assert "deprecated_options:" in text and "keystonemiddleware.auth_token" in text


def test_half_built_cache_is_not_complete(tmp_path):
    rdir = nova_options.release_dir("2025.1", tmp_path)
    rdir.mkdir(parents=True)
    for name in ("optdata.yaml", "optdata-strict.yaml", "index.json"):
        (rdir / name).write_text("{}")
    assert not nova_options.cache_is_complete("2025.1", tmp_path)  # no marker
    (rdir / nova_options.MARKER_NAME).write_text(json.dumps({
        "fingerprint": {**fingerprint("2025.1"), "nova": "nova==31.0.0"},
        "tool": tool_digest(),
    }))
    assert not nova_options.cache_is_complete("2025.1", tmp_path)  # built from other pins


def test_unknown_release_is_a_clear_error():
    with pytest.raises(nova_options.NovaOptionsError, match="unknown release"):
        nova_options.ensure_optdata("havana")


def test_uninstallable_release_names_release_and_pip_failure(tmp_path, monkeypatch):
    monkeypatch.setitem(nova_options.NOVA_RELEASES, "zed", "nova==26.99.0")
    with pytest.raises(nova_options.NovaOptionsError) as info:
        nova_options.ensure_optdata("zed", root=tmp_path)
    message = str(info.value)
    assert message.startswith("release zed: pip cannot install nova==26.99.0")
    assert "No matching distribution found for nova==26.99.0" in message
    assert not nova_options.cache_is_complete("zed", tmp_path)


def test_minimal_conf_is_valid(release_2025_1):
    assert problems_for(MINIMAL_2025_1) == []


def test_unknown_option_in_known_section(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "vnc", "no_such_vnc_option = 1")
    assert problems_for(conf) == ["[vnc] no_such_vnc_option: unknown option"]


def test_unknown_option_in_keystone_authtoken(release_2025_1):
    # oslo-config-validator ignores unknown options in [keystone_authtoken]; the tool must not.
    conf = with_lines(MINIMAL_2025_1, "keystone_authtoken", "admin_passwd = x")
    assert problems_for(conf) == ["[keystone_authtoken] admin_passwd: unknown option"]


def test_removed_options_are_unknown(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "DEFAULT", "auth_strategy = keystone")
    conf = with_lines(conf, "vnc", "vncserver_listen = 0.0.0.0")
    assert problems_for(conf) == [
        "[DEFAULT] auth_strategy: unknown option",
        "[vnc] vncserver_listen: unknown option",
    ]


def test_unknown_section(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "no_such_section", "foo = bar", "baz = 1")
    assert problems_for(conf) == ["[no_such_section]: unknown section (foo, baz)"]
    conf = with_lines(MINIMAL_2025_1, "empty_unknown")
    assert problems_for(conf) == ["[empty_unknown]: unknown section (no options)"]


def test_deprecated_for_removal_option(release_2025_1):
    # [api] auth_strategy = keystone is the default, and the option is deprecated for removal.
    conf = with_lines(MINIMAL_2025_1, "api", "auth_strategy = keystone")
    assert problems_for(conf) == ["[api] auth_strategy: deprecated for removal (since 21.0.0)"]


def test_deprecated_alias_names(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "DEFAULT", "vnc_enabled = true")
    conf = with_lines(conf, "keystone_authtoken", "memcache_servers = 127.0.0.1:11211")
    assert problems_for(conf) == [
        "[DEFAULT] vnc_enabled: deprecated name; use [vnc] enabled",
        "[keystone_authtoken] memcache_servers: deprecated name; "
        "use [keystone_authtoken] memcached_servers",
    ]


def test_deprecated_alias_that_is_also_deprecated_for_removal(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "keystone_authtoken", "auth_uri = http://127.0.0.1:5000/")
    (problem,) = problems_for(conf)
    assert problem.startswith("[keystone_authtoken] auth_uri: deprecated name; "
                              "use [keystone_authtoken] www_authenticate_uri; "
                              "deprecated for removal")


def test_auth_plugin_options_follow_auth_type(release_2025_1):
    # v3applicationcredential options are valid where auth_type selects that plugin ...
    conf = with_lines(
        MINIMAL_2025_1, "neutron",
        "auth_type = v3applicationcredential",
        "auth_url = http://127.0.0.1:5000/",
        "application_credential_id = abc",
        f"application_credential_secret = {PASSWORD}",
    )
    assert problems_for(conf) == []
    # ... and not where another plugin is selected.
    conf = with_lines(MINIMAL_2025_1, "keystone_authtoken", "application_credential_id = abc")
    assert problems_for(conf) == [
        "[keystone_authtoken] application_credential_id: unknown option"
    ]


def test_auth_section_reference(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "placement", "auth_section = shared_auth")
    conf = with_lines(conf, "shared_auth", "auth_type = password",
                      "auth_url = http://127.0.0.1:5000/", "username = placement",
                      f"password = {PASSWORD}", "bogus = 1")
    assert problems_for(conf) == ["[shared_auth] bogus: unknown option"]


def test_dynamic_groups(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "devices", "enabled_mdev_types = nvidia-35")
    conf = with_lines(conf, "mdev_nvidia-35", "device_addresses = 0000:84:00.0")
    conf = with_lines(conf, "neutron", "physnets = physnet1")
    conf = with_lines(conf, "neutron_physnet_physnet1", "numa_nodes = 0")
    conf = with_lines(conf, "neutron_tunnel", "numa_nodes = 1")
    conf = with_lines(conf, "privsep_osbrick", "helper_command = sudo nova-rootwrap")
    conf = with_lines(conf, "nova_sys_admin", "thread_pool_size = 4")
    assert problems_for(conf) == []
    # A dynamic group nova will not read (its type is not enabled), an unknown option in one,
    # and the old name of a dynamic group.
    conf = with_lines(conf, "mdev_nvidia-99", "device_addresses = 0000:85:00.0")
    conf = with_lines(conf, "neutron_physnet_physnet1", "bogus = 1")
    conf = with_lines(conf, "vgpu_nvidia-35", "device_addresses = 0000:84:00.0")
    assert problems_for(conf) == [
        "[neutron_physnet_physnet1] bogus: unknown option",
        "[mdev_nvidia-99]: unknown section (device_addresses)",
        "[vgpu_nvidia-35] device_addresses: deprecated name; use [mdev_nvidia-35] "
        "device_addresses",
    ]


def test_unparsable_file_reports_line_only(release_2025_1):
    conf = f"password = {PASSWORD}\n[DEFAULT]\nmy_ip = 192.0.2.10\n"
    problems = problems_for(conf)
    assert len(problems) == 1
    assert problems[0].startswith("near line ")
    assert problems[0].endswith(": cannot parse nova.conf: Section must be started before "
                                "assignment")
    assert PASSWORD not in problems[0]


def test_secret_values_never_appear_in_problems(release_2025_1):
    conf = with_lines(MINIMAL_2025_1, "keystone_authtoken", f"admin_password = {PASSWORD}",
                      f"auth_uri = http://nova:{PASSWORD}@127.0.0.1:5000/")
    conf = with_lines(conf, "database", f"bogus_connection = mysql://u:{PASSWORD}@h/db")
    conf = with_lines(conf, "api", f"auth_strategy = {PASSWORD}")
    conf = with_lines(conf, f"section_{PASSWORD[:6]}", f"secret = {PASSWORD}")
    problems = problems_for(conf)
    assert len(problems) == 5, problems
    for problem in problems:
        assert PASSWORD not in problem
        assert RABBIT_PASSWORD not in problem
    # The secret scrubber is a second line of defence on top of messages built from names.
    assert scrub([f"x {PASSWORD} y"], secret_values(conf)) == [
        "x *** y"]


def test_cli_exit_codes_and_output(release_2025_1, tmp_path):
    good = tmp_path / "good.conf"
    good.write_text(MINIMAL_2025_1)
    bad = tmp_path / "bad.conf"
    bad.write_text(with_lines(MINIMAL_2025_1, "keystone_authtoken", "bogus = 1",
                              f"admin_password = {PASSWORD}"))
    run = [*TOOL, "validate", "--release", "2025.1"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, cwd=nova_options.PROJECT_ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    started = time.monotonic()
    fail = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=nova_options.PROJECT_ROOT)
    elapsed = time.monotonic() - started
    assert fail.returncode == 1, fail.stdout + fail.stderr
    assert "[keystone_authtoken] bogus: unknown option" in fail.stdout
    assert "[keystone_authtoken] admin_password: unknown option" in fail.stdout
    assert PASSWORD not in fail.stdout + fail.stderr
    assert elapsed < 30, f"validating one file took {elapsed:.1f}s"
    optdata = subprocess.run([*TOOL, "optdata", "--release", "2025.1"],
                             capture_output=True, text=True, cwd=nova_options.PROJECT_ROOT)
    assert optdata.returncode == 0
    assert optdata.stdout.strip() == str(nova_options.release_dir("2025.1") / "optdata.yaml")


def test_zed_release(tmp_path):
    """zed (nova 26) builds on this Python and knows its own, older option set."""
    try:
        nova_options.ensure_optdata("zed")
    except nova_options.NovaOptionsError as exc:
        pytest.fail(f"building the nova zed option data failed:\n{exc}", pytrace=False)
    assert problems_for(MINIMAL_2025_1, "zed") == []
    conf = with_lines(MINIMAL_2025_1, "keystone_authtoken", "auth_uri = http://x/", "bogus = 1")
    problems = problems_for(conf, "zed")
    assert problems[0].startswith("[keystone_authtoken] auth_uri: deprecated name;")
    assert problems[1:] == ["[keystone_authtoken] bogus: unknown option"]


# -- placement.conf: the same tool with project="placement" (--project placement) --------------
# (zed's placement, and our rendered placement.conf: tests/test_rendered_conf_is_valid.py)

# placement's database, and the same [keystone_authtoken] as nova's.
MINIMAL_PLACEMENT = (f"[placement_database]\nconnection = mysql+pymysql://placement:{PASSWORD}@127.0.0.1/placement\n\n"
                     + re.search(r"\[keystone_authtoken\]\n.*?\n\n", MINIMAL_2025_1, re.S).group(0))


@pytest.fixture(scope="module")
def placement_2025_1():
    try:
        nova_options.ensure_optdata("2025.1", project="placement")
    except nova_options.NovaOptionsError as exc:
        pytest.fail(f"building the placement 2025.1 option data failed:\n{exc}", pytrace=False)
    return "2025.1"


def test_placement_pins_and_separate_cache(tmp_path):
    assert nova_options.NOVA_RELEASES is nova_options.REQUIREMENTS["nova"]
    assert nova_options.REQUIREMENTS["placement"] == {
        "2025.1": "openstack-placement==13.0.0", "zed": "openstack-placement==8.0.0"}
    for release in ("2025.1", "zed"):
        assert all("==" in pin for pin in nova_options.LIBRARY_PINS["placement"][release])
        # placement's etc/placement/config-generator.conf (13.0.0 and 8.0.0 alike)
        assert nova_options.NAMESPACES["placement"][release] == (
            "placement.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.middleware.cors",
            "oslo.middleware.http_proxy_to_wsgi", "oslo.policy", "osprofiler")
    # nova's caches built before placement was added stay valid: same place, same fingerprint.
    assert nova_options.release_dir("zed", tmp_path) == tmp_path / "nova-zed"
    nova = fingerprint("zed")
    assert sorted(nova) == ["format", "namespaces", "nova", "pins", "python", "release"]
    assert (nova["format"], nova["nova"]) == (1, "nova==26.3.0")
    assert nova_options.release_dir("zed", tmp_path, project="placement") == tmp_path / "placement-zed"
    assert fingerprint("zed", "placement")["placement"] == "openstack-placement==8.0.0"
    with pytest.raises(nova_options.NovaOptionsError, match="unknown project 'glance'"):
        nova_options.ensure_optdata("2025.1", project="glance")
    with pytest.raises(nova_options.NovaOptionsError, match="unknown release 'liberty' of placement"):
        nova_options.validate(MINIMAL_PLACEMENT, "liberty", project="placement")


def test_placement_cache_reused_and_minimal_conf_valid(placement_2025_1):
    rdir = nova_options.release_dir(placement_2025_1, project="placement")
    assert rdir == nova_options.cache_root() / "placement-2025.1"
    marker = json.loads((rdir / nova_options.MARKER_NAME).read_text())
    assert marker["fingerprint"]["placement"] == "openstack-placement==13.0.0"
    started = time.monotonic()
    assert nova_options.ensure_optdata(placement_2025_1, project="placement") == rdir / "optdata.yaml"
    assert time.monotonic() - started < 5, "a complete cache must be reused, not rebuilt"
    assert nova_options.validate(MINIMAL_PLACEMENT, "2025.1", project="placement") == []
    # nova.conf's sections mean nothing to placement, and the other way round.
    assert "[api_database]: unknown section (connection)" in nova_options.validate(
        MINIMAL_2025_1, "2025.1", project="placement")
    assert problems_for(MINIMAL_PLACEMENT) == ["[placement_database]: unknown section (connection)"]


def test_placement_bad_option_section_and_deprecations(placement_2025_1):
    conf = with_lines(MINIMAL_PLACEMENT, "placement_database", "bogus = 1")
    conf = with_lines(conf, "keystone_authtoken", "admin_password = x", "memcache_servers = h:1")
    conf = with_lines(conf, "oslo_policy", "enforce_scope = true")
    conf = with_lines(conf, "DEFAULT", "auth_strategy = keystone")
    conf = with_lines(conf, "no_such_section", f"password = {PASSWORD}")
    assert nova_options.validate(conf, "2025.1", project="placement") == [
        "[placement_database] bogus: unknown option",
        "[keystone_authtoken] admin_password: unknown option",
        "[keystone_authtoken] memcache_servers: deprecated name; use [keystone_authtoken] memcached_servers",
        "[oslo_policy] enforce_scope: deprecated for removal",
        "[DEFAULT] auth_strategy: deprecated name; use [api] auth_strategy",
        "[no_such_section]: unknown section (password)",
    ]
    (parse,) = nova_options.validate(f"password = {PASSWORD}\n", "2025.1", project="placement")
    assert parse.endswith(": cannot parse placement.conf: Section must be started before assignment")


def test_placement_cli(placement_2025_1, tmp_path):
    good, bad = tmp_path / "placement.conf", tmp_path / "bad.conf"
    good.write_text(MINIMAL_PLACEMENT)
    bad.write_text(with_lines(MINIMAL_PLACEMENT, "placement_database", "bogus = 1"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*TOOL, *args], capture_output=True, text=True, cwd=nova_options.PROJECT_ROOT)

    ok = run("validate", "--project", "placement", "--release", "2025.1", str(good))
    assert (ok.returncode, ok.stdout) == (
        0, f"{good}: valid for placement release 2025.1 (openstack-placement==13.0.0)\n"), ok.stderr
    fail = run("validate", "--project", "placement", "--release", "2025.1", str(bad))
    assert fail.returncode == 1, fail.stdout + fail.stderr
    assert "  [placement_database] bogus: unknown option\n" in fail.stdout
    assert PASSWORD not in fail.stdout + fail.stderr
    # nova stays the default: to nova, the same file has an unknown section.
    as_nova = run("validate", "--release", "2025.1", str(good))
    assert as_nova.returncode == 1 and "[placement_database]: unknown section" in as_nova.stdout
    optdata = run("optdata", "--project", "placement", "--release", "2025.1")
    assert optdata.stdout.strip() == str(nova_options.cache_root() / "placement-2025.1" / "optdata.yaml")
