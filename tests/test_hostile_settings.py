"""Hostile settings, as a hostile new user would try them: every one is refused before the
program registers anything (under the real engine a registration is a step already under way),
as a config error naming the key, never a traceback, never the secret."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tools.plan.__main__ as plan_command
import tools.plan.stack as plan_stack
from components.config import ConfigError, NODE_KEYS, SCHEMA
from components.config.nodes import HYPERVISOR_KEYS, OTHER_COMPONENT_NAMES
from components.nova_conf import secret_filled_options
from tests.support import problems_for, record, settings_for
from tests.stack_files import encrypt_value, new_encryption_salt, stack_config  # with `cli_rules`
from tests.test_migration import NOVA_KEY, dev_hypervisors
from tools.plan import PROJECT_ROOT, STACK_TYPE, run_program, summary
from tools.plan.stack import read_stack_file, set_value
from tools.plan.stack_file import StackConfigError

# Every kind of line break and control character a parser may split a line on, and the
# invisible characters that make a value read differently from what it is.
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
CONTROLS = ["\x00", "\t", "\x1b", "\x7f", "\u202e", "\u200b"]


def refused(stack: str, secrets=None, **overrides) -> list[str]:
    """The problems of a stack the program must refuse, having registered nothing at all."""
    config, secret_keys = stack_config(stack, secrets=secrets, overrides=overrides, placeholder_secrets=True,
                                       cli_rules=False)  # the program's own checks, not the CLI's
    with pytest.raises(ConfigError) as err:
        run_program(stack, config, secret_keys)
    assert err.value.registered == [], f"registered before failing: {err.value.registered[:5]}"
    return err.value.problems


def named(problems: list[str], key: str) -> list[str]:
    return [p for p in problems if p.startswith(f"{key}:") or p.startswith(f"{key}.") or p.startswith(f"{key}[")]


# ---------------------------------------------------------------------------------------------
# Line breaks and control characters, in every plain string of a stack
# ---------------------------------------------------------------------------------------------
def _string_leaves(value, path):
    """(path, setter) for every string in a setting's value, map keys included."""
    if isinstance(value, str):
        yield path, None
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from ((p, s) for p, s in _string_leaves(item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for name, item in value.items():
            yield f"{path}.{name}", "key"
            yield from _string_leaves(item, f"{path}.{name}")


def _stack_strings(stack: str):
    document = read_stack_file(stack)["config"]
    for full_key, value in document.items():
        key = full_key.rpartition(":")[2]
        if SCHEMA[key].secret:
            continue
        for path, kind in _string_leaves(value, key):
            yield key, value, path, kind


def _with_suffix(value, path: str, kind, suffix: str):
    """A copy of `value` with `suffix` appended to the string (or map key) at `path`."""
    if isinstance(value, str):
        return value + suffix
    value = copy.deepcopy(value)
    steps = path.replace("[", ".[").split(".")[1:]
    parent, last = value, steps[-1]
    for step in steps[:-1]:
        parent = parent[int(step[1:-1])] if step.startswith("[") else parent[step]
    if kind == "key":
        parent[last + suffix] = parent.pop(last)
    elif last.startswith("["):
        parent[int(last[1:-1])] += suffix
    else:
        parent[last] += suffix
    return value


@pytest.mark.parametrize("stack", ["dev", "prod", "tutorial"])
def test_a_line_break_after_any_plain_setting_is_refused_before_anything_is_registered(stack):
    """The class of bug behind the reports (a trailing newline passed `re.match(...$)`; a raw
    list setting reached the file): every string of every plain setting of the stack, map keys
    included, with a newline and with U+2028 appended."""
    leaves = list(_stack_strings(stack))
    assert len(leaves) > 15
    for key, value, path, kind in leaves:
        for suffix in ("\n", "\u2028"):
            problems = refused(stack, **{key: _with_suffix(value, path, kind, suffix)})
            assert named(problems, key), (path, suffix, problems)


@pytest.mark.parametrize("char", LINE_BREAKS + CONTROLS, ids=lambda c: f"U+{ord(c[-1]):04X}")
def test_every_line_break_and_control_character_is_refused(char):
    problems = problems_for("dev", memcachedServers=f"dev-ctl.lab.example.org:11211{char}insecure:1",
                            region=f"RegionOne{char}", serviceDescription=f"Compute{char}x",
                            novaConf={"DEFAULT": {f"debug{char}": "true", "cpu_allocation_ratio": f"4{char}"},
                                      f"libvirt{char}": {"a": "b"}})
    for key in ("memcachedServers", "region", "serviceDescription", "novaConf.DEFAULT.cpu_allocation_ratio"):
        assert any(p.startswith(f"{key}: contains a ") for p in problems), (key, problems)
    assert any(p.startswith("novaConf.DEFAULT.") and "the name contains a" in p for p in problems)
    assert any(p.startswith("novaConf.") and "libvirt" in p for p in problems)


def test_memcached_injection_cannot_reach_the_files():
    """The reported case: a line break inside the list put `insecure:1` (TLS verification off)
    into [keystone_authtoken]. Refused; and what is rendered is the checked list, not the raw text."""
    problems = refused("dev", memcachedServers="dev-ctl.lab.example.org:11211\ninsecure:1")
    assert named(problems, "memcachedServers")
    s = settings_for("dev", memcachedServers=" m1.example.org:11211 , m2.example.org:11211")
    assert s.memcached_servers == "m1.example.org:11211,m2.example.org:11211"


@pytest.mark.parametrize("secret", ["dbPassword", "novaPassword", "rabbitPassword"])
@pytest.mark.parametrize("char", ["\n", "\r", "\x85", "\u2028", "\x00", "\x1b"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_secret_with_a_line_break_is_refused_without_showing_it(secret, char):
    problems = refused("dev", secrets={secret: f"Hidden-{char}-value"})
    assert named(problems, secret) and not any("Hidden" in p for p in problems)
    assert not any("position" in p for p in named(problems, secret))  # not even where it stands


def test_hostile_hypervisor_name_and_host_are_refused_before_registering():
    problems = refused("dev", hypervisors=[{"name": "compute1\n", "host": "cmp1", "myIp": "10.20.0.21"},
                                           {"name": "compute2", "host": "cmp2\u2028", "myIp": "10.20.0.22"}])
    assert named(problems, "hypervisors[0].name") and named(problems, "hypervisors[1].host")


# ---------------------------------------------------------------------------------------------
# URLs: parsed, not pattern-matched
# ---------------------------------------------------------------------------------------------
URL_SETTINGS = ["keystonePublicUrl", "keystoneAuthUrl", "endpointUrl", "endpointUrls.public",
                "endpointUrls.internal", "endpointUrls.admin"]
BAD_URLS = {
    "http://keystone.example.org:99999": "the port '99999' is not a number from 1 to 65535",
    "http://keystone.example.org:50a0/v3": "the port '50a0' is not a number from 1 to 65535",
    "http://keystone.example.org:0/": "the port '0' is not a number from 1 to 65535",
    "http://keystone.example.org:/": "the port '' is not a number from 1 to 65535",
    "http://fd00::5:5000/": "an IPv6 address in a URL goes in brackets",
    "http://[keystone]:5000/": "[keystone] is not an IPv6 address",
    "http://010.020.000.021:5000/": "looks like an IPv4 address but is not one",
    "http://ke$ystone:5000/": "is not a host name or IP address",
    "ftp://keystone:21/": "is not an http(s) URL",
}


def _url_overrides(setting: str, url: str) -> dict:
    if setting.startswith("endpointUrls."):
        return {"endpointUrls": {setting.split(".")[1]: url}}
    return {setting: url}


@pytest.mark.parametrize("setting", URL_SETTINGS)
def test_every_url_setting_is_parsed_and_checked(setting):
    for url, why in BAD_URLS.items():
        problems = refused("dev", **_url_overrides(setting, url))
        assert any(why in p for p in named(problems, setting)), (setting, url, problems)


@pytest.mark.parametrize("setting", URL_SETTINGS)
@pytest.mark.parametrize("userinfo", ["admin:Pa55w0rd@", "admin@", ":Pa55w0rd@", "a:b@c@"])
def test_credentials_in_a_url_are_refused_naming_the_secret_setting(setting, userinfo):
    problems = named(refused("dev", **_url_overrides(setting, f"https://{userinfo}keystone.example.org:5000/v3")), setting)
    assert problems and all("holds credentials" in p for p in problems), problems
    assert not any("Pa55w0rd" in p for p in problems)
    secret = "keystoneAdminPassword" if setting.startswith("keystone") else "novaPassword"
    assert secret in problems[0]


def test_valid_urls_still_load():
    s = settings_for("dev", keystonePublicUrl="https://[2001:db8::5]:5000/v3", keystoneAuthUrl="http://ks:35357",
                     endpointUrls={"public": "https://compute.example.org/v2.1/%(tenant_id)s"})
    assert s.keystone.public_url == "https://[2001:db8::5]:5000/v3"
    assert dict(s.identity.endpoints)["public"] == "https://compute.example.org/v2.1/%(tenant_id)s"


# ---------------------------------------------------------------------------------------------
# Secrets through plain settings
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "tutorial"])
def test_nova_conf_refuses_every_option_the_program_fills_from_a_secret(stack):
    filled = secret_filled_options(settings_for(stack))
    assert (("database", "connection"), "dbPassword") in filled.items()  # the reported case
    assert len(filled) >= 4
    for (section, option), key in filled.items():
        for layer in ("novaConf", "novaConfSecret"):
            overrides = {layer: {section: {option: "mysql+pymysql://nova:Leaked@db/nova"}}}
            if layer == "novaConfSecret":
                problems = problems_for(stack, secrets={"novaConfSecret": __import__("json").dumps(overrides[layer])})
            else:
                problems = refused(stack, **overrides)
            assert f"{layer}.{section}.{option}: is filled by the program from the secret setting {key}; set that " \
                   f"instead (`pulumi config set --secret {key} <value>`): an override would keep the password out " \
                   f"of {key}'s rotation" in problems, (layer, section, option, problems)
            assert not any("Leaked" in p for p in problems)


def test_secret_filled_options_are_matched_as_oslo_config_finds_them():
    for section, option in (("DATABASE", "Connection"), ("keystone_authtoken", "PASSWORD"),
                            ("DEFAULT", "transport-url")):
        problems = refused("dev", novaConf={section: {option: "x"}})
        assert any("is filled by the program from the secret setting" in p for p in problems), (section, option)


@pytest.mark.parametrize("section, option, value", [
    ("oslo_messaging_notifications", "transport_url", "rabbit://notify:Leaked@mq:5672/"),
    ("cache", "memcache_password", "Leaked"),
    ("libvirt", "rbd_secret_uuid", "Leaked"),
    ("glance", "api_servers", "http://user:Leaked@glance:9292"),
])
def test_a_credential_in_plain_nova_conf_is_sent_to_nova_conf_secret(section, option, value):
    problems = refused("dev", novaConf={section: {option: value}})
    assert any(p.startswith(f"novaConf.{section}.{option}: looks like a credential") and "novaConfSecret" in p
               for p in problems), problems
    assert not any("Leaked" in p for p in problems)
    # the same in novaConfSecret is fine
    import json
    s = settings_for("dev", secrets={"novaConfSecret": json.dumps({section: {option: value}})})
    assert s.nova_conf_secret_overrides[section][option].value == value


# ---------------------------------------------------------------------------------------------
# Production, on every node and on TLS
# ---------------------------------------------------------------------------------------------
def test_production_refuses_a_dashboard_node_and_its_jump_host_without_pinned_keys():
    problems = refused("prod", dashboard={"enabled": True, "node": {
        "name": "dash", "host": "dash.prod.example.org", "myIp": "10.0.10.50", "user": "deploy",
        "jumpHost": "bastion.prod.example.org"}})
    assert ("dashboard.node.hostKey: node 'dash' has no pinned SSH host key, which a production stack requires; "
            "set it to the output of `ssh-keyscan -t ed25519 dash.prod.example.org`") in problems
    assert any(p.startswith("dashboard.node.jumpHostKey: node 'dash' goes through bastion.prod.example.org") for p in problems)
    # a lab stack may
    settings_for("dev", dashboard={"enabled": True, "node": {"name": "dash", "host": "dash", "myIp": "10.20.0.50"}})


def test_production_refuses_tls_off_and_warns_about_the_rest():
    problems = refused("prod", keystonePublicUrl="http://keystone.prod.example.org:5000",
                       keystoneAuthUrl="http://keystone.prod.example.org:5000", keystoneInsecure=True, dbCaFile=None)
    for key in ("keystonePublicUrl", "keystoneAuthUrl"):
        assert any(p.startswith(f"{key}: 'http://keystone.prod.example.org:5000' is plain http, which a production "
                                "stack refuses") for p in problems)
    assert any(p.startswith("keystoneInsecure: is true, which a production stack refuses") for p in problems)
    assert any(p.startswith("dbCaFile: is not set, which a production stack refuses") for p in problems)
    warned = settings_for("prod", dbAllowedHosts=["%"], endpointUrls={"public": "http://compute.prod.example.org:8774/v2.1"})
    assert warned.warnings == (
        "dbAllowedHosts: '%' lets nova's database account log in from any host; a production stack should list "
        "its nodes' network instead, e.g. 10.0.10.%",
        "endpointUrls.public: 'http://compute.prod.example.org:8774/v2.1' is plain http: clients send their tokens "
        "to it in clear; publish an https URL")
    assert settings_for("prod").warnings == ()
    assert settings_for("dev", keystoneInsecure=True).keystone.insecure is True  # a lab may


# ---------------------------------------------------------------------------------------------
# The smaller ones
# ---------------------------------------------------------------------------------------------
def test_null_list_entries_are_refused_not_dropped():
    problems = refused("dev", hypervisors=[{"name": "compute1", "host": "cmp1", "myIp": "10.20.0.21"}, None],
                       dbAllowedHosts=["localhost", None], endpointInterfaces=["public", None])
    for key in ("hypervisors[1]", "dbAllowedHosts[1]", "endpointInterfaces[1]"):
        assert f"{key}: is empty (null); remove the entry or give it a value" in problems, (key, problems)


@pytest.mark.parametrize("first, second", [("fd00::a", "FD00::A"), ("fd00::21", "fd00:0:0::21"),
                                           ("cmp1.example.org", "CMP1.Example.Org"), ("10.20.0.21", "10.20.0.21")])
def test_one_machine_spelled_two_ways_is_one_machine(first, second):
    problems = refused("dev", hypervisors=[{"name": "compute1", "host": first, "myIp": "10.20.0.31"},
                                           {"name": "compute2", "host": second, "myIp": "10.20.0.32"}])
    assert any(p.startswith("hypervisors[1].host: 'compute2' is on ") and "as 'compute1' is" in p for p in problems)


@pytest.mark.parametrize("host", ["010.020.000.021", "10.20.21", "0x0a.0.0.1", "10.20.0.021"])
def test_ambiguous_numeric_hosts_are_refused(host):
    problems = refused("dev", controller={"host": host, "myIp": "10.20.0.10"}, dbHost=host)
    for key in ("controller.host", "dbHost"):
        assert any(p.startswith(f"{key}: '{host}' looks like an IPv4 address but is not one") for p in problems)


def _stack_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, why", [
    ("config:\n  openstack-nova:dbPort: 3306\n  openstack-nova:dbPort: 3307\n",
     "line 3, column 3: the key 'openstack-nova:dbPort' is given twice (first at line 2); keep one"),
    ("config:\n  openstack-nova:controller:\n    host: a\n    host: b\n",
     "line 4, column 5: the key 'host' is given twice (first at line 3); keep one"),
    ("config:\n  openstack-nova:controller:\n    port: 022\n",
     "line 3, column 11: '022' is not a plain decimal number (YAML 1.1 reads it as octal"),
    ("config:\n  openstack-nova:dbPort: 0x0cea\n", "'0x0cea' is not a plain decimal number"),
    ("config:\n  openstack-nova:dbPort: 3:30\n", "'3:30' is not a plain decimal number"),
    ("config:\n  openstack-nova:dbPort: 3_306\n", "'3_306' is not a plain decimal number"),
    ("config:\n  openstack-nova:dbPort: 0o17\n", "'0o17' is not a plain decimal number"),
    ("config:\n  openstack-nova:novaConf:\n    DEFAULT:\n      cpu_allocation_ratio: .inf\n",
     "line 4, column 29: '.inf' is not a plain decimal number (the Pulumi CLI cannot pass infinities or NaN"),
    ("config:\n  openstack-nova:novaConf:\n    DEFAULT:\n      cpu_allocation_ratio: 04.5\n",
     "'04.5' is not a plain decimal number"),
    ("config:\n  openstack-nova:serviceDescription: 2001-12-14\n",
     "'2001-12-14' is a date to YAML (the Pulumi CLI passes it as a timestamp"),
])
def test_the_stack_reader_refuses_duplicated_keys_and_non_decimal_integers(tmp_path, body, why):
    with pytest.raises(StackConfigError) as err:
        read_stack_file("hostile", _stack_file(tmp_path, body))
    assert why in str(err.value)


