"""Shell scripts the nodes run, built by pure functions.

Every value that reaches a script is quoted with shlex.quote. No script contains a secret:
secret content (nova.conf, openrc) travels on the command's stdin, and the scripts that need
credentials source the openrc file written that way. Scripts start with `set -eu` so a failed
step fails the resource.
"""
from __future__ import annotations

import re
import shlex
from typing import Iterable, Optional, Sequence

from components import validate

HEADER = "set -eu\n"
NOVA_MANAGE_AS_NOVA = "su -s /bin/sh -c {cmd} nova"
CREATE_CELL_RE = re.compile(r"^cell_v2 create_cell --name=(?P<name>[A-Za-z0-9_-]+)")
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]*$")  # no leading "-": not an option
_PRESEED_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+ [a-z0-9][a-z0-9+./_-]+ (boolean|select|string) [A-Za-z0-9._-]+$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SOURCE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_DEB_LINE_RE = re.compile(r"deb https?://[A-Za-z0-9.-]+(/[A-Za-z0-9._/-]*)? [a-z0-9./-]+( [a-z0-9-]+)+")
_NOVA_MANAGE_RE = re.compile(r"^[a-z0-9_]+( [a-z0-9_]+)?( --[a-z_]+(=[A-Za-z0-9_-]+)?)*$")


def q(value: str) -> str:
    return shlex.quote(str(value))


def checked_path(path: str) -> str:
    """An absolute path of plain characters, safe in a script even unquoted."""
    if not validate.PATH_RE.fullmatch(path):
        raise ValueError(f"refusing path {path!r}")
    return path


def service_action(action: str, service: str) -> str:
    """One shell line: `systemctl ACTION SERVICE` under systemd, else `service SERVICE ACTION`
    (init scripts). `service` is a shell word: a quoted name or a variable reference."""
    return (f"if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl {action} {service};\n"
            f"  else service {service} {action}; fi")


def _checked(values: Iterable[str], pattern: re.Pattern, what: str) -> list[str]:
    values = list(values)
    for value in values:
        # fullmatch: `$` alone would accept a trailing newline
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
    return values


def _checked_hosts(values: Iterable[str], what: str) -> list[str]:
    values = list(values)
    for value in values:
        if not validate.is_host(value):
            raise ValueError(f"{value!r} is not a valid {what}")
    return values


def preflight(targets: Sequence[tuple[str, str, int]]) -> str:
    """Time sync is healthy (chrony or ntp, whichever is installed) and every (what, host, port)
    answers on TCP. Reports every problem at once, then fails."""
    lines = [HEADER.strip(), "problems=''", "note() { problems=\"${problems}  - $1\n\"; }"]
    lines.append(
        "if command -v chronyc >/dev/null 2>&1; then\n"
        "  chronyc -n tracking | grep -q '^Leap status *: Normal' || note 'time: chrony is not synchronised (chronyc tracking)'\n"
        "elif command -v ntpq >/dev/null 2>&1; then\n"
        "  ntpq -pn 2>/dev/null | grep -q '^\\*' || note 'time: ntp has no selected peer (ntpq -p)'\n"
        "elif command -v timedatectl >/dev/null 2>&1; then\n"
        "  [ \"$(timedatectl show -p NTPSynchronized --value 2>/dev/null)\" = yes ] || note 'time: the clock is not NTP-synchronised (timedatectl)'\n"
        "else\n"
        "  note 'time: neither chrony nor ntp is installed'\n"
        "fi"
    )
    for what, host, port in targets:
        target = f"{what} ({host}:{int(port)})"
        lines.append(
            f"timeout 5 bash -c 'exec 3<>/dev/tcp/\"$0\"/\"$1\"' {q(host)} {int(port)} 2>/dev/null"
            f" || note {q('unreachable: ' + target)}"
        )
    lines.append("if [ -n \"$problems\" ]; then printf 'preflight failed:\\n%s' \"$problems\" >&2; exit 1; fi")
    lines.append("echo preflight ok")
    return "\n".join(lines) + "\n"


