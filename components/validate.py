"""Rules for values that reach a shell, SQL, a URL or an SSH connection: pure functions, shared
by the configuration, the scripts, Horizon and the database provider. Each `check_*` returns an
error text (without the key: callers name it) or None; addresses go through `ipaddress`.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import ipaddress
import re
import struct
import unicodedata
from typing import Any, Optional, Sequence

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
# The SSH public key types, each with the number of SSH strings its key data holds, its name
# first (RFC 4253 6.6: e, n; RFC 5656 3.1: curve, point; RFC 8709 4: the key; OpenSSH's
# PROTOCOL.u2f: the sk- types add the application).
SSH_KEY_FIELDS = {
    "ssh-ed25519": 2, "ecdsa-sha2-nistp256": 3, "ecdsa-sha2-nistp384": 3, "ecdsa-sha2-nistp521": 3,
    "ssh-rsa": 3, "sk-ssh-ed25519@openssh.com": 3, "sk-ecdsa-sha2-nistp256@openssh.com": 4,
}
SSH_KEY_TYPES = tuple(SSH_KEY_FIELDS)
# The smallest RSA key OpenSSH loads (SSH_RSA_MINIMUM_MODULUS_SIZE).
OPENSSH_RSA_MIN_BITS = 1024


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


# A known_hosts line's host list (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT): comma-separated names,
# addresses or patterns (* ? and a leading !), [host]:port, or one hashed |1|salt|hash entry.
_KNOWN_HOSTS_ENTRY_RE = re.compile(r"!?(\[[A-Za-z0-9.:*?_-]+\]:[0-9]{1,5}|[A-Za-z0-9.:*?_-]+)"
                                   r"|\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*")
_MARKERS = {
    "@revoked": "is marked @revoked: in known_hosts that line distrusts the key, and pinning it would trust it "
                "instead",
    "@cert-authority": "is marked @cert-authority: that line trusts a CA's host certificates, not the one host key "
                       "the program pins",
}
HOST_KEY_HOWTO = "copy the line as ssh-keyscan prints it"


def ssh_host_key(value: Any, names: Sequence[str] = (), ports: Sequence[int] = (22,)
                 ) -> tuple[Optional[str], Optional[str]]:
    """(normalised `keytype base64`, error). Accepts what `ssh-keyscan -t ed25519 host` prints
    (`host keytype base64`), a known_hosts line without a marker or a bare `keytype base64
    [comment]`, and only key data ssh-keygen loads: the named type's, whole, nothing after it.
    A line with a host list must name one of `names` (the machine the key is pinned for, whose
    sshd listens on `ports`): another machine's line, or words that are no host, would pin a key
    the line does not say is this machine's."""
    if not isinstance(value, str) or "\n" in value.strip() or "\r" in value:
        return None, "must be one public host key line, e.g. the output of `ssh-keyscan -t ed25519 <host>`"
    words = value.split()
    if words and words[0].startswith("@"):
        why = _MARKERS.get(words[0], f"starts with {words[0][:20]!r}, which is no known_hosts marker a pinned key "
                                     "can carry")
        return None, f"{why}; pin the host's own key, a line without a marker (`ssh-keyscan -t ed25519 <host>`)"
    position = next((i for i, word in enumerate(words[:-1]) if word in SSH_KEY_TYPES), None)
    if position is None:
        return None, (f"{value[:40]!r} names no SSH key type ({', '.join(SSH_KEY_TYPES[:4])}, ...); "
                      "use the output of `ssh-keyscan -t ed25519 <host>`")
    key_type, blob = words[position], words[position + 1]
    if position > 1:
        return None, (f"has {position} words before the key type {key_type}, where a known_hosts line has only its "
                      f"host list; {HOST_KEY_HOWTO}, or only `{key_type} <base64>`")
    if position == 1 and not all(_KNOWN_HOSTS_ENTRY_RE.fullmatch(entry) for entry in words[0].split(",")):
        return None, (f"{words[0][:40]!r} before the key type is not a known_hosts host list (host names, "
                      f"addresses, [host]:port); {HOST_KEY_HOWTO}, or only `{key_type} <base64>`")
    problem = ssh_public_key_problem(key_type, blob)
    if problem:
        return None, f"{problem}; {HOST_KEY_HOWTO}"
    if position == 1 and names and not known_hosts_names(words[0], names, ports):
        return None, (f"is a line for {words[0][:60]!r}, not for {' or '.join(names)}: pinning it would trust that "
                      f"machine's key for this one; run `ssh-keyscan -t ed25519 {names[0]}`, or give only "
                      f"`{key_type} <base64>` when the line names this machine by another name")
    return f"{key_type} {blob}", None


