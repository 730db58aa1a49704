"""What a test gets for a node of a lab (lab/): the addresses, accounts and secrets
of its services, never shown in a repr, and the ways in (the `openstack` CLI's environment, ssh
with the node's host key pinned)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .identity import Keystone


@dataclass
class E2EEnvironment:
    keystone_url: str
    admin_user: str
    admin_password: str
    admin_project: str
    region: str
    rabbit_user: str
    rabbit_password: str
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_private_key: str
    placement_user: str
    placement_password: str
    db_admin_user: str
    db_admin_password: str
    state_dir: str
    placement_url: str = ""
    ssh_private_key_file: str = ""
    timings: Dict[str, float] = field(default_factory=dict)
    known_hosts_file: str = ""  # the host keys `ssh` accepts (a mismatch is refused)
    node: str = ""  # the node `ssh_host` is
    glance_url: str = ""
    webdriver_url: str = ""  # chromedriver in the services host
    network_url: str = ""  # neutron on the network node ("": the lab has none)
    neutron_password: str = ""  # the neutron user's (a stack's neutronPassword)
    metadata_secret: str = ""  # neutron's metadata proxy's shared secret (a stack's metadataSecret)

    def __repr__(self) -> str:  # never show a secret in a traceback or a pytest report
        return (f"E2EEnvironment(keystone_url={self.keystone_url!r}, ssh={self.ssh_user}@"
                f"{self.ssh_host}:{self.ssh_port}, state_dir={self.state_dir!r})")

    __str__ = __repr__

    def openstack_env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """Environment for the `openstack` CLI as admin (credentials never in argv)."""
        env = dict(os.environ if base is None else base)
        for key in [k for k in env if k.startswith("OS_")]:
            del env[key]
        env.update({
            "OS_AUTH_URL": self.keystone_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": self.admin_user,
            "OS_PASSWORD": self.admin_password,
            "OS_PROJECT_NAME": self.admin_project,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": self.region,
            "OS_INTERFACE": "public",
        })
        return env

    def keystone(self) -> Keystone:
        """keystone's API, logged in as admin."""
        return Keystone(self.keystone_url, self.admin_user, self.admin_password, self.admin_project)

    def ssh_command(self, *remote: str) -> List[str]:
        """argv for `ssh` into the node with the run's key, its host key pinned (no secret in it)."""
        return ssh_argv(self.ssh_host, self.ssh_port, self.ssh_user, self.ssh_private_key_file,
                        self.known_hosts_file, *remote)


def ssh_argv(host: str, port: int, user: str, key_file: str, known_hosts_file: str, *remote: str) -> List[str]:
    """`ssh` that accepts only the host key in `known_hosts_file` (a mismatch is refused)."""
    return ["ssh", "-i", key_file, "-p", str(port), "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts_file}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "HostKeyAlgorithms=ssh-ed25519",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            f"{user}@{host}", *remote]
