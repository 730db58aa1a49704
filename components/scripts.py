"""Shell scripts the nodes run, built by pure functions.

Every value that reaches a script is quoted with shlex.quote. No script contains a secret:
secret content (nova.conf, openrc) travels on the command's stdin, and the scripts that need
credentials source the openrc file written that way. Scripts start with `set -eu` so a failed
step fails the resource.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

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


@dataclass(frozen=True)
class NovaVersion:
    """The nova the packages must install (`major`), and the installed majors it may replace
    (`upgrade_from`, with `series` naming every major for messages)."""
    major: int
    upgrade_from: tuple[int, ...]
    series: Mapping[int, str]

    def name(self, major: int) -> str:
        return f"{self.series.get(major, 'an unknown release')} (nova {major})"


def install_packages(packages: Sequence[str], preseed: Sequence[str] = (), source=None,
                     nova: Optional[NovaVersion] = None) -> str:
    """Non-interactive install that waits for the dpkg lock instead of failing on it.
    `preseed` lines (`package question type value`) answer the packages' debconf questions
    first, so the install neither asks nor falls back to an unwanted default. `source` (a
    releases.AptSource) is added and pinned first. With `nova`, the step refuses, before
    installing anything, to replace an installed nova nova cannot upgrade from in one step
    (skipping a non-SLURP release, or going back), and fails unless the installed nova-common is
    the release's major version afterwards, before anything touches the database (a
    distribution's own, older nova would otherwise start on the wrong schema)."""
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
    check = guard = ""
    if nova is not None:
        major = int(nova.major)
        installed = "version=$(dpkg-query -W -f='${Version}' nova-common 2>/dev/null || true)\nupstream=${version#*:}\n"
        check = installed + (
            f"case \"$upstream\" in {major}.*) echo \"nova $upstream installed\" ;;\n"
            f"  *) echo \"installed nova-common is '$version', not nova {major}.x: wrong package source for this release\" >&2; exit 1 ;;\n"
            "esac\n"
        )
        allowed = " | ".join(f"{int(m)}.*" for m in nova.upgrade_from)
        refusals = "".join(
            f"  {int(m)}.*) echo {q(f'refusing to change nova from {nova.name(int(m))} to {nova.name(major)}: ' + _upgrade_hint(int(m), major))} >&2; exit 1 ;;\n"
            for m in sorted(nova.series) if int(m) not in nova.upgrade_from)
        guard = installed + (
            f"case \"$upstream\" in ''{' | ' + allowed if allowed else ''}) ;;\n" + refusals
            + f"  *) echo \"refusing to change nova from $upstream to {nova.name(major)}: an unknown release\" >&2; exit 1 ;;\n"
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
        + guard
        + (f"{apt} update -q\n" + add_source.format(apt=apt) if add_source else "")
        + f"{apt} update -q\n"
        f"{apt} install -y -q --no-install-recommends {pkgs}\n"
        + check
    )


def _upgrade_hint(installed: int, target: int) -> str:
    if installed > target:
        return "nova cannot be downgraded"
    return ("nova upgrades one release at a time, or from one SLURP release to the next; "
            "upgrade through the releases in between first")


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


@dataclass(frozen=True)
class CellTemplates:
    """The URL templates cell mappings store (nova fills {username}, {password}, {hostname},
    {port}, {path}, {query} from the local nova.conf): no password is ever stored in them."""
    cell0_database: str
    cell_database: str
    transport: str


# The exact template shapes components.nova_conf.cell_templates builds.
_TEMPLATE_RE = re.compile(r"[a-z+]+://\{username\}:\{password\}@(\{hostname\}|\[\{hostname\}\])(:\{port\})?"
                          r"/([A-Za-z0-9_]+|\{path\})(\?\{query\})?")
CELL0_UUID = "00000000-0000-0000-0000-000000000000"
# nova-manage db online_data_migrations: 0 done, 1 some migrated (run again), 2 errors, 127 bad input.
MIGRATION_ROUNDS = 20


def nova_manage_words(*words: str) -> str:
    """`nova-manage WORDS` as the nova user, each word quoted (for arguments such as templates
    that the plain sub-command pattern of `nova_manage` does not admit)."""
    return NOVA_MANAGE_AS_NOVA.format(cmd=q(shlex.join(["nova-manage", *words])))


def _cell_uuid_of(name: str) -> str:
    """Shell: print the uuid of cell `name` from list_cells' table (empty when missing)."""
    return (f"masked {nova_manage('cell_v2 list_cells')} | awk -F'|' -v name={q(name)} "
            "'{gsub(/ /, \"\", $2); gsub(/ /, \"\", $3); if ($2 == name) print $3}'")


