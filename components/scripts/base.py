"""What every node script shares: quoting, validated names, the service command of the init
system, running as another user."""
from __future__ import annotations

import re
import shlex
from typing import Iterable

from components import validate

HEADER = "set -eu\n"
CREATE_CELL_RE = re.compile(r"^cell_v2 create_cell --name=(?P<name>[A-Za-z0-9_-]+)")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]*$")  # no leading "-": not an option
PRESEED_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+ [a-z0-9][a-z0-9+./_-]+ (boolean|select|string) [A-Za-z0-9._-]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SOURCE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")
DEB_LINE_RE = re.compile(r"deb https?://[A-Za-z0-9.-]+(/[A-Za-z0-9._/-]*)? [a-z0-9./-]+( [a-z0-9-]+)+")
NOVA_MANAGE_RE = re.compile(r"^[a-z0-9_]+( [a-z0-9_]+)?( --[a-z_]+(=[A-Za-z0-9_-]+)?)*$")


def q(value: str) -> str:
    return shlex.quote(str(value))


def checked_path(path: str) -> str:
    """An absolute path of plain characters, safe in a script even unquoted."""
    if not validate.PATH_RE.fullmatch(path):
        raise ValueError(f"refusing path {path!r}")
    return path


# A shell test: the node runs systemd (else its services have init scripts, run by `service`).
UNDER_SYSTEMD = "command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]"


def service_action(action: str, service: str) -> str:
    """One shell line: `systemctl ACTION SERVICE` under systemd, else `service SERVICE ACTION`
    (init scripts). `service` is a shell word: a quoted name or a variable reference."""
    return (f"if {UNDER_SYSTEMD}; then systemctl {action} {service};\n"
            f"  else service {service} {action}; fi")


def checked(values: Iterable[str], pattern: re.Pattern, what: str) -> list[str]:
    values = list(values)
    for value in values:
        # fullmatch: `$` alone would accept a trailing newline
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
    return values


def checked_hosts(values: Iterable[str], what: str) -> list[str]:
    values = list(values)
    for value in values:
        if not validate.is_host(value):
            raise ValueError(f"{value!r} is not a valid {what}")
    return values


def needs_tools(*tools: str) -> str:
    """Fail at once, naming the tool, when a step's tool is missing (a verify loop that hides
    curl's errors would otherwise report "status 000" for a minute and a half)."""
    checked(tools, PACKAGE_RE, "tool name")
    return "".join(f"command -v {t} >/dev/null || {{ echo {q(f'{t} is not installed on this node (its package step installs it)')} >&2; exit 127; }}\n"
                   for t in tools)


def as_service(user: str, command: str) -> str:
    """`command` as a service's system user (its files and logs stay that user's)."""
    checked([user], validate.UNIX_USER_RE, "user name")
    return f"su -s /bin/sh -c {q(command)} {user}"


def awk_string(value: str) -> str:
    """An awk string literal of a value validated before (a host name validate.is_host
    accepted): refused, rather than escaped, when it holds what would need escaping."""
    if any(c in value for c in '"\\\n') or not value.isprintable():
        raise ValueError(f"{value!r} cannot be an awk string here")
    return '"' + value + '"'


def as_user(script: str, user: str) -> str:
    """Steps run as root; a non-root SSH user goes through sudo (stdin passes through)."""
    if user == "root":
        return script
    checked([user], validate.UNIX_USER_RE, "user name")
    return f"sudo -n /bin/bash -c {q(script)}"


# Shell for steps that check several things: `note "..."` collects a problem, and
# `fail_on_problems` reports them all at once, then fails the step.
COLLECT_PROBLEMS = "problems=''\nnote() { problems=\"${problems}  - $1\n\"; }"


def fail_on_problems(what: str) -> str:
    """One shell line: print every noted problem under '<what> failed:' and exit 1 if any."""
    if not re.fullmatch(r"[a-z][a-z ]*", what):
        raise ValueError(f"refusing check name {what!r}")
    return f"if [ -n \"$problems\" ]; then printf '{what} failed:\\n%s' \"$problems\" >&2; exit 1; fi"


def tcp_probe(host: str, port: int) -> str:
    """A shell command that succeeds when `host` answers on TCP `port` within 5 s (bash's
    /dev/tcp: nothing to install); the host travels as an argument, never inside the program."""
    return tcp_probe_word(q(host), port)


def tcp_probe_word(host: str, port: int) -> str:
    """tcp_probe of a shell word: a quoted value or a variable reference (`"$address"`)."""
    return f"timeout 5 bash -c 'exec 3<>/dev/tcp/\"$0\"/\"$1\"' {host} {int(port)} 2>/dev/null"
