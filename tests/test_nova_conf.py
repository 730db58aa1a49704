"""nova.conf rendering: pure functions, no Pulumi."""
from __future__ import annotations

import os
import subprocess
import sys

from components.nova_conf import plain_secret_overrides, render_masked, render_nova_conf
from components.template_context import COMPUTE, CONTROLLER, secret_values
from tests.support import settings_for
from tools.plan import PROJECT_ROOT

SEED_PASSWORDS = {name: "openstack" for name in (
    "dbPassword", "rabbitPassword", "novaPassword", "neutronPassword", "keystoneAdminPassword", "dbAdminPassword")}


def render(settings, role=CONTROLLER, node=None, virt_type=None):
    return render_nova_conf(settings, node or settings.controller, role, secret_values(settings), virt_type=virt_type)


def parse(text: str) -> dict[str, dict[str, str]]:
    """section -> option -> raw value, refusing duplicates (configparser would fold DEFAULT
    into every section and hide what a section really sets)."""
    result: dict[str, dict[str, str]] = {}
    section = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip()[1:-1]
            assert section not in result, f"section {section} twice"
            result[section] = {}
            continue
        option, sep, value = line.partition(" = ")
        assert sep and section is not None, f"not an option line: {line!r}"
        assert option not in result[section], f"{section}.{option} twice"
        result[section][option] = value
    return result


# Written from ../shared/seed/nova-tutorial.rst, section by section (not from the code):
# every option the seed sets, with its value (my_ip: the 10.0.0.6 our tutorial stack gives).
SEED_OPTIONS = {
    "database": {"connection": "mysql+pymysql://nova:openstack@db-node/nova"},
    "DEFAULT": {
        "rpc_backend": "rabbit",
        "auth_strategy": "keystone",
        "my_ip": "10.0.0.6",
        "enabled_apis": "osapi_compute,metadata",
        "network_api_class": "nova.network.neutronv2.api.API",
        "linuxnet_interface_driver": "nova.network.linux_net.LinuxOVSInterfaceDriver",
        "firewall_driver": "nova.virt.firewall.NoopFirewallDriver",
        "security_group_api": "neutron",
    },
    "oslo_messaging_rabbit": {"rabbit_host": "db-node", "rabbit_userid": "openstack", "rabbit_password": "openstack"},
    "keystone_authtoken": {
        "auth_uri": "http://auth-node.example.org:5000",
        "auth_url": "http://auth-node.example.org:35357",
        "auth_plugin": "password",
        "project_domain_id": "default",
        "user_domain_id": "default",
        "project_name": "service",
        "username": "nova",
        "password": "openstack",
    },
    "vnc": {"vncserver_listen": "10.0.0.6", "vncserver_proxyclient_address": "10.0.0.6"},
    "glance": {"host": "image-node.example.org"},
    "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
    "neutron": {
        "auth_strategy": "keystone",
        "admin_tenant_name": "service",
        "admin_username": "neutron",
        "admin_password": "openstack",
        "admin_auth_url": "http://auth-node.example.org:35357/v2.0",
    },
}


def test_tutorial_render_is_exactly_the_seed():
    parsed = parse(render(settings_for("tutorial", cli_rules=True, secrets=SEED_PASSWORDS)))
    assert parsed == SEED_OPTIONS


# What test_render_is_the_same_in_every_process renders, in this process and in fresh ones.
RENDER_DEV = """
from components.nova_conf import render_nova_conf
from components.template_context import COMPUTE, CONTROLLER, secret_values
from tests.support import settings_for

s = settings_for("dev", cli_rules=True, novaConf={"DEFAULT": {"debug": True}, "scheduler": {"max_attempts": 4}})
text = render_nova_conf(s, s.controller, CONTROLLER, secret_values(s))
text += render_nova_conf(s, s.hypervisors[1], COMPUTE, secret_values(s), virt_type="qemu")
"""


def test_render_is_the_same_in_every_process():
    """Each `pulumi up` is a new Python process with its own string-hash seed: the nova.conf it
    renders must be byte-identical, or every run would rewrite the file and restart nova."""
    scope: dict = {}
    exec(RENDER_DEV, scope)
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", RENDER_DEV + "print(text, end='')"], cwd=PROJECT_ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout == scope["text"], f"PYTHONHASHSEED={seed} renders another nova.conf"