def db_sync(steps: Sequence[str], cells: Optional[CellTemplates] = None, upgrade_check: bool = False) -> str:
    """The release's sync sequence. With `cells` (cells v2), cell0 and cell1 are mapped with
    URL templates: created when missing, else updated to the templates (so a deployment mapped
    with literal URLs converges, and rotating a password needs no remapping); reruns never fail
    nor duplicate a cell. `db online_data_migrations` runs until nova reports nothing left.
    With `upgrade_check`, `nova-status upgrade check` gates the end: 0 (ok) and 1 (warnings)
    pass, anything else fails with its report.

    Every command's output passes through a filter that masks URL passwords: nova-manage
    prints cell mappings' database URLs, and this output is kept in the step's state and logs."""
    if cells is None and any(step.startswith("cell_v2 ") for step in steps):
        raise ValueError("cells v2 steps need the cells' URL templates")
    if cells is not None:
        for template in (cells.cell0_database, cells.cell_database, cells.transport):
            if not _TEMPLATE_RE.fullmatch(template):
                raise ValueError(f"{template!r} is not a cell URL template")
    lines = [HEADER.strip(), MASKED_FUNCTION, "install -d -o nova -g nova -m 0750 /var/log/nova"]
    for step in steps:
        cell = CREATE_CELL_RE.match(step)
        if step == "cell_v2 map_cell0":
            lines.append(f"masked {nova_manage_words('cell_v2', 'map_cell0', '--database_connection', cells.cell0_database)}")
            lines.append(f"masked {nova_manage_words('cell_v2', 'update_cell', '--cell_uuid', CELL0_UUID, '--transport-url', 'none:///', '--database_connection', cells.cell0_database)}")
        elif cell:
            name = cell.group("name")
            urls = ("--database_connection", cells.cell_database, "--transport-url", cells.transport)
            # the uuid reaches nova-manage through the environment (su keeps it), checked first
            update = NOVA_MANAGE_AS_NOVA.format(
                cmd=q('nova-manage cell_v2 update_cell --cell_uuid "$CELL_UUID" ' + shlex.join(urls)))
            lines.append(
                f"uuid=$({_cell_uuid_of(name)})\n"
                "if [ -n \"$uuid\" ]; then\n"
                "  printf '%s\\n' \"$uuid\" | grep -Eqx '[0-9a-f-]{36}' || { echo \"unexpected cell uuid\" >&2; exit 1; }\n"
                "  export CELL_UUID=\"$uuid\"\n"
                f"  masked {update}\n"
                "else\n"
                f"  rc=0; masked {nova_manage_words('cell_v2', 'create_cell', f'--name={name}', *urls, '--verbose')} || rc=$?\n"
                "  [ \"$rc\" -eq 0 ] || [ \"$rc\" -eq 2 ] || exit \"$rc\"\n"
                "fi"
            )
        elif step == "db online_data_migrations":
            lines.append(
                f"for round in $(seq 1 {MIGRATION_ROUNDS}); do\n"
                f"  rc=0; masked {nova_manage(step)} || rc=$?\n"
                "  [ \"$rc\" -eq 1 ] || break\n"
                "done\n"
                "[ \"$rc\" -eq 0 ] || { echo \"online data migrations did not finish (nova-manage exit $rc)\" >&2; exit 1; }"
            )
        else:
            lines.append(f"masked {nova_manage(step)}")
    if upgrade_check:
        lines.append(UPGRADE_CHECK)
    return "\n".join(lines) + "\n"


