"""SSH keys as the program pins and writes them: a node's host key line (`hostKey`,
`jumpHostKey`) parsed as ssh-keygen reads it, its fingerprint as ssh-keygen prints it. Pure
functions over components.validate's address rules."""
from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import re
import struct
from typing import Any, Optional, Sequence

from components.validate import canonical_address

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
