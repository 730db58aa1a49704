"""Instances move between the hypervisors (the stack's `migration`): what each hypervisor gets,
and the check that every one reaches every other one as nova and libvirt will.

On each hypervisor (HypervisorNode's steps, after its packages: the nova user exists):

    ssh-home -> nova-ssh-key (secret, on stdin), nova-authorized-keys, nova-known-hosts
    [libvirt-ssh-config: scheme ssh] [libvirt-tls: the certificates, scheme tls]

A live migration is peer to peer (nova always asks libvirt for VIR_MIGRATE_PEER2PEER): the
source's libvirtd, running as root, opens qemu+ssh://<target myIp>/system itself. nova's
deprecated live_migration_uri could name the user and key in the URI; instead an ssh_config
drop-in tells root's ssh to log in to the other hypervisors' myIp as nova with nova's key,
checking the pinned host keys (nova's known_hosts).

nova.conf gets `[libvirt] live_migration_scheme` and `live_migration_inbound_addr` (= myIp) from
the same settings, so a change there restarts nova-compute through nova.conf's content hash; the
SSH files need no restart (ssh reads them at each connection). Then, per hypervisor, one
`migration-check` (MigrationPeers) waits for its own files and for every hypervisor's
authorized_keys (and certificates), and logs in to each other one as nova. It runs again when
what it checks changes: the peers, the scheme, the key, the known hosts.

The stack's cost stays linear in the number of hypervisors wherever it can: every check waits
for one `migration-peers-ready` marker, which waits for every hypervisor's files (2N edges, not
N x N), and a check's script grows by one line per peer. What each hypervisor must hold about
every other one, its pinned host key (known_hosts) and its address (the ssh_config drop-in), is
the one part that grows with the square of the count.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.config import NodeSettings, Secret, Settings
from components.node import NodeSteps, repaired
from components.scripts import migration as scripts

SSH_DIR = f"{scripts.NOVA_HOME}/.ssh"
SSH_CONFIG = "/etc/ssh/ssh_config.d/openstack-nova-migration.conf"  # Debian's and Ubuntu's ssh_config include it
PEERS_READY = "every hypervisor has nova's authorized_keys (and, scheme tls, its libvirt certificates)"


@dataclass(frozen=True)
class NodeMigration:
    """What one hypervisor needs for migration (the same for every hypervisor of the stack)."""
    scheme: str
    private_key: Secret  # novaSshPrivateKey: written to ~nova/.ssh/id_<type>, on stdin only
    key_type: str
    public_key: str  # its public half, nova's authorized_keys on every hypervisor
    known_hosts: str  # every hypervisor's pinned host key, at its myIp and its name
    ssh_config: str  # root's ssh (libvirtd's qemu+ssh) to the hypervisors: as nova, nova's key
    tls_files: Optional[tuple[str, str, str]] = None  # (caFile, certFile, keyFile) for scheme tls

    @property
    def digest(self) -> str:
        """What a check depends on, public parts only (the public key stands for the private)."""
        return hashlib.sha256("\n".join([self.scheme, self.public_key, self.known_hosts, self.ssh_config,
                                         repr(self.tls_files)])
                              .encode()).hexdigest()


def known_hosts(hypervisors: Sequence[NodeSettings]) -> str:
    """One line per hypervisor: `myIp,name keytype base64`. nova's ssh and libvirt's qemu+ssh
    connect to the target's myIp (live_migration_inbound_addr; nova's dest_host is the target's
    my_ip); the pinned key is the one its sshd presents to the program."""
    return "".join(f"{node.my_ip},{node.name} {node.host_key}\n" for node in hypervisors)


def libvirt_ssh_config(hypervisors: Sequence[NodeSettings], key_type: str) -> str:
    """ssh_config for root (libvirtd) reaching every hypervisor's myIp: as nova, with nova's key,
    against nova's known_hosts (pinned keys only). Other users' ssh is left alone."""
    hosts = ",".join(node.my_ip for node in hypervisors)
    return ("# openstack-nova (migration): libvirtd, as root, reaches the other hypervisors' libvirt as nova\n"
            f"Match localuser root host {hosts}\n"
            f"    User {scripts.NOVA_USER}\n"
            f"    IdentityFile {SSH_DIR}/id_{key_type}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {SSH_DIR}/known_hosts\n"
            "    StrictHostKeyChecking yes\n"
            "    BatchMode yes\n")


def node_migration(settings: Settings) -> Optional[NodeMigration]:
    m = settings.migration
    if not m.enabled:
        return None
    tls = (m.ca_file, m.cert_file, m.key_file) if m.scheme == "tls" else None
    return NodeMigration(scheme=m.scheme, private_key=m.nova_private_key, key_type=m.nova_key_type,
                         public_key=m.nova_public_key, known_hosts=known_hosts(settings.hypervisors),
                         ssh_config=libvirt_ssh_config(settings.hypervisors, m.nova_key_type), tls_files=tls)


class HypervisorMigration:
    """A hypervisor's migration files, as steps of its HypervisorNode (`steps`)."""

    def __init__(self, steps: NodeSteps, m: NodeMigration, packages: pulumi.Resource):
        self.settings = m
        self.home = steps.run("ssh-home", scripts.nova_ssh_home(), depends_on=[packages])
        key_text = pulumi.Output.secret(m.private_key.value).apply(lambda text: text.strip() + "\n")
        user = scripts.NOVA_USER
        self.key = steps.write_file("nova-ssh-key", f"{SSH_DIR}/id_{m.key_type}", key_text, owner=user, group=user,
                                    mode="0600", depends_on=[self.home])
        self.authorized_keys = steps.write_file("nova-authorized-keys", f"{SSH_DIR}/authorized_keys", m.public_key + "\n",
                                                owner=user, group=user, mode="0600", depends_on=[self.home], secret=False)
        self.known_hosts = steps.write_file("nova-known-hosts", f"{SSH_DIR}/known_hosts", m.known_hosts, owner=user,
                                            group=user, mode="0644", depends_on=[self.home], secret=False)
        self.tls = self.ssh_config = None
        if m.tls_files:
            self.tls = steps.run("libvirt-tls", scripts.libvirt_tls(*m.tls_files), depends_on=[packages])
        else:
            self.ssh_config = steps.write_file("libvirt-ssh-config", SSH_CONFIG, m.ssh_config, mode="0644",
                                               depends_on=[packages], secret=False)
        # what a migration from this node needs here, and what one to it needs here
        self.outbound = [self.key, self.known_hosts, *([self.tls] if self.tls else [self.ssh_config])]
        self.inbound = [self.authorized_keys, *([self.tls] if self.tls else [])]
        self.watches = [steps.watches[step] for step in ("nova-ssh-key", "nova-authorized-keys", "nova-known-hosts",
                                                         "libvirt-ssh-config") if step in steps.watches]