def test_dollar_is_escaped_and_url_passwords_percent_encoded():
    hostile = "pa$s w@rd:/%?#'\"\\;$(id)"
    encoded = "pa%24s%20w%40rd%3A%2F%25%3F%23%27%22%5C%3B%24%28id%29"
    liberty = parse(render(settings_for("tutorial", cli_rules=True,
                                        secrets={"dbPassword": hostile, "novaPassword": hostile})))
    assert liberty["database"]["connection"] == f"mysql+pymysql://nova:{encoded}@db-node/nova"
    # oslo.config reads `$$` back as one `$`
    assert liberty["keystone_authtoken"]["password"] == "pa$$s w@rd:/%?#'\"\\;$$(id)"
    dev = parse(render(settings_for("dev", cli_rules=True,
                                    secrets={"rabbitPassword": hostile, "dbPassword": "pa$s w:/?#'\"\\;"})))
    assert dev["DEFAULT"]["transport_url"] == f"rabbit://openstack:{encoded}@dev-db.lab.example.org:5672/"
    db_encoded = "pa%24s%20w%3A%2F%3F%23%27%22%5C%3B"
    assert dev["database"]["connection"] == f"mysql+pymysql://nova:{db_encoded}@dev-db.lab.example.org/nova"
    assert dev["api_database"]["connection"] == f"mysql+pymysql://nova:{db_encoded}@dev-db.lab.example.org/nova_api"


def test_modern_render_has_the_install_guide_options():
    parsed = parse(render(settings_for("dev", cli_rules=True)))
    assert parsed["DEFAULT"]["transport_url"].startswith("rabbit://openstack:")
    assert "api" not in parsed  # [api] auth_strategy: keystone is the default; deprecated for removal
    assert parsed["keystone_authtoken"]["www_authenticate_uri"] == "http://dev-ctl.lab.example.org:5000"
    assert parsed["keystone_authtoken"]["auth_type"] == "password"
    assert parsed["keystone_authtoken"]["memcached_servers"] == "dev-ctl.lab.example.org:11211"
    assert parsed["service_user"]["send_service_user_token"] == "true"
    assert parsed["vnc"] == {"enabled": "true", "server_listen": "10.20.0.10", "server_proxyclient_address": "10.20.0.10"}
    assert parsed["glance"] == {"region_name": "RegionOne", "endpoint_override": "http://dev-ctl.lab.example.org:9292"}
    without_glance = parse(render(settings_for("dev", cli_rules=True, glanceHost=None)))
    assert without_glance["glance"] == {"region_name": "RegionOne"}
    assert parsed["placement"]["username"] == "placement"
    assert parsed["neutron"]["service_metadata_proxy"] == "true"
    for removed in ("rpc_backend", "auth_strategy", "network_api_class", "security_group_api", "firewall_driver"):
        assert removed not in parsed["DEFAULT"]


def test_unset_optional_values_leave_options_out():
    parsed = parse(render(settings_for("dev", cli_rules=True, memcachedServers="",
                                       **{"openstack-nova:metadataSecret": None})))
    assert "memcached_servers" not in parsed["keystone_authtoken"]
    assert "metadata_proxy_shared_secret" not in parsed["neutron"]


def test_overrides_merge_over_the_profile():
    """Over the release's own choices (a constant such as state_path) and beside them; what the
    program writes from a setting is refused (tests/test_program_set_options.py)."""
    s = settings_for("dev", cli_rules=True,
                     novaConf={"DEFAULT": {"debug": True, "state_path": "/srv/nova"}, "scheduler": {"max_attempts": 4}})
    parsed = parse(render(s))
    assert parsed["DEFAULT"]["debug"] == "true"
    assert parsed["DEFAULT"]["state_path"] == "/srv/nova"
    assert parsed["scheduler"] == {"max_attempts": "4"}


def test_secret_overrides_are_rendered_and_masked():
    s = settings_for("dev", cli_rules=True, secrets={"novaConfSecret": '{"vault": {"token": "t0k$n"}}'})
    text = render_nova_conf(s, s.controller, CONTROLLER, secret_values(s), plain_secret_overrides(s))
    assert parse(text)["vault"] == {"token": "t0k$$n"}
    masked = render_masked(s, s.controller, CONTROLLER)
    assert "t0k" not in masked and parse(masked)["vault"] == {"token": "[secret]"}


