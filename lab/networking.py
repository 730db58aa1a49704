"""The lab's network service: neutron as the install guide's networking chapter deploys it with
Open vSwitch (Debian 13's neutron 26, 2025.1), on Open vSwitch's userspace datapath.

Why not the Linux bridge option: neutron 2025.1 removed its Linux bridge mechanism driver and
agent (Debian 13's neutron-linuxbridge-agent package holds only an init script and a config
file; python3-neutron has no `linuxbridge` driver, and the DHCP and L3 agents' only interface
drivers are `openvswitch` and `null`). Why the userspace datapath: the test machine's kernel has
no openvswitch module (CONFIG_OPENVSWITCH is not set), so every bridge is `datapath_type=netdev`:
ovs-vswitchd switches the packets itself, reading the hosts' ports with AF_PACKET and serving
internal ports (the DHCP and router namespaces' ports) as tap devices.

The network node runs the chapter's controller part (neutron's API under uwsgi, its RPC server
and periodic workers; ML2 with the openvswitch mechanism driver) and its network-node part (the
Open vSwitch, DHCP and metadata agents). Every hypervisor runs the Open vSwitch agent, and nova
plugs each guest's tap device into its integration bridge. The physical network `provider` is
each of those hosts' `eth1`, a second port on the lab's bridge, in the bridge `br-provider`: a
flat network on the lab's own subnet, whose DHCP namespace also serves the metadata API
(isolated metadata: neutron's DHCP hands out the route to 169.254.169.254).

neutron is infrastructure the lab provides, as keystone and glance are: its database, keystone
user, service, endpoints and secrets are the lab's. A stack is given the neutron user's password
(nova's `[neutron]` logs in with it) and the metadata proxy's shared secret (nova's metadata API
checks it). neutron tells nova about its ports (`[nova]`, the network-vif-plugged events nova
waits for) as its own user, which holds the `service` role nova's external events API asks for.

Config files are written inside the hosts' overlays only; values go through oslo.config's
quoting (components.ini), secrets never into argv."""
from __future__ import annotations

import ipaddress
import json
import urllib.parse
import urllib.request
from typing import Dict, List, Mapping, Sequence

from components.ini import oslo_value
from lab.support.common import REGION, PrereqError, log
from lab.support.identity import Keystone, json_request, wait_http
from lab.support.processes import wait_until
from lab.support.state import State

from .data import DataHost
from .node import Host
from .services import LAB_DB_PREFIX, Services

NETWORK_PORT = 9696
PROVIDER_NETWORK = "provider"
PROVIDER_POOL = (100, 199)  # the provider subnet's ports: host numbers in the lab's /24 no host uses
PHYSNET, PROVIDER_INTERFACE, PROVIDER_BRIDGE = "provider", "eth1", "br-provider"
# The agents each host of a lab reports (neutron's agent types)
NETWORK_NODE_AGENTS = ("Open vSwitch agent", "DHCP agent", "Metadata agent")
HYPERVISOR_AGENTS = ("Open vSwitch agent",)
# 2 cores: Debian's neutron-api-uwsgi.ini starts 8 processes
API_PROCESSES = 2
NEUTRON_API_UWSGI = "/etc/neutron/neutron-api-uwsgi.ini"
# Debian's init scripts (what an operator's `service X start` runs), in the order they start
NETWORK_NODE_SERVICES = ("neutron-rpc-server", "neutron-periodic-workers", "neutron-openvswitch-agent",
                         "neutron-dhcp-agent", "neutron-metadata-agent")
OVS_AGENT_INI = "/etc/neutron/plugins/ml2/openvswitch_agent.ini"


def _ini(settings: Mapping[str, Mapping[str, str]]) -> str:
    """A whole oslo.config file of `settings` (each value quoted as oslo.config reads it back)."""
    out = ["# the lab's neutron (lab/networking.py)"]
    for section, options in settings.items():
        out += ["", f"[{section}]"] + [f"{key} = {oslo_value(str(value))}" for key, value in options.items()]
    return "\n".join(out) + "\n"


