"""Migration between hypervisors: nova's SSH home, libvirt's TLS certificates, and the check that
each hypervisor reaches every other one the way nova and libvirt will.

No secret here: nova's private key is written by `write_file_from_stdin` (content on stdin)."""
from __future__ import annotations

from typing import Sequence

from components import validate
from components.scripts.base import (
    COLLECT_PROBLEMS, HEADER, UNDER_SYSTEMD, as_service, checked, checked_hosts, checked_path, fail_on_problems, q,
    service_action, tcp_probe_word,
)

NOVA_USER = "nova"
NOVA_HOME = "/var/lib/nova"  # Debian's and Ubuntu's nova-common: the nova user's home
SSH_PORT = 22
TLS_PORT = 16514  # libvirtd's TLS listener (qemu+tls)
# libvirt's default certificate paths (a qemu+tls URI without pkipath reads these)
LIBVIRT_PKI = {"ca": "/etc/pki/CA/cacert.pem", "server_cert": "/etc/pki/libvirt/servercert.pem",
               "client_cert": "/etc/pki/libvirt/clientcert.pem",
               "server_key": "/etc/pki/libvirt/private/serverkey.pem",
               "client_key": "/etc/pki/libvirt/private/clientkey.pem"}


def nova_ssh_home(user: str = NOVA_USER, home: str = NOVA_HOME) -> str:
    """The nova user's ~/.ssh (owned by it, 0700), and a login shell: sshd runs a login's command
    through the user's shell, and libvirt's qemu+ssh and nova's ssh log in as nova on the target
    (Debian's nova-common gives it /bin/sh; a nologin or false shell is replaced by /bin/sh). Fails,
    naming what to do, when the user or its home is not the packages' (the files go there)."""
    checked([user], validate.UNIX_USER_RE, "user name")
    home = checked_path(home)
    return (
        HEADER
        + f"entry=$(getent passwd {q(user)}) || {{ echo {q(f'no {user} user on this node: its nova packages create it (run the package step first)')} >&2; exit 1; }}\n"
        "home=$(printf '%s' \"$entry\" | cut -d: -f6); shell=$(printf '%s' \"$entry\" | cut -d: -f7)\n"
        f"[ \"$home\" = {q(home)} ] || {{ echo \"{user}'s home is $home, not {home}: migration writes nova's SSH key under {home}/.ssh\" >&2; exit 1; }}\n"
        "case \"$shell\" in\n"
        f"  ''|*/nologin|*/false) usermod -s /bin/sh {q(user)}; echo \"{user}'s shell: /bin/sh (was ${{shell:-none}})\" ;;\n"
        f"  *) echo \"{user}'s shell: $shell\" ;;\n"
        "esac\n"
        f"install -d -o {q(user)} -g {q(user)} -m 0700 {q(home + '/.ssh')}\n"
        f"echo ready: {q(home + '/.ssh')}\n"
    )


def libvirt_tls(ca_file: str, cert_file: str, key_file: str, libvirt_group: str = "nova") -> str:
    """scheme tls: the operator's certificate files (on this node) copied to libvirt's default
    paths (as server and as client: nova-compute, running as nova, is the client of a migration),
    and libvirtd's TLS listener on. libvirtd restarts only when a file changed (guests keep
    running). Fails naming the file that is missing."""
    files = [(checked_path(ca_file), LIBVIRT_PKI["ca"], "root", "0644"),
             (checked_path(cert_file), LIBVIRT_PKI["server_cert"], "root", "0644"),
             (cert_file, LIBVIRT_PKI["client_cert"], "root", "0644"),
             (checked_path(key_file), LIBVIRT_PKI["server_key"], "root", "0600"),
             (key_file, LIBVIRT_PKI["client_key"], libvirt_group, "0640")]
    checked([libvirt_group], validate.UNIX_USER_RE, "group name")
    lines = [HEADER.strip(), "changed=''"]
    for source in sorted({ca_file, cert_file, key_file}):
        lines.append(f"[ -s {q(source)} ] || {{ echo {q(f'{source} is missing or empty on this node: put the migration certificate files there (migration.caFile, certFile, keyFile)')} >&2; exit 1; }}")
    for source, target, group, mode in files:
        lines.append(
            f"if ! cmp -s {q(source)} {q(target)} || [ \"$(stat -c %g:%a {q(target)} 2>/dev/null)\" != \"$(getent group {q(group)} | cut -d: -f3):{mode.lstrip('0')}\" ]; then\n"
            f"  install -D -o root -g {q(group)} -m {mode} {q(source)} {q(target)}; changed=\"$changed {target}\"; fi")
    lines += [
        f"if {UNDER_SYSTEMD}; then",
        "  for unit in libvirtd-tls.socket virtproxyd-tls.socket; do",
        "    if systemctl cat \"$unit\" >/dev/null 2>&1; then systemctl enable --now \"$unit\"; break; fi",
        "  done",
        "fi",
        "if [ -n \"$changed\" ]; then",
        "  " + service_action("restart", "libvirtd"),
        "  echo \"written:$changed\"",
        "else echo 'unchanged: libvirt certificates'; fi",
    ]
    return "\n".join(lines) + "\n"


