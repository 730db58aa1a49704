"""A node's steps: SSH access, the user they run as, and the one kind of step every node runs, a
remote command. Components read as short step tables over `NodeSteps`."""
from __future__ import annotations

import hashlib
from typing import Optional, Sequence, TypeVar

import pulumi
from pulumi_command import remote

from components import scripts
from components.config import NodeSettings, Secret
from components.file_watch import FileWatch

T = TypeVar("T")


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


def watch_connection(conn: remote.ConnectionArgs) -> dict:
    """The node's connection as a file watch reads it (pulumi-command's field names), from the very
    ConnectionArgs the node's steps use: the watch reaches the node as the steps do."""
    proxy = conn.proxy
    return {"host": conn.host, "port": conn.port, "user": conn.user, "privateKey": conn.private_key,
            "hostKey": conn.host_key,
            "proxy": {"host": proxy.host, "port": proxy.port, "user": proxy.user, "privateKey": proxy.private_key,
                      "hostKey": proxy.host_key} if proxy else None}


def repaired(value: pulumi.Input[str], *watches: FileWatch) -> pulumi.Output[str]:
    """A trigger: `value` (a file's content hash), changed also whenever a watched file is
    repaired (its watch's generation moved: drift found by a refresh), so that the step runs again
    after the file is rewritten. While no file was ever repaired (generation 0) it is `value`
    itself: a stack deployed before the watches existed keeps its triggers, and the upgrade
    restarts nothing. Secret when `value` is."""
    def join(values: list) -> str:
        generations = values[1:]
        return values[0] if not any(generations) else f"{values[0]} repaired {'.'.join(map(str, generations))}"
    return pulumi.Output.all(value, *(watch.generation for watch in watches)).apply(join)


def secret_when_known(value: pulumi.Input[T]) -> pulumi.Output[T]:
    """`value` as a secret, except while it is unknown (a preview before the step it comes from
    has run, e.g. a hypervisor's detected virt type): then a plain unknown, which carries no value
    to hide. The real command provider refuses an unknown secret inside `triggers` ("triggers[0]:
    malformed secret: missing value": the engine sends the secret's marker without its value), so
    a fresh stack's `pulumi preview` would fail. Once known, the value is the secret it always was
    (the same state as before, nothing re-runs)."""
    return pulumi.Output.unsecret(pulumi.Output.from_input(value)).apply(pulumi.Output.secret)


def content_hash(content: pulumi.Input[str]) -> pulumi.Output[str]:
    """sha256 of a rendered file: a restart/verify trigger that changes only when the content
    does. It stays secret when the content is (a hash of a file holding passwords)."""
    return pulumi.Output.from_input(content).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())


def ran_again(step: remote.Command) -> list[pulumi.Output[str]]:
    """Trigger values that change whenever `step` runs again: its id (a replace makes a new
    one, unknown at the preview of a replace) and its script's hash (an update re-runs `create`).
    As triggers of another step, that one runs again after it: verification of what depends on
    a restart."""
    return [step.id, content_hash(step.create.apply(lambda script: script or ""))]


class NodeSteps:
    """The steps one component runs on one node: `run` names each `<prefix>-<step>`, runs it as
    root (through `sudo -n` for a non-root SSH user) and parents it to the component."""

    def __init__(self, parent: pulumi.Resource, prefix: str, node: NodeSettings,
                 conn: Optional[remote.ConnectionArgs] = None, private_key: Optional[Secret] = None):
        self.parent, self.prefix, self.node = parent, prefix, node
        self.connection = conn or connection(node, private_key)
        self.watches: dict[str, FileWatch] = {}  # step name -> the watch of the file it writes

    def run(self, step: str, script: pulumi.Input[str], *, depends_on: Sequence[pulumi.Resource] = (),
            stdin: Optional[pulumi.Input[str]] = None,
            triggers: Optional[Sequence[pulumi.Input] | pulumi.Output[Optional[list]]] = None,
            quiet: bool = False, delete: Optional[str] = None) -> remote.Command:
        """A remote command. `quiet` keeps its output out of the engine's log and marks the
        captured stdout/stderr secret (for steps that handle secrets)."""
        return remote.Command(
            f"{self.prefix}-{step}",
            connection=self.connection,
            create=self._as_user(script),
            delete=scripts.as_user(delete, self.node.user) if delete else None,
            stdin=stdin,
            triggers=triggers if triggers is None or isinstance(triggers, pulumi.Output) else list(triggers),
            # Otherwise an update sends PULUMI_COMMAND_STDOUT/STDERR as SSH environment variables,
            # which a stock sshd refuses (AcceptEnv), with a warning on every update.
            add_previous_output_in_env=False,
            logging=remote.Logging.NONE if quiet else remote.Logging.STDOUT_AND_STDERR,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                depends_on=list(depends_on),
                additional_secret_outputs=["stdout", "stderr"] if quiet else None,
            ),
        )

    def _as_user(self, script: pulumi.Input[str]) -> pulumi.Input[str]:
        if isinstance(script, str):
            return scripts.as_user(script, self.node.user)
        return pulumi.Output.from_input(script).apply(lambda text: scripts.as_user(text, self.node.user))

    def write_file(self, step: str, path: str, content: pulumi.Input[str], *, owner: str = "root",
                   group: str = "root", mode: str = "0600", depends_on: Sequence[pulumi.Resource] = (),
                   secret: bool = True) -> remote.Command:
        """Write `content` to `path` atomically; it travels on stdin, never in the command, and is
        kept secret unless `secret=False` (a file without credentials, shown in plans).

        The file's watch (`<prefix>-<step>-watch`, in `watches[step]`) comes first: a refresh
        finds the file edited or deleted on the node, and the next up replaces this step, which
        writes it again (its trigger is the watch's generation). Without a repair yet the step has
        no trigger, as before the watches existed."""
        watch = self.watches[step] = FileWatch(
            # the hash secret in the inputs too (of a file holding passwords, it would let a guess
            # at them be checked), but not while unknown (a hypervisor's detected virt type)
            f"{self.prefix}-{step}-watch", watch_connection(self.connection), path,
            secret_when_known(content_hash(content)),
            owner=owner, group=group, mode=mode, opts=pulumi.ResourceOptions(parent=self.parent))
        # depends_on the watch too: at generation 0 the trigger is no value, and with it goes the
        # dependency it would carry
        return self.run(step, scripts.write_file_from_stdin(path, owner, group, mode),
                        depends_on=[watch, *depends_on], stdin=content, quiet=secret,
                        triggers=watch.generation.apply(lambda generation: [f"repair {generation}"] if generation else None))
