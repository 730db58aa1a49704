"""Hypervisor (compute) nodes and cells v2 host discovery.

Each hypervisor is its own branch of the graph, in parallel with the others:

    preflight -> packages -> [detect virt type] -> nova.conf -> restart -> verify (on the controller)

After every hypervisor reports up, one `nova-manage cell_v2 discover_hosts` runs on the
controller (never one per hypervisor: concurrent runs race), and again only when the set of
hypervisors changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components import scripts
from components.config import NodeSettings, Settings
from components.controller import OPENRC, ControllerNode, url_host_port
from components.node import connection, content_hash, step
from components.nova_conf import COMPUTE, plain_secret_overrides, render_masked, render_nova_conf, secret_values

NOVA_CONF = "/etc/nova/nova.conf"
VIRT_TYPES = ("kvm", "qemu")


def checked_virt_type(detected: str) -> str:
    value = detected.strip()
    if value not in VIRT_TYPES:
        raise ValueError(f"virt type detection printed {value!r}, expected one of {', '.join(VIRT_TYPES)}")
    return value


@dataclass
class HypervisorArgs:
    settings: Settings
    node: NodeSettings
    controller: ControllerNode  # verification asks the controller, once its services run


class HypervisorNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: HypervisorArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:HypervisorNode", name, None, opts)
        s, node, profile = args.settings, args.node, args.settings.release
        conn = connection(node, s.ssh_private_key)

        def run(script: str) -> str:
            return scripts.as_user(script, node.user)

        ks_host, ks_port = url_host_port(s.keystone.public_url, 5000)
        targets = [("rabbitmq", s.messaging.host, s.messaging.port), ("keystone", ks_host, ks_port)]
        self.preflight = step(f"{name}-preflight", conn, run(scripts.preflight(targets)), parent=self)
        self.packages = step(f"{name}-packages", conn, run(scripts.install_packages(profile.compute_packages, profile.preseed)),
                             parent=self, depends_on=[self.preflight])

        secrets, overrides = secret_values(s), plain_secret_overrides(s)
        if node.virt_type:
            virt_type: pulumi.Output[str] = pulumi.Output.from_input(node.virt_type)
            self.detect_virt = None
        else:
            self.detect_virt = step(f"{name}-detect-virt", conn, run(scripts.detect_virt_type()),
                                    parent=self, depends_on=[self.preflight])
            virt_type = self.detect_virt.stdout.apply(checked_virt_type)
        self.nova_conf_text = pulumi.Output.secret(
            virt_type.apply(lambda virt: render_nova_conf(s, node, COMPUTE, secrets, overrides, virt_type=virt))
        )
        conf_hash = content_hash(self.nova_conf_text)
        self.config = step(f"{name}-nova-conf", conn, run(scripts.write_file_from_stdin(NOVA_CONF, "root", "nova", "0640")),
                           parent=self, depends_on=[self.packages], stdin=self.nova_conf_text, quiet=True)
        self.restart = step(f"{name}-restart", conn, run(scripts.restart_services(profile.compute_services)),
                            parent=self, depends_on=[self.config], triggers=[conf_hash])
        ctl = args.controller
        self.verify = step(
            f"{name}-verify", ctl.connection,
            scripts.as_user(scripts.verify_services(OPENRC, profile.service_check, ["nova-compute"], (), host=node.name),
                            s.controller.user),
            parent=self, depends_on=[self.restart, ctl.restart, ctl.openrc], triggers=[conf_hash],
        )
        self.nova_conf_masked = render_masked(s, node, COMPUTE, virt_type=node.virt_type or "(detected: kvm or qemu)")
        self.register_outputs({"host": node.host, "nova_conf": self.nova_conf_masked, "nova_conf_sha256": conf_hash})


@dataclass
class HostDiscoveryArgs:
    settings: Settings
    controller: ControllerNode
    hypervisors: Sequence[HypervisorNode]


class HostDiscovery(pulumi.ComponentResource):
    def __init__(self, name: str, args: HostDiscoveryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:HostDiscovery", name, None, opts)
        names = sorted(h.name for h in args.settings.hypervisors)
        self.discover = step(
            f"{name}-discover-hosts", args.controller.connection,
            scripts.as_user(scripts.discover_hosts(), args.settings.controller.user),
            parent=self,
            depends_on=[args.controller.db_sync, *(h.verify for h in args.hypervisors)],
            triggers=names,  # re-run only when the set of hypervisors changes
        )
        self.register_outputs({"hypervisors": names})
