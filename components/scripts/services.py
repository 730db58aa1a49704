"""Services: preflight checks, restarts, verification (heartbeats after the restart, the API,
the login page), a hypervisor's service record and its removal, the virt type."""
from __future__ import annotations

from typing import Optional, Sequence

from components import validate
from components.scripts.base import (
    COLLECT_PROBLEMS, SERVICE_RE, HEADER, awk_string, checked, checked_hosts, UNDER_SYSTEMD, checked_path, fail_on_problems,
    needs_tools, q, service_action, tcp_probe,
)
from components.scripts.nova_manage import nova_manage

def preflight(targets: Sequence[tuple[str, str, int]]) -> str:
    """Time sync is healthy (chrony or ntp, whichever is installed) and every (what, host, port)
    answers on TCP. Reports every problem at once, then fails."""
    lines = [HEADER.strip(), COLLECT_PROBLEMS]
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
            f"{tcp_probe(host, port)} || note {q('unreachable: ' + target)}"
        )
    lines.append(fail_on_problems("preflight"))
    lines.append("echo preflight ok")
    return "\n".join(lines) + "\n"


def restart_services(services: Sequence[str]) -> str:
    names = " ".join(q(s) for s in checked(services, SERVICE_RE, "service name"))
    return (
        HEADER + f"for serv in {names}; do\n"
        "  " + service_action("restart", '"$serv"') + "\n"
        "done\n"
        f"echo restarted: {names}\n"
    )


# awk programs, static: the values they compare with come in with -v (or, for a host, see
# verify_services), each program quoted whole with q.
# Liberty's `nova-manage service list`: "Binary Host Zone Status State Updated_At" (a date, then
# a time); State is ":-)" when up, "XXX" when down. Printed as the API's listing reads:
# binary, up|down, update time as DATE"T"TIME. (The action's doubled braces are a block inside
# it, the same as one pair: a leftover of this text once written as if str.format escaped
# them. Kept: one pair would change the verify step's script on every deployed Liberty stack.)
LIBERTY_STATES_AWK = '{{print $1, ($5 == ":-)") ? "up" : "down", $6 "T" $7}}'
# Exit 0 when binary `b` is up with a heartbeat after `since`, in "binary state updated_at" lines.
HEARTBEAT_AWK = '$1 == b && $2 == "up" && substr($3, 1, 19) > since {ok = 1} END {exit !ok}'
# The ID column of the nova client's service-list table (`|`-separated, 3 header lines).
SERVICE_IDS_AWK = 'NR > 3 && NF > 2 {gsub(/ /, "", $2); if ($2 != "") print $2}'


def verify_services(openrc: str, via_api: bool, expected: Sequence[str], api_checks: Sequence[str],
                    attempts: int = 30, delay: int = 5, host: Optional[str] = None) -> str:
    """Wait (bounded) until every expected nova service reports up (on `host` only, when
    given), then run the seed's "Testing" client commands. Fails with the list of services
    that are down. `via_api`: states from `openstack compute service list`; else (Liberty)
    from `nova-manage service list`, which reads the database."""
    expected = checked(expected, SERVICE_RE, "service name")
    if host is not None:
        checked_hosts([host], "host name")
    if int(attempts) < 1 or int(delay) < 0:
        # with no attempt the loop never runs and the services would be reported up unchecked
        raise ValueError(f"need attempts >= 1 and delay >= 0, not {attempts!r} / {delay!r}")
    if not via_api:
        # The table's header skipped; with `host`, that host's rows only. (The host is part of the
        # program, as an awk string: validated above, it holds no quote or backslash. Passing it
        # with -v instead would change this step's script on deployed Liberty stacks.)
        only = f" && $2 == {awk_string(host)}" if host else ""
        listing = f"{nova_manage('service list')} 2>/dev/null | awk {q('NR>1' + only + ' ' + LIBERTY_STATES_AWK)}"
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
        f"    echo \"$listing\" | awk -v b=\"$binary\" -v since=\"$since\" {q(HEARTBEAT_AWK)} || down=\"$down $binary\"",
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


def service_record(openrc: str, via_api: bool, host: str) -> str:
    """The hypervisor's nova-compute service record exists (its verify step saw it up)."""
    checked_hosts([host], "host name")
    listing = _compute_service_ids(via_api, q(host))
    return (HEADER + f". {q(openrc)}\n"
            f"[ -n \"$({listing})\" ] || {{ echo {q('no nova-compute service on ' + host)} >&2; exit 1; }}\n"
            f"echo {q('nova-compute service recorded: ' + host)}\n")


# Where the controller keeps the names of the stack's hypervisors, between runs.
ROSTER = "/var/lib/openstack-nova/hypervisors"
# A roster entry as the roster step writes it (a node name: no leading "-", no shell syntax).
_ROSTER_ENTRY_RE = "[A-Za-z0-9][A-Za-z0-9.-]*"