# `nova-status upgrade check`: 0 success, 1 warnings (pass), 2 failure, 255 error.
UPGRADE_CHECK = (
    f"rc=0; report=$({NOVA_MANAGE_AS_NOVA.format(cmd=q('nova-status upgrade check'))} 2>&1) || rc=$?\n"
    "if [ \"$rc\" -gt 1 ]; then printf '%s\\n' \"$report\" | mask_urls >&2;"
    " echo \"nova-status upgrade check failed (exit $rc)\" >&2; exit 1; fi\n"
    "[ \"$rc\" -eq 0 ] && echo 'upgrade check: ok' || echo 'upgrade check: passed with warnings'"
)


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
        listing = (f"{nova_manage('service list')} 2>/dev/null | awk 'NR>1{only} "
                   "{{print $1, ($5 == \":-)\") ? \"up\" : \"down\", $6 \"T\" $7}}'")
    else:
        listing = ("openstack compute service list " + (f"--host {q(host)} " if host else "")
                   + "-f value -c Binary -c State -c 'Updated At'")
    lines = [
        HEADER.strip(),
        f". {q(openrc)}",
        f"expected={q(' '.join(expected))}",
        # A service stays "up" for service_down_time after its last heartbeat, so a process that
        # died in a restart still looks up for a minute: only a heartbeat after this step began
        # (every step it waits for, the restart included, has finished) proves the running one.
        "since=$(date -u +%Y-%m-%dT%H:%M:%S)",
        "down=''",
        f"for attempt in $(seq 1 {int(attempts)}); do",
        f"  listing=$({listing} || true)",
        "  down=''",
        "  for binary in $expected; do",
        "    echo \"$listing\" | awk -v b=\"$binary\" -v since=\"$since\" "
        "'$1 == b && $2 == \"up\" && substr($3, 1, 19) > since {ok = 1} END {exit !ok}' || down=\"$down $binary\"",
        "  done",
        "  [ -z \"$down\" ] && break",
        f"  sleep {int(delay)}",
        "done",
        f"if [ -n \"$down\" ]; then echo \"nova services not up (no heartbeat since $since) after"
        f" {int(attempts) * int(delay)}s:$down\" >&2; exit 1; fi",
        "echo \"nova services up: $expected\"",
    ]
    for command in api_checks:
        lines.append(" ".join(q(word) for word in command.split()) + " >/dev/null")
        lines.append(f"echo {q('ok: ' + command)}")
    return "\n".join(lines) + "\n"


def as_service(user: str, command: str) -> str:
    """`command` as a service's system user (its files and logs stay that user's)."""
    _checked([user], validate.UNIX_USER_RE, "user name")
    return f"su -s /bin/sh -c {q(command)} {user}"


def placement_db_sync() -> str:
    """placement-manage db sync, as the placement user."""
    return HEADER + as_service("placement", "placement-manage db sync") + "\necho 'placement database synced'\n"


def verify_placement(openrc: str, url: str, attempts: int = 30, delay: int = 5) -> str:
    """Placement answers (bounded wait), refuses an anonymous request, serves an authenticated
    one (the token travels in a 0600 header file, never in a command line), and
    `placement-status upgrade check` passes (0, or 1 for warnings)."""
    if not validate.PLAIN_URL_RE.fullmatch(url):
        raise ValueError(f"{url!r} is not a plain http(s) URL")
    if int(attempts) < 1:
        raise ValueError("need attempts >= 1")
    status = as_service("placement", "placement-status upgrade check")
    get = "curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'OpenStack-API-Version: placement 1.0'"
    return (
        HEADER + f". {q(openrc)}\nurl={q(url.rstrip('/'))}\ncode=000\n"
        f"for attempt in $(seq 1 {int(attempts)}); do\n"
        "  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \"$url/\" || true)\n"
        "  [ \"$code\" = 200 ] && break\n"
        f"  sleep {int(delay)}\n"
        "done\n"
        f"[ \"$code\" = 200 ] || {{ echo \"placement at $url did not answer after {int(attempts) * int(delay)}s (last status $code)\" >&2; exit 1; }}\n"
        f"anonymous=$({get} \"$url/resource_providers\" || true)\n"
        "[ \"$anonymous\" = 401 ] || { echo \"placement answered $anonymous to an anonymous request, not 401\" >&2; exit 1; }\n"
        "umask 077; header=$(mktemp); trap 'rm -f \"$header\"' EXIT\n"
        "printf 'X-Auth-Token: %s\\n' \"$(openstack token issue -f value -c id)\" > \"$header\"\n"
        f"authenticated=$({get} -H @\"$header\" \"$url/resource_providers\" || true)\n"
        "[ \"$authenticated\" = 200 ] || { echo \"placement answered $authenticated to an authenticated request\" >&2; exit 1; }\n"
        f"rc=0; report=$({status} 2>&1) || rc=$?\n"
        "if [ \"$rc\" -gt 1 ]; then printf '%s\\n' \"$report\" >&2; echo \"placement-status upgrade check failed (exit $rc)\" >&2; exit 1; fi\n"
        "echo \"placement up at $url\"\n"
    )


def service_record(openrc: str, via_api: bool, host: str) -> str:
    """The hypervisor's nova-compute service record exists (its verify step saw it up)."""
    _checked_hosts([host], "host name")
    listing = _compute_service_ids(via_api, host)
    return (HEADER + f". {q(openrc)}\n"
            f"[ -n \"$({listing})\" ] || {{ echo {q('no nova-compute service on ' + host)} >&2; exit 1; }}\n"
            f"echo {q('nova-compute service recorded: ' + host)}\n")


