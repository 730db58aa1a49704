"""What a file on a node actually is (its sha256, owner, group and mode, or that there is none), read
over SSH for the file watch's refresh (components/file_watch.py).

It uses the OpenSSH client (`ssh`), as an operator would, with nothing of the operator's own
configuration: a config file, a known_hosts file and the private key are written into a private
temporary directory (0700, the key 0600) that is removed afterwards, so the key is never on a
command line, in the environment of another process, or left on disk. A pinned host key is the
only key accepted (StrictHostKeyChecking yes against the temporary known_hosts, under an alias
so that host and port need no known_hosts syntax); without one, any key is accepted, as
pulumi-command does for the steps themselves. A jump host goes through ProxyJump with its own
pinned key (the jump's ssh reads the same config file, which `-F` passes on). Every wait is
bounded: connecting, a silent server, and the whole command.

The connection is the dictionary the node's steps use (pulumi-command's `connection` fields:
host, port, user, privateKey, hostKey, proxy), checked again here: its values go into an
ssh_config file, where a line break or a space would add options.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from components import validate
from components.scripts.base import as_user
from components.ssh_keys import ssh_host_key

CONNECT_TIMEOUT = 15  # seconds to reach sshd, as the steps' per-dial timeout
ALIVE_INTERVAL, ALIVE_COUNT = 5, 3  # a server silent for 15 s ends the read
COMMAND_TIMEOUT = 120  # the whole read, jump host and sudo included
TARGET, JUMP = "nova-target", "nova-jump"  # the aliases in the temporary config and known_hosts
_HOST_RE = re.compile(r"[A-Za-z0-9.:-]{1,253}")  # a host name or IP address: no space, no quote
ABSENT = "absent"  # what the read prints when no regular file is at the path


class RemoteFileError(Exception):
    """A read that could not be made: the message names the node and the path, never a secret."""


@dataclass(frozen=True)
class Observation:
    sha256: Optional[str]  # None: no regular file there (missing, a directory, a symbolic link)
    owner: str = ""
    group: str = ""
    mode: int = 0


def readable_path(path: Any) -> str:
    """An absolute path of printable characters. It is quoted (shlex.quote) wherever it is used,
    so any such character is safe; a relative path would name another file depending on the
    login's directory."""
    if not isinstance(path, str) or not path.startswith("/") or validate.check_characters(path) or "\x00" in path:
        raise RemoteFileError(f"refusing to read {path!r}: not an absolute path of printable characters")
    return path


def read_script(path: str) -> str:
    """The shell the node runs: the file's sha256, then `owner:group mode`, or `absent`. A symbolic
    link is reported absent: the write step replaces the link with a file (mv -T)."""
    p = shlex.quote(readable_path(path))
    return (f"if [ -f {p} ] && [ ! -L {p} ]; then sha256sum < {p} | cut -d' ' -f1 && stat -c '%U:%G %a' -- {p}; "
            f"else echo {ABSENT}; fi")