def retire_departed_hypervisors(openrc: str, via_api: bool, names: Sequence[str], roster: str = ROSTER) -> str:
    """The stack's hypervisors as a roster kept on the controller. A host in the roster that is
    no longer in the stack has left it: its nova-compute service is disabled and its record (with
    it, nova deletes the host's resource provider) deleted, so nothing schedules to a host that is
    gone. Only leaving the stack removes a host: a replaced or re-run step of one that stays
    removes nothing (a `delete` command would run at every replace). The roster is rewritten,
    atomically, after the departed are gone, so a run killed half-way retires them again; a
    host with no record left is skipped (idempotent)."""
    names = sorted(checked_hosts(names, "host name"))
    checked_path(roster)
    reason = q("removed from the stack")
    ids = _compute_service_ids(via_api, '"$host"')
    if via_api:
        disable = f'openstack compute service set --disable --disable-reason {reason} "$host" nova-compute'
        delete = 'openstack compute service delete "$id"'
    else:  # Liberty: the nova client
        disable = f'nova service-disable --reason {reason} "$host" nova-compute'
        delete = 'nova service-delete "$id"'
    return "\n".join([
        HEADER.strip(),
        f". {q(openrc)}",
        f"roster={q(roster)}",
        f"current={q(' '.join(names))}",
        "retire() {  # $1: a host that left the stack",
        "  host=$1",
        f"  ids=$({ids})",
        '  if [ -z "$ids" ]; then echo "no nova-compute service left on $host"; return 0; fi',
        f"  {disable}",
        "  for id in $ids; do",
        "    printf '%s\\n' \"$id\" | grep -Eqx '[0-9A-Za-z-]+' || { echo 'unexpected service id' >&2; exit 1; }",
        f"    {delete}",
        "  done",
        '  echo "nova-compute service removed: $host"',
        "}",
        'if [ -f "$roster" ]; then',
        "  while read -r host <&3; do  # fd 3: the clients' stdin stays theirs",
        '    [ -n "$host" ] || continue',
        f"    printf '%s\\n' \"$host\" | grep -Eqx {q(_ROSTER_ENTRY_RE)} || {{ echo \"$roster: not a host name: $host\" >&2; exit 1; }}",
        '    case " $current " in *" $host "*) ;; *) retire "$host" ;; esac',
        '  done 3< "$roster"',
        "fi",
        'mkdir -p "${roster%/*}"',
        (f"printf '%s\\n' {' '.join(q(n) for n in names)} > \"$roster.new\"" if names else ': > "$roster.new"'),
        'mv -f "$roster.new" "$roster"',
        'echo "hypervisors of this stack: ${current:-none}"',
    ]) + "\n"


def _compute_service_ids(via_api: bool, host_word: str) -> str:
    """The command listing a host's nova-compute service ids; `host_word` is shell text already
    quoted (a quoted name, or a quoted variable such as "$host")."""
    if via_api:
        return f"openstack compute service list --host {host_word} --service nova-compute -f value -c ID"
    return f"nova service-list --host {host_word} --binary nova-compute | awk -F'|' {q(SERVICE_IDS_AWK)}"


def enable_apache_conf(name: str) -> str:
    """Shell lines (no header): enable /etc/apache2/conf-available/<name>.conf (idempotent)."""
    checked([name], SERVICE_RE, "Apache conf name")
    return f"a2enconf -q {q(name)}\n"


def reload_service(service: str, first: str = "") -> str:
    """Reload a running service; start it when it is not running (a package installed where its
    scripts may not start daemons, or a server stopped by hand): systemd's reload-or-restart.
    `first`: shell lines of this module's (e.g. enable_apache_conf) run before, under `set -e`."""
    checked([service], SERVICE_RE, "service name")
    s = q(service)
    return (HEADER + first + f"if {UNDER_SYSTEMD}; then "
            f"systemctl reload-or-restart {s}; echo {q(service + ' reloaded')}\n"
            f"elif service {s} status >/dev/null 2>&1; then service {s} reload; echo {q(service + ' reloaded')}\n"
            f"else service {s} start; echo {q(service + ' started (it was not running)')}; fi\n")


def verify_login_page(url: str, attempts: int = 30, delay: int = 5) -> str:
    """Wait (bounded) until Horizon's login page renders its login form, not merely answers: a
    broken settings file still answers 500, a missing static build renders no form."""
    if not validate.PLAIN_URL_RE.fullmatch(url):
        raise ValueError(f"{url!r} is not a plain http(s) URL")
    login = url.rstrip("/") + "/auth/login/"
    return (
        HEADER + needs_tools("curl") + f"url={q(login)}\n"
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
        HEADER + needs_tools("curl") + f"url={q(url)}\ncode=000\n"
        f"for attempt in $(seq 1 {int(attempts)}); do\n"
        "  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \"$url\" || true)\n"
        "  case \"$code\" in 2??|3??) echo \"$url answers $code\"; exit 0 ;; esac\n"
        f"  sleep {int(delay)}\n"
        "done\n"
        f"echo \"$url did not answer after {int(attempts) * int(delay)}s (last status $code)\" >&2\n"
        "exit 1\n"
    )


KVM_DEVICE = "/dev/kvm"


def _kvm_usable(device: str) -> str:
    """A shell test: the KVM device is a character device that opens read-write. (Not the CPU's
    vmx/svm flags: a nested hypervisor's CPU may hide them while its /dev/kvm works, measured on
    this project's test machines; /dev/kvm exists only where a KVM module found hardware support.)"""
    d = q(checked_path(device))
    return f"[ -c {d} ] && ( : <>{d} ) 2>/dev/null"


def detect_virt_type(device: str = KVM_DEVICE) -> str:
    """kvm when the node's KVM device is usable, else qemu."""
    return HEADER + f"if {_kvm_usable(device)}; then echo kvm; else echo qemu; fi\n"


def require_virt_type(virt_type: str, device: str = KVM_DEVICE) -> str:
    """Shell lines: fail, saying why, when `virt_type` cannot work on this node (kvm needs a
    usable /dev/kvm; qemu always works, slowly)."""
    if virt_type not in ("kvm", "qemu"):
        raise ValueError(f"{virt_type!r} is not a supported virt type")
    if virt_type == "qemu":
        return ""
    return (f"{_kvm_usable(device)} || {{ echo \"virt_type kvm, but {checked_path(device)} is missing or unusable on $(hostname): "
            "enable hardware virtualisation (or nested KVM) or set the node's virtType to qemu\" >&2; exit 1; }\n")