def install_packages(packages: Sequence[str], preseed: Sequence[str] = (), source=None,
                     nova_major: Optional[int] = None) -> str:
    """Non-interactive install that waits for the dpkg lock instead of failing on it.
    `preseed` lines (`package question type value`) answer the packages' debconf questions
    first, so the install neither asks nor falls back to an unwanted default. `source` (a
    releases.AptSource) is added and pinned first. With `nova_major`, the step fails unless
    the installed nova-common is that upstream major version, before anything touches the
    database (a distribution's own, older nova would otherwise start on the wrong schema)."""
    pkgs = " ".join(q(p) for p in _checked(packages, _PACKAGE_RE, "Debian package name"))
    _checked(preseed, _PRESEED_RE, "debconf selection")
    add_source = ""
    if source is not None:
        _checked([source.name], _SOURCE_NAME_RE, "apt source name")
        _checked([source.line], _DEB_LINE_RE, "apt source line")
        _checked([source.keyring_package], _PACKAGE_RE, "Debian package name")
        _checked_hosts([source.origin], "apt origin host")
        add_source = (
            f"{{apt}} install -y -q --no-install-recommends {q(source.keyring_package)}\n"
            f"printf '%s\\n' {q(source.line)} > /etc/apt/sources.list.d/{source.name}.list\n"
            f"printf '%s\\n' 'Package: *' {q('Pin: origin ' + source.origin)} 'Pin-Priority: 600'"
            f" > /etc/apt/preferences.d/{source.name}.pref\n"
        )
    check = ""
    if nova_major is not None:
        major = int(nova_major)
        check = (
            "version=$(dpkg-query -W -f='${Version}' nova-common 2>/dev/null || true)\n"
            "upstream=${version#*:}\n"
            f"case \"$upstream\" in {major}.*) echo \"nova $upstream installed\" ;;\n"
            f"  *) echo \"installed nova-common is '$version', not nova {major}.x: wrong package source for this release\" >&2; exit 1 ;;\n"
            "esac\n"
        )
    wait = (
        "for i in $(seq 1 120); do\n"
        "  fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1 || break\n"
        "  echo 'waiting for the dpkg lock'; sleep 5\n"
        "done"
    )
    apt = "apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold"
    return (
        HEADER + "export DEBIAN_FRONTEND=noninteractive\n" + wait + "\n"
        + (f"printf '%s\\n' {' '.join(q(line) for line in preseed)} | debconf-set-selections\n" if preseed else "")
        + (f"{apt} update -q\n" + add_source.format(apt=apt) if add_source else "")
        + f"{apt} update -q\n"
        f"{apt} install -y -q --no-install-recommends {pkgs}\n"
        + check
    )


def write_file_from_stdin(path: str, owner: str, group: str, mode: str) -> str:
    """Write stdin to `path` atomically (temp file in the same directory, then rename), with
    owner, group and mode set before the content becomes visible. Prints whether it changed:
    "unchanged" only when content, owner, group and mode all already match."""
    if not validate.PATH_RE.fullmatch(path) or not re.fullmatch(r"[0-7]{4}", mode):
        raise ValueError(f"refusing path {path!r} / mode {mode!r}")
    directory = path.rsplit("/", 1)[0] or "/"
    return (
        HEADER + "umask 077\n"
        f"mkdir -p {q(directory)}\n"
        f"tmp=$(mktemp {q(path + '.XXXXXX')})\n"
        "trap 'rm -f \"$tmp\"' EXIT\n"
        "cat > \"$tmp\"\n"
        f"chown {q(owner)}:{q(group)} \"$tmp\"\n"
        f"chmod {q(mode)} \"$tmp\"\n"
        f"if [ -f {q(path)} ] && cmp -s \"$tmp\" {q(path)}"
        f" && [ \"$(stat -c %u:%g:%a \"$tmp\")\" = \"$(stat -c %u:%g:%a {q(path)})\" ]; then echo unchanged: {q(path)}; exit 0; fi\n"
        f"mv -fT \"$tmp\" {q(path)}\n"
        "trap - EXIT\n"
        f"echo written: {q(path)}\n"
    )


def nova_manage(args: str) -> str:
    """`nova-manage <args>` as the nova user (the seed forgot `su -s`)."""
    if not _NOVA_MANAGE_RE.fullmatch(args):
        raise ValueError(f"{args!r} is not a nova-manage sub-command")
    return NOVA_MANAGE_AS_NOVA.format(cmd=q(f"nova-manage {args}"))


# `masked CMD...` runs CMD and prints its stdout and stderr (each to its own stream) with the
# password of every scheme://user:password@ URL replaced by ****; it keeps CMD's exit status.
MASKED_FUNCTION = (
    "mask_urls() { sed -E 's#(://[^:/@[:space:]]*:)[^@]*@#\\1****@#g'; }\n"
    "masked() {\n"
    "  err=$(mktemp)\n"
    "  out=$(\"$@\" 2>\"$err\") && rc=0 || rc=$?\n"
    "  [ -z \"$out\" ] || printf '%s\\n' \"$out\" | mask_urls\n"
    "  mask_urls < \"$err\" >&2; rm -f \"$err\"\n"
    "  return \"$rc\"\n"
    "}"
)


def db_sync(steps: Sequence[str]) -> str:
    """The release's sync sequence. `cell_v2 create_cell` runs only when `list_cells` does not
    show the cell yet, and its "already exists" exit code 2 is accepted, so reruns never fail
    nor duplicate the cell.

    Every command's output passes through a filter that masks URL passwords: nova-manage
    prints cell mappings' database URLs and fails to mask a password with special characters
    (it stores it decoded), and this output is kept in the step's state and logs."""
    lines = [HEADER.strip(), MASKED_FUNCTION, "install -d -o nova -g nova -m 0750 /var/log/nova"]
    for step in steps:
        cell = CREATE_CELL_RE.match(step)
        if cell:
            name = cell.group("name")
            lines.append(
                f"if masked {nova_manage('cell_v2 list_cells')} | awk -F'|' '{{gsub(/ /, \"\", $2); print $2}}' | grep -qx {q(name)}; then\n"
                f"  echo {q('cell ' + name + ' exists')}\n"
                "else\n"
                f"  rc=0; masked {nova_manage(step)} || rc=$?\n"
                "  [ \"$rc\" -eq 0 ] || [ \"$rc\" -eq 2 ] || exit \"$rc\"\n"
                "fi"
            )
        else:
            lines.append(f"masked {nova_manage(step)}")
    return "\n".join(lines) + "\n"