def remove_compute_service(openrc: str, via_api: bool, host: str) -> str:
    """When a hypervisor leaves: disable its nova-compute service, then delete the service record
    (with it nova deletes the host's resource provider), so nothing schedules to a host that is
    gone. Runs on the controller; nothing to do when no record is left (idempotent)."""
    _checked_hosts([host], "host name")
    h = q(host)
    if via_api:
        disable = f"openstack compute service set --disable --disable-reason {q('removed from the stack')} {h} nova-compute"
        delete = 'openstack compute service delete "$id"'
    else:  # Liberty: the nova client
        disable = f"nova service-disable --reason {q('removed from the stack')} {h} nova-compute"
        delete = 'nova service-delete "$id"'
    return (HEADER + f". {q(openrc)}\n"
            f"ids=$({_compute_service_ids(via_api, host)})\n"
            f"[ -n \"$ids\" ] || {{ echo {q('no nova-compute service left on ' + host)}; exit 0; }}\n"
            f"{disable}\n"
            "for id in $ids; do\n"
            "  printf '%s\\n' \"$id\" | grep -Eqx '[0-9A-Za-z-]+' || { echo \"unexpected service id\" >&2; exit 1; }\n"
            f"  {delete}\n"
            "done\n"
            f"echo {q('nova-compute service removed: ' + host)}\n")


def _compute_service_ids(via_api: bool, host: str) -> str:
    if via_api:
        return f"openstack compute service list --host {q(host)} --service nova-compute -f value -c ID"
    return (f"nova service-list --host {q(host)} --binary nova-compute | "
            "awk -F'|' 'NR > 3 && NF > 2 {gsub(/ /, \"\", $2); if ($2 != \"\") print $2}'")


def _awk_string(value: str) -> str:
    # only called with host names validate.is_host accepted: no quotes or backslashes to escape
    return '"' + value + '"'


def as_user(script: str, user: str) -> str:
    """Steps run as root; a non-root SSH user goes through sudo (stdin passes through)."""
    if user == "root":
        return script
    _checked([user], validate.UNIX_USER_RE, "user name")
    return f"sudo -n /bin/bash -c {q(script)}"


def reload_service(service: str) -> str:
    _checked([service], _SERVICE_RE, "service name")
    return HEADER + service_action("reload", q(service)) + f"\necho {q(service + ' reloaded')}\n"


def verify_login_page(url: str, attempts: int = 30, delay: int = 5) -> str:
    """Wait (bounded) until Horizon's login page renders its login form, not merely answers: a
    broken settings file still answers 500, a missing static build renders no form."""
    if not validate.PLAIN_URL_RE.fullmatch(url):
        raise ValueError(f"{url!r} is not a plain http(s) URL")
    login = url.rstrip("/") + "/auth/login/"
    return (
        HEADER + f"url={q(login)}\n"
        f"for attempt in $(seq 1 {int(attempts)}); do\n"
        "  page=$(curl -sL --max-time 10 \"$url\" || true)\n"
        "  case \"$page\" in *'name=\"username\"'*'name=\"password\"'*) echo \"login page renders at $url\"; exit 0 ;; esac\n"
        f"  sleep {int(delay)}\n"
        "done\n"
        f"echo \"no login form at $url after {int(attempts) * int(delay)}s\" >&2\n"
        "exit 1\n"
    )


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


def require_virt_type(virt_type: str) -> str:
    """Shell lines: fail, saying why, when `virt_type` cannot work on this node (kvm needs the CPU's
    virtualisation extensions and /dev/kvm; qemu always works, slowly)."""
    if virt_type not in ("kvm", "qemu"):
        raise ValueError(f"{virt_type!r} is not a supported virt type")
    if virt_type == "qemu":
        return ""
    return ("[ -e /dev/kvm ] || { echo \"virt_type kvm, but /dev/kvm is missing on $(hostname): enable hardware "
            "virtualisation (or nested KVM) or set the node's virtType to qemu\" >&2; exit 1; }\n")


def discover_hosts() -> str:
    """Map new hypervisors into cell1; run once, after every hypervisor is up."""
    return HEADER + nova_manage("cell_v2 discover_hosts --verbose") + "\n"


def render_openrc(variables: dict[str, str]) -> str:
    """An admin credentials file (the seed's "Testing" exports). Values are shell-quoted;
    names, which cannot be quoted, must be shell identifiers."""
    _checked(variables, _ENV_NAME_RE, "environment variable name")
    return "".join(f"export {name}={q(value)}\n" for name, value in variables.items())
