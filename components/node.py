"""SSH access to a node, and the one kind of step every node runs: a remote command."""
from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import pulumi
from pulumi_command import remote

from components.config import NodeSettings, Secret


def connection(node: NodeSettings, private_key: Optional[Secret]) -> remote.ConnectionArgs:
    """One connection per node, reused by all its steps. Without a key, the SSH agent is used
    (pulumi-command reads SSH_AUTH_SOCK). Without a pinned `host_key` the provider accepts any
    host key (production stacks refuse that in config)."""
    key = pulumi.Output.secret(private_key.value) if private_key else None
    proxy = None
    if node.jump_host:
        proxy = remote.ProxyConnectionArgs(host=node.jump_host, user=node.user, private_key=key,
                                           host_key=node.jump_host_key)
    return remote.ConnectionArgs(host=node.host, port=node.port, user=node.user, private_key=key,
                                 host_key=node.host_key, proxy=proxy, dial_error_limit=10, per_dial_timeout=15)


def content_hash(content: pulumi.Input[str]) -> pulumi.Output[str]:
    """sha256 of a rendered file: a restart/verify trigger that changes only when the content
    does. It stays secret when the content is (a hash of a file holding passwords)."""
    return pulumi.Output.from_input(content).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())


def step(name: str, conn: remote.ConnectionArgs, script: str, *, parent: pulumi.Resource,
         depends_on: Sequence[pulumi.Resource] = (), stdin: Optional[pulumi.Input[str]] = None,
         triggers: Optional[Sequence[pulumi.Input]] = None, quiet: bool = False,
         delete: Optional[str] = None) -> remote.Command:
    """A remote command step. `quiet` keeps its output out of the engine's log and marks the
    captured stdout/stderr secret (for steps that handle secrets)."""
    return remote.Command(
        name,
        connection=conn,
        create=script,
        delete=delete,
        stdin=stdin,
        triggers=list(triggers) if triggers is not None else None,
        # Otherwise an update sends PULUMI_COMMAND_STDOUT/STDERR as SSH environment variables,
        # which a stock sshd refuses (AcceptEnv), with a warning on every update.
        add_previous_output_in_env=False,
        logging=remote.Logging.NONE if quiet else remote.Logging.STDOUT_AND_STDERR,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            additional_secret_outputs=["stdout", "stderr"] if quiet else None,
        ),
    )