def parse_output(text: str) -> Observation:
    lines = text.strip().splitlines()
    if lines == [ABSENT]:
        return Observation(None)
    if len(lines) == 2 and re.fullmatch(r"[0-9a-f]{64}", lines[0]):
        match = re.fullmatch(r"([^\s:]+):([^\s:]+) ([0-7]{1,4})", lines[1])
        if match:
            return Observation(lines[0], match[1], match[2], int(match[3], 8))
    raise RemoteFileError(f"unexpected answer {text[:200]!r}")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    host_key: Optional[str]  # "keytype base64", or None: not pinned

    @classmethod
    def of(cls, conn: Mapping[str, Any], what: str) -> "Endpoint":
        host, user = conn.get("host"), conn.get("user") or "root"  # pulumi-command's defaults
        port = 22 if conn.get("port") is None else conn["port"]
        if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
            raise RemoteFileError(f"{what} host {str(host)[:60]!r} is not a host name or address")
        if not isinstance(user, str) or not validate.UNIX_USER_RE.fullmatch(user):
            raise RemoteFileError(f"{what} user {str(user)[:40]!r} is not a user name")
        if isinstance(port, float) and port.is_integer():
            port = int(port)  # numbers arrive as floats over the wire
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise RemoteFileError(f"{what} port {port!r} is not a port")
        key = conn.get("hostKey") or None
        if key is not None:
            key, error = ssh_host_key(key)
            if error:
                raise RemoteFileError(f"{what} host key {error}")
        return cls(host, port, user, key)

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def ssh_config(target: Endpoint, jump: Optional[Endpoint], directory: Path, key_file: Optional[Path]) -> str:
    """The config the read's ssh (and its jump's) uses: nothing from the operator's own."""
    blocks = []
    for alias, end in ((TARGET, target), (JUMP, jump)):
        if end is None:
            continue
        blocks += [f"Host {alias}", f"  HostName {end.host}", f"  Port {end.port}", f"  User {end.user}",
                   f"  HostKeyAlias {alias}", f"  StrictHostKeyChecking {'yes' if end.host_key else 'no'}"]
        if alias == TARGET and jump is not None:
            blocks.append(f"  ProxyJump {JUMP}")
    blocks += ["Host *", "  BatchMode yes", f"  UserKnownHostsFile {directory / 'known_hosts'}",
               "  GlobalKnownHostsFile /dev/null", "  UpdateHostKeys no", "  CheckHostIP no",
               f"  ConnectTimeout {CONNECT_TIMEOUT}", f"  ServerAliveInterval {ALIVE_INTERVAL}",
               f"  ServerAliveCountMax {ALIVE_COUNT}", "  ControlMaster no", "  ControlPath none",
               "  ForwardAgent no", "  ForwardX11 no", "  ClearAllForwardings yes", "  PasswordAuthentication no",
               "  KbdInteractiveAuthentication no", "  LogLevel ERROR"]
    if key_file is not None:
        blocks += [f"  IdentityFile {key_file}", "  IdentitiesOnly yes"]
    return "\n".join(blocks) + "\n"


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def observe(conn: Mapping[str, Any], path: str) -> Observation:
    """The file at `path` on the node `conn` reaches (as root). Raises RemoteFileError naming the
    node and the path when the node cannot be reached, its host key is not the pinned one, or the
    read fails."""
    target = Endpoint.of(conn, "the node's")
    proxy = conn.get("proxy") or None
    jump = Endpoint.of(proxy, "the jump host's") if proxy else None
    where = f"{path!r} on {target}" + (f" (through {jump})" if jump else "")
    command = as_user(read_script(path), target.user)  # as root, as the steps run
    keys = [k for k in (conn.get("privateKey"), (proxy or {}).get("privateKey")) if k]
    if len(set(keys)) > 1:  # the program gives a node and its jump host one key (components/node.py)
        raise RemoteFileError(f"cannot read {where}: the jump host's private key differs from the node's")
    with tempfile.TemporaryDirectory(prefix="openstack-nova-ssh-") as tmp:  # mkdtemp: 0700
        directory = Path(tmp)
        key_file = None
        if keys:
            key_file = directory / "id"
            _private(key_file, keys[0].strip().replace("\r\n", "\n") + "\n")
        _private(directory / "known_hosts",
                 "".join(f"{alias} {end.host_key}\n" for alias, end in ((TARGET, target), (JUMP, jump))
                         if end is not None and end.host_key))
        _private(directory / "config", ssh_config(target, jump, directory, key_file))
        try:
            done = subprocess.run(["ssh", "-F", str(directory / "config"), TARGET, command],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RemoteFileError(f"cannot read {where}: no answer within {COMMAND_TIMEOUT} s") from None
        except OSError as err:
            raise RemoteFileError(f"cannot read {where}: the OpenSSH client could not run ({err.strerror}); "
                                  "install openssh-client where the engine runs") from None
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[-400:] or f"exit status {done.returncode}"
        for key in keys:  # ssh prints no key, but nothing a node sends back may carry one either
            why = why.replace(" ".join(key.split()), "[secret]")
        raise RemoteFileError(f"cannot read {where}: {why}")
    try:
        return parse_output(done.stdout)
    except RemoteFileError as err:
        raise RemoteFileError(f"cannot read {where}: {err}") from None