def known_hosts_names(host_list: str, names: Sequence[str], ports: Sequence[int] = (22,)) -> bool:
    """Whether a known_hosts host list names one of `names` as ssh looks a host up: an entry
    equal to it (addresses in canonical form, names in any case), a pattern matching it, or a
    hashed entry (`ssh-keyscan -H`) of it; at a port of `ports` other than 22, as ssh writes it
    (`[host]:port`). Negated entries (!host) name no host."""
    wanted = {canonical_address(name) for name in names}
    looked_up = {name if port == 22 else f"[{name}]:{port}" for name in wanted for port in ports}
    for entry in host_list.split(","):
        if entry.startswith("|1|"):
            salt, _, digest = entry[3:].partition("|")
            try:
                salt_bytes, digest_bytes = base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
            except binascii.Error:
                continue
            if any(hmac.compare_digest(hmac.new(salt_bytes, name.encode(), hashlib.sha1).digest(), digest_bytes)
                   for name in looked_up):
                return True
        elif not entry.startswith("!"):
            host, _, entry_port = entry[1:].rpartition("]:") if entry.startswith("[") else (entry, "", "")
            # `[[]` is fnmatch's literal `[`
            pattern = f"[[]{canonical_address(host)}]:{entry_port}" if entry_port else canonical_address(host)
            if any(fnmatch.fnmatchcase(name, pattern) for name in looked_up):
                return True
    return False


def ssh_public_key_problem(key_type: str, blob: str) -> Optional[str]:
    """Why ssh-keygen would not load `key_type blob` as a public key, or None: base64 in its one
    canonical spelling (OpenSSH's decoder refuses stray padding and bits after the end), key
    data of the named type holding its fields whole and nothing after them, a key cryptography
    loads (a point on the curve, an ed25519 key of 32 bytes...), RSA of at least 1024 bits."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        raw = binascii.a2b_base64(blob, strict_mode=True)
    except binascii.Error:
        raw = None
    if raw is None or base64.b64encode(raw).decode() != blob:
        return f"the {key_type} key data is not valid base64 (a character, padding or bits ssh-keygen refuses)"
    fields, after = _ssh_strings(raw, SSH_KEY_FIELDS[key_type])
    embedded = fields[0].decode("ascii", "replace") if fields else None
    if embedded != key_type:
        if embedded in SSH_KEY_TYPES:
            return f"the key data is a {embedded} key, not {key_type}"
        return f"the key data is not a {key_type} key"
    if len(fields) < SSH_KEY_FIELDS[key_type]:
        return f"the {key_type} key data is truncated (it ends inside the key), which ssh-keygen refuses"
    if after:
        return (f"the {key_type} key data has {after} byte{'s' if after > 1 else ''} after the key, which "
                "ssh-keygen refuses")
    try:
        key = serialization.load_ssh_public_key(f"{key_type} {blob}".encode())
    except (ValueError, UnsupportedAlgorithm):
        return f"the key data is not a valid {key_type} key, which ssh-keygen refuses"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < OPENSSH_RSA_MIN_BITS:
        return f"the key is a {key.key_size}-bit RSA key, which OpenSSH refuses (at least {OPENSSH_RSA_MIN_BITS} bits)"
    return None


def _ssh_strings(raw: bytes, count: int) -> tuple[list[bytes], int]:
    """The first `count` SSH strings (uint32 length, then the bytes) of `raw`, fewer when it ends
    inside one, and how many bytes follow them."""
    fields, offset = [], 0
    while len(fields) < count:
        if offset + 4 > len(raw):
            return fields, 0
        (length,) = struct.unpack(">I", raw[offset:offset + 4])
        if offset + 4 + length > len(raw):
            return fields, 0
        fields.append(raw[offset + 4:offset + 4 + length])
        offset += 4 + length
    return fields, len(raw) - offset


def ssh_key_fingerprint(host_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a `keytype base64` line, as `ssh-keygen -lf` prints it."""
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