def test_plain_integers_and_anchors_still_read(tmp_path):
    body = "config:\n  a: 0\n  b: -22\n  c: 3306\n  d: &k x\n  e: *k\n  f: '022'\n"
    assert read_stack_file("ok", _stack_file(tmp_path, body))["config"] == {
        "a": 0, "b": -22, "c": 3306, "d": "x", "e": "x", "f": "022"}


# ---------------------------------------------------------------------------------------------
# What the user sees: exit 2, the key, no traceback
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting, key", [
    ('hypervisors=[{"name": "compute1\\n", "host": "h1", "myIp": "10.20.0.21"}]', "hypervisors[0].name"),
    ("keystonePublicUrl=http://ks:99999", "keystonePublicUrl"),
    ('novaConf={"database": {"connection": "mysql+pymysql://nova:x@db/nova"}}', "novaConf.database.connection"),
    ("memcachedServers=m1:11211\ninsecure:1", "memcachedServers"),
    ('hypervisors=[{"name": "123", "host": "h1", "myIp": "10.20.0.21"}]', "hypervisors[0].name"),
    ('hypervisors=[{"name": "controller", "host": "h1", "myIp": "10.20.0.21"}]', "hypervisors[0].name"),
])
def test_the_offline_plan_exits_2_naming_the_key(tmp_path, setting, key):
    done = subprocess.run([sys.executable, "-m", "tools.plan", "dev", "--placeholder-secrets", "--out", str(tmp_path),
                           "--set", setting], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"  - {key}:" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", ["\n", "\u2029", "\x0b"], ids=["LF", "PS", "VT"])
def test_every_plain_string_setting_refuses_a_line_break_even_when_the_stack_leaves_it_unset(suffix):
    """Not only the keys a stack file names: every plain string setting Pulumi.yaml or the schema
    declares (CA files, glance's host, keystone's URLs...), set to a value with a line break."""
    from components.config import project_defaults
    defaults = project_defaults()
    keys = [key for key, spec in SCHEMA.items() if spec.kind == "string" and not spec.secret]
    assert len(keys) > 25
    for key in keys:
        value = defaults.get(key) or {"dbCaFile": "/etc/ssl/ca.pem", "keystoneCaFile": "/etc/ssl/ca.pem"}.get(key, "x")
        problems = refused("dev", **{key: f"{value}{suffix}"})
        assert named(problems, key), (key, problems)


# Structured settings no stack file uses, each with every key it takes.
EVERY_MAP = {
    "endpointUrls": {"public": "http://compute.example.org:8774/v2.1", "internal": "http://ctl:8774/v2.1"},
    "adoptIds": {"user": "a" * 32, "service": "b" * 32, "endpoints": {"public": "c" * 32}},
    "serviceExtraRoleIds": {"service": "d" * 32},
    "placement": {"dbName": "placement", "dbUser": "placement"},
    "dashboard": {"enabled": True, "timeZone": "Europe/Paris",
                  "node": {"name": "dash", "host": "dash.example.org", "myIp": "10.20.0.50", "user": "deploy",
                           "jumpHost": "bastion.example.org"}},
}


@pytest.mark.parametrize("key", sorted(EVERY_MAP))
def test_a_line_break_anywhere_in_a_map_setting_is_refused(key):
    settings_for("dev", **{key: EVERY_MAP[key]})  # as given, the map loads
    for path, kind in _string_leaves(EVERY_MAP[key], key):
        problems = refused("dev", **{key: _with_suffix(EVERY_MAP[key], path, kind, "\u2028")})
        assert named(problems, key), (path, problems)


# ---------------------------------------------------------------------------------------------
# Every refusal before the first registration, whichever rule refuses
# ---------------------------------------------------------------------------------------------
def _every_component_on() -> dict:
    """Overrides of `dev` under which every component and every script family runs: migration
    between two hypervisors with pinned keys, and the dashboard on a node of its own."""
    return {"hypervisors": dev_hypervisors(2), "migration": {"enabled": True},
            "dashboard": {"enabled": True, "node": {"name": "dash", "host": "dash.example.org", "myIp": "10.20.0.50"}}}


ON = _every_component_on()
SWEEP_SECRETS = {"novaSshPrivateKey": NOVA_KEY}
# Values that some rule refuses somewhere, a config check or a script's own guard: names resolvers
# read as numbers, an option-like name, a dotted name, empty, non-ASCII, too long, null, and
# values of another type than the setting's.
AWKWARD_VALUES = ["123", "0xab", "-a", "a.b", "", "ä", "x" * 64, None, 0, True]


def _sweep_cases():
    """(what, awkward value's index, overrides) for every field of every node map (the controller,
    a hypervisor, the dashboard's own node) and every plain scalar setting."""
    for index, value in enumerate(AWKWARD_VALUES):
        for field in HYPERVISOR_KEYS:
            nodes = copy.deepcopy(ON["hypervisors"])
            nodes[0][field] = value
            yield f"hypervisors[0].{field}", index, {"hypervisors": nodes}
        for field in NODE_KEYS:
            controller = {**read_stack_file("dev")["config"]["openstack-nova:controller"], field: value}
            yield f"controller.{field}", index, {"controller": controller}
            dashboard = copy.deepcopy(ON["dashboard"])
            dashboard["node"][field] = value
            yield f"dashboard.node.{field}", index, {"dashboard": dashboard}
        for key, spec in SCHEMA.items():
            if not spec.secret and spec.kind in ("string", "integer", "boolean"):
                yield key, index, {key: value}


def _merged(cases: list[tuple[str, dict]]) -> dict:
    """The overrides of several cases at once: a node map's fields changed together."""
    merged = copy.deepcopy(ON)
    for _, overrides in cases:
        for key, value in overrides.items():
            if key == "hypervisors":
                merged[key][0].update(value[0])
            elif key == "dashboard":
                merged[key]["node"].update(value["node"])
            elif key == "controller" and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
    return merged


def _plans_or_refuses_first(overrides: dict) -> bool:
    """True when the program plans the stack; False when config refuses it, before it registered
    anything. Anything else (a refusal after a registration: a step under way) fails the test."""
    config, secret_keys = stack_config("dev", secrets=SWEEP_SECRETS, overrides=overrides, placeholder_secrets=True,
                                       cli_rules=False)
    try:
        run_program("dev", config, secret_keys)
    except ConfigError as err:
        assert err.registered == [], f"refused after registering {err.registered[:5]}, with {overrides}"
        return False
    except Exception as err:  # noqa: BLE001 (what the test is about)
        pytest.fail(f"{type(err).__name__}: {err} after {len(getattr(err, 'registered', []))} registrations, "
                    f"with {overrides}")
    return True


def test_no_setting_fails_the_program_once_it_has_registered_something():
    """The class of bug behind a hypervisor named `123`: config took it, a script's own guard
    refused it after 41 registrations. Every field of every node map and every plain scalar
    setting, with values some rule refuses: config refuses it, or the whole program plans it.
    (The values config takes are planned together, one run per value; each alone if together
    they are refused.)"""
    accepted: dict[int, list[tuple[str, dict]]] = {}
    refused_count = 0
    for what, index, overrides in _sweep_cases():
        try:
            settings_for("dev", SWEEP_SECRETS, **{**ON, **overrides})
        except ConfigError:
            refused_count += 1
            continue
        accepted.setdefault(index, []).append((what, overrides))
    assert refused_count > 300 and accepted  # both outcomes are exercised
    for index, cases in accepted.items():
        if not _plans_or_refuses_first(_merged(cases)):
            for what, overrides in cases:
                assert _plans_or_refuses_first({**ON, **overrides}), (what, AWKWARD_VALUES[index])


@pytest.mark.parametrize("name", ["123", "0xab", "0x"])
@pytest.mark.parametrize("place", ["controller", "hypervisors[0]", "dashboard.node"])
def test_a_node_name_resolvers_read_as_a_number_is_refused_before_anything_is_registered(place, name):
    """`123` passed the node-name rule; the verify script's guard refused it after 41 registrations."""
    node = {"name": name, "host": "node.example.org", "myIp": "10.20.0.60"}
    overrides = {"controller": node} if place == "controller" else {"hypervisors": [node]} \
        if place == "hypervisors[0]" else {"dashboard": {"enabled": True, "node": node}}
    assert f"{place}.name: {name!r} is not a node name: resolvers read a name of digits (or 0x and hex digits) as " \
           "an address, and nova-compute reports itself by its host name; use the node's host name, e.g. compute1" \
           in refused("dev", **overrides)


@pytest.mark.parametrize("field", ["host", "myIp"])
def test_a_required_node_field_given_as_null_is_missing(field):
    """`host: null` passed as present, and the controller's steps failed on it after registering."""
    controller = {**read_stack_file("dev")["config"]["openstack-nova:controller"], field: None}
    problems = refused("dev", controller=controller)
    assert any(p.startswith(f"controller.{field}: is required: ") for p in problems), problems


# ---------------------------------------------------------------------------------------------
# A hypervisor named like another component, or like another node
# ---------------------------------------------------------------------------------------------
def _named_after(resource: str, names) -> bool:
    return any(resource == name or resource.startswith(f"{name}-") for name in names)


@pytest.fixture(scope="module")
def every_component():
    """What `dev` registers with every component on (migration, the dashboard on its own node,
    the workers steps), and its hypervisors' names."""
    return record("dev", secrets=SWEEP_SECRETS, workers=2, **ON), [node["name"] for node in ON["hypervisors"]]


def test_the_other_components_names_are_all_known_to_config(every_component):
    """Config refuses a hypervisor named like any name in OTHER_COMPONENT_NAMES: every resource
    the program registers, the hypervisors' aside, is named after one of them."""
    rec, hypervisors = every_component
    others = [r.name for r in rec.resources() if r.type != STACK_TYPE and not _named_after(r.name, hypervisors)]
    assert len(others) > 30
    assert [name for name in others if not _named_after(name, OTHER_COMPONENT_NAMES)] == []


def test_every_hypervisor_name_that_would_share_a_resource_name_is_refused(every_component):
    """The names that would merge two resources in the plan and its graph: another resource's
    own name, the stack's, and any name that, with one of a hypervisor's step names after it
    (`<name>-restart`), is another resource's name (or another hypervisor's)."""
    rec, hypervisors = every_component
    names = {r.name for r in rec.resources()}
    steps = {name.removeprefix(f"{hypervisors[0]}-") for name in names if name.startswith(f"{hypervisors[0]}-")}
    assert {"restart", "verify", "migration-check"} <= steps
    others = {name for name in names if not _named_after(name, hypervisors)}
    clashing = others | {other.removesuffix(f"-{step}") for other in others for step in steps
                         if other.endswith(f"-{step}")}
    clashing |= {f"{hypervisors[0]}-{step.removesuffix(f'-{tail}')}" for step in steps for tail in steps
                 if step.endswith(f"-{tail}")}
    assert {"controller", "placement", "openstack-nova-dev", "controller-restart"} <= clashing
    for name in sorted(clashing):
        nodes = copy.deepcopy(ON["hypervisors"])
        nodes[1]["name"] = name
        problems = refused("dev", SWEEP_SECRETS, **{**ON, "hypervisors": nodes})
        assert named(problems, "hypervisors[1].name"), (name, problems)


@pytest.mark.parametrize("name, what", [("controller", "the program's controller component and its resources "
                                                       "(controller, controller-...)"),
                                        ("placement-db", "the program's placement component and its resources "
                                                         "(placement, placement-...)"),
                                        ("openstack-nova-dev", "the stack itself")])
def test_a_hypervisor_named_like_another_component_is_refused_with_the_reason(name, what):
    problems = refused("dev", hypervisors=[{"name": name, "host": "cmp1", "myIp": "10.20.0.21"}])
    assert f"hypervisors[0].name: {name!r} is named like {what}; a hypervisor's component and steps are named after " \
           f"the hypervisor ({name}, {name}-restart...), so the plan and its graph would take two resources for one; " \
           "name the hypervisor after its host, e.g. compute1" in problems


def test_a_hypervisor_named_like_the_controller_node_is_refused():
    problems = refused("dev", controller={"name": "ctl", "host": "ctl.example.org", "myIp": "10.20.0.10"},
                       hypervisors=[{"name": "ctl", "host": "cmp1", "myIp": "10.20.0.21"}])
    assert "hypervisors[0].name: 'ctl' is the controller's name too: nova would take the two nodes for one host; " \
           "give each node its own host name" in problems


def test_names_that_only_resemble_another_component_s_are_taken_and_planned_apart():
    for name in ("nova", "controller2", "compute-controller", "cells2"):
        settings_for("dev", hypervisors=[{"name": name, "host": "cmp1", "myIp": "10.20.0.21"}])
    rec = record("dev", hypervisors=[{"name": "nova", "host": "cmp1", "myIp": "10.20.0.21"}])
    names = [r.name for r in rec.resources()]
    assert len(names) == len(set(names)) and "nova-restart" in names
    assert len(set(summary(rec)["critical_path"])) == len(summary(rec)["critical_path"])


# ---------------------------------------------------------------------------------------------
# Values read as the Pulumi CLI reads them, no silent change of value
# ---------------------------------------------------------------------------------------------
def _dev_stack_file(tmp_path: Path, *lines: str) -> Path:
    """The dev stack's file with `lines` added to its config."""
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(plan_stack.stack_path("dev").read_text() + "".join(f"  {line}\n" for line in lines))
    return path


def test_yes_no_on_off_in_a_stack_file_are_text_as_the_cli_reads_them(tmp_path):
    """YAML 1.1 made `region: NO` the boolean false (the program got 'false'); the CLI's YAML 1.2
    reads the text NO, and so does the plan."""
    path = _dev_stack_file(tmp_path, "openstack-nova:region: NO", "openstack-nova:keystoneAdminProject: off")
    config = stack_config("dev", path=path, placeholder_secrets=True)
    values = config.values
    assert (values["openstack-nova:region"], values["openstack-nova:keystoneAdminProject"]) == ("NO", "off")
    nova_conf = run_program("dev", config.values, config.secret_keys).by_name("controller").outputs["nova_conf"]
    assert "region_name = NO\n" in nova_conf


def test_a_stack_file_s_scalars_are_what_the_cli_passes(tmp_path):
    body = "config:\n  a: NO\n  b: off\n  c: True\n  d: 4\n  e: -0.25\n  f: 2025.1\n  g: [yes, On, 1.5]\n"
    assert read_stack_file("ok", _stack_file(tmp_path, body))["config"] == {
        "a": "NO", "b": "off", "c": True, "d": 4, "e": -0.25, "f": 2025.1, "g": ["yes", "On", 1.5]}


@pytest.mark.parametrize("number, passed", [("1e3", "1000"), ("4.0", "4"), ("1.10", "1.1"), (".5", "0.5"),
                                            ("+22", "22"), ("-0", "0")])
def test_a_number_the_cli_would_pass_changed_is_refused_wherever_it_stands(tmp_path, number, passed):
    """In a map no declaration types (novaConf), `1.10` reached nova as 1.1 under the CLI."""
    body = f"config:\n  openstack-nova:novaConf:\n    DEFAULT:\n      some_option: {number}\n"
    with pytest.raises(StackConfigError) as err:
        read_stack_file("hostile", _stack_file(tmp_path, body))
    assert f"line 4, column 20: {number!r} is the number {passed} to YAML, and the Pulumi CLI passes it so; write " \
           f"{passed}, or quote it if it is text" in str(err.value)


@pytest.mark.parametrize("line, why", [
    ("openstack-nova:region: 1e3", "region: `1e3` is a number to YAML, which the Pulumi CLI would pass as the text "
                                   "'1000', but region takes text; quote it: '1e3'"),
    ("openstack-nova:release: 2025.10", "release: `2025.10` is a number to YAML, which the Pulumi CLI would pass as "
                                        "the text '2025.1', but release takes text; quote it: '2025.10'"),
    ("openstack-nova:serviceDescription: true", "serviceDescription: `true` is a boolean to YAML, which the Pulumi "
                                                "CLI would pass as the text 'true', but serviceDescription takes text"),
    ("openstack-nova:dbAllowedHosts: [localhost, 10]", "dbAllowedHosts: `10` is a number to YAML"),
    ("openstack-nova:region: ~", "region has no value: the Pulumi CLI passes an empty string for it"),
])
def test_a_value_that_is_not_of_the_key_s_declared_type_is_refused_where_it_stands(tmp_path, line, why):
    with pytest.raises(StackConfigError) as err:
        stack_config("dev", path=_dev_stack_file(tmp_path, line), placeholder_secrets=True)
    assert f"Pulumi.dev.yaml: line 25, column " in str(err.value) and why in str(err.value)


@pytest.mark.parametrize("line, key", [("openstack-nova:keystoneInsecure: yes", "keystoneInsecure"),
                                       ("openstack-nova:production: off", "production")])
def test_a_yaml_1_1_boolean_for_a_boolean_setting_is_refused_as_the_cli_refuses_it(tmp_path, line, key):
    """YAML 1.1 made `keystoneInsecure: yes` true without a word; the CLI reads the text `yes`."""
    with pytest.raises(StackConfigError) as err:
        stack_config("dev", path=_dev_stack_file(tmp_path, line), placeholder_secrets=True)
    assert str(err.value) == f"Stack 'dev' with configuration key '{key}' must be of type 'boolean'"


def test_set_takes_a_value_as_pulumi_config_set_does(tmp_path):
    """`--set region=1e3` planned the region 1000.0, and a secret `1e2` would have been 100.0:
    `pulumi config set KEY VALUE` keeps the text; a map or list setting takes JSON."""
    assert [set_value(key, text) for key, text in (("region", "1e3"), ("dbPassword", "1e2"), ("dbPort", "3306"))] == [
        "1e3", "1e2", "3306"]
    assert set_value("novaConf", '{"DEFAULT": {"debug": true}}') == {"DEFAULT": {"debug": True}}
    config = stack_config("dev", overrides={"dbPassword": set_value("dbPassword", "1e2")}, placeholder_secrets=True)
    assert config.values["openstack-nova:dbPassword"] == "1e2"
    assert plan_command.main(["dev", "--placeholder-secrets", "--quiet", "--out", str(tmp_path),
                              "--set", "region=1e3"]) == 0
    assert "region_name = 1e3\n" in (tmp_path / "plan.txt").read_text()


# ---------------------------------------------------------------------------------------------
# `secure:` values under plain settings
# ---------------------------------------------------------------------------------------------
HIDDEN = "Hidden-7c1e"


def _hidden_value(kind: str) -> str:
    """A value for a setting of `kind` holding HIDDEN where each check would quote it."""
    return {"array": f'["{HIDDEN}"]', "object": f'{{"{HIDDEN}": {{"{HIDDEN}": "{HIDDEN}"}}}}'}.get(kind, HIDDEN)


@pytest.mark.parametrize("key", [key for key, spec in SCHEMA.items() if not spec.secret])
def test_an_encrypted_value_under_a_plain_setting_is_refused_and_never_shown(key):
    """The CLI hands the program a `secure:` value as a secret whatever its key; a plain setting
    wrote it in clear into plan.txt, plan.json and state.json, and its checks quoted it."""
    problems = refused("dev", secrets={key: _hidden_value(SCHEMA[key].kind)})
    assert problems == [f"{key}: is stored encrypted (a `secure:` value), but {key} is not a secret setting: the "
                        "program would write it in clear into plans, the state and the nodes' files; set it in plain "
                        f"with `pulumi config set {key} <value>` (a password belongs in a secret setting)"]


@pytest.fixture
def encrypted_db_host(tmp_path, monkeypatch):
    """A dev stack whose dbHost is a `secure:` value (HIDDEN), under PULUMI_CONFIG_PASSPHRASE."""
    document = yaml.safe_load(plan_stack.stack_path("dev").read_text())
    document["encryptionsalt"], key = new_encryption_salt("lab")
    document["config"]["openstack-nova:dbHost"] = {"secure": encrypt_value(key, f"{HIDDEN}.example.org")}
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(plan_stack, "STACKS_DIR", stacks)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "lab")
    return tmp_path / "out"


