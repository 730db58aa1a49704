"""The typed stack configuration: every stack loads, bad config is reported all at once with the
key, the problem and the fix."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

from components.config import PROJECT, SCHEMA, SECRET_KEYS, UNDECLARED, ConfigError, load_settings
from components.config.nodes import HYPERVISOR_KEYS
from tests.support import problems_for, settings_for
from tools.plan import PROJECT_ROOT, stack_config


def test_tutorial_stack_is_the_seed():
    s = settings_for("tutorial")
    assert s.release.name == "liberty"
    assert s.database.host == "db-node"
    assert s.database.names == ("nova",)
    assert s.database.user == "nova"
    assert s.database.allowed_hosts == ("%",)
    assert s.keystone.region == "RegionOne"
    assert s.identity.endpoints == tuple(
        (iface, "http://compute-node.example.org:8774/v2/%(tenant_id)s") for iface in ("public", "internal", "admin")
    )
    assert s.identity.service_type == "compute" and s.identity.description == "OpenStack Compute"
    assert s.production is False


def test_modern_stacks_get_three_databases_and_v21_endpoints():
    dev = settings_for("dev")
    assert dev.release.name == "2025.1"
    assert dev.database.names == ("nova_api", "nova", "nova_cell0")
    assert dev.database.allowed_hosts == ("localhost", "%")
    assert dict(dev.identity.endpoints)["public"] == "http://dev-ctl.lab.example.org:8774/v2.1"
    assert [h.name for h in dev.hypervisors] == ["compute1", "compute2"]
    prod = settings_for("prod")
    assert prod.production is True and prod.database.ca_file == "/etc/ssl/certs/prod-db-ca.pem"
    assert dict(prod.identity.endpoints)["public"] == "https://compute.prod.example.org:8774/v2.1"


def test_secret_values_never_print():
    s = settings_for("tutorial")
    assert "offline-plan-placeholder" not in repr(s)
    assert "[secret]" in repr(s.database.password)


def test_all_problems_reported_at_once_with_key_and_fix():
    problems = problems_for(
        "tutorial",
        dbHost="db node;",
        dbName="nova; DROP DATABASE mysql",
        dbUser="no'va",
        dbPort=70000,
        dbAllowedHosts=["%", "a'b"],
        endpointInterfaces=["public", "publik"],
        endpointUrl="ftp://compute-node:8774",
        region="",
        serviceType="computer",
        dbAdminUsr="root",
        production="maybe",
    )
    text = "\n".join(problems)
    assert "dbHost: 'db node;' is not a host name or IP address" in text
    assert any(p.startswith("dbName:") and "plain SQL identifier" in p for p in problems)
    assert any(p.startswith("dbUser:") for p in problems)
    assert "dbPort: 70000 is not a TCP port; use a number from 1 to 65535" in text
    assert any(p.startswith("dbAllowedHosts[1]:") for p in problems)
    assert "endpointInterfaces[1]: 'publik' is not a keystone interface; use public, internal or admin" in text
    assert "endpointUrl: 'ftp://compute-node:8774' is not an http(s) URL" in text
    assert any(p.startswith("region:") and "must not be empty" in p for p in problems)
    assert any(p.startswith("serviceType: 'computer' is not a known service type") and "allowCustomServiceType" in p
               for p in problems)
    assert "dbAdminUsr: is not a setting of openstack-nova; did you mean `dbAdminUser`?" in text
    assert "production: must be true or false, got 'maybe'" in text
    assert len(problems) >= 11


def test_custom_service_type_needs_explicit_override():
    assert settings_for("tutorial", serviceType="compute-legacy", allowCustomServiceType=True).identity.service_type == "compute-legacy"


def test_missing_required_keys_say_how_to_set_them():
    problems = problems_for("tutorial", dbHost=None, controller=None, **{"openstack-nova:dbPassword": None})
    assert "dbHost: is required but not set; set it with `pulumi config set dbHost <value>`" in problems
    assert any(p.startswith("controller: is required") for p in problems)


def test_plain_text_password_is_refused():
    config, secret_keys = stack_config("tutorial")
    secret_keys.discard(f"{PROJECT}:novaPassword")
    with pytest.raises(ConfigError) as err:
        load_settings(config, frozenset(secret_keys), "tutorial")
    assert err.value.problems == [
        "novaPassword: holds a password in plain text; store it encrypted with `pulumi config set --secret novaPassword <value>`"
    ]


def test_production_refuses_the_tutorial_password():
    problems = problems_for("prod", secrets={"dbPassword": "openstack", "novaPassword": "openstack"})
    assert "dbPassword: is the tutorial's default password; a production stack needs its own (`pulumi config set --secret dbPassword <value>`)" in problems
    assert any(p.startswith("novaPassword: is the tutorial's default password") for p in problems)
    # the lab stack may keep it
    lab = settings_for("tutorial", {"dbPassword": "openstack"}, cli_rules=True, placeholder_secrets=False)
    assert lab.database.password.value == "openstack"


def test_errors_never_show_secret_values():
    problems = problems_for("tutorial", secrets={"dbPassword": "s3cr3t\nline"}, dbPort="x")
    assert not any("s3cr3t" in p for p in problems)
    assert ("dbPassword: contains a control character (LINE FEED, U+000A), which would break the line or URL "
            "it is written into; remove it") in problems


def test_a_private_key_may_span_lines():
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n"
    assert settings_for("tutorial", {"sshPrivateKey": key}, cli_rules=True).ssh_private_key.value == key


def test_node_settings_are_checked():
    problems = problems_for("dev", hypervisors=[
        {"name": "compute1", "host": "h1", "myIp": "10.0.0.1"},
        {"name": "compute1", "host": "h$(id)", "myIp": "not-an-ip", "virtType": "xen", "hots": "x"},
    ])
    text = "\n".join(problems)
    assert "hypervisors[1].host: 'h$(id)' is not a host name or IP address" in text
    assert "hypervisors[1].myIp: 'not-an-ip' is not an IP address" in text
    assert "hypervisors[1].virtType: 'xen' is not supported" in text
    assert "hypervisors[1].hots: is not a node setting; did you mean `host`?" in text
    assert "hypervisors: node name 'compute1' is used twice; give each hypervisor its own name" in text


def test_nova_conf_overrides_are_checked():
    problems = problems_for("dev", novaConf={"DEFAULT": {"debug": "true\n[database]\nconnection = x"}, "bad section": {"a": "b"}})
    assert ("novaConf.DEFAULT.debug: contains a control character (LINE FEED, U+000A) at position 4, which would "
            "break the line or URL it is written into; remove it") in problems
    assert any(p.startswith("novaConf.bad section:") for p in problems)


def test_unknown_release_lists_known_ones():
    assert "release: 'mitaka' is not a known release; use one of 2025.1, liberty, zed" in problems_for("tutorial", release="mitaka")


def test_pulumi_yaml_requires_only_secrets_and_the_hosts_every_stack_names():
    """The CLI stops a stack that does not set a key declared without a default: only the
    required secrets and dbHost/keystoneHost (which every stack file sets) are declared so."""
    declared = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]
    without_default = {key for key, decl in declared.items() if "default" not in decl}
    assert without_default == {"dbHost", "keystoneHost", "dbAdminPassword", "dbPassword", "rabbitPassword",
                               "keystoneAdminPassword", "novaPassword", "neutronPassword"}
    assert not [key for key, decl in declared.items() if decl.get("secret") and "default" in decl]
    # What Pulumi.yaml cannot declare: structured values and optional secrets.
    undeclared = {k for k in SCHEMA if k not in declared}
    assert undeclared == {"controller", "hypervisors", "dashboard", "endpointUrls", "adoptIds", "novaConf",
                          "novaConfSecret", "sshPrivateKey", "placementPassword", "metadataSecret", "placement",
                          "placementDbPassword", "migration", "novaSshPrivateKey", "serviceExtraRoleIds"}
    assert all(SCHEMA[k].kind in ("object", "array") or SCHEMA[k].secret for k in undeclared)


def test_stack_files_hold_no_plain_secret():
    for path in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"):
        config = yaml.safe_load(path.read_text())["config"]
        for key, value in config.items():
            name = key.rpartition(":")[2]
            if name in SCHEMA and SCHEMA[name].secret:
                assert isinstance(value, dict) and set(value) == {"secure"}, f"{path.name}: {key} in plain text"


def test_database_account_limits():
    problems = problems_for("tutorial", secrets={"dbPassword": "pässword"}, dbUser="n" * 40)
    assert "dbUser: '" + "n" * 40 + "' is longer than 32 characters, the limit of MySQL 8 account names" in problems
    assert "dbPassword: contains non-ASCII characters, which nova's MySQL driver cannot log in with; use ASCII" in problems


def test_cells_v2_database_password_avoids_what_map_cell0_decodes():
    for bad in ("p@ss", "p%41ss"):
        problems = problems_for("dev", secrets={"dbPassword": bad})
        assert problems == ["dbPassword: contains '@' or '%', which release 2025.1's cell0 mapping cannot carry "
                            "(nova-manage percent-decodes the database URL); use other characters"]
    # Liberty has no cell0: the seed's single database takes any ASCII password
    assert settings_for("tutorial", {"dbPassword": "p@ss%41"}, cli_rules=True).database.password.value == "p@ss%41"


def test_scoped_and_malformed_addresses_are_refused_with_the_fix():
    problems = problems_for("dev", controller={"host": "fe80::1%eth0", "myIp": "fe80::1%eth0", "port": 22.9})
    assert "controller.host: 'fe80::1%eth0' is a scoped IPv6 address; use the node's global address or a host name" in problems
    assert ("controller.myIp: 'fe80::1%eth0' is a scoped IPv6 address; nova's my_ip must be an address other nodes "
            "can reach") in problems
    assert "controller.port: 22.9 is not a TCP port; use a whole number from 1 to 65535" in problems


def test_ipv6_addresses_are_accepted():
    s = settings_for("dev", dbHost="2001:db8::5", controller={"host": "2001:db8::10", "myIp": "2001:db8::10"})
    assert s.database.host == "2001:db8::5" and s.controller.my_ip == "2001:db8::10"
    assert dict(s.identity.endpoints)["public"] == "http://[2001:db8::10]:8774/v2.1"


@pytest.mark.parametrize("key", ["rabbitPassword", "novaPassword", "dbAdminPassword", "placementPassword"])
def test_an_empty_secret_is_refused(key):
    assert f"{key}: is empty; set a real value with `pulumi config set --secret {key} <value>`" in problems_for(
        "dev", secrets={key: ""})


def test_two_nodes_on_one_machine_are_refused():
    problems = problems_for("dev", hypervisors=[
        {"name": "compute1", "host": "dev-ctl.lab.example.org", "myIp": "10.20.0.21"},
        {"name": "compute2", "host": "cmp2", "myIp": "10.20.0.22"},
        {"name": "compute3", "host": "CMP2", "myIp": "10.20.0.23"},
    ])
    text = "\n".join(problems)
    assert ("hypervisors[0].host: 'compute1' is on dev-ctl.lab.example.org, as 'controller' is: each node needs a "
            "machine of its own (both would write /etc/nova/nova.conf); an all-in-one node is not supported") in text
    assert "hypervisors[2].host: 'compute3' is on cmp2, as 'compute2' is" in text


def test_production_nodes_need_pinned_host_keys():
    problems = problems_for("prod", hypervisors=[
        {"name": "cmp-b1", "host": "cmp-b1.example.org", "myIp": "10.0.10.120", "jumpHost": "bastion.example.org"}])
    assert ("hypervisors[0].hostKey: node 'cmp-b1' has no pinned SSH host key, which a production stack requires; "
            "set it to the output of `ssh-keyscan -t ed25519 cmp-b1.example.org`") in problems
    assert any(p.startswith("hypervisors[0].jumpHostKey: node 'cmp-b1' goes through bastion.example.org") for p in problems)


def test_host_keys_are_checked_and_normalised():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIItVb8l4yjEdDFfBd4rTut+EPVeX9juj4pR6uJS5lzzj"
    s = settings_for("dev", controller={"host": "ctl", "myIp": "10.20.0.10", "hostKey": f"ctl {key} # keyscan"})
    assert s.controller.host_key == key
    problems = problems_for("dev", controller={
        "host": "ctl", "myIp": "10.20.0.10", "hostKey": "ssh-ed25519 bm90IGEga2V5", "jumpHostKey": key})
    assert ("controller.hostKey: the key data is not a ssh-ed25519 key; copy the line as ssh-keyscan prints it"
            in problems)
    swapped = key.replace("ssh-ed25519", "ssh-rsa")
    assert ("controller.hostKey: the key data is a ssh-ed25519 key, not ssh-rsa; copy the line as ssh-keyscan prints it"
            in problems_for("dev", controller={"host": "ctl", "myIp": "10.20.0.10", "hostKey": swapped}))
    assert "controller.jumpHostKey: is set but jumpHost is not; set jumpHost or remove jumpHostKey" in problems
    assert any(p.startswith("controller.hostKey: 'rm -rf /' names no SSH key type") for p in problems_for(
        "dev", controller={"host": "ctl", "myIp": "10.20.0.10", "hostKey": "rm -rf /"}))


def test_the_docs_name_what_pulumi_yaml_cannot_declare():
    """Secrets and structured settings are declared once (components/config/schema.py); the
    README's Configuration section documents each, and Pulumi.yaml's header points there."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Configuration\n"):]
    section = section[:section.index("\n## ", 1)]
    assert not [key for key in UNDECLARED if f"`{key}`" not in section]
    assert not [key for key in HYPERVISOR_KEYS if key not in section]  # a node map's keys
    assert not [key for key in SECRET_KEYS if key not in readme]
    header = (PROJECT_ROOT / "Pulumi.yaml").read_text().split("\nconfig:")[0]
    assert "components/config/" in header and "components/config.py" not in header


