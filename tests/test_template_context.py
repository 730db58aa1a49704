"""components/template_context.py, the templates' vocabulary: the values a release's templates may
name, built from the settings (URLs shaped as nova reads them, passwords percent-encoded inside
them), the templates filled with them, and the masks a plan shows instead of secrets."""
from __future__ import annotations

from components.config import SECRET_KEYS
from components.template_context import (
    COMPUTE, CONTROLLER, MASK, SECRET_SETTINGS, conf_context, fill, filled, masked_secrets, secret_values, shown,
)
from tests.support import settings_for


def test_an_option_naming_an_unset_or_unknown_value_is_left_out():
    templates = {"DEFAULT": {"debug": "true", "workers": "{workers}", "typo": "{wrokers}"},
                 "glance": {"endpoint_override": "{glance_url}"}}
    assert fill(templates, {"workers": None, "glance_url": "http://ctl:9292"}) == {
        "DEFAULT": {"debug": "true"}, "glance": {"endpoint_override": "http://ctl:9292"}}


def test_urls_carry_the_password_percent_encoded_and_the_host_as_a_url_holds_it():
    s = settings_for("dev", cli_rules=True, dbHost="fd00::5", dbPort=3307, dbCaFile="/etc/ssl/db-ca.pem",
                     rabbitHost="10.20.0.5", secrets={"dbPassword": "pa:ss/w rd", "rabbitPassword": "r@b#it"})
    context = conf_context(s, s.controller, CONTROLLER, secret_values(s))
    assert context["db_connection"] == ("mysql+pymysql://nova:pa%3Ass%2Fw%20rd@[fd00::5]:3307/nova"
                                        "?ssl_ca=/etc/ssl/db-ca.pem")
    assert context["api_db_connection"].startswith("mysql+pymysql://nova:pa%3Ass%2Fw%20rd@[fd00::5]:3307/nova_api?")
    assert context["transport_url"] == "rabbit://openstack:r%40b%23it@10.20.0.5:5672/"


def test_the_role_and_the_node_decide_where_a_node_listens():
    s = settings_for("dev", cli_rules=True)
    controller = conf_context(s, s.controller, CONTROLLER, secret_values(s))
    compute = conf_context(s, s.hypervisors[1], COMPUTE, secret_values(s), virt_type="qemu")
    assert (controller["vnc_listen"], controller["my_ip"], controller["virt_type"]) == ("10.20.0.10", "10.20.0.10", None)
    assert (compute["vnc_listen"], compute["my_ip"], compute["virt_type"]) == ("0.0.0.0", "10.20.0.22", "qemu")
    assert compute["novncproxy_base_url"] == "http://10.20.0.10:6080/vnc_auto.html"  # the controller's proxy
    assert compute["live_migration_inbound_addr"] is None  # migration is off


def test_filled_is_a_files_templates_filled_for_a_node():
    s = settings_for("dev", cli_rules=True, secrets={"novaPassword": "n0va"})
    options = filled(s.release.release.compute_conf, s, s.hypervisors[1], COMPUTE, secret_values(s), virt_type="qemu")
    assert options["libvirt"]["virt_type"] == "qemu"
    assert options["DEFAULT"]["my_ip"] == "10.20.0.22"
    assert options["keystone_authtoken"]["password"] == "n0va"
    assert "database" not in options  # hypervisors reach the database through conductor


def test_every_secret_a_template_may_name_is_a_secret_setting():
    assert set(SECRET_SETTINGS.values()) <= set(SECRET_KEYS)
    s = settings_for("dev", cli_rules=True, secrets={"novaPassword": "n0va"})
    assert secret_values(s)["nova_password"] == "n0va"


def test_a_plan_shows_each_set_secret_as_the_mask_even_inside_a_url():
    s = settings_for("tutorial", cli_rules=True, placeholder_secrets=False)  # its own secrets, placement's unset
    masks = masked_secrets(s)
    assert masks["db_password"] == MASK and masks["placement_password"] is None  # Liberty has no placement
    connection = conf_context(s, s.controller, CONTROLLER, masks)["db_connection"]
    assert "%5Bsecret%5D" in connection
    assert shown(connection) == f"mysql+pymysql://nova:{MASK}@db-node/nova"


def test_a_secret_setting_reaches_a_template_by_its_name_alone():
    """The route README's layout gives for a new secret setting: declared, read in
    components/config, named in a template; nothing here lists it."""
    s = settings_for("dev", cli_rules=True, secrets={"dbAdminPassword": "r00t pw", "metadataSecret": "m3ta"})
    templates = {"example": {"admin": "{db_admin_password}", "metadata": "{metadata_secret}"}}
    assert filled(templates, s, s.controller, CONTROLLER, secret_values(s)) == {
        "example": {"admin": "r00t pw", "metadata": "m3ta"}}
    assert {SECRET_SETTINGS[name] for name in secret_values(s)} == set(SECRET_KEYS)