def test_masked_render_hides_every_secret():
    secrets = {k: f"SENTINEL-{k}" for k in SEED_PASSWORDS}
    s = settings_for("dev", cli_rules=True, secrets=secrets)
    masked = render_masked(s, s.controller, CONTROLLER)
    assert "SENTINEL" not in masked
    assert "mysql+pymysql://nova:[secret]@dev-db.lab.example.org/nova" in masked


def test_compute_render_for_hypervisors():
    s = settings_for("dev", cli_rules=True)
    parsed = parse(render(s, role=COMPUTE, node=s.hypervisors[1], virt_type="qemu"))
    assert parsed["DEFAULT"]["my_ip"] == "10.20.0.22"
    assert parsed["vnc"]["server_listen"] == "0.0.0.0"
    assert parsed["vnc"]["novncproxy_base_url"] == "http://10.20.0.10:6080/vnc_auto.html"
    assert parsed["libvirt"] == {"virt_type": "qemu"}
    assert "database" not in parsed and "api_database" not in parsed


def test_ipv6_addresses_are_bracketed_in_every_url():
    s = settings_for("dev", cli_rules=True, dbHost="2001:db8::5", rabbitHost="2001:db8::6",
                     keystoneHost="2001:db8::7", glanceHost="2001:db8::8",
                     controller={"host": "2001:db8::10", "myIp": "2001:db8::10"})
    controller = parse(render(s))
    assert controller["database"]["connection"].endswith("@[2001:db8::5]/nova")
    assert controller["api_database"]["connection"].endswith("@[2001:db8::5]/nova_api")
    assert controller["DEFAULT"]["transport_url"].endswith("@[2001:db8::6]:5672/")
    assert controller["keystone_authtoken"]["www_authenticate_uri"] == "http://[2001:db8::7]:5000"
    assert controller["glance"]["endpoint_override"] == "http://[2001:db8::8]:9292"
    assert controller["DEFAULT"]["my_ip"] == "2001:db8::10"
    compute = parse(render(s, role=COMPUTE, node=s.hypervisors[0], virt_type="kvm"))
    assert compute["vnc"]["novncproxy_base_url"] == "http://[2001:db8::10]:6080/vnc_auto.html"
    assert dict(s.identity.endpoints) == {i: "http://[2001:db8::10]:8774/v2.1" for i in ("public", "internal", "admin")}


def test_cell_templates_follow_the_nova_conf_urls_and_hold_no_password():
    from components.nova_conf import cell_templates

    s = settings_for("dev")
    t = cell_templates(s)
    assert (t.cell0_database, t.cell_database, t.transport) == (
        "mysql+pymysql://{username}:{password}@{hostname}/nova_cell0",
        "mysql+pymysql://{username}:{password}@{hostname}/nova",
        "rabbit://{username}:{password}@{hostname}:{port}/{path}")
    odd = cell_templates(settings_for("dev", dbHost="2001:db8::5", dbPort=3307, dbCaFile="/etc/ssl/ca.pem",
                                      rabbitHost="2001:db8::6"))
    assert odd.cell_database == "mysql+pymysql://{username}:{password}@[{hostname}]:{port}/nova?{query}"
    assert odd.transport == "rabbit://{username}:{password}@[{hostname}]:{port}/{path}"
    # nova fills a template from nova.conf's own URL: the filled template is that very URL
    conf = parse(render(s))
    from urllib.parse import urlparse
    url = urlparse(conf["database"]["connection"])
    filled = t.cell_database.format(username=url.username, password=url.password, hostname=url.hostname,
                                    port=url.port, path=url.path.lstrip("/"), query=url.query)
    assert filled == conf["database"]["connection"]


def test_service_tokens_need_the_service_role_where_keystone_has_it():
    assert parse(render(settings_for("dev")))["keystone_authtoken"]["service_token_roles_required"] == "true"
    zed = parse(render(settings_for("zed")))
    assert "service_token_roles_required" not in zed["keystone_authtoken"]


def test_the_hypervisor_driver_file_carries_the_virt_type():
    """nova-compute reads /etc/nova/nova-compute.conf after nova.conf (nova-compute-kvm ships it
    with virt_type=kvm), so the virt type is written there too."""
    from components.nova_conf import render_compute_driver_conf

    assert render_compute_driver_conf("qemu") == (
        "# Managed by openstack-nova (Pulumi). Local edits are overwritten.\n\n"
        "[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n\n[libvirt]\nvirt_type = qemu\n")
