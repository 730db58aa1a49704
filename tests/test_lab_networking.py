"""The lab's neutron (lab/networking.py): its config files as neutron's oslo.config reads them,
and where the lab puts its network node."""
from __future__ import annotations

import configparser
import ipaddress

import pytest

from lab import LabPlan, networking
from lab.stack import lab_plan
from lab.support.common import PrereqError
from tests.nova_reads import read_as_nova


def parsed(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True)
    parser.read_string(text)
    return parser


HOSTILE = "pa'ss\"w $rd %s;\\ @:/ "


def test_the_server_s_config_is_the_chapter_s_open_vswitch_option():
    conf = parsed(networking.neutron_conf(database="mysql+pymysql://n:p@172.31.221.6/n",
                                          transport_url="rabbit://u:p@172.31.221.6:5672/",
                                          keystone_url="http://172.31.221.2:5000/v3", password="pw", server=True))
    assert conf["DEFAULT"]["core_plugin"] == "ml2"
    assert conf["DEFAULT"]["notify_nova_on_port_status_changes"] == "true"  # nova waits for vif-plugged
    assert conf["keystone_authtoken"]["www_authenticate_uri"] == "http://172.31.221.2:5000"
    assert conf["keystone_authtoken"]["service_token_roles_required"] == "true"
    assert conf["nova"]["username"] == "neutron" and conf["nova"]["project_name"] == "service"
    assert conf["database"]["connection"] == "mysql+pymysql://n:p@172.31.221.6/n"


def test_an_agent_s_config_holds_no_database_and_no_password():
    conf = parsed(networking.neutron_conf(database="", transport_url="rabbit://u:p@h:5672/",
                                          keystone_url="http://h:5000/v3", password="", server=False))
    assert not conf.has_section("database") and not conf.has_section("keystone_authtoken")
    assert not conf.has_section("nova") and conf["DEFAULT"]["transport_url"] == "rabbit://u:p@h:5672/"


def test_ml2_and_the_agents_put_the_provider_network_on_eth1_in_userspace_bridges():
    ml2 = parsed(networking.ml2_conf())
    assert ml2["ml2"]["mechanism_drivers"] == "openvswitch"  # (2025.1 has no Linux bridge driver)
    assert ml2["ml2_type_flat"]["flat_networks"] == "provider"
    agent = parsed(networking.ovs_agent_ini())
    assert agent["ovs"]["bridge_mappings"] == "provider:br-provider"
    assert agent["ovs"]["datapath_type"] == "netdev"  # the machine's kernel has no openvswitch module
    assert agent["securitygroup"]["firewall_driver"] == "openvswitch"
    dhcp = parsed(networking.dhcp_agent_ini())["DEFAULT"]
    assert dhcp["interface_driver"] == "openvswitch" and dhcp["enable_isolated_metadata"] == "true"


def test_the_provider_subnet_is_the_lab_s_with_a_pool_no_host_uses():
    subnet = networking.provider_subnet(ipaddress.ip_interface("172.31.221.1/24"))
    assert subnet["cidr"] == "172.31.221.0/24" and subnet["gateway_ip"] == "172.31.221.1"
    assert subnet["allocation_pools"] == [{"start": "172.31.221.100", "end": "172.31.221.199"}]
    hosts = {str(a.ip) for a in lab_plan("e2e").addresses().values()}
    pool = {f"172.31.221.{n}" for n in range(100, 200)}
    assert not hosts & pool
    with pytest.raises(PrereqError, match="must be a /24"):
        networking.provider_subnet(ipaddress.ip_interface("10.0.0.1/16"))


def test_secrets_read_back_exactly_as_oslo_config_reads_them():
    """A `$` is oslo.config's interpolation: the files quote it, and oslo.config (2025.1's, as
    neutron 26 reads its files) reads the secret back unchanged."""
    metadata, server = read_as_nova([
        networking.metadata_agent_ini("172.31.221.3", HOSTILE),
        networking.neutron_conf(database="d", transport_url="t", keystone_url="http://k:5000/v3", password=HOSTILE,
                                server=True)])
    assert metadata["DEFAULT"]["metadata_proxy_shared_secret"] == HOSTILE
    assert server["keystone_authtoken"]["password"] == HOSTILE and server["nova"]["password"] == HOSTILE


def test_the_transport_url_quotes_the_account():
    url = networking.transport_url("open stack", "p@ss:w/rd%", "172.31.221.6")
    assert url == "rabbit://open%20stack:p%40ss%3Aw%2Frd%25@172.31.221.6:5672/"


def test_the_e2e_lab_s_network_node_follows_the_stack_s_hosts():
    plan = lab_plan("e2e")
    addresses = {name: str(a.ip) for name, a in plan.addresses().items()}
    assert addresses["e2e-network"] == "172.31.221.7"  # after e2e-db (.6), the stack's highest
    assert plan.networked and plan.controller == "e2e-controller"
    assert set(plan.hypervisors) == {"e2e-compute1", "e2e-compute2"}


def test_a_network_node_on_another_host_s_address_is_refused():
    plan = LabPlan(gateway="10.9.0.1/24", nodes={"ctl": "10.9.0.3"}, db="10.9.0.6", services="10.9.0.2",
                   network="10.9.0.3")
    with pytest.raises(PrereqError, match="addresses must differ"):
        plan.addresses()


def test_the_secrets_a_stack_is_given_carry_what_breaks_shells_sql_urls_and_oslo_config(tmp_path):
    """The e2e stack is given them (neutronPassword, metadataSecret): nova must read them back
    from its nova.conf exactly, as neutron does from its own files."""
    from types import SimpleNamespace
    from lab.support.state import State
    state = State(tmp_path)
    state.ensure_dir()
    host = SimpleNamespace(address=ipaddress.ip_interface("172.31.221.7/24"), name="e2e-network")
    net = networking.Networking(state, host, [], SimpleNamespace(address="172.31.221.6"), None, "u", "172.31.221.3",
                                ipaddress.ip_interface("172.31.221.1/24"))
    for secret in (net.password, net.metadata_secret):
        assert set("'\"$ %;\\@:/") <= set(secret)
    assert net.password == net.password and net.password != net.metadata_secret  # kept, and two of them
    read, = read_as_nova([networking.metadata_agent_ini("172.31.221.3", net.metadata_secret)])
    assert read["DEFAULT"]["metadata_proxy_shared_secret"] == net.metadata_secret