def test_loading_a_stack_imports_neither_pymysql_nor_pulumi():
    """load_settings and the check of its nova.conf overrides run where neither is installed."""
    code = textwrap.dedent("""
        import json, sys
        from components.config import PROJECT, SECRET_KEYS, load_settings
        from components.override_check import checked_settings
        secrets = {f"{PROJECT}:{key}": f"x-{key}" for key in SECRET_KEYS if key != "sshPrivateKey"}
        raw = dict(secrets)
        raw.update({f"{PROJECT}:dbHost": "db", f"{PROJECT}:keystoneHost": "keystone",
                    f"{PROJECT}:controller": json.dumps({"host": "ctl", "myIp": "10.0.0.1"})})
        checked_settings(load_settings(raw, frozenset(secrets), "check"))
        print(sorted({m.split('.')[0] for m in sys.modules} & {'pymysql', 'pulumi'}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_node_that_is_not_a_map_is_told_every_key_it_may_set():
    """The keys come from NodeSettings' fields; virtType is a hypervisor's only."""
    problems = problems_for("dev", dashboard={"enabled": True, "node": "web"}, hypervisors=["cmp1"])
    assert ("dashboard.node: must be a map with host, myIp and optional name, port, user, jumpHost, hostKey, "
            "jumpHostKey") in problems
    assert ("hypervisors[0]: must be a map with host, myIp and optional name, port, user, jumpHost, virtType, "
            "hostKey, jumpHostKey") in problems
    assert "controller.virtType: is not a node setting; use host, hostKey, jumpHost, jumpHostKey, myIp, name, " \
           "port, user" in problems_for("dev", controller={"host": "ctl", "myIp": "10.20.0.10", "virtType": "kvm"})