def neutron_conf(*, database: str, transport_url: str, keystone_url: str, password: str, server: bool) -> str:
    """/etc/neutron/neutron.conf: the server's (database, keystone, nova) or an agent's (RPC only)."""
    settings: Dict[str, Dict[str, str]] = {
        "DEFAULT": {"transport_url": transport_url, "core_plugin": "ml2"},
        "oslo_concurrency": {"lock_path": "/var/lib/neutron/tmp"},
        "agent": {"root_helper": "sudo neutron-rootwrap /etc/neutron/rootwrap.conf"},
    }
    if server:
        auth = {"auth_url": keystone_url, "auth_type": "password", "project_domain_name": "Default",
                "user_domain_name": "Default", "region_name": REGION, "project_name": "service",
                "username": "neutron", "password": password}
        settings["DEFAULT"].update({"service_plugins": "", "auth_strategy": "keystone",
                                    "notify_nova_on_port_status_changes": "true",
                                    "notify_nova_on_port_data_changes": "true",
                                    "rpc_workers": "1", "rpc_state_report_workers": "1"})
        settings["database"] = {"connection": database}
        settings["keystone_authtoken"] = {"www_authenticate_uri": keystone_url.rsplit("/v3", 1)[0], **auth,
                                          "service_token_roles_required": "true"}
        settings["nova"] = auth  # nova's external events, as neutron's own (service) user
    return _ini(settings)


def ml2_conf() -> str:
    return _ini({
        "ml2": {"type_drivers": "flat,vlan", "tenant_network_types": "", "mechanism_drivers": "openvswitch",
                "extension_drivers": "port_security"},
        "ml2_type_flat": {"flat_networks": PHYSNET},
        "securitygroup": {"enable_ipset": "true"},
    })


def ovs_agent_ini() -> str:
    """The Open vSwitch agent's: the provider network's bridge, every bridge in userspace.
    Security groups are enforced by Open vSwitch's own firewall (conntrack in the userspace
    datapath), as the chapter's Open vSwitch option does."""
    return _ini({
        "ovs": {"bridge_mappings": f"{PHYSNET}:{PROVIDER_BRIDGE}", "datapath_type": "netdev"},
        "securitygroup": {"enable_security_group": "true", "firewall_driver": "openvswitch"},
    })


def dhcp_agent_ini() -> str:
    # isolated metadata: a network with no router still gets 169.254.169.254 (DHCP's route 121)
    return _ini({"DEFAULT": {"interface_driver": "openvswitch",
                             "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
                             "enable_isolated_metadata": "true", "force_metadata": "true"},
                 "ovs": {"integration_bridge": "br-int"}})


def metadata_agent_ini(nova_metadata_host: str, secret: str) -> str:
    return _ini({"DEFAULT": {"nova_metadata_host": nova_metadata_host, "metadata_proxy_shared_secret": secret,
                             "metadata_workers": "1"}})


def provider_subnet(gateway: ipaddress.IPv4Interface) -> dict:
    """The provider network's subnet: the lab's (the machine's address its gateway), its ports'
    addresses from PROVIDER_POOL."""
    net = gateway.network
    if net.prefixlen != 24:
        raise PrereqError(f"the lab's subnet {net} must be a /24 (the provider network's pool is in it)")
    first, last = (str(net.network_address + n) for n in PROVIDER_POOL)
    return {"name": f"{PROVIDER_NETWORK}-v4", "ip_version": 4, "cidr": str(net), "gateway_ip": str(gateway.ip),
            "allocation_pools": [{"start": first, "end": last}], "enable_dhcp": True}


def transport_url(user: str, password: str, host: str) -> str:
    quote = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731
    return f"rabbit://{quote(user)}:{quote(password)}@{host}:5672/"


