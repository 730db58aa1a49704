"""Hypervisor (compute) nodes and cells v2 host discovery.

Each hypervisor is its own branch of the graph, in parallel with the others:

    preflight -> packages -> [detect virt type] -> nova.conf -> restart -> verify (on the controller)

After every hypervisor reports up, one `nova-manage cell_v2 discover_hosts` runs on the
controller (never one per hypervisor: concurrent runs race), and again only when the set of
hypervisors changes. The roster on the controller removes from nova the hypervisors that left the
stack, and only those.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import pulumi

from components import scripts
from components.config import NodeSettings, Secret, Settings
from components.handles import ControllerHandle
from components.migration import HypervisorMigration, NodeMigration, node_migration
from components.node import NodeSteps, content_hash, ran_again, repaired, secret_when_known
from components.nova_conf import plain_secret_overrides, render_compute_driver_conf, render_masked, render_nova_conf
from components.nova_node import NOVA_CONF, OPENRC, Target, hypervisor_targets, nova_version
from components.releases import ReleaseProfile
from components.template_context import COMPUTE, secret_values
from components.virt_types import VIRT_TYPES


def checked_virt_type(detected: str) -> str:
    value = detected.strip()
    if value not in VIRT_TYPES:
        raise ValueError(f"virt type detection printed {value!r}, expected one of {', '.join(VIRT_TYPES)}")
    return value


@dataclass
class HypervisorArgs:
    release: ReleaseProfile
    node: NodeSettings
    private_key: Optional[Secret]
    preflight_targets: Sequence[Target]
    nova_conf: Callable[[str], str]  # the rendered file for a virt type (secret: sent on stdin)
    nova_conf_masked: str  # as a plan shows it, every secret masked
    # Verification asks the controller, once its services run.
    controller: ControllerHandle
    migration: Optional[NodeMigration] = None  # the stack's `migration`, when enabled

    @classmethod
    def from_settings(cls, s: Settings, node: NodeSettings, controller: ControllerHandle) -> "HypervisorArgs":
        secrets, overrides = secret_values(s), plain_secret_overrides(s)
        return cls(release=s.release, node=node, private_key=s.ssh_private_key, preflight_targets=hypervisor_targets(s),
                   nova_conf=lambda virt: render_nova_conf(s, node, COMPUTE, secrets, overrides, virt_type=virt),
                   nova_conf_masked=render_masked(s, node, COMPUTE, virt_type=node.virt_type or "(detected: kvm or qemu)"),
                   controller=controller, migration=node_migration(s))


class HypervisorNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: HypervisorArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:HypervisorNode", name, None, opts)
        node = args.node
        release, packaging = args.release.release, args.release.packaging
        steps = self.steps = NodeSteps(self, name, node, private_key=args.private_key)

        self.preflight = steps.run("preflight", scripts.preflight(args.preflight_targets))
        self.packages = steps.run("packages", scripts.install_packages(
            packaging.compute_packages, packaging.preseed, packaging.source, nova_version(release)),
            depends_on=[self.preflight])

        if node.virt_type:
            virt_type: pulumi.Output[str] = pulumi.Output.from_input(node.virt_type)
            self.detect_virt = None
        else:
            self.detect_virt = steps.run("detect-virt", scripts.detect_virt_type(), depends_on=[self.preflight])
            virt_type = self.detect_virt.stdout.apply(checked_virt_type)
        # Secret once known; a plain unknown at a preview before detect-virt has run (a command
        # provider refuses an unknown secret: node.secret_when_known).
        self.nova_conf_text = secret_when_known(virt_type.apply(args.nova_conf))
        conf_hash = content_hash(self.nova_conf_text)
        self.config = steps.write_file("nova-conf", NOVA_CONF, self.nova_conf_text, group="nova", mode="0640",
                                       depends_on=[self.packages])
        driver_conf = virt_type.apply(render_compute_driver_conf)
        self.driver_config = steps.write_file("compute-conf", packaging.compute_driver_conf, driver_conf,
                                              group="nova", mode="0640", depends_on=[self.packages])
        ctl = args.controller
        # After the controller's restart: on an upgrade, computes go last (nova's documented order).
        # A forced kvm where /dev/kvm is missing fails here, saying so, instead of a nova-compute
        # that never comes up.
        self.restart = steps.run(
            "restart", virt_type.apply(lambda virt: scripts.require_virt_type(virt) + scripts.restart_services(
                packaging.compute_services)),
            depends_on=[self.config, self.driver_config, ctl.restart],
            triggers=[repaired(conf_hash, steps.watches["nova-conf"]),
                      repaired(content_hash(driver_conf), steps.watches["compute-conf"])])
        # Verified from the controller, which asks the API for this host's services.
        on_controller = NodeSteps(self, name, ctl.node, conn=ctl.connection)
        # Runs again when this node's nova.conf changes, and after every restart of what its
        # services lean on (the controller's conductor, placement: ctl.restarts): `up` ends only
        # once this node's services report a heartbeat newer than that restart.
        self.verify = on_controller.run(
            "verify", scripts.verify_services(OPENRC, release.services_via_api, release.compute_expected_up, (),
                                              host=node.name),
            depends_on=[self.restart, ctl.openrc],
            triggers=[repaired(conf_hash, steps.watches["nova-conf"], steps.watches["compute-conf"]),
                      *(value for step in ctl.restarts for value in ran_again(step))])
        # The node's nova-compute service record exists. It has no delete: nova forgets a
        # hypervisor when it leaves the stack (HypervisorRoster), never because a step of one that
        # stays was replaced (a delete runs after every replace; this step's once removed the
        # host from nova on `pulumi up --replace`). Kept under its name so that deployed stacks
        # update it to no delete rather than delete it, which would run their old one.
        self.service_record = on_controller.run(
            "service-record", scripts.service_record(OPENRC, release.services_via_api, node.name),
            depends_on=[self.verify, ctl.verify])
        # Migration: nova's SSH key, trust and the certificates (the checks between the
        # hypervisors are MigrationPeers', once every hypervisor's files are registered).
        self.migration = HypervisorMigration(steps, args.migration, self.packages) if args.migration else None
        self.nova_conf_masked = args.nova_conf_masked
        self.register_outputs({"host": node.host, "nova_conf": self.nova_conf_masked, "nova_conf_sha256": conf_hash})


@dataclass
class HostDiscoveryArgs:
    controller: ControllerHandle  # discovery runs there, after its db sync
    hypervisors: Sequence[HypervisorNode]
    names: Sequence[str]  # the hypervisors' node names


class HostDiscovery(pulumi.ComponentResource):
    def __init__(self, name: str, args: HostDiscoveryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:HostDiscovery", name, None, opts)
        names = sorted(args.names)
        ctl = args.controller
        self.discover = NodeSteps(self, name, ctl.node, conn=ctl.connection).run(
            "discover-hosts", scripts.discover_hosts(),
            depends_on=[ctl.db_sync, *(h.verify for h in args.hypervisors)],
            triggers=names,  # re-run only when the set of hypervisors changes
        )
        self.register_outputs({"hypervisors": names})


@dataclass
class HypervisorRosterArgs:
    controller: ControllerHandle  # the roster lives there; removal asks its compute API
    release: ReleaseProfile
    names: Sequence[str]  # the stack's hypervisors' node names (may be none: all have left)


class HypervisorRoster(pulumi.ComponentResource):
    """The stack's hypervisors, remembered on the controller: a host that leaves the stack is
    removed from nova (its service disabled, its record and resource provider deleted), and only
    then. Runs again only when the set of hypervisors changes; it has no delete, so a replace
    (create, then the old one's delete) and `pulumi destroy` remove nothing."""

    def __init__(self, name: str, args: HypervisorRosterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:HypervisorRoster", name, None, opts)
        names = sorted(args.names)
        ctl = args.controller
        self.update = NodeSteps(self, name, ctl.node, conn=ctl.connection).run(
            "update", scripts.retire_departed_hypervisors(OPENRC, args.release.release.services_via_api, names),
            depends_on=[ctl.verify, ctl.openrc], triggers=names)
        self.register_outputs({"hypervisors": names})
