"""Rules for values that reach a shell, SQL, a URL or an SSH connection: pure functions, shared
by the configuration, the scripts, Horizon and the database provider. Each `check_*` returns an
error text (without the key: callers name it) or None; addresses go through `ipaddress`.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
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


# Unicode categories a value written into a file, a URL or an API call must not hold: controls
# (C0, C1, DEL: \n, \r, \t, \v, \f, NEL...), line and paragraph separators (U+2028, U+2029,
# which str.splitlines and many parsers take as line breaks) and invisible format characters
# (bidi overrides, zero-width spaces) that make a value read differently from what it is.
_REFUSED_CATEGORIES = {"Cc": "control character", "Zl": "line separator", "Zp": "paragraph separator",
                       "Cf": "invisible format character"}
# Secrets may hold format characters (an emoji sequence's zero-width joiner): they break no line.
SECRET_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def check_characters(value: str, refused=frozenset(_REFUSED_CATEGORIES), allowed: str = "",
                     secret: bool = False) -> Optional[str]:
    """An error naming the first character of `value` that would break the line, file, URL or API
    call it goes into (any line break, not only \\n), or None. `allowed` lists exceptions; for a
    `secret` the error does not say where the character stands (nothing about the value leaks)."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category in refused and char not in allowed:
            name = unicodedata.name(char, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB"}.get(
                char, f"U+{ord(char):04X}")
            where = "" if secret else f" at position {position}"
            return (f"contains a {_REFUSED_CATEGORIES[category]} ({name}, U+{ord(char):04X}){where}, "
                    "which would break the line or URL it is written into; remove it")
    return None


def canonical_address(value: str) -> str:
    """One spelling per address, to tell whether two nodes are one machine: IP addresses in
    ipaddress's compressed form (FD00::A and fd00:0::a are one), an IPv4-mapped IPv6 address as
    its IPv4 address, host names lower-cased."""
    address = ip(unmapped(value))
    return address.compressed if address is not None else value.lower().rstrip(".")


def unmapped(value: Any) -> Any:
    """An IPv4-mapped IPv6 address (::ffff:10.20.0.10) as the IPv4 address it stands for
    (10.20.0.10), anything else as it is. The mapped form reaches the same IPv4 machine, so every
    address rule must see it as that address: ::ffff:127.0.0.1 is loopback, ::ffff:10.20.0.10 the
    machine at 10.20.0.10."""
    address = ip(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return value


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


# A name whose last label is a number (or 0x-hex) is an address to resolvers (inet_aton reads
# 010.020.000.021 as octal, 1.2.3 as 1.2.0.3), not a host name (RFC 1123 2.1).
_NUMERIC_LABEL_RE = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


def is_host(value: Any) -> bool:
    """A host name or an IP address (not a URL, not host:port, no scope id)."""
    if ip(value) is not None:
        return True
    return (isinstance(value, str) and bool(HOSTNAME_RE.fullmatch(value))
            and not _NUMERIC_LABEL_RE.fullmatch(value.rsplit(".", 1)[-1]))


def check_host(value: Any) -> Optional[str]:
    shown = repr(without_userinfo(value))  # `admin:pw@db-node` given as a host
    if isinstance(value, str) and "%" in value and ":" in value:
        return f"{shown} is a scoped IPv6 address; use the node's global address or a host name"
    if isinstance(value, str) and HOSTNAME_RE.fullmatch(value) and not is_host(value):
        return (f"{shown} looks like an IPv4 address but is not one in canonical form (leading zeros, "
                "hex or missing parts, which resolvers read differently); write it as four decimal numbers, "
                "e.g. 10.20.0.21")
    if not is_host(value):
        return f"{shown} is not a host name or IP address; use e.g. db-node.example.org or 10.0.0.5"
    return None


def check_ip(value: Any) -> Optional[str]:
    shown = repr(without_userinfo(value))
    if isinstance(value, str) and "%" in value and ":" in value:
        return f"{shown} is a scoped IPv6 address; nova's my_ip must be an address other nodes can reach"
    if ip(value) is None:
        return f"{shown} is not an IP address; nova's my_ip must be the node's management IP, e.g. 10.0.0.6"
    return None


def without_userinfo(value: Any) -> Any:
    """`value` as an error may quote it: whatever stands before its last '@' (after `scheme://`,
    or from its start) shown as `***`. What a malformed URL holds there is still a password, and
    where a URL parser would end the userinfo is no guide to what the user meant by it."""
    if not isinstance(value, str) or "@" not in value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"


def check_url(value: Any, example: str = "http://controller:8774/v2.1") -> Optional[str]:
    """An http(s) URL a node, a client or keystone's catalog can use: parsed, not pattern-matched:
    scheme, host (a host name, an IPv4 address, or an IPv6 address in brackets), port in range,
    no credentials (a URL is shown and logged everywhere: passwords are secret settings). The
    error quotes the URL without its userinfo."""
    shown = repr(without_userinfo(value))
    if not isinstance(value, str) or not URL_RE.fullmatch(value):
        return f"{shown} is not an http(s) URL; use e.g. {example}"
    netloc = _netloc(value)
    if "@" in netloc:
        return ("holds credentials (user:password@host): a URL is shown in plans, logs and keystone's catalog; "
                "remove them (passwords are secret settings set with `pulumi config set --secret`)")
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        if not isinstance(ip(host), ipaddress.IPv6Address):
            return f"{shown}: [{host}] is not an IPv6 address; only IPv6 addresses go in brackets"
        if rest and not rest.startswith(":"):
            return f"{shown}: after the bracketed address comes a port (:8774) or the path"
        port = rest[1:] if rest else None
    elif netloc.count(":") > 1:
        return f"{shown}: an IPv6 address in a URL goes in brackets, e.g. http://[fd00::5]:8774/"
    else:
        host, colon, port = netloc.partition(":")
        port = port if colon else None
        if (problem := check_host(host)):
            return f"{shown}: the host {problem}"
    if port is not None and (not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535):
        return f"{shown}: the port {port!r} is not a number from 1 to 65535"
    return None


def _netloc(url: str) -> str:
    """The authority of an http(s) URL: what stands between :// and the next / ? or #."""
    rest = url.split("://", 1)[1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


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