def check_peers(node: str, peers: Sequence[tuple[str, str]], scheme: str, user: str = NOVA_USER,
                timeout: int = 10) -> str:
    """Run on hypervisor `node`: every other hypervisor (name, myIp) answers the way a migration
    needs, checked as nova and libvirt would connect: TCP to its sshd, nova's ssh login by key
    against the pinned host key (cold migration and resize), and its libvirt over the live
    migration scheme: qemu+ssh as root (a peer-to-peer migration's connection is the source
    libvirtd's, which runs as root: its ssh_config drop-in logs in as nova), or libvirtd's TLS port.
    Every problem is reported at once, naming both nodes and the fix; then it fails.

    The checks are one shell function and each peer one line calling it: every hypervisor has
    a check, so a copy of the checks per peer would make the stack's plan grow with the square
    of the hypervisor count."""
    checked_hosts([node, *(name for name, _ in peers)], "node name")
    if scheme not in ("ssh", "tls"):
        raise ValueError(f"refusing migration scheme {scheme!r}")
    for _, address in peers:
        if validate.ip(address) is None:
            raise ValueError(f"{address!r} is not an IP address")
    # Inside check_peer: the peer's name, its address, and the address as a URI's host, shell
    # variables (expanded, never parsed again); `node`, validated above, is plain text in the quotes.
    peer, peer_address, peer_url = "$name", '"$address"', "$url"
    # nova's login: the address reaches su's shell through the environment (su keeps it), never
    # inside the command text that shell parses
    login = f"NOVA_MIGRATION_PEER={peer_address} " + as_service(
        user, f'ssh -o BatchMode=yes -o ConnectTimeout={int(timeout)} "$NOVA_MIGRATION_PEER" true')
    unreachable = (f"{node} cannot reach {peer} at $address:{SSH_PORT} (ssh: nova's cold migration and resize"
                   + (", libvirt's qemu+ssh" if scheme == "ssh" else "") + f"): open TCP {SSH_PORT} from {node} to "
                   f"{peer}, or set {peer}'s myIp to an address {node} reaches")
    last_line = "$(printf '%s' \"$out\" | tail -n 1)"
    lines = [HEADER.strip(), COLLECT_PROBLEMS,
             f"command -v ssh >/dev/null 2>&1 || note {q(f'ssh is not installed on {node}: nova and libvirt migrate over it; install openssh-client')}",
             "reached=''",
             "check_peer() {  # NAME ADDRESS: another hypervisor, at its myIp",
             "  name=$1 address=$2",
             '  case $address in *:*) url="[$address]" ;; *) url=$address ;; esac',
             f"  if ! {tcp_probe_word(peer_address, SSH_PORT)}; then",
             f'    note "{unreachable}"',
             f"  elif ! out=$({login} 2>&1 </dev/null); then",
             f'    note "{node}: nova cannot log in to {peer} ($address) by ssh: {last_line}; {peer} needs nova\'s '
             f"authorized_keys and a login shell, and {node}'s known_hosts {peer}'s pinned hostKey\"",
             "  fi"]
    if scheme == "ssh":
        uri = f"qemu+ssh://{peer_url}/system"
        lines += [
            f'  if [ -z "$problems" ] && ! out=$(timeout 60 virsh -c "{uri}" version 2>&1 </dev/null); then',
            f'    note "{node}: libvirtd (root) cannot reach {peer}\'s libvirt at {uri}: {last_line}; root\'s ssh must '
            f"log in to {peer} as nova (the ssh_config drop-in), and nova on {peer} be in group libvirt (its "
            'nova-compute package adds it)"',
            "  fi"]
    else:
        lines.append(
            f"  {tcp_probe_word(peer_address, TLS_PORT)} || note \"{node} cannot reach {peer}'s libvirt TLS listener at "
            f"{peer_url}:{TLS_PORT}: open TCP {TLS_PORT} from {node} to {peer} and enable libvirtd's TLS socket there\"")
    lines += ['  reached="$reached $name"', "}"]
    lines += [f"check_peer {q(name)} {q(address)}" for name, address in peers]
    lines.append(fail_on_problems("migration check"))
    lines.append(f'echo "migration peers reachable from {node}:${{reached:- none}}"')
    return "\n".join(lines) + "\n"