class Networking:
    """neutron on `host` (the network node) and its Linux bridge agent on `hypervisors`; its
    database in `data`, its user and endpoints in `services`' keystone."""

    def __init__(self, state: State, host: Host, hypervisors: Sequence[Host], data: DataHost, services: Services,
                 rabbit_user: str, metadata_host: str, gateway: ipaddress.IPv4Interface):
        self.state, self.host, self.hypervisors = state, host, list(hypervisors)
        self.data, self.services, self.rabbit_user = data, services, rabbit_user
        self.metadata_host, self.gateway = metadata_host, gateway
        self.address = str(host.address.ip)
        self.url = f"http://{self.address}:{NETWORK_PORT}"

    # What breaks shells, SQL, URLs and oslo.config, in both secrets a stack is given: the
    # program must carry them into nova.conf as they are (neutron's files quote them too).
    AWKWARD = "'\"$x %;\\@:/"

    @property
    def password(self) -> str:
        """The neutron user's (a stack's neutronPassword)."""
        return self.state.secret("neutron") + self.AWKWARD

    @property
    def metadata_secret(self) -> str:
        """The metadata proxy's shared secret (a stack's metadataSecret)."""
        return self.state.secret("metadata") + self.AWKWARD

    def _transport_url(self) -> str:
        return transport_url(self.rabbit_user, self.state.secret("rabbit"), self.data.address)

    def _write(self, host: Host, path: str, text: str) -> None:
        host.write(path, text, mode=0o640)
        host.run(["chown", "root:neutron", path], what=f"chown {path}")

    def _l2_agent(self, host: Host) -> None:
        """Open vSwitch on `host` (its userspace datapath), the provider network's bridge holding
        eth1, and the agent's configuration.

        Checksums: a guest's virtio NIC, a veth and a tap device all leave TCP and UDP checksums
        to be filled in later. ovs-vswitchd reads its ports as packet sockets, and unless told
        otherwise it neither knows that nor fills them in: the firewall's conntrack then finds the
        guests' TCP invalid and drops it (DHCP passes; the metadata API does not answer), and
        namespaces drop what it passes on. So eth1 sends with checksums filled in, and
        userspace-tso-enable makes ovs-vswitchd read the ports' offload headers (set before any
        neutron port exists: it is read when ovs-vswitchd starts, and a restart would take the
        namespaces' ports away)."""
        self._write(host, OVS_AGENT_INI, ovs_agent_ini())
        host.run(["ethtool", "-K", PROVIDER_INTERFACE, "tx", "off"], what="ethtool -K eth1 tx off")
        host.run(["service", "openvswitch-switch", "start"], what="service openvswitch-switch start")
        offload = host.run(["ovs-vsctl", "get", "Open_vSwitch", ".", "other_config:userspace-tso-enable"],
                           check=False, what="ovs-vsctl get userspace-tso-enable").stdout.strip()
        if offload != '"true"':
            host.run(["ovs-vsctl", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"],
                     what="ovs-vsctl set userspace-tso-enable")
            host.run(["service", "openvswitch-switch", "restart"], what="service openvswitch-switch restart")
        host.run(["ovs-vsctl", "--may-exist", "add-br", PROVIDER_BRIDGE, "--", "set", "bridge", PROVIDER_BRIDGE,
                  "datapath_type=netdev", "--", "--may-exist", "add-port", PROVIDER_BRIDGE, PROVIDER_INTERFACE],
                 what=f"ovs-vsctl add-br {PROVIDER_BRIDGE}")

    def start(self) -> None:
        """neutron configured, its database migrated, registered in keystone and running, every
        agent alive, the provider network made (the lab's `up` runs it once its keystone and db
        host are up; each step is idempotent)."""
        connection_password = self.state.secret("db_neutron")
        name = LAB_DB_PREFIX + "neutron"
        self.data.ensure_database(name, name, connection_password)
        database = f"mysql+pymysql://{name}:{urllib.parse.quote(connection_password, safe='')}@{self.data.address}/{name}"
        keystone_url, rpc = self.services.keystone_url, self._transport_url()
        server = neutron_conf(database=database, transport_url=rpc, keystone_url=keystone_url,
                              password=self.password, server=True)
        agent = neutron_conf(database="", transport_url=rpc, keystone_url=keystone_url,
                             password="", server=False)
        self._write(self.host, "/etc/neutron/neutron.conf", server)
        self._write(self.host, "/etc/neutron/plugins/ml2/ml2_conf.ini", ml2_conf())
        self._write(self.host, "/etc/neutron/dhcp_agent.ini", dhcp_agent_ini())
        self._write(self.host, "/etc/neutron/metadata_agent.ini",
                    metadata_agent_ini(self.metadata_host, self.metadata_secret))
        self._l2_agent(self.host)
        for hypervisor in self.hypervisors:
            self._write(hypervisor, "/etc/neutron/neutron.conf", agent)
            self._write(hypervisor, "/etc/neutron/plugins/ml2/ml2_conf.ini", ml2_conf())
            self._l2_agent(hypervisor)
        self.host.run(["runuser", "-u", "neutron", "--", "neutron-db-manage", "--config-file", "/etc/neutron/neutron.conf",
                       "--config-file", "/etc/neutron/plugins/ml2/ml2_conf.ini", "upgrade", "head"],
                      timeout=900, what="neutron-db-manage upgrade head")
        ks = self.services.admin()
        self.services.service_user(ks, "neutron", self.password)
        ks.ensure_endpoints(ks.ensure_service("neutron", "network", "OpenStack Networking"), self.url, REGION)
        uwsgi = self.host.path(NEUTRON_API_UWSGI)
        uwsgi.write_text("".join(f"processes = {API_PROCESSES}\n" if line.startswith("processes =") else line
                                 for line in uwsgi.read_text().splitlines(keepends=True)))
        self.host.run(["service", "neutron-api", "start"], what="service neutron-api start")
        wait_http(f"{self.url}/", ok=[200], timeout=240, logfile=self.host.path("/var/log/neutron/neutron-api.log"))
        for service in NETWORK_NODE_SERVICES:
            self.host.run(["service", service, "start"], what=f"service {service} start")
        for hypervisor in self.hypervisors:
            hypervisor.run(["service", "neutron-openvswitch-agent", "start"], what="service neutron-openvswitch-agent start")
        self.wait_for_agents(ks)
        self.ensure_provider_network(ks)

    def ensure_provider_network(self, ks: Keystone) -> dict:
        """The install guide's provider network (its "Launch an instance" chapter): flat on
        `provider`, shared, external, with a subnet on the lab's own (PROVIDER_POOL's addresses
        for ports, the machine's address as the gateway, no DNS: the lab has none). Returns it."""
        found = self.call(ks, "GET", f"/v2.0/networks?name={PROVIDER_NETWORK}")["networks"]
        network = found[0] if found else self.call(ks, "POST", "/v2.0/networks", {"network": {
            "name": PROVIDER_NETWORK, "shared": True, "router:external": True,
            "provider:network_type": "flat", "provider:physical_network": PHYSNET}})["network"]
        if not self.call(ks, "GET", f"/v2.0/subnets?network_id={network['id']}")["subnets"]:
            subnet = provider_subnet(self.gateway)
            self.call(ks, "POST", "/v2.0/subnets", {"subnet": {"network_id": network["id"], **subnet}})
        return network

    def expected_agents(self) -> Dict[str, List[str]]:
        """host name -> the agent types it must report."""
        return {self.host.name: list(NETWORK_NODE_AGENTS), **{h.name: list(HYPERVISOR_AGENTS) for h in self.hypervisors}}

    def agents(self, ks: Keystone) -> List[dict]:
        return self.call(ks, "GET", "/v2.0/agents")["agents"]

    def call(self, ks: Keystone, method: str, path: str, body=None) -> dict:
        """neutron's API as the lab's admin."""
        req = json_request(f"{self.url}{path}", method, body, {"X-Auth-Token": ks.token, "Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else {}

    def wait_for_agents(self, ks: Keystone, timeout: float = 180) -> None:
        expected = self.expected_agents()

        def missing() -> List[str]:
            alive = {(a["host"], a["agent_type"]) for a in self.agents(ks) if a.get("alive")}
            return [f"{t} on {h}" for h, types in expected.items() for t in types if (h, t) not in alive]

        try:
            wait_until(lambda: not missing(), what="neutron's agents to report", timeout=timeout, interval=2)
        except Exception:
            logs = [self.host.path(f"/var/log/neutron/{s}.log") for s in NETWORK_NODE_SERVICES]
            raise PrereqError(f"neutron's agents not alive after {timeout:.0f} s: {', '.join(missing())}; "
                              f"see {', '.join(str(p) for p in logs)}") from None
        log(f"neutron's agents are alive: {sum(len(t) for t in expected.values())} on {len(expected)} hosts")
