"""novaConf and novaConfSecret cannot silently change what the program decided from a typed
setting (migration, keystone, messaging, database, the nodes' addresses, workers...): such an
override is refused before anything is registered, naming the setting to change. Sections are
matched as oslo.config matches them: `[LIBVIRT]` is `[libvirt]` (one section is written, and one
option under two spellings is refused), and `[default]` is not `[DEFAULT]` (refused)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.nova_conf import nova_conf_options, render_nova_conf, secret_filled_options, setting_filled_options
from components.template_context import (
    COMPUTE, CONTROLLER, SECRET_SETTINGS, SETTING_SOURCES, conf_context, secret_values,
)
from tests.nova_reads import read_as_nova
from tests.support import problems_for, settings_for
from tests.test_hostile_settings import named, refused
from tests.test_migration import NOVA_KEY, dev_hypervisors
from tools.plan import PROJECT_ROOT

MIGRATING = {"migration": {"enabled": True}, "hypervisors": dev_hypervisors()}
WHY = ("set that instead: a novaConf value would silently replace it on every node while the program's own steps "
       "(checks, migration, cell mappings) still follow the setting")


@pytest.mark.parametrize("section", ["libvirt", "LIBVIRT", "Libvirt"])
@pytest.mark.parametrize("option, value, what", [
    ("live_migration_scheme", "tcp", "is written by the program"),
    ("live_migration_uri", "qemu+tcp://%s/system", "replaces [libvirt] live_migration_scheme, which the program writes"),
])
def test_the_reported_case_unauthenticated_migration_over_the_program_s_ssh_is_refused(section, option, value, what):
    """The stack migrates over qemu+ssh (and migration-check tests that); a novaConf scheme of tcp,
    or the deprecated live_migration_uri, would have every hypervisor migrate unauthenticated."""
    problems = refused("dev", secrets={"novaSshPrivateKey": NOVA_KEY}, novaConf={section: {option: value}}, **MIGRATING)
    assert named(problems, "novaConf") == [
        f"novaConf.{section}.{option}: {what} from migration (enabled, scheme); {WHY}"]


def test_the_same_in_nova_conf_secret_is_refused():
    problems = problems_for("dev", secrets={"novaSshPrivateKey": NOVA_KEY,
                                            "novaConfSecret": json.dumps({"libvirt": {"live_migration_scheme": "tcp"}})},
                            **MIGRATING)
    assert any(p.startswith("novaConfSecret.libvirt.live_migration_scheme: is written by the program from migration")
               for p in problems), problems


def test_every_value_a_template_may_name_has_its_setting():
    """The map behind the messages is complete: a new template value cannot slip past the check."""
    s = settings_for("dev")
    named_values = set(conf_context(s, s.controller, CONTROLLER, secret_values(s)))
    assert named_values - set(SECRET_SETTINGS) == set(SETTING_SOURCES)


@pytest.mark.parametrize("stack", ["dev", "zed", "tutorial"])
def test_every_option_the_program_writes_from_a_setting_is_refused_naming_it(stack):
    s = settings_for(stack)
    decided = setting_filled_options(s)
    secret = secret_filled_options(s)
    expected = {("DEFAULT", "my_ip"), ("keystone_authtoken", "auth_url"), ("conductor", "workers")}
    if stack != "tutorial":
        expected |= {("libvirt", "live_migration_scheme"), ("libvirt", "live_migration_inbound_addr"),
                     ("libvirt", "virt_type"), ("glance", "endpoint_override"), ("scheduler", "workers")}
    assert expected <= set(decided)
    assert ("keystone_authtoken", "auth_type") not in decided  # the release's constant: an override may change it
    novaconf: dict = {}
    for section, option in decided:
        novaconf.setdefault(section, {})[option] = "x"
    problems = problems_for(stack, novaConf=novaconf)
    for (section, option), (what, sources) in decided.items():
        if (section, option) in secret:  # named by the secret setting's message instead
            assert any(p.startswith(f"novaConf.{section}.{option}: is filled by the program from the secret setting")
                       for p in problems)
        else:
            assert f"novaConf.{section}.{option}: {what} from {sources}; {WHY}" in problems


def test_the_release_s_own_choices_may_still_be_overridden():
    s = settings_for("dev", novaConf={"keystone_authtoken": {"auth_type": "v3password"},
                                      "DEFAULT": {"state_path": "/srv/nova"}})
    options = nova_conf_options(s, s.controller, CONTROLLER, secret_values(s))
    assert options["keystone_authtoken"]["auth_type"] == "v3password"
    assert options["DEFAULT"]["state_path"] == "/srv/nova"


# ---------------------------------------------------------------------------------------------
# Section names, as oslo.config reads them
# ---------------------------------------------------------------------------------------------
def test_a_section_in_another_case_is_written_as_the_one_section_oslo_config_reads():
    """Before: `[libvirt]` and `[LIBVIRT]` both written, oslo.config merging them (the later wins)."""
    s = settings_for("e2e", novaConf={"LIBVIRT": {"cpu_mode": "custom", "cpu_models": "qemu64"},
                                      "Workarounds": {"skip_cpu_compare_on_dest": "true"}})
    text = render_nova_conf(s, s.hypervisors[0], COMPUTE, secret_values(s), virt_type="qemu")
    headers = [line for line in text.splitlines() if line.startswith("[")]
    assert [h for h in headers if h.lower() == "[libvirt]"] == ["[libvirt]"]
    assert [h for h in headers if h.lower() == "[workarounds]"] == ["[workarounds]"]
    libvirt = read_as_nova([text])[0]["libvirt"]
    assert (libvirt["virt_type"], libvirt["cpu_mode"], libvirt["cpu_models"]) == ("qemu", "custom", "qemu64")


@pytest.mark.parametrize("spelling", ["default", "Default"])
def test_a_default_section_in_lower_case_is_refused(spelling):
    """oslo.config reads `[default]` as a section of its own, which nova ignores."""
    problems = refused("dev", novaConf={spelling: {"debug": "true"}, "DEFAULT": {"debug": "false"}})
    assert named(problems, "novaConf") == [
        f"novaConf.{spelling}: is not nova's default section: oslo.config reads only `DEFAULT`, in upper case, as "
        f"that, and [{spelling}] as a section of its own that nova ignores; write DEFAULT"]


def test_one_option_under_two_spellings_of_its_section_is_refused():
    problems = refused("dev", novaConf={"libvirt": {"cpu_mode": "none"}, "LIBVIRT": {"cpu_mode": "host-model"}})
    assert named(problems, "novaConf") == [
        "novaConf.LIBVIRT.cpu_mode: is also set as novaConf.libvirt.cpu_mode, which oslo.config reads as the same "
        "[libvirt] option (section names are not case-sensitive); set it in one place"]
    problems = problems_for("dev", novaConf={"LIBVIRT": {"cpu_mode": "none"}},
                            secrets={"novaConfSecret": json.dumps({"libvirt": {"cpu_mode": "host-model"}})})
    assert "novaConf.LIBVIRT.cpu_mode: is also set in novaConfSecret; set it in one place" in problems


def test_the_offline_plan_exits_2_naming_the_override_and_the_setting(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tools.plan", "dev", "--placeholder-secrets", "--out", str(tmp_path),
                           "--set", 'novaConf={"LIBVIRT": {"live_migration_scheme": "tcp"}}'],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert ("  - novaConf.LIBVIRT.live_migration_scheme: is written by the program from migration (enabled, scheme); "
            "set that instead") in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not list(tmp_path.iterdir())
