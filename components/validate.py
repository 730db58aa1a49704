"""Rules for values that reach a shell, SQL, a URL or an SSH connection: pure functions, shared
by the configuration, the scripts, Horizon and the database provider. Each `check_*` returns an
error text (without the key: callers name it) or None; addresses go through `ipaddress`.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import struct
from typing import Any, Optional

# An absolute path of plain characters: safe in a script even unquoted.
PATH_RE = re.compile(r"/[A-Za-z0-9_./-]+")
# An http(s) URL without whitespace, quotes or backslashes (it may hold %(tenant_id)s).
URL_RE = re.compile(r"https?://[^\s'\"`\\]+")
# An http(s) URL of plain characters only (host or [IPv6], port, path): what a script may probe.
PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?")
# A Unix account name (SSH and sudo users).
UNIX_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# A keystone or RabbitMQ name (users, projects, roles, domains).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}")
# RFC 1123 host names: labels of letters, digits and inner '-', at most 253 characters.
HOSTNAME_RE = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
SSH_KEY_TYPES = (
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "ssh-rsa", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)


def ip(value: Any) -> Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The address `value` is, or None. Scoped IPv6 addresses (fe80::1%eth0) are not addresses
    a remote node can be told about, so they are None too."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None
    return address


def is_host(value: Any) -> bool:
    """A host name or an IP address (not a URL, not host:port, no scope id)."""
    return ip(value) is not None or (isinstance(value, str) and bool(HOSTNAME_RE.fullmatch(value)))


def check_host(value: Any) -> Optional[str]:
    if isinstance(value, str) and "%" in value and ":" in value:
        return f"{value!r} is a scoped IPv6 address; use the node's global address or a host name"
    if not is_host(value):
        return f"{value!r} is not a host name or IP address; use e.g. db-node.example.org or 10.0.0.5"
    return None


def check_ip(value: Any) -> Optional[str]:
    if isinstance(value, str) and "%" in value and ":" in value:
        return f"{value!r} is a scoped IPv6 address; nova's my_ip must be an address other nodes can reach"
    if ip(value) is None:
        return f"{value!r} is not an IP address; nova's my_ip must be the node's management IP, e.g. 10.0.0.6"
    return None


def url_host(host: str) -> str:
    """`host` as it stands in a URL's authority: IPv6 addresses in brackets."""
    return f"[{host}]" if isinstance(ip(host), ipaddress.IPv6Address) else host


def check_port(value: Any) -> Optional[str]:
    """A TCP port: an integer (a whole float, as numbers cross the Pulumi wire) from 1 to 65535."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        return f"{value!r} is not a TCP port; use a whole number from 1 to 65535"
    if not 1 <= int(value) <= 65535:
        return f"{value!r} is not a TCP port; use a number from 1 to 65535"
    return None


def ssh_host_key(value: Any) -> tuple[Optional[str], Optional[str]]:
    """(normalised `keytype base64`, error). Accepts what `ssh-keyscan -t ed25519 host` prints
    (`host keytype base64`), a known_hosts line or a bare `keytype base64 [comment]`, and checks
    that the base64 blob really is a key of the named type."""
    if not isinstance(value, str) or "\n" in value.strip() or "\r" in value:
        return None, "must be one public host key line, e.g. the output of `ssh-keyscan -t ed25519 <host>`"
    words = value.split()
    for i, word in enumerate(words[:-1]):
        if word in SSH_KEY_TYPES:
            key_type, blob = word, words[i + 1]
            break
    else:
        return None, (f"{value[:40]!r} names no SSH key type ({', '.join(SSH_KEY_TYPES[:4])}, ...); "
                      "use the output of `ssh-keyscan -t ed25519 <host>`")
    try:
        raw = base64.b64decode(blob, validate=True)
        (length,) = struct.unpack(">I", raw[:4])
        embedded = raw[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        return None, f"the {key_type} key is not valid base64 key data"
    if embedded != key_type:
        if embedded in SSH_KEY_TYPES:
            return None, f"the key data is a {embedded} key, not {key_type}; copy the line as ssh-keyscan prints it"
        return None, f"the key data is not a {key_type} key; copy the line as ssh-keyscan prints it"
    return f"{key_type} {blob}", None


def ssh_key_fingerprint(host_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a `keytype base64` line, as `ssh-keygen -lf` prints it."""
    import hashlib

    digest = hashlib.sha256(base64.b64decode(host_key.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --- MySQL names: shared by the configuration and the database provider (components.mysql_admin) ---

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# %, localhost, host names, IPv4/IPv6 addresses, wildcard patterns (10.0.0.%) and ip/netmask.
HOST_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.%:/-]{1,255}$")
# MySQL 8 limits user names to 32 characters (MariaDB allows 80): keep stacks portable.
USER_NAME_MAX = 32


def _matches(pattern: re.Pattern, value: Any, key: str, fix: str) -> list[str]:
    return [] if isinstance(value, str) and pattern.fullmatch(value) else [f"{key}: {value!r} {fix}"]


def validate_identifier(value: Any, key: str) -> list[str]:
    """Problems with `value` as a plain SQL identifier (empty list when fine)."""
    return _matches(IDENTIFIER_RE, value, key, "is not a plain SQL identifier; use letters, digits and _ "
                    "(first not a digit), at most 64 characters")


def validate_host_pattern(value: Any, key: str) -> list[str]:
    """Problems with `value` as the host part of a MySQL account (empty list when fine)."""
    return _matches(HOST_PATTERN_RE, value, key, "is not a MySQL account host pattern; use %, localhost, a host name, "
                    "an IPv4/IPv6 address or a wildcard pattern such as 10.0.0.% (letters, digits and . - _ : % / only)")