def restart_services(services: Sequence[str]) -> str:
    names = " ".join(q(s) for s in _checked(services, _SERVICE_RE, "service name"))
    return (
        HEADER + f"for serv in {names}; do\n"
        "  " + service_action("restart", '"$serv"') + "\n"
        "done\n"
        f"echo restarted: {names}\n"
    )


def verify_services(openrc: str, via_api: bool, expected: Sequence[str], api_checks: Sequence[str],
                    attempts: int = 30, delay: int = 5, host: Optional[str] = None) -> str:
    """Wait (bounded) until every expected nova service reports up (on `host` only, when
    given), then run the seed's "Testing" client commands. Fails with the list of services
    that are down. `via_api`: states from `openstack compute service list`; else (Liberty)
    from `nova-manage service list`, which reads the database."""
    expected = _checked(expected, _SERVICE_RE, "service name")
    if host is not None:
        _checked_hosts([host], "host name")
    if int(attempts) < 1 or int(delay) < 0:
        # with no attempt the loop never runs and the services would be reported up unchecked
        raise ValueError(f"need attempts >= 1 and delay >= 0, not {attempts!r} / {delay!r}")
    if not via_api:
        # Liberty: State is ":-)" when up, "XXX" when down.
        only = f" && $2 == {_awk_string(host)}" if host else ""
        listing = f"{nova_manage('service list')} 2>/dev/null | awk 'NR>1{only} {{print $1, ($5 == \":-)\") ? \"up\" : \"down\"}}'"
    else:
        listing = "openstack compute service list " + (f"--host {q(host)} " if host else "") + "-f value -c Binary -c State"
    lines = [
        HEADER.strip(),
        f". {q(openrc)}",
        f"expected={q(' '.join(expected))}",
        "down=''",
        f"for attempt in $(seq 1 {int(attempts)}); do",
        f"  listing=$({listing} || true)",
        "  down=''",
        "  for binary in $expected; do",
        "    echo \"$listing\" | grep -q \"^$binary up\" || down=\"$down $binary\"",
        "  done",
        "  [ -z \"$down\" ] && break",
        f"  sleep {int(delay)}",
        "done",
        f"if [ -n \"$down\" ]; then echo \"nova services not up after {int(attempts) * int(delay)}s:$down\" >&2; exit 1; fi",
        "echo \"nova services up: $expected\"",
    ]
    for command in api_checks:
        lines.append(" ".join(q(word) for word in command.split()) + " >/dev/null")
        lines.append(f"echo {q('ok: ' + command)}")
    return "\n".join(lines) + "\n"


def _awk_string(value: str) -> str:
    # only called with host names validate.is_host accepted: no quotes or backslashes to escape
    return '"' + value + '"'


def as_user(script: str, user: str) -> str:
    """Steps run as root; a non-root SSH user goes through sudo (stdin passes through)."""
    if user == "root":
        return script
    _checked([user], validate.UNIX_USER_RE, "user name")
    return f"sudo -n /bin/bash -c {q(script)}"


def verify_http(url: str, attempts: int = 30, delay: int = 5) -> str:
    """Wait (bounded) until `url` answers with a success or redirect status."""
    if not validate.PLAIN_URL_RE.fullmatch(url):
        raise ValueError(f"{url!r} is not a plain http(s) URL")
    return (
        HEADER + f"url={q(url)}\ncode=000\n"
        f"for attempt in $(seq 1 {int(attempts)}); do\n"
        "  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \"$url\" || true)\n"
        "  case \"$code\" in 2??|3??) echo \"$url answers $code\"; exit 0 ;; esac\n"
        f"  sleep {int(delay)}\n"
        "done\n"
        f"echo \"$url did not answer after {int(attempts) * int(delay)}s (last status $code)\" >&2\n"
        "exit 1\n"
    )


def detect_virt_type() -> str:
    """kvm when the CPU offers hardware virtualisation (vmx/svm) and /dev/kvm exists, else qemu."""
    return HEADER + "if grep -Eq '(vmx|svm)' /proc/cpuinfo && [ -e /dev/kvm ]; then echo kvm; else echo qemu; fi\n"


def discover_hosts() -> str:
    """Map new hypervisors into cell1; run once, after every hypervisor is up."""
    return HEADER + nova_manage("cell_v2 discover_hosts --verbose") + "\n"


def render_openrc(variables: dict[str, str]) -> str:
    """An admin credentials file (the seed's "Testing" exports). Values are shell-quoted;
    names, which cannot be quoted, must be shell identifiers."""
    _checked(variables, _ENV_NAME_RE, "environment variable name")
    return "".join(f"export {name}={q(value)}\n" for name, value in variables.items())