@pytest.mark.parametrize("passphrase", [True, False], ids=["decrypted", "placeholders-without-passphrase"])
def test_the_plan_refuses_an_encrypted_plain_setting_without_writing_or_showing_it(encrypted_db_host, capsys,
                                                                                  monkeypatch, passphrase):
    if not passphrase:
        monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    code = plan_command.main(["dev", "--placeholder-secrets", "--out", str(encrypted_db_host)])
    out, err = capsys.readouterr()
    assert code == 2 and "  - dbHost: is stored encrypted (a `secure:` value), but dbHost is not a secret" in err
    assert HIDDEN not in out + err and not encrypted_db_host.exists()


def test_set_makes_an_encrypted_plain_setting_plain_as_pulumi_config_set_does(encrypted_db_host, capsys):
    code = plan_command.main(["dev", "--placeholder-secrets", "--out", str(encrypted_db_host),
                              "--set", "dbHost=db.lab.example.org"])
    assert code == 0, capsys.readouterr().err
    assert "connection = mysql+pymysql://nova:[secret]@db.lab.example.org/nova" in \
        (encrypted_db_host / "plan.txt").read_text()


@pytest.mark.parametrize("ciphertext", [f"v1:{HIDDEN}:x", f"v1:{HIDDEN}", HIDDEN])
def test_a_secure_value_that_is_not_ciphertext_is_refused_without_quoting_it(tmp_path, monkeypatch, capsys, ciphertext):
    """The tutorial stack (its passphrase is set for the tests) with a damaged `secure:` text,
    which is not quoted back. (A `secure:` that is no text at all, a number, null, a list or a
    map, is refused by the stack reader first: tests/test_plan_cli_rules.py.)"""
    document = yaml.safe_load(plan_stack.stack_path("tutorial").read_text())
    document["config"]["openstack-nova:dbPassword"] = {"secure": ciphertext}
    (tmp_path / "Pulumi.tutorial.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(plan_stack, "STACKS_DIR", tmp_path)
    assert plan_command.main(["tutorial", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == "error: stack 'tutorial': openstack-nova:dbPassword cannot be decrypted with this passphrase\n"