@dataclass
class MigrationPeersArgs:
    nodes: Sequence[NodeSettings]  # the hypervisors, in the stack's order
    steps: Sequence[NodeSteps]  # how to run a step on each (their connections)
    files: Sequence[HypervisorMigration]


class MigrationPeers(pulumi.ComponentResource):
    """Per hypervisor, `<name>-migration-check` on it: every other hypervisor reachable at its
    myIp as nova and libvirt will connect (a stack of one hypervisor has nothing to check)."""

    def __init__(self, name: str, args: MigrationPeersArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("openstack-nova:components:MigrationPeers", name, None, opts)
        # Every check logs in to every other hypervisor, so each needs every one's authorized_keys
        # (and certificates): one marker waits for all of them and each check for the marker,
        # rather than each check for all of them. It does nothing: the engine's own Stash resource
        # (no provider, no plugin) that keeps a fixed value.
        self.ready = pulumi.Stash(f"{name}-peers-ready", input=PEERS_READY, opts=pulumi.ResourceOptions(
            parent=self, depends_on=[r for f in args.files for r in f.inbound]))
        self.checks = {}
        for node, steps, files in zip(args.nodes, args.steps, args.files):
            peers = [(other.name, other.my_ip) for other in args.nodes if other.name != node.name]
            on_node = NodeSteps(self, node.name, node, conn=steps.connection)
            # Runs again when the digest changes: the scheme, the key, and the known hosts, whose
            # lines are every hypervisor's name and myIp (the peers); and after one of this
            # node's files was repaired (drift found by a refresh).
            self.checks[node.name] = on_node.run(
                "migration-check", scripts.check_peers(node.name, peers, files.settings.scheme),
                depends_on=[*files.outbound, self.ready], triggers=[repaired(files.settings.digest, *files.watches)])
        self.register_outputs({"checked": sorted(self.checks)})
