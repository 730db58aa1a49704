"""What components hand each other: typed handles on a node's access and steps, so that a
component depends on what it uses of another, not on the other's module."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.config import NodeSettings


@dataclass(frozen=True)
class ControllerAccess:
    """How other components run steps on the controller, and what of it they wait for."""
    node: NodeSettings
    connection: remote.ConnectionArgs
    preflight: pulumi.Resource  # the node reaches its database, message queue and keystone
    openrc: pulumi.Resource  # the admin credentials (OPENRC) that verification sources


@dataclass(frozen=True)
class ControllerHandle(ControllerAccess):
    """The controller once its services run: what hypervisors and host discovery wait for."""
    db_sync: pulumi.Resource
    restart: pulumi.Resource
    verify: pulumi.Resource
    # The steps that restart what the hypervisors' services lean on (the controller's conductor,
    # placement): each hypervisor's verification runs again after any of them runs again.
    restarts: tuple[pulumi.Resource, ...] = ()
