"""What the tests get from the harness: the addresses, accounts and secrets of the prepared
environment, never shown in a repr, and the ways in (the `openstack` CLI's environment, ssh)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .common import (DB_ADMIN_USER, KEYSTONE_URL, LOOPBACK, PLACEMENT_URL, RABBIT_USER, REGION,
                     SSH_PORT)
from .identity import Keystone
from .state import State


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
    placement_url: str = PLACEMENT_URL
    ssh_private_key_file: str = ""
    timings: Dict[str, float] = field(default_factory=dict)

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
        """argv for `ssh` into the harness' sshd with the run's key (no secret in it)."""
        return ["ssh", "-i", self.ssh_private_key_file, "-p", str(self.ssh_port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                f"{self.ssh_user}@{self.ssh_host}", *remote]


def environment(state: State) -> E2EEnvironment:
    """The environment as `state` records it (its secrets must have been generated)."""
    s = state.data["secrets"]
    key = state.dir / "id_ed25519"
    return E2EEnvironment(
        keystone_url=KEYSTONE_URL, admin_user="admin",
        admin_password=s["keystone_admin"], admin_project="admin", region=REGION,
        rabbit_user=RABBIT_USER, rabbit_password=s["rabbit"], ssh_host=LOOPBACK, ssh_port=SSH_PORT,
        ssh_user="root", ssh_private_key=key.read_text() if key.exists() else "",
        ssh_private_key_file=str(key), placement_user="placement",
        placement_password=s["placement"], db_admin_user=DB_ADMIN_USER,
        db_admin_password=s["db_admin"], state_dir=str(state.dir),
        timings=dict(state.data.get("timings", {})))
